from odoo import _, models
from odoo.exceptions import AccessError

from .res_users_shipment_api import API_KEY_SCOPE


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    def action_shipment_api_revoke(self):
        """Revoke keys of service accounts from the account's form.

        Odoo's own removal asks the caller to re-enter their password and is meant for
        one's own keys; here an administrator revokes a machine's key, which is checked below.
        """
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(_("Only administrators revoke the keys of service accounts."))
        keys = self.sudo()
        if any(not key.user_id.is_shipment_api_account or key.scope != API_KEY_SCOPE for key in keys):
            raise AccessError(_("Only keys of shipment API service accounts are revoked here."))
        # sudo: the keys belong to another user; the administrator was checked above.
        keys._remove()
        return True
