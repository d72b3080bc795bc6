"""The Prometheus endpoint over real HTTP, parsed with prometheus_client's own parser."""

import secrets as token_generator
from datetime import datetime, timedelta, timezone

from prometheus_client.parser import text_string_to_metric_families

from odoo.exceptions import UserError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..controllers.metrics import NETWORKS_PARAM, TOKEN_PARAM, ShipmentMetricsController
from ..integration import metrics
from ..integration.events import CanonicalEvent
from ..tools.fake_partner import AFTERSHIP_PREFIX, FakePartner, status
from .common import store_events

METRICS_URL = ShipmentMetricsController._metrics_url
CONTROLLER_LOGGER = "odoo.addons.shipment_visibility.controllers.metrics"
POLLING_LOGGER = "odoo.addons.shipment_visibility.models.shipment_connector_polling"
EASTERN = timezone(timedelta(hours=-4))


def samples(text):
    """``{(sample name, frozenset(labels)): value}`` of an exposition."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@tagged("post_install", "-at_install")
class TestMetricsEndpoint(HttpCase):
    """GET /shipment_visibility/metrics: token first, then networks; figures read from the database."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = token_generator.token_urlsafe(32)
        cls.env["ir.config_parameter"].set_param(TOKEN_PARAM, metrics.token_digest(cls.token))
        cls.env["ir.config_parameter"].set_param(NETWORKS_PARAM, False)
        cls.connector = cls.env["shipment.connector"].create({
            "name": "Metrics Partner", "connector_type": "generic_json", "mode": "shadow"})
        cls.label = frozenset({("connector_id", str(cls.connector.id)), ("connector", "Metrics Partner")})

    def scrape(self, token=None, headers=None):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.url_open(METRICS_URL, headers=headers)

    def value(self, figures, name, **labels):
        return figures.get((name, self.label | frozenset(labels.items())))

    # ---------------------------------------------------------------- access

    def test_without_a_token_configured_the_endpoint_does_not_exist(self):
        self.env["ir.config_parameter"].set_param(TOKEN_PARAM, False)
        with mute_logger(CONTROLLER_LOGGER):
            response = self.scrape(self.token)
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json()["error"], "disabled")

    def test_missing_and_wrong_tokens_are_401_with_a_bearer_challenge(self):
        with mute_logger(CONTROLLER_LOGGER):
            missing = self.scrape()
            wrong = self.scrape(self.token[:-1] + ("A" if self.token[-1] != "A" else "B"))
            basic = self.scrape(headers={"Authorization": f"Basic {self.token}"})
        for response, reason in ((missing, "missing_token"), (wrong, "invalid_token"), (basic, "missing_token")):
            with self.subTest(reason=reason):
                self.assertEqual(response.status_code, 401)
                self.assertEqual(response.json()["error"], reason)
                self.assertTrue(response.headers["WWW-Authenticate"].startswith("Bearer"))
                self.assertNotIn("shipment_visibility_", response.text)

    def test_source_outside_the_allowed_networks_is_403_after_a_valid_token(self):
        self.env["ir.config_parameter"].set_param(NETWORKS_PARAM, "10.0.0.0/8, 192.0.2.7")
        with mute_logger(CONTROLLER_LOGGER):
            refused = self.scrape(self.token)
            unauthenticated = self.scrape("not-the-token")
        self.assertEqual(refused.status_code, 403)
        self.assertEqual(refused.json()["error"], "source_not_allowed")
        self.assertEqual(unauthenticated.status_code, 401, "the allow-list is not revealed without the token")
        self.env["ir.config_parameter"].set_param(NETWORKS_PARAM, "127.0.0.0/8")
        self.assertEqual(self.scrape(self.token).status_code, 200)

    def test_the_token_is_stored_as_a_hash_through_the_settings(self):
        new_token = token_generator.token_urlsafe(40)
        self.env["res.config.settings"].create({"shipment_metrics_token": new_token}).execute()
        stored = self.env["ir.config_parameter"].get_param(TOKEN_PARAM)
        self.assertEqual(stored, metrics.token_digest(new_token))
        self.assertNotIn(new_token, stored)
        self.env.cr.execute("SELECT count(*) FROM ir_config_parameter WHERE value LIKE %s", [f"%{new_token}%"])
        self.assertEqual(self.env.cr.fetchone()[0], 0, "the token itself is nowhere")
        self.assertEqual(self.scrape(new_token).status_code, 200)
        with mute_logger(CONTROLLER_LOGGER):
            self.assertEqual(self.scrape(self.token).status_code, 401, "the previous token stops working")
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.shipment_metrics_token_set)
        self.assertFalse(settings.shipment_metrics_token, "the form never shows a token back")
        settings.action_shipment_metrics_revoke_token()
        with mute_logger(CONTROLLER_LOGGER):
            self.assertEqual(self.scrape(new_token).status_code, 404)

    def test_short_tokens_and_non_administrators_are_refused(self):
        with self.assertRaises(UserError):
            self.env["res.config.settings"].create({"shipment_metrics_token": "short"}).execute()
        manager = new_test_user(self.env, "sv_metrics_manager",
                                groups="base.group_user,shipment_visibility.group_shipment_manager")
        self.assertNotIn("shipment_metrics_token", self.env["res.config.settings"].with_user(manager).fields_get())

    # ---------------------------------------------------------------- figures

    def test_figures_match_the_database(self):
        Inbox = self.env["shipment.inbox"].sudo()
        ids = [Inbox._enqueue(self.connector, f'{{"n": {n}}}'.encode(), {}, source="webhook")[0] for n in range(7)]
        # 3 done with lags of 10, 20 and 30 s; 1 dead; 3 pending, the oldest 600 s old.
        self.env.cr.execute("""
            UPDATE shipment_inbox SET state = 'done',
                   received_at = (now() at time zone 'utc') - interval '5 minutes',
                   processed_at = (now() at time zone 'utc') - interval '5 minutes' + make_interval(secs => lag)
              FROM (VALUES (%s, 10), (%s, 20), (%s, 30)) AS v(id, lag) WHERE shipment_inbox.id = v.id
        """, ids[:3])
        self.env.cr.execute("UPDATE shipment_inbox SET state = 'dead' WHERE id = %s", [ids[3]])
        self.env.cr.execute("UPDATE shipment_inbox SET received_at = (now() at time zone 'utc') - interval '600 s' "
                            "WHERE id = %s", [ids[4]])
        rejections = self.env["shipment.webhook.rejection"].sudo()
        for _i in range(3):
            rejections._count(self.connector, "bad_signature")
        rejections._count(self.connector, "rate_limited")
        self.env["shipment.poll.stat"]._add(self.connector, "success", 5)
        self.env["shipment.poll.stat"]._add(self.connector, "failure", 2)
        self.connector.sudo().write({"breaker_state": "open"})
        at = datetime(2026, 7, 1, 13, 30, tzinfo=timezone.utc)
        store_events(self.env, [
            CanonicalEvent(tracking_number="MET1", milestone="unknown", occurred_at=at, raw_code="ZZ1"),
            CanonicalEvent(tracking_number="MET1", milestone="unknown", occurred_at=at + timedelta(hours=1),
                           raw_code="ZZ2"),
            CanonicalEvent(tracking_number="MET2", milestone="unknown", occurred_at=at, raw_code="ZZ1"),
            CanonicalEvent(tracking_number="MET2", milestone="in_transit", occurred_at=at + timedelta(hours=2)),
        ], connector=self.connector)

        response = self.scrape(self.token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertTrue(response.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        figures = samples(response.text)

        value = self.value
        prefix = "shipment_visibility_"
        self.assertEqual(value(figures, prefix + "inbox_messages", state="done"), 3)
        self.assertEqual(value(figures, prefix + "inbox_messages", state="dead"), 1)
        self.assertEqual(value(figures, prefix + "inbox_messages", state="pending"), 3)
        self.assertAlmostEqual(value(figures, prefix + "inbox_oldest_pending_age_seconds"), 600, delta=30)
        self.assertEqual(value(figures, prefix + "ingest_lag_seconds_count"), 3)
        self.assertAlmostEqual(value(figures, prefix + "ingest_lag_seconds_sum"), 60)
        self.assertAlmostEqual(value(figures, prefix + "ingest_lag_seconds", quantile="0.5"), 20)
        self.assertAlmostEqual(value(figures, prefix + "ingest_lag_seconds", quantile="0.95"), 29)
        self.assertEqual(value(figures, prefix + "events_stored_total"), 4)
        self.assertEqual(value(figures, prefix + "webhook_rejections_total", reason="bad_signature"), 3)
        self.assertEqual(value(figures, prefix + "webhook_rejections_total", reason="rate_limited"), 1)
        self.assertEqual(value(figures, prefix + "poll_requests_total", outcome="success"), 5)
        self.assertEqual(value(figures, prefix + "poll_requests_total", outcome="failure"), 2)
        self.assertEqual(value(figures, prefix + "circuit_breaker_state", state="open"), 1)
        self.assertEqual(value(figures, prefix + "circuit_breaker_state", state="closed"), 0)
        self.assertEqual(value(figures, prefix + "unmapped_codes"), 2)
        self.assertGreater(value(figures, prefix + "inbox_last_received_timestamp_seconds"), 1.7e9)

        Shipment = self.env["shipment.shipment"].sudo()
        for status_code in ("in_transit", "unknown"):
            expected = Shipment.search_count([("status", "=", status_code)])
            self.assertEqual(figures.get((prefix + "shipments", frozenset({("status", status_code)}))) or 0,
                             expected)
        self.assertIn((prefix + "scrape_duration_seconds", frozenset()), figures)
        types = {family.name: family.type for family in text_string_to_metric_families(response.text)}
        self.assertEqual(types[prefix + "poll_requests"], "counter")
        self.assertEqual(types[prefix + "ingest_lag_seconds"], "summary")
        self.assertEqual(types[prefix + "inbox_messages"], "gauge")


@tagged("post_install", "-at_install")
class TestPollOutcomeCounters(TransactionCase):
    """Polling calls against the fake partner on loopback are counted per outcome."""

    def setUp(self):
        super().setUp()
        self.fake = FakePartner(aftership_key="as-metrics-key").start()
        self.addCleanup(self.fake.stop)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("shipment_visibility.outbound_allowed_hosts", "127.0.0.1")
        params.set_param("shipment_visibility.http_backoff_seconds", "0.01")
        self.env["shipment.connector"].search([("poll_enabled", "=", True)]).write({"poll_enabled": False})
        self.connector = self.env["shipment.connector"].create({
            "name": "Counted AfterShip", "connector_type": "aftership", "mode": "shadow", "poll_enabled": True,
            "api_base_url": self.fake.base_url, "api_key": "as-metrics-key", "rate_per_second": 0,
            "http_timeout_seconds": 10, "http_max_retries": 0, "breaker_threshold": 2, "poll_batch_size": 1,
        })
        numbers = [f"CNT{index}" for index in range(3)]
        for number in numbers:
            self.fake.add_shipment(number, carrier="ups", events=[{
                "status": "in_transit", "at": datetime(2025, 7, 1, 9, 30, tzinfo=EASTERN), "city": "Atlanta"}])
        self.env["shipment.shipment"].create([{"tracking_number": n, "connector_id": self.connector.id}
                                              for n in numbers])

    def counts(self):
        stats = self.env["shipment.poll.stat"].search([("connector_id", "=", self.connector.id)])
        return {stat.outcome: stat.count for stat in stats}

    def test_answers_failures_and_breaker_refusals_are_counted(self):
        self.env["shipment.connector"]._cron_poll_connectors()
        self.assertEqual(self.counts(), {"success": 3})
        self.assertEqual(len(self.fake.requests_to(AFTERSHIP_PREFIX)), 3)

        self.env["shipment.shipment"].search([("connector_id", "=", self.connector.id)]).last_polled_at = False
        self.connector.last_poll_at = False
        self.fake.script(AFTERSHIP_PREFIX, status(500), status(500), status(500))
        with mute_logger(POLLING_LOGGER):
            self.connector._poll_once()
        self.assertEqual(self.connector.breaker_state, "open")
        counts = self.counts()
        self.assertEqual(counts["success"], 3)
        self.assertEqual(counts["failure"], 2, "two calls failed, then the breaker opened")
        self.assertEqual(counts.get("circuit_open"), 1, "the third shipment was refused without a call")
        self.assertEqual(len(self.fake.requests_to(AFTERSHIP_PREFIX)), 5)
