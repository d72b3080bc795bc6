from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..controllers.metrics import NETWORKS_PARAM, TOKEN_PARAM
from ..integration import metrics


class ResConfigSettings(models.TransientModel):
    """The scrape credentials of the Prometheus endpoint, for system administrators only."""

    _inherit = "res.config.settings"

    # Never stored, not even in the settings' transient table: the inverse keeps only
    # the token's SHA-256, in a system parameter.
    shipment_metrics_token = fields.Char(
        string="New Metrics Token", compute="_compute_shipment_metrics_token",
        inverse="_inverse_shipment_metrics_token", groups="base.group_system",
        help=f"Bearer token Prometheus sends; at least {metrics.MIN_TOKEN_LENGTH} characters. Only its "
             "hash is kept: write it down now, it cannot be shown again.")
    shipment_metrics_token_set = fields.Boolean(
        string="Metrics Token Set", compute="_compute_shipment_metrics_token", groups="base.group_system")
    shipment_metrics_allowed_networks = fields.Char(
        string="Metrics Allowed Networks", config_parameter=NETWORKS_PARAM, groups="base.group_system",
        help="Comma-separated networks allowed to scrape, checked after the token. Empty: any source.")

    @api.depends("company_id")
    def _compute_shipment_metrics_token(self):
        # Only whether a token is set, never the hash itself, reaches the form.
        is_set = bool(self.env["ir.config_parameter"].sudo().get_param(TOKEN_PARAM))
        for settings in self:
            settings.shipment_metrics_token = False
            settings.shipment_metrics_token_set = is_set

    def _inverse_shipment_metrics_token(self):
        for settings in self:
            token = (settings.shipment_metrics_token or "").strip()
            if not token:
                continue
            if len(token) < metrics.MIN_TOKEN_LENGTH:
                raise UserError(_("The metrics token needs at least %s characters.", metrics.MIN_TOKEN_LENGTH))
            # No sudo: system parameters are for system administrators, the only ones who see the field.
            self.env["ir.config_parameter"].set_param(TOKEN_PARAM, metrics.token_digest(token))

    def action_shipment_metrics_revoke_token(self):
        """Switch the metrics endpoint off: no token, no scrape."""
        self.env["ir.config_parameter"].set_param(TOKEN_PARAM, False)
