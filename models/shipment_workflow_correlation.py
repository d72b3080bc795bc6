from odoo import models

from ..integration import correlation


class ShipmentWorkflow(models.AbstractModel):
    _inherit = "shipment.workflow"

    def _apply_policies(self, shipment):
        # What the policies log and record about this shipment carries the correlation ids
        # of the messages that changed it (given by the processor in the context).
        ids = self.env.context.get("shipment_correlation", {}).get(shipment.id, ())
        if not ids:
            return super()._apply_policies(shipment)
        with correlation.bind(*ids):
            return super()._apply_policies(shipment)
