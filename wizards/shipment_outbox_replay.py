from odoo import _, api, fields, models
from odoo.exceptions import UserError


class ShipmentOutboxReplay(models.TransientModel):
    """Send outgoing messages again: one message, a time range, or every failed one.

    Replayed messages keep their webhook-id / message_id: a consumer that already has
    one drops the copy.
    """

    _name = "shipment.outbox.replay"
    _description = "Replay Outgoing Messages"

    mode = fields.Selection([("message", "One message"), ("range", "A time range"), ("failed", "All failed")],
                            required=True, default="failed")
    subscription_id = fields.Many2one("shipment.subscription", help="Empty: every subscription.")
    outbox_id = fields.Many2one("shipment.outbox", string="Message")
    date_from = fields.Datetime(string="From")
    date_to = fields.Datetime(string="To")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "shipment.outbox" and self.env.context.get("active_id"):
            values.update(mode="message", outbox_id=self.env.context["active_id"])
        return values

    def _deliveries(self):
        self.ensure_one()
        domain = [("state", "!=", "sending")]
        if self.subscription_id:
            domain.append(("subscription_id", "=", self.subscription_id.id))
        if self.mode == "message":
            if not self.outbox_id:
                raise UserError(_("Choose the message to send again."))
            domain.append(("outbox_id", "=", self.outbox_id.id))
        elif self.mode == "range":
            if not (self.date_from and self.date_to) or self.date_from > self.date_to:
                raise UserError(_("Give a time range whose start is before its end."))
            domain += [("outbox_id.create_date", ">=", self.date_from), ("outbox_id.create_date", "<=", self.date_to)]
        else:
            domain.append(("state", "=", "failed"))
        return self.env["shipment.outbox.delivery"].search(domain)

    def action_replay(self):
        deliveries = self._deliveries()
        deliveries._requeue()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Messages queued again"),
                       "message": _("%s deliveries will be sent again.", len(deliveries)),
                       "type": "success", "next": {"type": "ir.actions.act_window_close"}},
        }
