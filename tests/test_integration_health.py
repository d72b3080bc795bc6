"""The integration health dashboard: its data method and, in a browser, its page."""

from datetime import datetime, timedelta, timezone

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from ..integration.events import CanonicalEvent
from .common import store_events

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"


class HealthFixture:
    """One connector with a known recent history, relative to now."""

    @classmethod
    def _seed_health(cls):
        env = cls.env
        cls.health_connector = env["shipment.connector"].create({
            "name": "Health Partner", "connector_type": "generic_json", "mode": "shadow"})
        Inbox = env["shipment.inbox"].sudo()
        # (state, received this long ago, processing took)
        history = [("done", timedelta(minutes=20), 10), ("pending", timedelta(minutes=30), None),
                   ("dead", timedelta(hours=3), 60), ("pending", timedelta(hours=5), None),
                   ("done", timedelta(days=3), 30)]
        for index, (state, age, lag) in enumerate(history):
            message_id = Inbox._enqueue(cls.health_connector, f'{{"health": {index}}}'.encode(), {})[0]
            env.cr.execute(
                """
                UPDATE shipment_inbox
                   SET state = %(state)s,
                       received_at = (now() at time zone 'utc') - %(age)s,
                       processed_at = CASE WHEN %(lag)s::int IS NULL THEN NULL
                                           ELSE (now() at time zone 'utc') - %(age)s + make_interval(secs => %(lag)s)
                                      END
                 WHERE id = %(id)s
                """, {"state": state, "age": age, "lag": lag, "id": message_id})
        # As the route's counter leaves them (it counts in a transaction of its own).
        env["shipment.webhook.rejection"].sudo().create(
            {"connector_id": cls.health_connector.id, "reason": "bad_signature", "count": 2})
        env["shipment.poll.stat"].sudo()._add(cls.health_connector, "success", 3)
        env["shipment.poll.stat"].sudo()._add(cls.health_connector, "failure", 1)
        cls.health_connector.sudo().write({"breaker_state": "open"})
        store_events(env, [CanonicalEvent(tracking_number="HEALTH1", milestone="unknown", raw_code="QQ",
                                          occurred_at=datetime(2026, 7, 1, 8, tzinfo=timezone.utc))],
                     connector=cls.health_connector)
        env["shipment.inbox"].invalidate_model()


@tagged("post_install", "-at_install")
class TestIntegrationHealthData(TransactionCase, HealthFixture):
    """get_health_data: per-connector figures for each period, tiles with their domains."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._seed_health()
        cls.manager = new_test_user(cls.env, "sv_health_manager",
                                    groups="base.group_user,shipment_visibility.group_shipment_manager")

    def row(self, period):
        data = self.env["shipment.integration.health"].with_user(self.manager).get_health_data(period)
        return data, next(row for row in data["connectors"] if row["id"] == self.health_connector.id)

    def test_figures_per_period(self):
        data, row = self.row("24h")
        self.assertEqual((row["received"], row["failed"], row["dead"], row["pending"]), (4, 0, 1, 2))
        self.assertAlmostEqual(row["dead_rate"], 25.0)
        self.assertAlmostEqual(row["oldest_pending_age_seconds"], 5 * 3600, delta=120)
        self.assertAlmostEqual(row["lag_p50_seconds"], 10)
        self.assertEqual(sum(row["sparkline"]), 4)
        self.assertEqual(len(row["sparkline"]), 24)
        self.assertEqual(row["rejections"], {"bad_signature": 2})
        self.assertEqual(row["poll_success_rate"], 75.0)
        self.assertEqual(row["breaker_state"], "open")
        self.assertEqual(row["unmapped_codes"], 1)
        self.assertTrue(row["last_message_at"])

        _data, hour = self.row("1h")
        self.assertEqual((hour["received"], hour["dead"], hour["pending"]), (2, 0, 2),
                         "the backlog is now, whatever the period")
        _data, week = self.row("7d")
        self.assertEqual(week["received"], 5)
        self.assertAlmostEqual(week["lag_p95_seconds"], 10 + 0.95 * 20)
        self.assertEqual(sum(week["sparkline"]), 4, "the sparkline is always the last 24 hours")

        tiles = {tile["key"]: tile for tile in data["tiles"]}
        self.assertEqual(set(tiles), {"missing_pod", "sla_breaches_today", "silent_after_done",
                                      "duplicates_suppressed"})
        for tile in tiles.values():
            with self.subTest(tile=tile["key"]):
                model = self.env[tile["model"]].with_user(self.manager)
                self.assertEqual(model.search_count(tile["domain"]), tile["count"], "the figure is its list")

    def test_each_figure_matches_the_list_it_opens(self):
        data, row = self.row("24h")
        Inbox = self.env["shipment.inbox"].with_user(self.manager)
        since = ("received_at", ">=", data["since"])
        connector = ("connector_id", "=", self.health_connector.id)
        self.assertEqual(Inbox.search_count([connector, since]), row["received"])
        self.assertEqual(Inbox.search_count([connector, since, ("state", "=", "dead")]), row["dead"])
        self.assertEqual(Inbox.search_count([connector, ("state", "=", "pending")]), row["pending"])

    def test_query_count_does_not_grow_with_connectors(self):
        Health = self.env["shipment.integration.health"].with_user(self.manager)
        Health.get_health_data("24h")
        with _QueryCounter(self.env.cr) as first:
            Health.get_health_data("24h")
        self.env["shipment.connector"].create([{"name": f"Extra {i}", "connector_type": "generic_json",
                                                "mode": "shadow"} for i in range(10)])
        self.env.invalidate_all()
        Health.get_health_data("24h")
        with _QueryCounter(self.env.cr) as second:
            Health.get_health_data("24h")
        self.assertEqual(second.count, first.count)
        self.assertLessEqual(first.count, 15)

    def test_access_and_bad_period(self):
        clerk = new_test_user(self.env, "sv_health_clerk",
                              groups="base.group_user,shipment_visibility.group_shipment_user")
        with self.assertRaises(AccessError):
            self.env["shipment.integration.health"].with_user(clerk).get_health_data("24h")
        with self.assertRaises(UserError):
            self.env["shipment.integration.health"].with_user(self.manager).get_health_data("2w")


class _QueryCounter:
    def __init__(self, cr):
        self.cr = cr
        self.count = 0

    def __enter__(self):
        self.start = self.cr.sql_log_count
        return self

    def __exit__(self, *exc_info):
        self.count = self.cr.sql_log_count - self.start


@tagged("post_install", "-at_install")
class TestIntegrationHealthTour(HttpCase, HealthFixture):
    """In a real browser: the page shows the seeded figures and opens the list behind one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._seed_health()

    def test_administrator_reads_the_health_page(self):
        self.assertIn(self.env.ref("base.user_admin"), self.env.ref(ADMIN_GROUP).users)
        self.start_tour("/odoo/action-shipment_visibility.action_shipment_integration_health",
                        "shipment_visibility_integration_health", login="admin")
