from odoo import api, fields, models


class ShipmentShipment(models.Model):
    """What consumers were last told about a shipment, and the messages sent about it."""

    _inherit = "shipment.shipment"

    # Written by the outbox only (in SQL, under the row lock the change already holds).
    outbox_sequence = fields.Integer(copy=False, readonly=True, groups="base.group_user")
    outbox_status = fields.Char(copy=False, readonly=True, groups="base.group_user")
    outbox_eta = fields.Datetime(copy=False, readonly=True, groups="base.group_user")
    outbox_ids = fields.One2many("shipment.outbox", "shipment_id", string="Outgoing Messages",
                                 groups="shipment_visibility.group_shipment_integration_admin")

    def init(self):
        super().init()
        # Shipments stored before the outbox existed: consumers start from their present state.
        self.env.cr.execute(
            "UPDATE shipment_shipment SET outbox_status = status, outbox_eta = eta WHERE outbox_status IS NULL")

    @api.model_create_multi
    def create(self, vals_list):
        shipments = super().create(vals_list)
        self.env["shipment.outbox"]._emit_created(shipments)
        return shipments
