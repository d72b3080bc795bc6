"""Service accounts of the REST API: machine users with scoped keys and no web login."""

from odoo import _, api, fields, models
from odoo.exceptions import AccessDenied, ValidationError

#: The scope of the keys made for the REST API. Odoo checks a key against one scope (or
#: none): a key of this scope opens the REST API and nothing else (no XML-RPC, no JSON-RPC).
API_KEY_SCOPE = "shipment_visibility_api"
CONSUMER_GROUP = "shipment_visibility.group_shipment_api_consumer"
#: Write scopes, each a group implying the consumer group: field on the account -> group.
WRITE_SCOPES = {
    "shipment_api_can_register": "shipment_visibility.group_shipment_api_register",
    "shipment_api_can_push_events": "shipment_visibility.group_shipment_api_events",
    "shipment_api_can_manage_subscriptions": "shipment_visibility.group_shipment_api_subscriptions",
}


class ResUsers(models.Model):
    _inherit = "res.users"

    is_shipment_api_account = fields.Boolean(
        string="Shipment API Service Account", copy=False, readonly=True,
        help="A machine account of the shipment REST API: it authenticates with its API keys only and "
             "cannot log in to Odoo.")
    shipment_api_partner_id = fields.Many2one(
        "res.partner", string="Bound to Customer", copy=False, index="btree_not_null",
        domain=[("is_company", "=", True)],
        help="Empty: the account sees every shipment of its companies (an internal system). Set: it sees "
             "this customer's shipments only, as the customer's portal users do.")
    shipment_api_can_register = fields.Boolean(
        string="Register Shipments", compute="_compute_shipment_api_scopes",
        inverse="_inverse_shipment_api_scopes")
    shipment_api_can_push_events = fields.Boolean(
        string="Push Events", compute="_compute_shipment_api_scopes", inverse="_inverse_shipment_api_scopes")
    shipment_api_can_manage_subscriptions = fields.Boolean(
        string="Manage Subscriptions", compute="_compute_shipment_api_scopes",
        inverse="_inverse_shipment_api_scopes")
    shipment_api_key_count = fields.Integer(string="Active Keys", compute="_compute_shipment_api_key_count")

    @api.depends("groups_id")
    def _compute_shipment_api_scopes(self):
        for user in self:
            for field_name, group_xmlid in WRITE_SCOPES.items():
                user[field_name] = user.has_group(group_xmlid)

    def _inverse_shipment_api_scopes(self):
        for user in self.filtered("is_shipment_api_account"):
            commands = []
            for field_name, group_xmlid in WRITE_SCOPES.items():
                group = self.env.ref(group_xmlid)
                commands.append((4 if user[field_name] else 3, group.id))
            user.groups_id = commands

    def _compute_shipment_api_key_count(self):
        # Keys are other users' records: counting them needs the system's eyes.
        counts = dict(self.env["res.users.apikeys"].sudo()._read_group(
            [("user_id", "in", self.ids), ("scope", "=", API_KEY_SCOPE)], ["user_id"], ["__count"]))
        for user in self:
            user.shipment_api_key_count = counts.get(user._origin, 0)

    @api.model_create_multi
    def create(self, vals_list):
        consumer = self.env.ref(CONSUMER_GROUP)
        for vals in vals_list:
            if vals.get("is_shipment_api_account"):
                # Only the consumer group (and the write scopes added by the inverse): never
                # an internal or portal user type, whatever the defaults say.
                vals["groups_id"] = [(6, 0, consumer.ids)]
                vals.pop("password", None)
        users = super().create(vals_list)
        if any(vals.get("shipment_api_partner_id") for vals in vals_list):
            self.env.registry.clear_cache()
        return users

    def write(self, vals):
        result = super().write(vals)
        if "shipment_api_partner_id" in vals:
            # Record rules are cached per user: the partition changed with the binding.
            self.env.registry.clear_cache()
        return result

    @api.constrains("is_shipment_api_account", "groups_id")
    def _check_shipment_api_account_type(self):
        for user in self.filtered("is_shipment_api_account"):
            if user.has_group("base.group_user") or user.has_group("base.group_portal"):
                raise ValidationError(_("%s is a service account of the shipment API: it cannot be an internal "
                                        "or portal user.", user.name))

    def _check_credentials(self, credential, env):
        # A service account lives on its scoped keys: a password (or any other login
        # credential) never opens a web session or an RPC call for it.
        if self.env.user.is_shipment_api_account:
            raise AccessDenied()
        return super()._check_credentials(credential, env)

    def _shipment_api_scopes(self):
        """The scopes this account holds, as the API names them."""
        self.ensure_one()
        scopes = ["read"] if self.has_group(CONSUMER_GROUP) else []
        names = {"shipment_api_can_register": "shipments:write", "shipment_api_can_push_events": "events:write",
                 "shipment_api_can_manage_subscriptions": "subscriptions:write"}
        return scopes + [names[field_name] for field_name, group_xmlid in WRITE_SCOPES.items()
                         if self.has_group(group_xmlid)]

    def action_shipment_api_new_key(self):
        """Open the wizard that creates a key for this service account and shows it once."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("New API Key"),
            "res_model": "shipment.api.key.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_user_id": self.id},
        }
