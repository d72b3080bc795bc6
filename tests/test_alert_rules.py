"""Alert rules evaluated on real inbox figures, at frozen times."""

from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.tests import TransactionCase, freeze_time, new_test_user, tagged
from odoo.tools import mute_logger

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"
RULE_LOGGER = "odoo.addons.shipment_visibility.models.shipment_alert_incident"
MONDAY_9 = datetime(2026, 12, 7, 9, 0)


@tagged("post_install", "-at_install")
class TestAlertRules(TransactionCase):
    """Firing creates one alert, one activity and one e-mail; resolving needs the clear side, in a row."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.admin = new_test_user(cls.env, "sv_alert_admin", groups=f"base.group_user,{ADMIN_GROUP}",
                                  email="alerts-admin@example.com")
        cls.other_admin = new_test_user(cls.env, "sv_alert_admin2", groups=f"base.group_user,{ADMIN_GROUP}",
                                        email="alerts-admin2@example.com")
        cls.env.company.partner_id.tz = "UTC"
        Connector = cls.env["shipment.connector"]
        cls.connector = Connector.create({"name": "Alerting Partner", "connector_type": "generic_json",
                                          "mode": "shadow"})
        cls.quiet = Connector.create({"name": "Quiet Partner", "connector_type": "generic_json", "mode": "shadow"})
        cls.counter = 0

    def message(self, connector=None, state="pending", received=None, lag_seconds=None):
        self.counter += 1
        message_id = self.env["shipment.inbox"].sudo()._enqueue(
            connector or self.connector, f'{{"alert": {self.counter}}}'.encode(), {})[0]
        received = received or datetime.now()
        processed = received + timedelta(seconds=lag_seconds) if lag_seconds is not None else None
        self.env.cr.execute("UPDATE shipment_inbox SET state = %s, received_at = %s, processed_at = %s WHERE id = %s",
                            [state, received, processed, message_id])
        self.env["shipment.inbox"].invalidate_model()
        return self.env["shipment.inbox"].browse(message_id)

    def rule(self, **values):
        return self.env["shipment.alert.rule"].create({
            "name": f"Rule {values.get('metric')}", "connector_id": self.connector.id, **values})

    def incidents(self, rule, state=None):
        domain = [("rule_id", "=", rule.id)] + ([("state", "=", state)] if state else [])
        return self.env["shipment.alert.incident"].search(domain)

    def mails(self, incident):
        return self.env["mail.mail"].sudo().search([("model", "=", incident._name), ("res_id", "=", incident.id)])

    def evaluate(self, rule, now):
        with mute_logger(RULE_LOGGER):
            rule._evaluate(now=now)

    # ---------------------------------------------------------------- defaults

    def test_shipped_defaults_are_inactive(self):
        names = ["alert_rule_silence", "alert_rule_dead_letters", "alert_rule_ingest_lag",
                 "alert_rule_breaker_open", "alert_rule_rejection_spike"]
        rules = self.env["shipment.alert.rule"].browse(
            [self.env.ref(f"shipment_visibility.{name}").id for name in names])
        self.assertEqual(rules.mapped("active"), [False] * 5)
        self.assertFalse(self.env["shipment.alert.rule"].search([("id", "in", rules.ids)]),
                         "the cron does not see them")
        self.assertEqual(rules.mapped("metric"), ["silence_hours", "dead_letters", "ingest_lag_p95",
                                                  "breaker_open", "rejections"])

    # ---------------------------------------------------------------- fire and resolve

    def test_dead_letter_fires_once_with_one_activity_and_one_mail_then_resolves(self):
        rule = self.rule(metric="dead_letters", comparison="gt", threshold=0, clear_checks=1, user_id=self.admin.id)
        self.evaluate(rule, MONDAY_9)
        self.assertFalse(self.incidents(rule))

        dead = self.message(state="dead")
        self.evaluate(rule, MONDAY_9)
        incident = self.incidents(rule)
        self.assertEqual(len(incident), 1)
        self.assertEqual((incident.state, incident.connector_id, incident.fire_value), ("firing", self.connector, 1))
        self.assertEqual(len(incident.activity_ids), 1)
        self.assertEqual(incident.activity_ids.user_id, self.admin, "the rule's responsible")
        mail = self.mails(incident)
        self.assertEqual(len(mail), 1)
        self.assertGreaterEqual(set(mail.recipient_ids.mapped("email")),
                                {"alerts-admin@example.com", "alerts-admin2@example.com"})
        self.assertEqual(rule.firing_count, 1)

        # Still dead a few minutes later: the same alert, nothing new sent.
        self.message(state="dead")
        self.evaluate(rule, MONDAY_9 + timedelta(minutes=5))
        self.assertEqual(self.incidents(rule), incident)
        self.assertEqual(len(incident.activity_ids), 1)
        self.assertEqual(len(self.mails(incident)), 1)
        self.assertEqual(incident.last_value, 2)

        self.env.cr.execute("UPDATE shipment_inbox SET state = 'ignored' WHERE connector_id = %s",
                            [self.connector.id])
        self.evaluate(rule, MONDAY_9 + timedelta(minutes=10))
        self.assertEqual(incident.state, "resolved")
        self.assertEqual(incident.resolved_at, MONDAY_9 + timedelta(minutes=10))
        self.assertFalse(incident.activity_ids, "the activity is marked done")
        self.assertEqual(rule.firing_count, 0)

        # It can fire again later: a new row in the history.
        self.env.cr.execute("UPDATE shipment_inbox SET state = 'dead' WHERE id = %s", [dead.id])
        self.evaluate(rule, MONDAY_9 + timedelta(minutes=15))
        self.assertEqual(len(self.incidents(rule)), 2)
        self.assertEqual(len(self.incidents(rule, "firing")), 1)

    def test_lag_wobbling_inside_the_band_neither_resolves_nor_fires_again(self):
        rule = self.rule(metric="ingest_lag_p95", comparison="gt", threshold=300, clear_threshold=240,
                         clear_checks=2, window_minutes=15)
        with freeze_time(MONDAY_9):
            slow = [self.message(state="done", received=MONDAY_9 - timedelta(minutes=5), lag_seconds=400)
                    for _i in range(3)]
            self.evaluate(rule, MONDAY_9)
        incident = self.incidents(rule)
        self.assertEqual(incident.state, "firing")
        self.assertAlmostEqual(incident.fire_value, 400)

        def set_lag(seconds):
            self.env.cr.execute("UPDATE shipment_inbox SET processed_at = received_at + make_interval(secs => %s) "
                                "WHERE id = ANY(%s)", [seconds, [m.id for m in slow]])

        for minute, lag, state, streak in [(5, 280, "firing", 0), (10, 310, "firing", 0), (15, 200, "firing", 1),
                                           (20, 260, "firing", 0), (25, 200, "firing", 1), (30, 100, "resolved", 0)]:
            now = MONDAY_9 + timedelta(minutes=minute)
            self.env.cr.execute("UPDATE shipment_inbox SET received_at = %s WHERE id = ANY(%s)",
                                [now - timedelta(minutes=5), [m.id for m in slow]])
            set_lag(lag)
            self.evaluate(rule, now)
            with self.subTest(minute=minute, lag=lag):
                self.assertEqual(incident.state, state)
                self.assertEqual(incident.clear_streak, streak)
        self.assertEqual(len(self.incidents(rule)), 1, "one alert for the whole episode")
        self.assertEqual(len(self.mails(incident)), 1)

    def test_silence_with_scope_all_alerts_per_connector(self):
        rule = self.env["shipment.alert.rule"].create({
            "name": "Silent partner", "metric": "silence_hours", "comparison": "gt", "threshold": 6,
            "clear_checks": 1})
        others = self.env["shipment.connector"].search([("id", "not in", (self.connector | self.quiet).ids)])
        others.write({"active": False})  # the demo partners have their own silences
        with freeze_time(MONDAY_9):
            self.message(received=MONDAY_9 - timedelta(hours=1))
            self.message(connector=self.quiet, received=MONDAY_9 - timedelta(hours=1))
            self.evaluate(rule, MONDAY_9)
        self.assertFalse(self.incidents(rule))

        later = MONDAY_9 + timedelta(hours=6)
        self.message(received=later - timedelta(minutes=10))
        self.evaluate(rule, later)
        self.assertEqual(self.incidents(rule, "firing").connector_id, self.quiet,
                         "only the connector that went silent, each connector on its own")

        self.message(connector=self.quiet, received=later + timedelta(minutes=1))
        self.evaluate(rule, later + timedelta(minutes=5))
        self.assertFalse(self.incidents(rule, "firing"))

    def test_business_hours_leave_weekends_and_nights_alone(self):
        rule = self.rule(metric="dead_letters", comparison="gt", threshold=0, business_hours_only=True,
                         hour_from=8, hour_to=18, weekdays_only=True)
        self.message(state="dead")
        for when in (datetime(2026, 12, 6, 10, 0), datetime(2026, 12, 7, 7, 0), datetime(2026, 12, 7, 19, 0)):
            self.evaluate(rule, when)
            self.assertFalse(self.incidents(rule), when)
        self.evaluate(rule, MONDAY_9)
        self.assertEqual(len(self.incidents(rule, "firing")), 1)

    def test_rejection_spike_counts_the_increase_within_the_window(self):
        rule = self.rule(metric="rejections", comparison="gt", threshold=5, clear_threshold=1, clear_checks=1,
                         window_minutes=15)
        # The route counts in a transaction of its own (invisible to this test's): the
        # counters are written here as it leaves them.
        rejections = self.env["shipment.webhook.rejection"].sudo()
        rejections.create({"connector_id": self.connector.id, "reason": "bad_signature", "count": 20})
        self.evaluate(rule, MONDAY_9)
        self.assertFalse(self.incidents(rule), "the first reading is the baseline, not a spike")
        rejections.create({"connector_id": self.connector.id, "reason": "rate_limited", "count": 8})
        self.evaluate(rule, MONDAY_9 + timedelta(minutes=5))
        incident = self.incidents(rule, "firing")
        self.assertEqual(incident.fire_value, 8)
        self.evaluate(rule, MONDAY_9 + timedelta(minutes=25))
        self.assertEqual(incident.state, "resolved", "no new rejection within the last 15 minutes")

    def test_breaker_rule_and_the_cron_entry_point(self):
        rule = self.rule(metric="breaker_open", comparison="ge", threshold=1, clear_checks=1)
        self.connector.sudo().write({"breaker_state": "open"})
        with freeze_time(MONDAY_9), mute_logger(RULE_LOGGER):
            self.env["shipment.alert.rule"]._cron_evaluate_alert_rules()
        self.assertEqual(self.incidents(rule, "firing").fire_value, 1)
        self.assertEqual(rule.last_evaluated_at, MONDAY_9)
        rule.active = False
        self.connector.sudo().write({"breaker_state": "closed"})
        with freeze_time(MONDAY_9 + timedelta(minutes=5)), mute_logger(RULE_LOGGER):
            self.env["shipment.alert.rule"]._cron_evaluate_alert_rules()
        self.assertTrue(self.incidents(rule, "firing"), "a disabled rule is not evaluated")

    def test_rules_sharing_a_figure_each_judge_it_with_their_own_threshold(self):
        low = self.rule(metric="pending_backlog", comparison="gt", threshold=1, clear_checks=1)
        high = self.rule(metric="pending_backlog", comparison="gt", threshold=5, clear_checks=1)
        for _i in range(3):
            self.message()
        rules = low | high
        with mute_logger(RULE_LOGGER):
            rules._evaluate(now=MONDAY_9)
        self.assertEqual(self.incidents(low, "firing").fire_value, 3)
        self.assertFalse(self.incidents(high))

    def test_rules_of_one_figure_and_window_share_one_query_whatever_their_scope(self):
        everyone = self.rule(metric="ingest_lag_p95", threshold=100, window_minutes=60, connector_id=False)
        one = self.rule(metric="ingest_lag_p95", threshold=10, window_minutes=60)
        other = self.rule(metric="ingest_lag_p95", threshold=10, window_minutes=60, connector_id=self.quiet.id)
        longer = self.rule(metric="ingest_lag_p95", threshold=10, window_minutes=600, connector_id=False)
        backlog = self.rule(metric="pending_backlog", threshold=1, connector_id=False)
        self.message(state="done", received=MONDAY_9 - timedelta(minutes=30), lag_seconds=50)
        self.message(connector=self.quiet, state="done", received=MONDAY_9 - timedelta(minutes=300),
                     lag_seconds=500)
        self.message(connector=self.quiet)
        self.message(connector=self.quiet)
        statements = []
        cursor = self.env.cr
        execute = cursor.execute

        def spy(query, params=None, log_exceptions=True):
            statements.append(str(query))
            return execute(query, params, log_exceptions)

        with patch.object(cursor, "execute", spy), mute_logger(RULE_LOGGER):
            (everyone | one | other | longer | backlog)._evaluate(now=MONDAY_9)
        lag_queries = [query for query in statements if "percentile_cont" in query]
        self.assertEqual(len(lag_queries), 2, "one lag query per window, not one per rule or scope")
        # Each rule still judges its own connectors, with the figure of its own window
        # (other connectors of the company, from demo data, are not this test's).
        ours = self.connector | self.quiet

        def firing(rule):
            return self.incidents(rule, "firing").filtered(lambda incident: incident.connector_id in ours)

        self.assertFalse(firing(everyone))
        self.assertEqual(firing(one).fire_value, 50)
        self.assertFalse(firing(other), "the quiet partner's message is outside one hour")
        self.assertEqual(sorted(firing(longer).mapped("fire_value")), [50, 500])
        self.assertEqual(firing(longer).connector_id, ours)
        self.assertEqual(firing(backlog).connector_id, self.quiet)
        self.assertEqual(firing(backlog).fire_value, 2)
