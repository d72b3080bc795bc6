"""The inbox processor: claiming, leases, retries, dead letters, convergence, concurrency."""

import copy
import json
import random
import string
import time
import uuid
from datetime import datetime, timedelta

import psycopg2

from odoo import fields
from odoo.sql_db import db_connect
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..integration.adapters import get_adapter
from ..models.shipment_inbox import _wake_processor
from .common import ShipmentCommon
from .http_common import RealCursorCase, dump, fixture_bytes, fixture_json

INBOX_LOGGER = "odoo.addons.shipment_visibility.models.shipment_inbox_processor"
# Chronological order of the checkpoints of the AfterShip fixture (indexes in the file).
CHRONOLOGICAL = [3, 1, 4, 5, 7, 2, 6, 8, 0]
AFTERSHIP_TS = 1784055900


def aftership_body(tracking_number, event_id=None, checkpoints=None, rnd=None, **msg_values):
    """The AfterShip fixture for another tracking number, optionally cut or reshuffled."""
    data = fixture_json("aftership", "tracking_update_delivered.json")
    msg = data["msg"]
    msg["tracking_number"] = tracking_number
    # AfterShip's event id is the dedup key: one per delivery unless told otherwise.
    data["event_id"] = event_id or f"evt-{tracking_number}"
    if checkpoints is not None:
        msg["checkpoints"] = [copy.deepcopy(msg["checkpoints"][i]) for i in checkpoints]
    if rnd:
        rnd.shuffle(msg["checkpoints"])
    ts = msg_values.pop("ts", None)
    if ts:
        data["ts"] = ts
    msg.update(msg_values)
    return dump(data)


def enqueue_retrying(env, connector_id, body):
    """Enqueue as a request does: a serialization failure rolls back and tries again.

    (The HTTP layer's ``retrying`` does the same, but also looks the registry up under
    the lock the test runner holds, which a test thread cannot take.)
    """
    connector = env["shipment.connector"].browse(connector_id)
    for attempt in range(5):
        try:
            result = enqueue(connector, body)
            env.cr.commit()
            return result + (attempt,)
        except psycopg2.errors.SerializationFailure:
            env.cr.rollback()
            time.sleep(random.uniform(0.0, 0.05))
    raise AssertionError("still failing after 5 tries")


def enqueue(connector, body, source="webhook"):
    """Store a message as the webhook route does (partner id taken from the body)."""
    external_id = get_adapter(connector.connector_type).external_id(body, {})
    return connector.env["shipment.inbox"].sudo()._enqueue(
        connector, body, {"Content-Type": "application/json"}, source=source, external_id=external_id)


