from odoo import api, models

from ..integration import outbound


class ShipmentException(models.Model):
    """Consumers hear of every problem opened on the desk and of its resolution."""

    _inherit = "shipment.exception"

    @api.model_create_multi
    def create(self, vals_list):
        exceptions = super().create(vals_list)
        self.env["shipment.outbox"]._emit_exceptions(exceptions, outbound.EXCEPTION_OPENED)
        return exceptions

    def write(self, vals):
        resolving = self.filtered(lambda e: e.state != "resolved") if vals.get("state") == "resolved" else self.browse()
        result = super().write(vals)
        if resolving:
            self.env["shipment.outbox"]._emit_exceptions(resolving, outbound.EXCEPTION_RESOLVED)
        return result
