from odoo import api, fields, models


class ShipmentShipment(models.Model):
    """The messages sent about a shipment; what consumers know of it is its
    ``shipment.outbox.position``."""

    _inherit = "shipment.shipment"

    outbox_ids = fields.One2many("shipment.outbox", "shipment_id", string="Outgoing Messages",
                                 groups="shipment_visibility.group_shipment_integration_admin")

    @api.model_create_multi
    def create(self, vals_list):
        shipments = super().create(vals_list)
        self.env["shipment.outbox"]._emit_created(shipments)
        return shipments