@tagged("post_install", "-at_install")
class TestInboxProcessor(ShipmentCommon):
    """Processing in the test transaction (no commit): outcomes of each message."""

    def setUp(self):
        super().setUp()
        self.Inbox = self.env["shipment.inbox"]

    def message(self, connector, body):
        message_id, created, _correlation = enqueue(connector, body)
        self.assertTrue(created)
        return self.Inbox.browse(message_id)

    def test_expired_lease_is_reclaimed_and_nothing_is_lost(self):
        """A worker died mid-batch: its messages come back once their lease expires."""
        messages = self.Inbox.browse([self.message(self.connector, aftership_body(f"LEASE{i}")).id
                                      for i in range(3)])
        claimed = self.Inbox._claim(10)
        self.assertEqual(claimed & messages, messages)
        self.assertEqual(set(messages.mapped("state")), {"processing"})
        self.assertEqual(messages.mapped("attempts"), [1, 1, 1])
        # The worker is gone; two leases ran out, the third is still held.
        expired, held = messages[:2], messages[2]
        expired.write({"lease_until": datetime(2000, 1, 1)})
        held.write({"lease_until": fields.Datetime.now() + timedelta(hours=1)})
        self.Inbox._cron_process_inbox()
        self.assertEqual(expired.mapped("state"), ["done", "done"])
        self.assertEqual(expired.mapped("attempts"), [2, 2])
        self.assertEqual((held.state, held.attempts), ("processing", 1), "a live lease is not taken over")
        self.assertFalse(held.shipment_ids)
        held.lease_until = datetime(2000, 1, 1)
        self.Inbox._cron_process_inbox()
        self.assertEqual(messages.mapped("state"), ["done"] * 3)
        self.assertEqual(held.attempts, 2)
        for index, message in enumerate(messages):
            self.assertEqual(message.shipment_ids.tracking_number, f"LEASE{index}")
            self.assertEqual(len(message.shipment_ids.event_ids), 11)
            self.assertEqual(message.shipment_ids.status, "delivered")
            self.assertFalse(message.lease_until)

    def test_stored_events_carry_their_shipments_company_and_connector(self):
        """Rows are inserted raw and their related copies never recomputed: the insert sets them."""
        message = self.message(self.connector, aftership_body("COPIES1"))
        self.Inbox._cron_process_inbox()
        self.assertEqual(message.state, "done")
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT DISTINCT e.company_id, e.connector_id FROM shipment_event e WHERE e.inbox_id = %s", [message.id])
        self.assertEqual(self.env.cr.fetchall(), [(self.company.id, self.connector.id)])
        events = self.env["shipment.event"].search([("inbox_id", "=", message.id)])
        self.assertEqual(len(events), 11)
        self.assertEqual((events.company_id, events.connector_id), (self.company, self.connector))

    def test_failure_is_retried_with_backoff_then_dead_lettered(self):
        """A transient failure (a lock held elsewhere) backs off; at the limit: dead + activity."""
        admin = new_test_user(self.env, "sv_dead_letter_admin",
                              groups="shipment_visibility.group_shipment_integration_admin")
        self.env["ir.config_parameter"].set_param("shipment_visibility.inbox_max_attempts", "2")
        message = self.message(self.connector, aftership_body("RETRY1"))
        self.env.flush_all()
        blocker = db_connect(self.env.cr.dbname).cursor()
        try:
            blocker.execute("SET lock_timeout = '5s'")
            # Conflicts with the INSERT of events, nothing else the processor does.
            blocker.execute("LOCK TABLE shipment_event IN SHARE MODE")
            self.env.cr.execute("SET lock_timeout = '200ms'")
            with mute_logger("odoo.sql_db", INBOX_LOGGER):
                before = fields.Datetime.now()
                self.Inbox._cron_process_inbox()
                self.assertEqual(message.state, "pending")
                self.assertEqual(message.attempts, 1)
                self.assertIn("LockNotAvailable", message.last_error)
                delay = (message.next_attempt_at - before).total_seconds()
                self.assertTrue(20 <= delay <= 40, f"first retry after ~30 s, got {delay}")
                self.assertFalse(message.lease_until)
                self.assertFalse(self.Inbox._claim(10) & message, "not due before its back-off")

                message.next_attempt_at = datetime(2000, 1, 1)
                self.Inbox._cron_process_inbox()
            self.assertEqual(message.state, "dead")
            self.assertEqual(message.attempts, 2)
            self.assertIn("LockNotAvailable", message.last_error)
        finally:
            self.env.cr.execute("RESET lock_timeout")
            blocker.rollback()
            blocker.close()
        activities = self.env["mail.activity"].search([
            ("res_model", "=", "shipment.connector"), ("res_id", "=", self.connector.id),
            ("summary", "=", "Dead inbox messages")])
        self.assertIn(admin, activities.user_id)
        self.assertEqual(len(activities.filtered(lambda a: a.user_id == admin)), 1)
        self.assertFalse(self.env["shipment.event"].search([("inbox_id", "=", message.id)]))

        # Once the cause is gone the dead message is replayed, and no event is lost.
        message.action_retry()
        self.Inbox._cron_process_inbox()
        self.assertEqual(message.state, "done")
        self.assertEqual(len(message.shipment_ids.event_ids), 11)

    def test_only_messages_due_now_count_as_remaining_work(self):
        """Odoo re-runs the cron at once while work remains: a retry due later is not such work."""
        due_before = self.Inbox._count_due()
        later = self.message(self.connector, aftership_body("DUE-LATER"))
        later.next_attempt_at = fields.Datetime.now() + timedelta(hours=1)
        now = self.message(self.connector, aftership_body("DUE-NOW"))
        self.assertEqual(self.Inbox._count_due(), due_before + 1)
        self.Inbox._cron_process_inbox()
        self.assertEqual((now.state, later.state), ("done", "pending"))
        self.assertEqual(self.Inbox._count_due(), 0)

    def test_second_dead_letter_adds_no_second_activity(self):
        admin = new_test_user(self.env, "sv_dead_letter_admin2",
                              groups="shipment_visibility.group_shipment_integration_admin")
        first = self.message(self.connector, aftership_body("DEAD1"))
        second = self.message(self.connector, aftership_body("DEAD2"))
        (first | second)._set_state("processing")
        (first | second)._set_state("dead", "gone")
        first._notify_dead_letters()
        second._notify_dead_letters()
        activities = self.env["mail.activity"].search([
            ("res_model", "=", "shipment.connector"), ("res_id", "=", self.connector.id),
            ("user_id", "=", admin.id)])
        self.assertEqual(len(activities), 1)

    def test_parse_error_fails_the_message_with_the_path(self):
        """A payload the adapter refuses is failed at once (no retry), naming the bad field."""
        connector = self.env["shipment.connector"].create({"name": "Native JSON", "connector_type": "generic_json"})
        zone_less = self.message(connector, fixture_bytes("generic_json", "invalid_occurred_at.json"))
        data = fixture_json("generic_json", "native_tracking_updated.json")
        data["data"]["events"][0]["code"] = "delivered_ok"
        bad_code = self.message(connector, dump(data))
        self.Inbox._cron_process_inbox()
        self.assertEqual(zone_less.state, "failed")
        self.assertTrue(zone_less.last_error.startswith("$.data.events[1].occurred_at"), zone_less.last_error)
        self.assertEqual(bad_code.state, "failed")
        self.assertTrue(bad_code.last_error.startswith("$.data.events[0].code"), bad_code.last_error)
        self.assertEqual((zone_less | bad_code).mapped("attempts"), [1, 1])
        self.assertFalse((zone_less | bad_code).shipment_ids)
        self.assertFalse(self.env["shipment.shipment"].search([("tracking_number", "=", "NF000123456")]))
        self.assertFalse(self.Inbox._claim(10) & (zone_less | bad_code), "failed messages wait for a human")

    def test_nul_and_lone_surrogates_in_partner_text_are_stored_escaped(self):
        """PostgreSQL refuses NUL and UTF-8 lone surrogates: both are stored as visible escapes."""
        data = json.loads(aftership_body("NULTEXT1"))
        data["msg"]["checkpoints"][0]["message"] = "Delivered\u0000 - Signed"
        data["msg"]["checkpoints"][1]["message"] = "Out for \ud800delivery"
        body = json.dumps(data).encode()  # ASCII escapes, as partners send them
        message = self.message(self.connector, body)
        self.Inbox._cron_process_inbox()
        self.assertEqual((message.state, message.attempts), ("done", 1), message.last_error)
        descriptions = message.shipment_ids.event_ids.mapped("description")
        self.assertIn("Delivered\\u0000 - Signed", descriptions)
        self.assertIn("Out for \\ud800delivery", descriptions)

    def test_poison_error_text_fails_its_message_alone(self):
        """A 17TRACK error code holding NUL used to make the error itself unstorable, which
        stalled the batch in ``processing``; the error is now stored escaped."""
        seventeen = self.env["shipment.connector"].create({"name": "17 poison", "connector_type": "seventeentrack"})
        poisons = [self.message(seventeen, json.dumps({"code": code}).encode())
                   for code in ("\u0000", "\ud800", "x\u0000\ud800y")]
        good = self.message(self.connector, aftership_body("POISONOK1"))
        self.Inbox._cron_process_inbox()
        for poison in poisons:
            self.assertEqual((poison.state, poison.attempts), ("failed", 1), poison.last_error)
            self.assertIn("17TRACK answered error code", poison.last_error)
        self.assertIn("\\u0000", poisons[0].last_error)
        self.assertIn("\\ud800", poisons[1].last_error)
        self.assertEqual(good.state, "done", good.last_error)
        self.assertFalse(self.Inbox.search([("state", "=", "processing")]))

    def test_oversized_partner_values_fail_their_message_alone_with_the_path(self):
        """A tracking number or status code no index can hold is refused in the adapter."""
        before = self.message(self.connector, aftership_body("BATCHOK1"))
        huge = "".join(random.choices(string.ascii_letters, k=5000))
        data = json.loads(aftership_body("BATCHBIG"))
        data["msg"]["checkpoints"][2].update(tag=huge, subtag=huge)
        bad_code = self.message(self.connector, dump(data))
        bad_number = self.message(self.connector, aftership_body(huge[:3000]))
        after = self.message(self.connector, aftership_body("BATCHOK2"))
        self.Inbox._cron_process_inbox()
        self.assertEqual((bad_code.state, bad_code.attempts), ("failed", 1))
        self.assertIn("checkpoints[2]", bad_code.last_error)
        self.assertIn("longer than", bad_code.last_error)
        self.assertEqual((bad_number.state, bad_number.attempts), ("failed", 1))
        self.assertIn("longer than", bad_number.last_error)
        for message in before | after:
            self.assertEqual(message.state, "done", message.last_error)
            self.assertEqual(message.event_count, 11)
            self.assertEqual(message.shipment_ids.status, "delivered")
        self.assertFalse(self.env["shipment.shipment"].search([("tracking_number", "=", "BATCHBIG")]))

    def test_history_resent_within_one_batch_is_stored_once(self):
        """Two messages of a batch carrying the same scans: each scan once, counted on the first."""
        first = self.message(self.connector, aftership_body("SAMEBATCH1", event_id="sb-1",
                                                            checkpoints=CHRONOLOGICAL[:4]))
        second = self.message(self.connector, aftership_body("SAMEBATCH1", event_id="sb-2",
                                                             checkpoints=CHRONOLOGICAL[:6]))
        claimed = self.Inbox._claim(10)
        self.assertEqual(claimed & (first | second), first | second, "both in the same batch")
        claimed._process_batch()
        shipment = first.shipment_ids
        self.assertEqual(second.shipment_ids, shipment)
        events = shipment.event_ids
        self.assertEqual(len(events), first.event_count + second.event_count)
        self.assertEqual(len(events.filtered(lambda e: e.inbox_id == first)), first.event_count)
        self.assertEqual(len(events.filtered(lambda e: e.inbox_id == second)), second.event_count)
        self.assertEqual(second.event_count, 2, "only the two scans the first message did not carry")
        self.assertEqual(len(set(events.mapped("fingerprint"))), len(events))
        self.assertEqual(shipment.event_count, len(events))

    def test_any_order_and_duplicates_converge_to_the_same_state(self):
        """AfterShip resends the growing history: any order, any duplicates, same shipment."""
        self.env["ir.config_parameter"].set_param("shipment_visibility.inbox_batch_size", "3")
        rnd = random.Random(4242)
        states = []
        for trial in range(5):
            number = f"PERM{trial:02d}CONV"
            bodies = []
            for k in range(1, 10):
                bodies.append(aftership_body(
                    number, event_id=f"perm-{trial}-{k}", checkpoints=CHRONOLOGICAL[:k], rnd=rnd,
                    ts=AFTERSHIP_TS - (9 - k) * 3600, signed_by="J SMITH" if k == 9 else None,
                    latest_estimated_delivery={"type": "specific", "source": "Carrier EDD",
                                               "datetime": f"2026-07-{24 - k:02d}",
                                               "datetime_min": None, "datetime_max": None}))
            deliveries = list(bodies)
            # Exact redeliveries, and the same content under a new AfterShip event id.
            deliveries += rnd.sample(bodies, 4)
            deliveries += [body.replace(b'"event_id": "perm-', b'"event_id": "again-') for body in
                           rnd.sample(bodies, 3)]
            rnd.shuffle(deliveries)
            if trial == 0:
                deliveries.sort(key=lambda body: json.loads(body)["ts"])  # in order, as a reference
            messages = self.Inbox
            while deliveries:
                size = rnd.randint(1, 5)
                for body in deliveries[:size]:
                    messages |= self.Inbox.browse(enqueue(self.connector, body)[0])
                deliveries = deliveries[size:]
                self.Inbox._cron_process_inbox()
            self.assertEqual(len(messages), 9 + 3, "exact redeliveries are not stored again")
            self.assertEqual(set(messages.mapped("state")), {"done"})
            shipment = self.env["shipment.shipment"].search([("tracking_number", "=", number)])
            self.assertEqual(len(shipment), 1)
            states.append((shipment.status, shipment.eta, shipment.eta_window_start, shipment.delivered_at,
                           shipment.shipped_at, shipment.event_count, len(shipment.event_ids),
                           shipment.exception_state, shipment.last_event_id.raw_code, shipment.pod_signed_by))
        self.assertEqual(states[0], (
            "delivered", datetime(2026, 7, 16, 5, 59, 59), datetime(2026, 7, 15, 6, 0),
            datetime(2026, 7, 14, 19, 2), datetime(2026, 7, 10, 15, 40),
            27, 27, "none", "Delivered_003", "J SMITH"))
        for trial, state in enumerate(states[1:], start=1):
            self.assertEqual(state, states[0], f"trial {trial} diverged")

    def test_unmatched_number_waits_for_its_delivery_order(self):
        """Events for a number no delivery order has yet are kept and attach later."""
        message = self.message(self.connector, aftership_body("EARLY-BIRD-1"))
        self.Inbox._cron_process_inbox()
        shipment = message.shipment_ids
        self.assertEqual(shipment.tracking_number, "EARLY-BIRD-1")
        self.assertFalse(shipment.picking_id)
        self.assertEqual(shipment.status, "delivered")
        self.assertTrue(message.has_unmatched)
        self.assertIn(message, self.Inbox.search([("has_unmatched", "=", True)]))

        picking = self._create_picking(carrier_tracking_ref="EARLY-BIRD-1")
        self.assertEqual(picking.shipment_ids, shipment)
        self.assertEqual(shipment.picking_id, picking)
        self.assertEqual(len(shipment.event_ids), 11)
        self.assertEqual(picking.shipment_status, "delivered")
        message.invalidate_recordset(["has_unmatched"])
        self.assertFalse(message.has_unmatched)
        self.assertNotIn(message, self.Inbox.search([("has_unmatched", "=", True)]))

    def test_status_map_override_applies_to_a_replayed_message(self):
        message = self.message(self.connector, aftership_body("REMAP1"))
        self.Inbox._cron_process_inbox()
        Event = self.env["shipment.event"]
        before = Event.search([("shipment_id", "=", message.shipment_ids.id), ("raw_code", "=", "Exception_004")])
        self.assertEqual(before.mapped("milestone"), ["customs_hold"])

        self.env["shipment.status.map"].create({
            "connector_type": "aftership", "connector_id": self.connector.id, "raw_code": "Exception_004",
            "milestone": "exception", "reason": "payment_due"})
        message.action_replay()
        self.Inbox._cron_process_inbox()
        self.assertEqual(message.state, "done")
        self.assertEqual(message.event_count, 1, "only the remapped fact is new")
        after = Event.search([("shipment_id", "=", message.shipment_ids.id), ("raw_code", "=", "Exception_004")])
        remapped = after - before
        self.assertEqual((remapped.milestone, remapped.reason), ("exception", "payment_due"))
        self.assertEqual(remapped.occurred_at, datetime(2026, 7, 11, 20, 0))
        self.assertEqual(message.shipment_ids.status, "delivered")

        # Another connector of the same type keeps the default mapping.
        other = self.env["shipment.connector"].create({"name": "Other AfterShip", "connector_type": "aftership"})
        other_message = self.message(other, aftership_body("REMAP2"))
        self.Inbox._cron_process_inbox()
        codes = other_message.shipment_ids.event_ids.filtered(lambda e: e.raw_code == "Exception_004")
        self.assertEqual(codes.mapped("milestone"), ["customs_hold"])


