from odoo import _, api, fields, models
from odoo.exceptions import UserError

# States a message can be replayed from. Pending ones are queued already, and
# processing ones are leased by a worker: queuing them again would race it.
REPLAYABLE_STATES = ("done", "failed", "dead", "ignored")


class ShipmentInboxReplay(models.TransientModel):
    """Queue inbox messages again: the ones selected in the list, or those matching a filter.

    Typical use: after fixing a status mapping or an adapter option, replay what a
    connector received in a period so that the fixed configuration applies to it.
    """

    _name = "shipment.inbox.replay"
    _description = "Replay Inbox Messages"

    selection_mode = fields.Selection(
        [("selected", "Selected messages"), ("filter", "Messages matching a filter")],
        string="Replay", required=True, default=lambda self: "selected" if self._default_message_ids() else "filter")
    message_ids = fields.Many2many(
        "shipment.inbox", string="Messages", default=lambda self: self._default_message_ids())
    connector_id = fields.Many2one("shipment.connector", string="Connector")
    include_done = fields.Boolean(string="Done", help="Processed messages, e.g. to apply a fixed mapping.")
    include_failed = fields.Boolean(string="Failed", default=True)
    include_dead = fields.Boolean(string="Dead", default=True)
    include_ignored = fields.Boolean(string="Ignored")
    received_from = fields.Datetime(string="Received From")
    received_to = fields.Datetime(string="Received To")
    message_count = fields.Integer(string="Messages to Replay", compute="_compute_message_count")

    @api.model
    def _default_message_ids(self):
        if self.env.context.get("active_model") != "shipment.inbox":
            return self.env["shipment.inbox"]
        return self.env["shipment.inbox"].browse(self.env.context.get("active_ids") or [])

    @api.depends("selection_mode", "message_ids", "connector_id", "include_done", "include_failed",
                 "include_dead", "include_ignored", "received_from", "received_to")
    def _compute_message_count(self):
        for wizard in self:
            wizard.message_count = len(wizard._messages_to_replay())

    def _selected_states(self):
        self.ensure_one()
        flags = {"done": self.include_done, "failed": self.include_failed, "dead": self.include_dead,
                 "ignored": self.include_ignored}
        return [state for state in REPLAYABLE_STATES if flags[state]]

    def _filter_domain(self):
        self.ensure_one()
        domain = [("state", "in", self._selected_states())]
        if self.connector_id:
            domain.append(("connector_id", "=", self.connector_id.id))
        if self.received_from:
            domain.append(("received_at", ">=", self.received_from))
        if self.received_to:
            domain.append(("received_at", "<=", self.received_to))
        return domain

    def _messages_to_replay(self):
        """The inbox messages this wizard re-queues."""
        self.ensure_one()
        if self.selection_mode == "selected":
            return self.message_ids.filtered(lambda message: message.state in REPLAYABLE_STATES)
        if not self._selected_states():
            return self.env["shipment.inbox"]
        return self.env["shipment.inbox"].search(self._filter_domain())

    def action_replay(self):
        self.ensure_one()
        if self.received_from and self.received_to and self.received_from > self.received_to:
            raise UserError(_("“Received From” must be before “Received To”."))
        messages = self._messages_to_replay()
        if not messages:
            raise UserError(_("No message to replay: pending and processing messages are queued already."))
        messages.action_replay()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Messages queued"),
                "message": _("%s message(s) will be processed again.", len(messages)),
                "type": "success",
                "sticky": False,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
