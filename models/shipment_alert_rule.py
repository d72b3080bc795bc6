import logging
from datetime import timezone

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..integration import alerting

_logger = logging.getLogger(__name__)

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"
METRICS = [
    ("silence_hours", "Hours without a message"),
    ("dead_letters", "Dead messages"),
    ("ingest_lag_p95", "Ingest lag p95 (seconds)"),
    ("breaker_open", "Circuit breaker open (1 = open)"),
    ("rejections", "Webhook rejections in the window"),
    ("pending_backlog", "Pending messages"),
    ("oldest_pending_minutes", "Age of the oldest pending message (minutes)"),
]
COMPARISONS = [("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")]


class ShipmentAlertRule(models.Model):
    """A condition on an integration figure that alerts the integration administrators.

    Every connector in scope is measured on its own: an alert (``shipment.alert.incident``)
    fires for the connector that breaches the threshold, with one activity and one e-mail,
    and resolves itself once the figure has stayed beyond the clear threshold for a few
    evaluations in a row (see :func:`integration.alerting.decide`).
    """

    _name = "shipment.alert.rule"
    _description = "Integration Alert Rule"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    metric = fields.Selection(METRICS, required=True)
    comparison = fields.Selection(COMPARISONS, required=True, default="gt")
    threshold = fields.Float(required=True, default=0)
    clear_threshold = fields.Float(
        compute="_compute_clear_threshold", store=True, readonly=False,
        help="Resolves only once the figure is beyond this value (e.g. fires above 300, clears at 240 or "
             "less). Follows the threshold unless set.")
    clear_checks = fields.Integer(
        string="Clear Evaluations", default=2,
        help="Evaluations in a row on the clear side before the alert resolves.")
    window_minutes = fields.Integer(
        string="Window (minutes)", default=60,
        help="Period measured by the lag and rejection figures.")
    connector_id = fields.Many2one(
        "shipment.connector", string="Connector", check_company=True, ondelete="cascade",
        help="Empty: every active connector of the company, each alerting on its own.")
    business_hours_only = fields.Boolean(help="Evaluate only inside the hours below, in the company's time zone.")
    hour_from = fields.Float(default=8.0)
    hour_to = fields.Float(default=18.0)
    weekdays_only = fields.Boolean(default=True)
    user_id = fields.Many2one(
        "res.users", string="Responsible", domain=lambda self: [("groups_id", "in", self.env.ref(ADMIN_GROUP).ids)],
        help="Gets the activity. Empty: the first integration administrator.")
    incident_ids = fields.One2many("shipment.alert.incident", "rule_id", string="History")
    firing_count = fields.Integer(compute="_compute_firing_count")
    last_evaluated_at = fields.Datetime(readonly=True, copy=False)
    # Readings of cumulative counters, for figures measured over a window.
    counter_samples = fields.Json(readonly=True, copy=False)

    _sql_constraints = [
        ("clear_checks_positive", "CHECK (clear_checks >= 1)", "An alert clears after at least one evaluation."),
        ("window_positive", "CHECK (window_minutes >= 1)", "The window lasts at least one minute."),
    ]

    @api.constrains("hour_from", "hour_to")
    def _check_hours(self):
        for rule in self:
            if not (0 <= rule.hour_from <= 24 and 0 <= rule.hour_to <= 24):
                raise ValidationError(_("Business hours are between 0 and 24."))

    @api.depends("threshold")
    def _compute_clear_threshold(self):
        for rule in self:
            rule.clear_threshold = rule.threshold

    @api.depends("incident_ids.state")
    def _compute_firing_count(self):
        rows = self.env["shipment.alert.incident"]._read_group(
            [("rule_id", "in", self.ids), ("state", "=", "firing")], ["rule_id"], ["__count"])
        counts = {rule.id: count for rule, count in rows}
        for rule in self:
            rule.firing_count = counts.get(rule.id, 0)

    # ------------------------------------------------------------------ #
    # EVALUATION
    # ------------------------------------------------------------------ #

    @api.model
    def _cron_evaluate_alert_rules(self):
        """Evaluate every active rule of every company."""
        self.search([])._evaluate()

    def _evaluate(self, now=None):
        """Measure each rule's connectors and fire or resolve their alerts."""
        now = now or fields.Datetime.now()
        Incident = self.env["shipment.alert.incident"]
        due = [(rule, rule._scope_connectors()) for rule in self
               if not rule.business_hours_only or rule._within_business_hours(now)]
        # Rules asking the same figure over the same window share one query, run once over
        # every connector any of them watches: 20 rules on 7 metrics are a handful of
        # aggregates, not 20. A query by connector set would repeat a figure per scope.
        scopes = {}
        for rule, connectors in due:
            key = rule._measure_key()
            if key is not None:
                scopes[key] = scopes.get(key, connectors.browse()) | connectors
        measured = {}
        for rule, _connectors in due:
            key = rule._measure_key()
            if key is not None and key not in measured:
                measured[key] = rule._measure(scopes[key], now)
        for rule, connectors in due:
            key = rule._measure_key()
            values = measured[key] if key is not None else rule._measure(connectors, now)
            firing = {incident.connector_id.id: incident for incident in Incident.search(
                [("rule_id", "=", rule.id), ("state", "=", "firing")])}
            for connector in connectors:
                incident = firing.get(connector.id)
                value = values.get(connector.id)
                action, streak = alerting.decide(
                    bool(incident), incident.clear_streak if incident else 0, value, rule.comparison,
                    rule.threshold, rule.clear_threshold, rule.clear_checks)
                if action == alerting.FIRE:
                    Incident._fire(rule, connector, value, now)
                elif action == alerting.RESOLVE:
                    incident._resolve(value, now)
                elif incident:
                    incident.write({"clear_streak": streak, "last_value": value or 0})
            rule.last_evaluated_at = now

    def _measure_key(self):
        """What makes two rules' figures the same (metric, and window when the figure has
        one), or None when a rule's own state counts (the rejection readings are kept per
        rule)."""
        if self.metric == "rejections":
            return None
        window = self.window_minutes if self.metric == "ingest_lag_p95" else None
        return self.metric, window

    def _within_business_hours(self, now):
        self.ensure_one()
        tz = pytz.timezone(self.company_id.partner_id.tz or self.env.user.tz or "UTC")
        local = pytz.utc.localize(now).astimezone(tz).replace(tzinfo=None)
        return alerting.within_hours(local, self.hour_from, self.hour_to, self.weekdays_only)

    def _scope_connectors(self):
        self.ensure_one()
        if self.connector_id:
            return self.connector_id if self.connector_id.active else self.connector_id.browse()
        return self.env["shipment.connector"].search([("company_id", "=", self.company_id.id)])

    def _measure(self, connectors, now):
        """This rule's figure for each connector: ``{connector id: value}``.

        One aggregate query for all the connectors; a connector missing from the answer
        has nothing to report (no pending message, no lag measured).
        """
        self.ensure_one()
        if not connectors:
            return {}
        ids = connectors.ids
        window = self.window_minutes * 60
        if self.metric == "breaker_open":
            return {c.id: 1.0 if c.breaker_state == "open" else 0.0 for c in connectors}
        if self.metric == "silence_hours":
            rows = self._rows(SQL(
                """
                SELECT c.id, extract(epoch FROM %(now)s - COALESCE(last.received_at, c.create_date)) / 3600
                  FROM shipment_connector c
                  LEFT JOIN LATERAL (SELECT received_at FROM shipment_inbox i WHERE i.connector_id = c.id
                                      ORDER BY received_at DESC LIMIT 1) last ON true
                 WHERE c.id = ANY(%(ids)s)
                """, now=now, ids=ids))
        elif self.metric in ("dead_letters", "pending_backlog"):
            # The maintained counts of the inbox (see shipment_inbox_operations).
            state = "dead" if self.metric == "dead_letters" else "pending"
            rows = [(cid, count) for cid, _state, count
                    in self.env["shipment.inbox"]._state_counts(ids, [state])]
        elif self.metric == "oldest_pending_minutes":
            rows = self._rows(SQL(
                "SELECT connector_id, extract(epoch FROM %(now)s - min(received_at)) / 60 FROM shipment_inbox "
                "WHERE state = 'pending' AND connector_id = ANY(%(ids)s) GROUP BY connector_id", now=now, ids=ids))
        elif self.metric == "ingest_lag_p95":
            rows = self._rows(SQL(
                """
                SELECT connector_id,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at))
                  FROM shipment_inbox
                 WHERE state = 'done' AND processed_at IS NOT NULL AND connector_id = ANY(%(ids)s)
                   AND received_at >= %(now)s - make_interval(secs => %(window)s)
                 GROUP BY connector_id
                """, now=now, ids=ids, window=window))
        elif self.metric == "rejections":
            return self._rejection_increases(ids, now, window)
        else:
            raise ValidationError(_("Unknown alert metric %s.", self.metric))
        return {cid: float(value) for cid, value in rows if value is not None}

    def _rejection_increases(self, ids, now, window):
        totals = dict(self._rows(SQL("SELECT connector_id, sum(count) FROM shipment_webhook_rejection "
                                     "WHERE connector_id = ANY(%s) GROUP BY connector_id", ids)))
        epoch = now.replace(tzinfo=timezone.utc).timestamp()
        samples = dict(self.counter_samples or {})
        values = {}
        for cid in ids:
            increase, kept = alerting.increase_over_window(
                [tuple(sample) for sample in samples.get(str(cid), [])], epoch, window, float(totals.get(cid, 0)))
            values[cid] = increase
            samples[str(cid)] = [list(sample) for sample in kept]
        self.counter_samples = samples
        return values

    def _rows(self, query):
        # Raw SQL: aggregates over the inbox's hundreds of thousands of rows, by connector.
        self.env.cr.execute(query)
        return self.env.cr.fetchall()

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_view_incidents(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Alerts of %s", self.name),
            "res_model": "shipment.alert.incident",
            "view_mode": "list,form",
            "domain": [("rule_id", "=", self.id)],
        }

    def action_evaluate_now(self):
        self._evaluate()
