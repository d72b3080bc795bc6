from odoo import _, fields, models
from odoo.exceptions import UserError

from ..models.res_users_shipment_api import API_KEY_SCOPE


class ShipmentApiKeyWizard(models.TransientModel):
    """Create a key for a service account; the key is shown once, then only its name."""

    _name = "shipment.api.key.wizard"
    _description = "New Shipment API Key"

    user_id = fields.Many2one("res.users", string="Service Account", required=True, readonly=True,
                              domain=[("is_shipment_api_account", "=", True)])
    name = fields.Char(string="Key Name", required=True, help="Which system uses the key, e.g. 'storefront'.")
    expiration_date = fields.Datetime(help="Leave empty for a key that lasts until it is revoked.")
    key = fields.Char(readonly=True, copy=False)
    generated = fields.Boolean(readonly=True, copy=False)

    def action_generate(self):
        self.ensure_one()
        if not self.user_id.is_shipment_api_account:
            raise UserError(_("Keys of the shipment API are made for its service accounts only."))
        if self.generated:
            raise UserError(_("This key was already created."))
        # sudo: the key is the service account's own (it is made in its name), and a
        # lasting key is an administrator's decision, which Odoo leaves to the system.
        key = self.env["res.users.apikeys"].with_user(self.user_id).sudo()._generate(
            API_KEY_SCOPE, self.name, self.expiration_date)
        self.write({"key": key, "generated": True})
        return {
            "type": "ir.actions.act_window",
            "name": _("API Key: copy it now"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_done(self):
        # The key leaves the database when the dialog closes; only its hash stays.
        self.write({"key": False})
        return {"type": "ir.actions.act_window_close"}
