from odoo import fields, models


class ShipmentOutboxAttempt(models.Model):
    """One attempt to deliver a message: what the consumer answered, how fast, or what failed."""

    _name = "shipment.outbox.attempt"
    _description = "Outgoing Message Attempt"
    _order = "id desc"
    _rec_name = "attempted_at"

    delivery_id = fields.Many2one("shipment.outbox.delivery", required=True, readonly=True, index=True,
                                  ondelete="cascade")
    subscription_id = fields.Many2one("shipment.subscription", readonly=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    attempt = fields.Integer(readonly=True)
    attempted_at = fields.Datetime(readonly=True)
    duration_ms = fields.Integer(string="Duration (ms)", readonly=True)
    status_code = fields.Integer(string="HTTP Status", readonly=True)
    success = fields.Boolean(readonly=True)
    response_excerpt = fields.Text(readonly=True)
    error = fields.Text(readonly=True)
