"""Polling partner APIs: the real cron and transport against the fake partner on loopback."""

import contextlib
import json
import socket
import time
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

import requests

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..integration.events import CanonicalEvent
from ..tools.fake_partner import (
    AFTERSHIP_PREFIX,
    SEVENTEEN_BATCH_MAX,
    SEVENTEEN_REGISTER,
    SEVENTEEN_TRACKINFO,
    FakePartner,
    malformed_json,
    partial,
    rate_limit,
    slow,
    status,
)
from .common import store_events
from .http_common import SECRETS

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"
CONNECTOR_LOGGER = "odoo.addons.shipment_visibility.models.shipment_connector_polling"
EASTERN = timezone(timedelta(hours=-4))
# Distinct, recognisable keys: wherever one shows up, it leaked.
KEYS = {
    "aftership": "as-LEAKCHECK-7f3a91",
    "seventeentrack": "17-LEAKCHECK-c20b55",
    "easypost": "EZ-LEAKCHECK-9d4e17",
    "generic_json": "partner:generic-LEAKCHECK-61aa",
}


@tagged("post_install", "-at_install")
class TestPolling(TransactionCase):
    """The poll cron selects due connectors and shipments, calls the partner through the
    connector's transport, and stores every answer as an inbox message."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        # Short back-off between retries; the schedule itself is covered by the pure tests.
        cls.env["ir.config_parameter"].sudo().set_param("shipment_visibility.http_backoff_seconds", "0.01")
        cls.admin = new_test_user(cls.env, "sv_poll_admin", groups=ADMIN_GROUP)
        # Only the connectors made here are due.
        cls.env["shipment.connector"].search([("poll_enabled", "=", True)]).write({"poll_enabled": False})

    def setUp(self):
        super().setUp()
        self.fake = FakePartner(
            aftership_key=KEYS["aftership"],
            seventeentrack_token=KEYS["seventeentrack"],
            easypost_key=KEYS["easypost"],
            generic_credentials=tuple(KEYS["generic_json"].split(":", 1)),
        ).start()
        self.addCleanup(self.fake.stop)
        # The fake partner listens on loopback: allowed explicitly, as an administrator would.
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbound_allowed_hosts", "127.0.0.1")
        self.counter = 0

    # -------------------------------------------------------------- set-up

    def _connector(self, connector_type, **values):
        self.counter += 1
        vals = {
            "name": f"Poll {connector_type} {self.counter}",
            "connector_type": connector_type,
            # Live, as a partner in production: its answers act on the delivery orders'
            # shipments. A live connector also verifies the webhooks its partner may send.
            "mode": "live",
            "webhook_secret": SECRETS.get(connector_type, SECRETS["standard_webhooks"]),
            "poll_enabled": True,
            "api_base_url": self.fake.base_url,
            "api_key": KEYS[connector_type],
            "rate_per_second": 0,
            "http_timeout_seconds": 10,
            "http_max_retries": 2,
        }
        if connector_type == "generic_json":
            vals.update(poll_url_template="{base}/track/{number}", poll_auth_scheme="basic")
        vals.update(values)
        return self.env["shipment.connector"].create(vals)

    def _shipments(self, connector, count, prefix=None, on_partner=True):
        prefix = prefix or f"T{connector.id}X"
        numbers = [f"{prefix}{index:05d}" for index in range(count)]
        for number in numbers if on_partner else []:
            self.fake.add_shipment(number, carrier="ups", events=[{
                "status": "in_transit", "at": datetime(2025, 7, 1, 9, 30, tzinfo=EASTERN),
                "city": "Atlanta", "state": "GA", "country": "US",
            }])
        return self.env["shipment.shipment"].create(
            [{"tracking_number": number, "connector_id": connector.id} for number in numbers])

    def _poll(self):
        return self.env["shipment.connector"]._cron_poll_connectors()

    def _messages(self, connector):
        return self.env["shipment.inbox"].search([("connector_id", "=", connector.id)], order="id")

    def _numbers_asked(self, path):
        asked = []
        for request in self.fake.requests_to(path):
            if request.method == "GET":
                asked += [n for value in request.query.get("tracking_numbers", []) for n in value.split(",")]
            else:
                asked += [item["number"] for item in request.json()]
        return asked

    def _open_breaker(self, connector):
        """Three 500s in a row, each retried: the breaker of a threshold of 3 opens."""
        self.fake.script(AFTERSHIP_PREFIX, status(500), status(500), status(500))
        with mute_logger(CONNECTOR_LOGGER):
            self._poll()
        self.assertEqual(connector.breaker_state, "open")

    # -------------------------------------------------------------- batching

    def test_seventeentrack_45_numbers_are_registered_and_queried_in_two_batches(self):
        """45 numbers make 2 register and 2 query calls of at most 40; every answer is stored."""
        connector = self._connector("seventeentrack")
        shipments = self._shipments(connector, 45)
        self.env.ref("shipment_visibility.ir_cron_poll_connectors").method_direct_trigger()

        registers = self.fake.requests_to(SEVENTEEN_REGISTER)
        queries = self.fake.requests_to(SEVENTEEN_TRACKINFO)
        self.assertEqual([len(r.json()) for r in registers], [40, 5])
        self.assertEqual([len(r.json()) for r in queries], [40, 5])
        self.assertLessEqual(max(len(r.json()) for r in self.fake.requests), SEVENTEEN_BATCH_MAX)
        self.assertEqual(sorted(self._numbers_asked(SEVENTEEN_TRACKINFO)), sorted(shipments.mapped("tracking_number")))
        self.assertTrue(all(r.header("17token") == KEYS["seventeentrack"] for r in self.fake.requests))

        messages = self._messages(connector)
        self.assertEqual(len(messages), 2, "one message per query answer; registrations are not stored")
        self.assertEqual(set(messages.mapped("source")), {"poll"})
        self.assertTrue(all(shipments.mapped("last_polled_at")))
        self.assertEqual(connector.breaker_state, "closed")
        self.assertFalse(connector.last_poll_error)
        self.assertTrue(connector.last_poll_at)

        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(set(messages.mapped("state")), {"done"})
        self.assertEqual(set(shipments.mapped("status")), {"in_transit"})

        # Polled within the interval: the next run leaves the partner alone.
        calls = len(self.fake.requests)
        self._poll()
        self.assertEqual(len(self.fake.requests), calls)

    def test_aftership_batches_follow_the_connector_batch_size(self):
        """With 20 numbers per call, 45 shipments are asked in 3 GETs carrying the API key."""
        connector = self._connector("aftership", poll_batch_size=20)
        shipments = self._shipments(connector, 45)
        self._poll()
        calls = self.fake.requests_to(AFTERSHIP_PREFIX)
        self.assertEqual(len(calls), 3)
        self.assertEqual([len(c.query["tracking_numbers"][0].split(",")) for c in calls], [20, 20, 5])
        self.assertEqual({c.header("as-api-key") for c in calls}, {KEYS["aftership"]})
        self.assertEqual(len(self._messages(connector)), 3)
        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(set(shipments.mapped("status")), {"in_transit"})

    def test_a_live_connector_that_only_polls_needs_no_webhook_secret(self):
        """Its webhooks are refused (no secret to verify them with); polling works, and
        turning polling off asks for the secret first."""
        connector = self._connector("aftership", webhook_secret=False)
        self.assertEqual((connector.mode, connector.has_webhook_secret), ("live", False))
        shipments = self._shipments(connector, 3)
        self._poll()
        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(set(shipments.mapped("status")), {"in_transit"})
        with self.assertRaisesRegex(ValidationError, "needs a webhook secret"):
            connector.poll_enabled = False
        with self.assertRaisesRegex(ValidationError, "needs a webhook secret"):
            self.env["shipment.connector"].create({
                "name": "Webhook-only without a secret", "connector_type": "aftership", "mode": "live"})

    def test_partial_batch_answers_store_what_came(self):
        """A partner answering for part of a batch: the rest of the batch is still imported."""
        connector = self._connector("aftership", poll_batch_size=10)
        shipments = self._shipments(connector, 10)
        dropped = shipments[1::2].mapped("tracking_number")
        self.fake.script(AFTERSHIP_PREFIX, partial(dropped))
        self._poll()
        self.env["shipment.inbox"]._cron_process_inbox()
        for shipment in shipments:
            expected = "pending" if shipment.tracking_number in dropped else "in_transit"
            self.assertEqual(shipment.status, expected, shipment.tracking_number)
        self.assertEqual(self._messages(connector).state, "done")

    def test_generic_rest_asks_each_number_with_its_url_template_and_auth(self):
        connector = self._connector("generic_json")
        shipments = self._shipments(connector, 2)
        self._poll()
        paths = sorted(r.path for r in self.fake.requests)
        self.assertEqual(paths, sorted(f"/track/{n}" for n in shipments.mapped("tracking_number")))
        self.assertTrue(all(r.header("Authorization", "").startswith("Basic ") for r in self.fake.requests))
        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(set(self._messages(connector).mapped("state")), {"done"})
        self.assertEqual(set(shipments.mapped("status")), {"in_transit"})

    def test_easypost_creates_unknown_trackers_then_reads_known_ones(self):
        """Without a tracker id the tracker is created (POST); once EasyPost has told us the
        tracker (here by a pushed tracker message), the poll reads it by id."""
        connector = self._connector("easypost")
        shipment = self._shipments(connector, 1)
        number = shipment.tracking_number
        with mute_logger(CONNECTOR_LOGGER):
            self._poll()
        (create,) = self.fake.requests
        self.assertEqual((create.method, create.path), ("POST", "/v2/trackers"))
        self.assertEqual(create.json(), {"tracker": {"tracking_code": number}})
        # The fake has no creation route: its 404 is recorded, not retried.
        self.assertIn("404", connector.last_poll_error)
        self.assertFalse(shipment.last_polled_at)

        # EasyPost pushes the tracker (a webhook of the same account).
        tracker_id = self.fake.shipments[number].tracker_id
        pushed = requests.get(f"{self.fake.base_url}/v2/trackers/{tracker_id}", auth=(KEYS["easypost"], ""),
                              timeout=10)
        Inbox = self.env["shipment.inbox"]
        Inbox._enqueue(connector, pushed.content, {}, source="webhook")
        Inbox._cron_process_inbox()

        self._poll()
        read = self.fake.requests[-1]
        self.assertEqual((read.method, read.path), ("GET", f"/v2/trackers/{tracker_id}"))
        self.assertTrue(read.header("Authorization").startswith("Basic "))
        self.assertFalse(connector.last_poll_error)
        self.assertTrue(shipment.last_polled_at)

    # -------------------------------------------------------------- resilience

    @mute_logger(CONNECTOR_LOGGER)
    def test_slow_answer_hits_the_timeout(self):
        """A partner slower than the timeout: the call is abandoned and the failure counted.

        Odoo's test runner raises timeouts under 10 s to 10 s, so the fake sleeps 11 s.
        """
        connector = self._connector("aftership", http_timeout_seconds=10, http_max_retries=0)
        shipments = self._shipments(connector, 3)
        self.fake.script(AFTERSHIP_PREFIX, slow(11))
        started = time.monotonic()
        self._poll()
        self.assertLess(time.monotonic() - started, 11)
        self.assertIn("timed out", connector.last_poll_error)
        self.assertEqual(connector.breaker_failure_count, 1)
        self.assertEqual(connector.breaker_state, "closed")
        self.assertFalse(self._messages(connector))
        self.assertFalse(any(shipments.mapped("last_polled_at")), "unanswered shipments stay due")

    def test_500s_are_retried_then_open_the_breaker_with_a_note_and_activities(self):
        connector = self._connector("aftership", breaker_threshold=3, breaker_cooldown_seconds=600)
        shipments = self._shipments(connector, 5)
        before = fields.Datetime.now()
        self._open_breaker(connector)

        self.assertEqual(len(self.fake.requests_to(AFTERSHIP_PREFIX)), 3, "the GET was retried twice")
        self.assertEqual(connector.breaker_failure_count, 3)
        self.assertGreaterEqual(connector.breaker_opened_at, before)
        self.assertAlmostEqual(connector.breaker_next_attempt_at, connector.breaker_opened_at + timedelta(seconds=600),
                               delta=timedelta(seconds=1))
        self.assertIn("HTTP 500", connector.last_poll_error)
        self.assertFalse(any(shipments.mapped("last_polled_at")))
        note = connector.message_ids.filtered(lambda m: "Circuit breaker opened" in (m.body or ""))
        self.assertEqual(len(note), 1)
        activities = connector._breaker_activities()
        self.assertIn(self.admin, activities.user_id)
        self.assertEqual(len(activities), len(activities.user_id), "one activity per administrator")

        # While open, the cron leaves the partner alone, and so does "Poll now".
        calls = len(self.fake.requests)
        self._poll()
        with mute_logger(CONNECTOR_LOGGER):
            action = connector.with_user(self.admin).action_poll_now()
        self.assertEqual(len(self.fake.requests), calls)
        self.assertIn("Circuit breaker open", action["params"]["message"])

        # Opening again later does not pile up activities.
        connector._schedule_breaker_activities()
        self.assertEqual(connector._breaker_activities(), activities)

    def test_half_open_trial_closes_the_breaker_on_success(self):
        connector = self._connector("aftership", breaker_threshold=3)
        shipments = self._shipments(connector, 4)
        self._open_breaker(connector)
        calls = len(self.fake.requests)
        # The cool-down is over.
        past = fields.Datetime.now() - timedelta(hours=1)
        connector.write({"breaker_opened_at": past, "breaker_next_attempt_at": past,
                         "breaker_opened_epoch": past.replace(tzinfo=timezone.utc).timestamp()})

        self._poll()
        self.assertEqual(len(self.fake.requests), calls + 1, "one trial call")
        self.assertEqual(connector.breaker_state, "closed")
        self.assertEqual(connector.breaker_failure_count, 0)
        self.assertFalse(connector.breaker_next_attempt_at)
        self.assertFalse(connector._breaker_activities(), "the administrators' activities are done")
        self.assertTrue(connector.message_ids.filtered(lambda m: "Circuit breaker closed" in (m.body or "")))
        self.assertTrue(all(shipments.mapped("last_polled_at")))

    def test_half_open_trial_failing_opens_the_breaker_again(self):
        connector = self._connector("aftership", breaker_threshold=3)
        self._shipments(connector, 2)
        self._open_breaker(connector)
        past = fields.Datetime.now() - timedelta(hours=1)
        connector.write({"breaker_opened_at": past, "breaker_next_attempt_at": past,
                         "breaker_opened_epoch": past.replace(tzinfo=timezone.utc).timestamp()})
        calls = len(self.fake.requests)
        self.fake.script(AFTERSHIP_PREFIX, status(503))
        with mute_logger(CONNECTOR_LOGGER):
            self._poll()
        self.assertEqual(len(self.fake.requests), calls + 1, "the failed trial is not retried")
        self.assertEqual(connector.breaker_state, "open")
        self.assertGreater(connector.breaker_opened_at, past)

    def test_reset_breaker_closes_it_by_hand(self):
        connector = self._connector("aftership", breaker_threshold=3)
        self._shipments(connector, 1)
        self._open_breaker(connector)
        connector.with_user(self.admin).action_reset_breaker()
        self.assertEqual(connector.breaker_state, "closed")
        self.assertEqual(connector.breaker_failure_count, 0)
        self.assertFalse(connector._breaker_activities())
        self._poll()
        self.assertEqual(len(self._messages(connector)), 1)

    def test_only_connector_editors_may_poll_now_or_reset_the_breaker(self):
        connector = self._connector("aftership")
        self._shipments(connector, 1)
        manager = new_test_user(self.env, "sv_poll_manager", groups="shipment_visibility.group_shipment_manager")
        with self.assertRaises(AccessError):
            connector.with_user(manager).action_poll_now()
        with self.assertRaises(AccessError):
            connector.with_user(manager).action_reset_breaker()
        self.assertFalse(self.fake.requests, "no call was made on their behalf")
        action = connector.with_user(self.admin).action_poll_now()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(len(self.fake.requests), 1)

        # The page shows the breaker to managers; folder and file options only to administrators.
        manager_form = connector.with_user(manager).get_views([(False, "form")])["views"]["form"]["arch"]
        admin_form = connector.with_user(self.admin).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="breaker_state"', manager_form)
        self.assertNotIn('name="inbound_folder"', manager_form)
        self.assertNotIn('name="action_poll_now"', manager_form)
        self.assertIn('name="inbound_folder"', admin_form)
        self.assertIn('name="action_reset_breaker"', admin_form)

    def test_429_retry_after_is_honoured(self):
        connector = self._connector("aftership")
        self._shipments(connector, 2)
        self.fake.script(AFTERSHIP_PREFIX, rate_limit(1))
        started = time.monotonic()
        self._poll()
        self.assertGreaterEqual(time.monotonic() - started, 1.0, "waited as the partner asked")
        self.assertEqual(len(self.fake.requests_to(AFTERSHIP_PREFIX)), 2)
        self.assertEqual(len(self._messages(connector)), 1)
        self.assertFalse(connector.last_poll_error)
        self.assertEqual(connector.breaker_failure_count, 0, "a throttle says the partner is up")

    def test_retry_after_longer_than_allowed_stops_the_run_without_waiting(self):
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.http_retry_after_max_seconds", "5")
        connector = self._connector("aftership", poll_batch_size=1)
        self._shipments(connector, 3)
        self.fake.script(AFTERSHIP_PREFIX, rate_limit(120))
        started = time.monotonic()
        with mute_logger(CONNECTOR_LOGGER):
            self._poll()
        self.assertLess(time.monotonic() - started, 5)
        self.assertEqual(len(self.fake.requests), 1, "the rest of the run waits for the next one")
        self.assertIn("429", connector.last_poll_error)

    def test_malformed_answer_fails_its_message_and_other_connectors_still_poll(self):
        aftership = self._connector("aftership")
        seventeen = self._connector("seventeentrack")
        broken = self._shipments(aftership, 3)
        fine = self._shipments(seventeen, 3)
        self.fake.script(AFTERSHIP_PREFIX, malformed_json())
        self._poll()

        message = self._messages(aftership)
        self.assertEqual(message.state, "failed")
        self.assertIn("malformed JSON", message.last_error)
        self.assertIn("malformed JSON", aftership.last_poll_error)
        self.assertFalse(any(broken.mapped("last_polled_at")), "retried at the next run")
        self.assertEqual(len(self._messages(seventeen)), 1)
        self.assertTrue(all(fine.mapped("last_polled_at")))
        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(message.state, "failed")
        self.assertEqual(set(fine.mapped("status")), {"in_transit"})

    def test_outage_of_one_connector_does_not_stop_another(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        # Nothing listens there any more: every call is refused.
        down = self._connector("aftership", api_base_url=f"http://127.0.0.1:{dead_port}")
        up = self._connector("seventeentrack")
        self._shipments(down, 2)
        shipments = self._shipments(up, 2)
        with mute_logger(CONNECTOR_LOGGER):
            self._poll()
        self.assertIn("ConnectionError", down.last_poll_error)
        self.assertEqual(down.breaker_failure_count, 3, "first call and two retries")
        self.assertTrue(all(shipments.mapped("last_polled_at")))
        self.assertEqual(len(self._messages(up)), 1)

    # -------------------------------------------------------------- selection

    def test_old_shipments_are_marked_no_longer_updated_and_final_ones_skipped(self):
        connector = self._connector("aftership", poll_max_age_days=30)
        young, old, delivered = self._shipments(connector, 3)
        self.env.cr.execute("UPDATE shipment_shipment SET create_date = %s WHERE id = %s",
                            [fields.Datetime.now() - timedelta(days=31), old.id])
        old.invalidate_recordset(["create_date"])
        store_events(self.env, [self._delivered(delivered.tracking_number)], connector=connector)
        self.assertTrue(delivered.is_terminal)

        self._poll()
        self.assertEqual(self._numbers_asked(AFTERSHIP_PREFIX), [young.tracking_number])
        self.assertTrue(old.polling_stopped)
        self.assertFalse(old.last_polled_at)
        self.assertFalse(young.polling_stopped or delivered.polling_stopped)
        self.assertFalse(delivered.last_polled_at)

    def test_a_shadow_connector_polls_the_live_shipments_of_its_carriers(self):
        """Trialling a polled-only partner: the shadow connector asks it about the live
        connector's open shipments of the same carrier, through shadow twins; the live
        shipments keep their own schedule and nothing the shadow partner says reaches them."""
        carrier = self.env["delivery.carrier"].create({
            "name": "Shadow trial carrier", "delivery_type": "fixed",
            "product_id": self.env["product.product"].create({"name": "Shadow trial", "type": "service"}).id})
        live = self._connector("seventeentrack", carrier_ids=[(6, 0, carrier.ids)])
        trial = self._connector("aftership", mode="shadow", carrier_ids=[(6, 0, carrier.ids)])
        live.poll_enabled = False  # only the trial polls here: its partner is the one on trial
        followed = self._shipments(live, 3, prefix="SHTRIAL")
        followed.carrier_id = carrier
        other_carrier = self._shipments(live, 1, prefix="SHOTHER")
        store_events(self.env, [self._delivered(followed[2].tracking_number)], connector=live)

        self._poll()
        open_numbers = sorted(followed[:2].mapped("tracking_number"))
        self.assertEqual(sorted(self._numbers_asked(AFTERSHIP_PREFIX)), open_numbers,
                         "open live shipments of the trial's carrier only")
        twins = self.env["shipment.shipment"].search([("connector_id", "=", trial.id)])
        self.assertEqual(sorted(twins.mapped("tracking_number")), open_numbers)
        self.assertTrue(all(twins.mapped("shadow")))
        self.assertTrue(all(twins.mapped("last_polled_at")))
        self.assertFalse(any(followed.mapped("last_polled_at")), "the live schedule is left alone")
        self.assertFalse(other_carrier.last_polled_at)

        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(set(twins.mapped("status")), {"in_transit"})
        self.assertEqual(set(followed[:2].mapped("status")), {"pending"}, "live shipments unchanged")

        # Polled within the interval, twins known: the next run creates and asks nothing.
        calls = len(self.fake.requests)
        self._poll()
        self.assertEqual(len(self.fake.requests), calls)
        self.assertEqual(self.env["shipment.shipment"].search_count([("connector_id", "=", trial.id)]), 2)

    def _delivered(self, number):
        return CanonicalEvent(tracking_number=number, milestone="delivered",
                              occurred_at=datetime(2025, 7, 2, 12, 0, tzinfo=timezone.utc), carrier="ups")

    def test_each_run_reports_progress_per_batch(self):
        connector = self._connector("seventeentrack")
        self._shipments(connector, 45)
        cron = self.env.ref("shipment_visibility.ir_cron_poll_connectors")
        progress = self.env["ir.cron.progress"].create({"cron_id": cron.id, "done": 0, "remaining": 0})
        IrCron = type(self.env["ir.cron"])
        original = IrCron._notify_progress
        reported = []

        def spy(crons, *, done, remaining, deactivate=False):
            reported.append((done, remaining))
            return original(crons, done=done, remaining=remaining, deactivate=deactivate)

        with patch.object(IrCron, "_notify_progress", spy):
            self.env["shipment.connector"].with_context(ir_cron_progress_id=progress.id)._cron_poll_connectors()
        # One report per batch of the partner's size, then the final one.
        self.assertEqual(reported, [(40, 5), (45, 0), (45, 0)])
        self.assertEqual((progress.done, progress.remaining), (45, 0))

    # -------------------------------------------------------------- secrets

    def test_api_keys_never_reach_logs_stored_headers_or_exports(self):
        connectors = self.env["shipment.connector"]
        for connector_type in ("aftership", "seventeentrack", "generic_json"):
            connector = self._connector(connector_type)
            self._shipments(connector, 2)
            connectors |= connector
        aftership = connectors[0]
        # A failing partner echoing the key in its error body, as some do.
        self.fake.script(AFTERSHIP_PREFIX, *[status(500, {"message": f"bad key {KEYS['aftership']}"})] * 3)
        with contextlib.ExitStack() as stack:
            captured = [stack.enter_context(self.assertLogs(name, "DEBUG"))
                        for name in ("odoo.addons.shipment_visibility", "urllib3")]
            self._poll()
        self.assertTrue(all(r.header("as-api-key") == KEYS["aftership"]
                            for r in self.fake.requests_to(AFTERSHIP_PREFIX)), "the key did go on the wire")
        self.assertIn("HTTP 500", aftership.last_poll_error)

        secrets = [KEYS["aftership"], KEYS["seventeentrack"], KEYS["generic_json"],
                   *KEYS["generic_json"].split(":")]
        logged = "\n".join(record.getMessage() for capture in captured for record in capture.records)
        messages = self.env["shipment.inbox"].search([("connector_id", "in", connectors.ids)])
        self.assertEqual(len(messages), 3, "17TRACK and both generic shipments answered")
        exportable = [name for name, field in connectors._fields.items()
                      if field.exportable and field.type not in ("one2many", "many2many", "binary")]
        inbox_fields = ["body", "headers", "headers_pretty", "last_error"]
        places = {
            "logs": logged,
            "stored headers": json.dumps(messages.mapped("headers")),
            "connector export": json.dumps(connectors.export_data(exportable + ["api_key"]), default=str),
            "inbox export": json.dumps(messages.export_data(inbox_fields), default=str),
            "poll errors": json.dumps(connectors.mapped("last_poll_error")),
            "chatter": json.dumps(connectors.message_ids.mapped("body")),
        }
        for place, text in places.items():
            for secret in secrets:
                self.assertNotIn(secret, text, f"an API key leaked into the {place}")
        self.assertIn("X-Poll-Request", json.dumps(messages.mapped("headers")))