@tagged("post_install", "-at_install")
class TestInboxConcurrency(RealCursorCase):
    """Several real connections at once, each committing, as several workers would."""

    def test_same_message_enqueued_by_eight_threads_is_stored_once(self):
        connector_id = self.commit_connector(f"Concurrent {uuid.uuid4().hex[:8]}")
        body = aftership_body(f"RACE{uuid.uuid4().hex[:8].upper()}")

        def deliver(_index, env):
            return enqueue_retrying(env, connector_id, body)

        with mute_logger("odoo.sql_db"):
            outcomes = self.run_in_threads(8, deliver)
        errors = [exc for _result, exc in outcomes if exc]
        self.assertFalse(errors)
        results = [result for result, _exc in outcomes]
        self.assertEqual(sum(created for _id, created, _corr, _tries in results), 1, results)
        self.assertEqual(len({message_id for message_id, _created, _corr, _tries in results}), 1)
        self.assertEqual(len({corr for _id, _created, corr, _tries in results}), 1,
                         "duplicates get the original correlation id")
        with self.real_env() as env:
            self.assertEqual(env["shipment.inbox"].search_count([("connector_id", "=", connector_id)]), 1)

    def test_same_partner_id_with_different_bodies_is_stored_once(self):
        """Eight redeliveries with the same partner message id but reworded bodies."""
        connector_id = self.commit_connector(f"Concurrent id {uuid.uuid4().hex[:8]}")
        number = f"RACEID{uuid.uuid4().hex[:6].upper()}"

        def deliver(index, env):
            body = aftership_body(number, event_id="same-aftership-event", subtag_message=f"copy {index}")
            return enqueue_retrying(env, connector_id, body)

        with mute_logger("odoo.sql_db"):
            outcomes = self.run_in_threads(8, deliver)
        self.assertFalse([exc for _result, exc in outcomes if exc])
        self.assertEqual(sum(result[1] for result, _exc in outcomes), 1)
        with self.real_env() as env:
            rows = env["shipment.inbox"].search([("connector_id", "=", connector_id)])
            self.assertEqual(len(rows), 1)
            self.assertEqual(rows.external_id, "same-aftership-event")

    def test_same_payload_processed_twice_concurrently_gives_one_event_set(self):
        """Two workers process two deliveries of the same history at the same instant."""
        connector_id = self.commit_connector(f"Concurrent processing {uuid.uuid4().hex[:8]}")
        number = f"TWICE{uuid.uuid4().hex[:8].upper()}"
        with self.real_env() as env:
            connector = env["shipment.connector"].browse(connector_id)
            message_ids = [enqueue(connector, aftership_body(number, event_id=f"twice-{i}"))[0] for i in (1, 2)]
            claimed = env["shipment.inbox"].browse(message_ids)
            claimed.write({"state": "processing", "attempts": 1,
                           "lease_until": fields.Datetime.now() + timedelta(minutes=5)})

        def process(index, env):
            env["shipment.inbox"].browse(message_ids[index])._process_batch()

        with mute_logger("odoo.sql_db", INBOX_LOGGER):
            outcomes = self.run_in_threads(2, process)
            # Whatever lost the race was either retried (per message) or rolled back with its
            # batch (lease expiry); drain the way the cron would, due at once.
            for _round in range(3):
                with self.real_env() as env:
                    env.cr.execute("""UPDATE shipment_inbox SET next_attempt_at = '2000-01-01',
                                             lease_until = '2000-01-01'
                                       WHERE id IN %s AND state IN ('pending', 'processing')""",
                                   [tuple(message_ids)])
                with self.real_env() as env:
                    env["shipment.inbox"]._cron_process_inbox()
        with self.real_env() as env:
            messages = env["shipment.inbox"].browse(message_ids)
            self.assertEqual(messages.mapped("state"), ["done", "done"], messages.mapped("last_error"))
            self.assertLessEqual(max(messages.mapped("attempts")), 2, "the loser of the race needs one retry")
            shipments = env["shipment.shipment"].search([("tracking_number", "=", number)])
            self.assertEqual(len(shipments), 1)
            self.assertEqual(len(shipments.event_ids), 11)
            self.assertEqual(shipments.event_count, 11)
            self.assertEqual(sum(messages.mapped("event_count")), 11, "each fact created by exactly one worker")
            self.assertEqual(shipments.status, "delivered")
        unexpected = [exc for _result, exc in outcomes
                      if exc and "could not serialize" not in str(exc) and "concurrent update" not in str(exc)]
        self.assertFalse(unexpected)


