from odoo import fields, models


class ShipmentOutboxEventType(models.Model):
    """One kind of outgoing message, for the event filter of subscriptions (shipped as data)."""

    _name = "shipment.outbox.event.type"
    _description = "Outgoing Message Type"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, readonly=True)
    sequence = fields.Integer(default=10)

    _sql_constraints = [("code_unique", "unique(code)", "Each message type exists once.")]
