from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..integration import taxonomy

KINDS = [
    ("carrier", "Reported by carrier"),
    ("stale", "No update"),
    ("late", "Past promised date"),
    ("at_risk", "ETA after promise"),
]


class ShipmentException(models.Model):
    """One problem with a shipment, worked on the exceptions desk until resolved.

    Carrier exceptions open when an event reports a problem and close by themselves
    when a later actual event supersedes it; the watchdog opens ``stale`` and ``late``
    ones; ``at_risk`` ones open when the ETA passes the customer's promised date.
    """

    _name = "shipment.exception"
    _description = "Shipment Exception"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "state_sequence, opened_at desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    shipment_id = fields.Many2one("shipment.shipment", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="shipment_id.company_id", store=True, index=True)
    picking_id = fields.Many2one(related="shipment_id.picking_id", store=True, string="Delivery Order")
    partner_id = fields.Many2one(related="shipment_id.partner_id", store=True, string="Customer")
    carrier_id = fields.Many2one(related="shipment_id.carrier_id", store=True)
    connector_id = fields.Many2one(related="shipment_id.connector_id", store=True)
    tracking_number = fields.Char(related="shipment_id.tracking_number")
    promised_date = fields.Datetime(related="shipment_id.promised_date")
    last_event_description = fields.Char(related="shipment_id.last_event_description", string="Last Event")
    last_event_at = fields.Datetime(related="shipment_id.last_event_at")
    kind = fields.Selection(KINDS, required=True, default="carrier", index=True)
    reason = fields.Selection(
        list(taxonomy.REASONS) + [("no_update", "No update"), ("past_promise", "Past promised date"),
                                  ("eta_after_promise", "ETA after promise")],
        required=True, default="other", index=True, group_expand="_read_group_expand_reason")
    event_id = fields.Many2one("shipment.event", string="Triggering Event", ondelete="set null")
    state = fields.Selection(
        [("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")],
        required=True, default="open", index=True, tracking=True)
    state_sequence = fields.Integer(compute="_compute_state_sequence", store=True)
    user_id = fields.Many2one("res.users", string="Assigned To", tracking=True, index="btree_not_null")
    opened_at = fields.Datetime(required=True, default=fields.Datetime.now)
    acknowledged_at = fields.Datetime()
    resolved_at = fields.Datetime()
    auto_resolved = fields.Boolean(help="Closed by a later carrier event, not by a person.")
    resolution_note = fields.Text()
    age_hours = fields.Integer(string="Age (hours)", compute="_compute_age_hours")

    @api.depends("shipment_id.tracking_number", "kind", "reason")
    def _compute_name(self):
        reasons = dict(self._fields["reason"].selection)
        for exception in self:
            exception.name = f"{exception.shipment_id.tracking_number or ''}: {reasons.get(exception.reason, '')}"

    @api.depends("state")
    def _compute_state_sequence(self):
        order = {"open": 0, "acknowledged": 1, "resolved": 2}
        for exception in self:
            exception.state_sequence = order.get(exception.state, 3)

    def _compute_age_hours(self):
        now = fields.Datetime.now()
        for exception in self:
            end = exception.resolved_at or now
            exception.age_hours = int((end - exception.opened_at).total_seconds() // 3600) \
                if exception.opened_at else 0

    @api.model
    def _read_group_expand_reason(self, reasons, domain):
        return [code for code, _label in self._fields["reason"].selection]

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_acknowledge(self):
        for exception in self.filtered(lambda e: e.state == "open"):
            exception.write({"state": "acknowledged", "acknowledged_at": fields.Datetime.now(),
                             "user_id": exception.user_id.id or self.env.uid})
        return True

    def action_assign_to_me(self):
        self.write({"user_id": self.env.uid})
        return True

    def action_resolve(self):
        """Open the resolution wizard (a note is required to resolve by hand)."""
        return {
            "type": "ir.actions.act_window",
            "name": _("Resolve Exception"),
            "res_model": "shipment.exception.resolve",
            "view_mode": "form",
            "target": "new",
            "context": {"active_ids": self.ids, "active_model": self._name},
        }

    def _resolve(self, note, auto=False):
        open_ones = self.filtered(lambda e: e.state != "resolved")
        if not auto and not (note or "").strip():
            raise UserError(_("Say how the exception was resolved."))
        open_ones.write({"state": "resolved", "resolved_at": fields.Datetime.now(), "resolution_note": note,
                         "auto_resolved": auto})
        open_ones.activity_ids.action_feedback(feedback=note)
        for exception in open_ones:
            exception.message_post(body=note)
        return open_ones

    def action_contact_carrier(self):
        """A mail composer on the shipment, to write to the carrier about it."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_model": "shipment.shipment",
                "default_res_ids": self.shipment_id.ids,
                "default_subject": _("Shipment %(number)s: %(problem)s", number=self.tracking_number,
                                     problem=self.name),
                "default_composition_mode": "comment",
            },
        }

    def action_reschedule(self):
        """Set a new promised date with the customer (and tell the delivery order)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Reschedule Delivery"),
            "res_model": "shipment.exception.resolve",
            "view_mode": "form",
            "target": "new",
            "context": {"active_ids": self.ids, "active_model": self._name, "default_reschedule": True,
                        "default_new_promised_date": self.promised_date},
        }

    def action_open_shipment(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": "shipment.shipment", "res_id": self.shipment_id.id,
                "view_mode": "form"}