@tagged("post_install", "-at_install")
class TestInboxClaimSkipLocked(RealCursorCase):

    def test_claim_skips_rows_locked_by_another_worker(self):
        connector_id = self.commit_connector(f"Skip locked {uuid.uuid4().hex[:8]}")
        with self.real_env() as env:
            connector = env["shipment.connector"].browse(connector_id)
            ids = [enqueue(connector, aftership_body(f"SKIP{i}{uuid.uuid4().hex[:6].upper()}"))[0]
                   for i in range(3)]
        worker_a = self.registry.cursor()
        worker_b = self.registry.cursor()
        worker_c = self.registry.cursor()
        try:
            worker_a.execute("SELECT id FROM shipment_inbox WHERE id = %s FOR NO KEY UPDATE", [ids[0]])
            env_b = self.env_on(worker_b)
            claimed_b = set(env_b["shipment.inbox"]._claim(50).ids)
            self.assertNotIn(ids[0], claimed_b, "the row worker A holds is skipped, not waited for")
            self.assertTrue({ids[1], ids[2]} <= claimed_b)
            # A third worker finds nothing of these: A and B hold them all.
            claimed_c = set(self.env_on(worker_c)["shipment.inbox"]._claim(50).ids)
            self.assertFalse(claimed_c & set(ids))
            worker_a.rollback()
            claimed_c = set(self.env_on(worker_c)["shipment.inbox"]._claim(50).ids)
            self.assertIn(ids[0], claimed_c)
            self.assertFalse(claimed_c & {ids[1], ids[2]})
        finally:
            for cursor in (worker_a, worker_b, worker_c):
                cursor.rollback()
                cursor.close()


