import time
from datetime import datetime, timezone

from odoo import _, fields, models

from ..integration.transport import CircuitBreaker
from .shipment_connector_secrets import ADMIN_GROUP


class ShipmentConnector(models.Model):
    """The circuit breaker of a polled partner, kept on the record between runs.

    The breaker itself lives in ``integration.transport``; this side restores it from
    the record for each run, writes every transition back at once and tells the
    integration administrators when it opens.
    """

    _inherit = "shipment.connector"

    breaker_state = fields.Selection(
        [(CircuitBreaker.CLOSED, "Closed"), (CircuitBreaker.OPEN, "Open"),
         (CircuitBreaker.HALF_OPEN, "Half-open")],
        string="Circuit Breaker", default=CircuitBreaker.CLOSED, required=True, readonly=True, copy=False,
        help="Closed: calls go through. Open: the partner failed repeatedly and is left alone "
             "until the next retry. Half-open: one trial call decides.")
    breaker_failure_count = fields.Integer(string="Consecutive Failures", readonly=True, copy=False)
    breaker_opened_at = fields.Datetime(string="Breaker Opened", readonly=True, copy=False)
    # Odoo keeps datetimes to the second; the cool-down is counted from the exact instant.
    breaker_opened_epoch = fields.Float(readonly=True, copy=False)
    breaker_next_attempt_at = fields.Datetime(string="Next Retry", readonly=True, copy=False)
    breaker_threshold = fields.Integer(
        string="Failures Before Opening", default=5,
        help="Consecutive failed calls (timeouts, network errors, 5xx) that open the breaker.")
    breaker_cooldown_seconds = fields.Integer(
        string="Breaker Cool-down (s)", default=300,
        help="How long an open breaker leaves the partner alone before one trial call.")

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_reset_breaker(self):
        """Close the breaker by hand, e.g. once the partner confirmed its outage is over."""
        self.check_access("write")
        self.write({"breaker_state": CircuitBreaker.CLOSED, "breaker_failure_count": 0,
                    "breaker_opened_at": False, "breaker_opened_epoch": 0, "breaker_next_attempt_at": False})
        for connector in self:
            connector.message_post(body=_("Circuit breaker reset by %s: the partner API is called again.",
                                          self.env.user.name), subtype_xmlid="mail.mt_note")
            connector._breaker_activities().action_feedback(feedback=_("Breaker reset by hand."))
        return True

    # ------------------------------------------------------------------ #
    # PERSISTENCE
    # ------------------------------------------------------------------ #

    def _breaker(self):
        """This connector's breaker as the record left it, writing its transitions back."""
        self.ensure_one()
        opened_at = self.breaker_opened_epoch or self._to_epoch(self.breaker_opened_at)
        if self.breaker_state == CircuitBreaker.OPEN and not opened_at:
            opened_at = time.time()
        return CircuitBreaker(
            self.breaker_threshold, self.breaker_cooldown_seconds, state=self.breaker_state,
            failure_count=self.breaker_failure_count, opened_at=opened_at or None, on_change=self._on_breaker_change)

    def _save_breaker(self, breaker):
        """Write the breaker's state on the record when it changed."""
        self.ensure_one()
        values = {
            "breaker_state": breaker.state,
            "breaker_failure_count": breaker.failure_count,
            "breaker_opened_at": self._from_epoch(breaker.opened_at),
            "breaker_opened_epoch": breaker.opened_at or 0,
            # Shown rounded up: the trial call never happens before the time displayed.
            "breaker_next_attempt_at": self._from_epoch(breaker.next_attempt_at, round_up=True),
        }
        changed = {name: value for name, value in values.items() if self[name] != value}
        if changed:
            self.write(changed)

    def _on_breaker_change(self, breaker, old_state, new_state):
        """Breaker transition: persist it; tell the integration administrators when it opens."""
        self._save_breaker(breaker)
        if new_state == CircuitBreaker.OPEN:
            self.message_post(subtype_xmlid="mail.mt_note", body=_(
                "Circuit breaker opened after %(count)s consecutive failures: the partner API is left "
                "alone until %(when)s UTC, then one trial call decides.",
                count=breaker.failure_count, when=fields.Datetime.to_string(self.breaker_next_attempt_at)))
            self._schedule_breaker_activities()
        elif new_state == CircuitBreaker.CLOSED and old_state != CircuitBreaker.CLOSED:
            self.message_post(subtype_xmlid="mail.mt_note",
                              body=_("Circuit breaker closed: the partner API answers again."))
            self._breaker_activities().action_feedback(feedback=_("The partner API answers again."))

    def _breaker_activities(self):
        return self.env["mail.activity"].search([
            ("res_model", "=", self._name), ("res_id", "in", self.ids),
            ("activity_type_id", "=", self.env.ref("mail.mail_activity_data_warning").id),
            ("summary", "=", _("Partner API unreachable")),
        ])

    def _schedule_breaker_activities(self):
        """One open activity per integration administrator, not one per opening."""
        self.ensure_one()
        admins = self.env.ref(ADMIN_GROUP).users.filtered(
            lambda user: not user._is_superuser() and user.active and not user.share)
        missing = admins - self._breaker_activities().user_id
        self.env["mail.activity"].create([{
            "res_model_id": self.env["ir.model"]._get_id(self._name),
            "res_id": self.id,
            "activity_type_id": self.env.ref("mail.mail_activity_data_warning").id,
            "summary": _("Partner API unreachable"),
            "note": _("Polling %(name)s failed %(count)s times in a row; the circuit breaker is open. "
                      "Check the partner's status and the connector settings, then use Reset Breaker "
                      "or wait for the next trial call.", name=self.name, count=self.breaker_failure_count),
            "user_id": admin.id,
        } for admin in missing])

    # ------------------------------------------------------------------ #
    # UTILITIES
    # ------------------------------------------------------------------ #

    @staticmethod
    def _to_epoch(value):
        """Epoch seconds of a naive UTC datetime (as Odoo stores them), None for none."""
        return value.replace(tzinfo=timezone.utc).timestamp() if value else None

    @staticmethod
    def _from_epoch(value, round_up=False):
        """Naive UTC datetime, to the second (rounded up on request), of epoch seconds; False for none."""
        if value is None:
            return False
        seconds = int(value) + (1 if round_up and value != int(value) else 0)
        return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)
