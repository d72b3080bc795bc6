from odoo import fields, models


class ShipmentOutboxPosition(models.Model):
    """What consumers were last told about one shipment: its last message's sequence
    number, and the status and ETA they know.

    Kept beside the shipment rather than on it: the outbox moves these on every batch the
    processor stores, and each update of a shipment row writes a new version of a wide row
    and an entry in each of its many indexes, where this narrow row has one index.
    """

    _name = "shipment.outbox.position"
    _description = "Outgoing Messages: Position of a Shipment"
    _log_access = False
    _rec_name = "shipment_id"

    shipment_id = fields.Many2one("shipment.shipment", required=True, readonly=True, ondelete="cascade")
    sequence = fields.Integer(readonly=True, help="Sequence number of the shipment's last message.")
    published_status = fields.Char(readonly=True, help="The status consumers were last told.")
    published_eta = fields.Datetime(string="Published ETA", readonly=True, help="The ETA consumers were last told.")

    _sql_constraints = [
        ("shipment_unique", "unique(shipment_id)", "One position per shipment."),
    ]

    def init(self):
        # Shipments stored before the outbox existed: consumers start from their present state.
        self.env.cr.execute("""
            INSERT INTO shipment_outbox_position (shipment_id, sequence, published_status, published_eta)
            SELECT s.id, 0, s.status, s.eta FROM shipment_shipment s
             WHERE NOT EXISTS (SELECT 1 FROM shipment_outbox_position p WHERE p.shipment_id = s.id)
        """)
