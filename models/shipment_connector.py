import json
import logging
import threading

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..integration import partners
from ..integration.adapters import AdapterContext
from .shipment_inbox import STATES as INBOX_STATES

_logger = logging.getLogger(__name__)

#: The partners this module ships; another addon adds its own with ``selection_add``.
CONNECTOR_TYPES = [(descriptor.code, descriptor.label) for descriptor in partners.descriptors()]
ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"


class ShipmentConnector(models.Model):
    """One connection to a partner (carrier, aggregator, 3PL, forwarder or broker).

    The ``connector_type`` names the partner's descriptor in :mod:`integration.partners`:
    its adapter reads the partner's format, and it says what the partner can do
    (webhooks, polling, files). The connector holds everything specific to one partner
    account: carriers covered, mode, and the status mappings that override the type's
    defaults. Each concern lives in its own file: secrets
    (``shipment_connector_secrets.py``), webhook reception (``…_webhook.py``), polling
    and its circuit breaker (``…_polling.py``), files (``…_files.py``), and what one
    partner needs of Odoo alone (``…_<code>.py``, found by :meth:`_partner_hook`).
    """

    _name = "shipment.connector"
    _description = "Shipment Connector"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    connector_type = fields.Selection(
        CONNECTOR_TYPES, string="Type", required=True, default="generic_json", tracking=True,
        help="Partner format this connector speaks; it decides how messages are parsed.")
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company)
    carrier_ids = fields.Many2many(
        "delivery.carrier", string="Carriers", check_company=True,
        help="Delivery methods whose shipments this connector tracks. A delivery order "
             "with one of them gets its shipments attached to this connector.")
    mode = fields.Selection(
        # A copy starts in shadow: it has no secret yet, and must not act on shipments.
        [("live", "Live"), ("shadow", "Shadow")], required=True, default="shadow", tracking=True, copy=False,
        help="Shadow: messages are ingested and normalized but no business action runs and "
             "nothing is sent to customers, so a partner can be compared before cut-over.")
    shipment_ids = fields.One2many("shipment.shipment", "connector_id")
    shipment_count = fields.Integer(compute="_compute_shipment_count")
    note = fields.Html(string="Notes", help="Partner contacts, onboarding notes.")
    status_map_ids = fields.One2many("shipment.status.map", "connector_id", string="Status Mappings")
    default_timezone = fields.Char(
        help="IANA time zone (e.g. Europe/Berlin) for partner times without zone when the "
             "event location does not tell.")
    options = fields.Json(
        groups=ADMIN_GROUP,
        help="Adapter settings, e.g. for generic JSON: {\"paths\": {...}, \"schema\": {...}}.")
    options_text = fields.Text(
        string="Adapter Options (JSON)", compute="_compute_options_text", inverse="_inverse_options_text",
        groups=ADMIN_GROUP)

    # What the partner can do, from its descriptor: views and crons ask these.
    support_webhook = fields.Boolean(
        compute="_compute_feature_support_fields", store=True,
        help="The partner of this connector type pushes webhooks to us.")
    support_polling = fields.Boolean(
        compute="_compute_feature_support_fields", store=True,
        help="The partner of this connector type offers a REST tracking API we can poll.")
    support_files = fields.Boolean(
        compute="_compute_feature_support_fields", store=True,
        help="This connector type reads partner files (X12 214, CSV).")

    # Operations
    inbox_ids = fields.One2many("shipment.inbox", "connector_id")
    inbox_pending_count = fields.Integer(string="Pending", compute="_compute_inbox_counts")
    inbox_processing_count = fields.Integer(string="Processing", compute="_compute_inbox_counts")
    inbox_done_count = fields.Integer(string="Done", compute="_compute_inbox_counts")
    inbox_failed_count = fields.Integer(string="Failed", compute="_compute_inbox_counts")
    inbox_dead_count = fields.Integer(string="Dead", compute="_compute_inbox_counts")
    inbox_ignored_count = fields.Integer(string="Ignored", compute="_compute_inbox_counts")
    last_message_at = fields.Datetime(compute="_compute_inbox_counts", string="Last Message Received")
    unmapped_code_count = fields.Integer(compute="_compute_unmapped_code_count")

    _sql_constraints = [
        ("name_company_unique", "unique(name, company_id)",
         "A connector with this name already exists in this company."),
    ]

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("connector_type")
    def _compute_feature_support_fields(self):
        for connector in self:
            descriptor = partners.find(connector.connector_type)
            connector.support_webhook = bool(descriptor and descriptor.receives_webhooks)
            connector.support_polling = bool(descriptor and descriptor.can_poll)
            connector.support_files = bool(descriptor and descriptor.reads_files)

    @api.depends("shipment_ids")
    def _compute_shipment_count(self):
        counts = dict(self.env["shipment.shipment"]._read_group(
            [("connector_id", "in", self.ids)], ["connector_id"], ["__count"]))
        for connector in self:
            connector.shipment_count = counts.get(connector, 0)

    def _compute_options_text(self):
        for connector in self:
            connector.options_text = json.dumps(connector.options, indent=2, sort_keys=True) \
                if connector.options else False

    def _inverse_options_text(self):
        for connector in self:
            text = (connector.options_text or "").strip()
            try:
                connector.options = json.loads(text) if text else False
            except ValueError as exc:
                raise ValidationError(_("Adapter options must be valid JSON: %s", exc)) from None

    def _compute_inbox_counts(self):
        # Counts of the connector's own messages, for whoever may read the connector:
        # reading the messages themselves stays for managers and integration admins.
        rows = self.env["shipment.inbox"].sudo()._read_group(
            [("connector_id", "in", self.ids)], ["connector_id", "state"], ["__count", "received_at:max"])
        counts, last = {}, {}
        for connector, state, count, received in rows:
            counts[connector.id, state] = count
            last[connector.id] = max(filter(None, [last.get(connector.id), received]), default=False)
        for connector in self:
            for state, _label in INBOX_STATES:
                connector[f"inbox_{state}_count"] = counts.get((connector.id, state), 0)
            connector.last_message_at = last.get(connector.id, False)

    def _compute_unmapped_code_count(self):
        rows = self.env["shipment.event"]._read_group(
            [("connector_id", "in", self.ids), ("milestone", "=", "unknown")],
            ["connector_id"], ["raw_code:count_distinct"])
        counts = dict(rows)
        for connector in self:
            connector.unmapped_code_count = counts.get(connector, 0)

    # ------------------------------------------------------------------ #
    # CRUD
    # ------------------------------------------------------------------ #

    @api.model_create_multi
    def create(self, vals_list):
        self._check_names_free(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        if "name" in vals:
            self._check_names_free([{**vals, "company_id": company.id} for company in self.company_id])
        return super().write(vals)

    @api.model
    def _check_names_free(self, vals_list):
        """Refuse a name already taken in the company before PostgreSQL does.

        The unique constraint stays the last word, but a refused INSERT is logged by
        Odoo with every value of the row, and a connector's row holds its webhook token.
        """
        for vals in vals_list:
            name = vals.get("name")
            company_id = vals.get("company_id") or self.env.company.id
            if name and self.with_context(active_test=False).search_count(
                    [("name", "=", name), ("company_id", "=", company_id), ("id", "not in", self.ids)], limit=1):
                raise ValidationError(_("A connector named %s already exists in this company.", name))

    def copy_data(self, default=None):
        """A copy is a new partner account: a free name, its own webhook URL, no secret."""
        vals_list = super().copy_data(default=default)
        for connector, vals in zip(self, vals_list):
            if default and "name" in default:
                continue
            base = _("%s (copy)", connector.name)
            name, index = base, 1
            while self.with_context(active_test=False).search_count(
                    [("name", "=", name), ("company_id", "=", vals.get("company_id", connector.company_id.id))],
                    limit=1):
                index += 1
                name = f"{base} {index}"
            vals["name"] = name
        return vals_list

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_view_shipments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "shipment_visibility.action_shipment_shipment")
        action["domain"] = [("connector_id", "=", self.id)]
        action["context"] = {"default_connector_id": self.id}
        return action

    def action_view_inbox(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("shipment_visibility.action_shipment_inbox")
        action["domain"] = [("connector_id", "=", self.id)]
        state = self.env.context.get("inbox_state")
        if state in dict(INBOX_STATES):
            action["domain"] = [*action["domain"], ("state", "=", state)]
        return action

    def action_view_unmapped_codes(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("shipment_visibility.action_shipment_event")
        action["domain"] = [("connector_id", "=", self.id), ("milestone", "=", "unknown")]
        action["context"] = {"group_by": ["raw_code"]}
        return action

    # ------------------------------------------------------------------ #
    # BUSINESS METHODS
    # ------------------------------------------------------------------ #

    @api.model
    def _find_for_carrier(self, carrier, company):
        """The active connector tracking ``carrier`` in ``company``, live ones first.

        :param carrier: a ``delivery.carrier`` record (may be empty).
        :param company: a ``res.company`` record.
        :return: a ``shipment.connector`` record or an empty recordset.
        """
        if not carrier:
            return self.browse()
        connectors = self.search([
            ("carrier_ids", "in", carrier.ids),
            ("company_id", "=", company.id),
        ])
        return connectors.sorted(lambda c: (c.mode != "live", c.sequence, c.id))[:1]

    @api.model
    def _manual_entry_connector(self, company):
        """The connector that people's own entries come through, in ``company``.

        Events recorded by hand (the manual event wizard, and later API calls) take the
        path of every partner message: an inbox message in our native format. They need a
        connector for that; one per company is made the first time, live, without webhook.
        """
        # Created and read as the system: whoever records an event needs no right on connectors.
        Connector = self.sudo().with_context(active_test=False)
        connector = Connector.search([("connector_type", "=", "manual"), ("company_id", "=", company.id)],
                                     order="id", limit=1)
        if not connector:
            connector = Connector.create({"name": _("Manual entries"), "connector_type": "manual",
                                          "company_id": company.id, "mode": "live", "sequence": 1000})
        return connector

    def _descriptor(self):
        """This connector's partner, as :mod:`integration.partners` describes it.

        :rtype: integration.partners.PartnerDescriptor
        """
        self.ensure_one()
        return partners.get(self.connector_type)

    def _partner_hook(self, name, *args, default=None):
        """Call ``_<connector type>_<name>(*args)`` when this partner's module defines it.

        What one partner needs of Odoo alone (EasyPost's tracker ids, read back from stored
        answers) lives in such a method, in that partner's own file, instead of a branch on
        the type in shared code. Hooks are optional: without one, ``default`` is returned.
        """
        self.ensure_one()
        method = getattr(self, f"_{self.connector_type}_{name}", None)
        return method(*args) if method is not None else default

    def _adapter_context(self):
        """The :class:`~integration.adapters.AdapterContext` of this connector's messages
        (each message then adds its own headers and reception time, see
        :meth:`~integration.adapters.AdapterContext.for_message`)."""
        self.ensure_one()
        raw = self.sudo()  # options are integration-admin data; the processor runs as system
        return AdapterContext(
            # No connector-level carrier code: it would enter event fingerprints and change
            # whenever the connector's carriers are edited, turning resends into new events.
            carrier="",
            status_map=self.env["shipment.status.map"].sudo()._mapping_for(self),
            options=raw.options or {},
            default_timezone=self.default_timezone or None,
        )

    @staticmethod
    def _is_testing_run():
        # Commits per batch only outside tests, whose transaction is rolled back at the end.
        return getattr(threading.current_thread(), "testing", False)