@tagged("post_install", "-at_install")
class TestProcessorWakeUp(RealCursorCase):
    """After a commit, one wake-up per run of the processor, never a message left asleep."""

    def setUp(self):
        super().setUp()
        self.cron_id = self.env.ref("shipment_visibility.ir_cron_process_inbox").id
        self.dbname = self.env.cr.dbname
        self._sql("DELETE FROM ir_cron_trigger WHERE cron_id = %s", self.cron_id)
        self.addCleanup(self._sql, "DELETE FROM ir_cron_trigger WHERE cron_id = %s", self.cron_id)
        self.addCleanup(self._sql, "DELETE FROM ir_cron_progress WHERE cron_id = %s AND done = -1", self.cron_id)

    def _sql(self, query, *params):
        with self.real_env() as env:
            env.cr.execute(query, params)
            return env.cr.fetchall() if env.cr.description else None

    def triggers(self):
        return self._sql("SELECT id FROM ir_cron_trigger WHERE cron_id = %s ORDER BY id", self.cron_id)

    def wake(self):
        with self.registry.cursor() as cr:
            _wake_processor(cr, self.cron_id)

    def test_one_pending_wake_up_covers_a_burst(self):
        self.wake()
        first = self.triggers()
        self.assertEqual(len(first), 1, "nothing pending: a trigger of its own")
        for _burst in range(5):
            self.wake()
        self.assertEqual(self.triggers(), first, "the pending trigger will start a run that sees these messages")

    def test_trigger_older_than_the_running_job_does_not_count(self):
        """Odoo deletes, at the end of a run, the triggers that existed when it started."""
        self.wake()
        # A run starts: Odoo records its progress first (done = -1 marks this test's row).
        self._sql("INSERT INTO ir_cron_progress (cron_id, done, remaining, timed_out_counter, create_date, "
                  "write_date) VALUES (%s, -1, 0, 0, clock_timestamp() at time zone 'utc', "
                  "clock_timestamp() at time zone 'utc')", self.cron_id)
        self.wake()
        self.assertEqual(len(self.triggers()), 2, "a message committed during the run needs a new trigger")
        self.wake()
        self.assertEqual(len(self.triggers()), 2, "and that one survives the run, so it covers the next ones")

    def test_due_trigger_that_sent_no_wake_up_does_not_count(self):
        """A trigger scheduled for later (no NOTIFY sent) may have come due without waking anyone."""
        self._sql("INSERT INTO ir_cron_trigger (cron_id, call_at, create_date, write_date) VALUES "
                  "(%s, (now() - interval '1 minute') at time zone 'utc', (now() - interval '1 hour') at time zone "
                  "'utc', (now() - interval '1 hour') at time zone 'utc')", self.cron_id)
        self._sql("INSERT INTO ir_cron_trigger (cron_id, call_at, create_date, write_date) VALUES "
                  "(%s, (now() + interval '1 hour') at time zone 'utc', now() at time zone 'utc', "
                  "now() at time zone 'utc')", self.cron_id)
        self.wake()
        self.assertEqual(len(self.triggers()), 3)

    def test_check_after_a_commit_leaves_the_connection_between_transactions(self):
        """The check runs on its own (autocommit) and gives the connection back unchanged."""
        self.wake()  # a pending trigger: the next check finds it and creates nothing
        with self.registry.cursor() as cr:
            cr.execute("SELECT 1")
            cr.commit()
            _wake_processor(cr, self.cron_id)
            connection = cr._cnx
            self.assertEqual(connection.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_IDLE,
                             "no transaction left open by the check")
            self.assertFalse(connection.autocommit)
            cr.execute("SHOW transaction_isolation")
            self.assertEqual(cr.fetchone()[0], "repeatable read", "Odoo's isolation level is kept")
        self.assertEqual(len(self.triggers()), 1)

    def test_check_inside_an_open_transaction_joins_it(self):
        """Anywhere but right after a commit, the check must not end the caller's transaction."""
        with self.registry.cursor() as cr:
            cr.execute("CREATE TEMPORARY TABLE wake_probe (id int) ON COMMIT DROP")
            _wake_processor(cr, self.cron_id)
            self.assertEqual(cr._cnx.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INTRANS)
            cr.execute("SELECT count(*) FROM wake_probe")  # still the same transaction
            self.assertEqual(cr.fetchone()[0], 0)
            cr.rollback()
        self.assertEqual(len(self.triggers()), 1, "and still wakes the processor")
