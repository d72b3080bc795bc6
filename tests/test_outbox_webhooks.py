"""Signed webhook delivery to a real loopback consumer: signatures, retries, refusals, ordering."""

import json
import threading
import time
from collections import defaultdict
from datetime import timedelta

from standardwebhooks.webhooks import Webhook

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import freeze_time, tagged
from odoo.tools import SQL, mute_logger

from ..integration import outbound, signatures
from .outbox_common import OutboxCommon, Receiver

ALL = list(range(9))
# Disabling a subscription is logged as a warning for operators; expected here.
SUBSCRIPTION_LOGGER = "odoo.addons.shipment_visibility.models.shipment_subscription"


@tagged("post_install", "-at_install")
class TestOutboxWebhooks(OutboxCommon):

    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)
        # Only the test consumer's own address and port are allowed, nothing else on loopback.
        self.env["ir.config_parameter"].sudo().set_param(
            "shipment_visibility.outbound_allowed_hosts", f"127.0.0.1:{self.receiver.port}")
        self.secret = signatures.generate_webhook_secret()
        self.subscription = self.Subscription.create({
            "name": "Storefront", "url": self.receiver.url(), "secret": self.secret})

    def dispatch(self):
        return self.Delivery._cron_dispatch()

    def make_due(self, deliveries=None):
        deliveries = deliveries or self.Delivery.search([("state", "=", "pending")])
        self.env.execute_query(SQL("UPDATE shipment_outbox_delivery SET next_attempt_at = '2000-01-01' "
                                   "WHERE id = ANY(%s)", deliveries.ids))
        self.Delivery.invalidate_model()

    def deliveries(self):
        return self.Delivery.search([("subscription_id", "=", self.subscription.id)], order="id")

    def test_delivered_signed_and_verified_by_the_reference_library(self):
        self.process("HOOK1", checkpoints=ALL)
        messages = self.messages_of("HOOK1")
        self.dispatch()
        self.assertEqual(len(self.deliveries()), len(messages), "one delivery per message")
        self.assertEqual(set(self.deliveries().mapped("state")), {"delivered"},
                         self.deliveries().mapped(lambda d: (d.state, d.attempts, d.last_error)))
        self.assertEqual(len(self.receiver.requests), len(messages))
        by_id = {message.message_uid: message for message in messages}
        webhook = Webhook(self.secret)
        for _path, headers, body in self.receiver.requests:
            payload = webhook.verify(body, headers)
            self.assertEqual(body.decode(), by_id[headers["webhook-id"]].payload, "the exact stored body")
            self.assertEqual(payload["type"], by_id[headers["webhook-id"]].event_type)
            self.assertEqual(headers["content-type"], "application/json")
        attempts = self.deliveries().attempt_ids
        self.assertEqual(set(attempts.mapped("status_code")), {204})
        self.assertTrue(all(attempt.success for attempt in attempts))
        self.assertTrue(self.subscription.last_success_at)
        self.assertEqual(self.subscription.delivered_count, len(messages))

    def test_rotation_signs_with_both_secrets_during_the_window(self):
        old = self.secret
        action = self.subscription.action_rotate_secret()
        new = action["params"]["message"]
        self.assertTrue(new.startswith("whsec_"))
        self.env["shipment.shipment"].create({"tracking_number": "HOOK2"})
        self.dispatch()
        _path, headers, body = self.receiver.requests[-1]
        self.assertEqual(len(headers["webhook-signature"].split()), 2)
        Webhook(old).verify(body, headers)
        Webhook(new).verify(body, headers)
        later = fields.Datetime.now() + timedelta(hours=self.subscription.rotation_hours, minutes=1)
        with freeze_time(later):
            self.assertEqual(self.subscription._signing_secrets(), [new])

    def test_retry_schedule_failure_then_success_keeps_the_webhook_id(self):
        self.receiver.script = lambda number, headers, body: (500, {}, 0) if number == 0 else (200, {}, 0)
        self.env["shipment.shipment"].create({"tracking_number": "HOOK3"})
        before = fields.Datetime.now()
        self.dispatch()
        delivery = self.deliveries()
        self.assertEqual((delivery.state, delivery.attempts, delivery.last_status_code), ("pending", 1, 500))
        wait = (delivery.next_attempt_at - before).total_seconds()
        self.assertTrue(4 <= wait <= 7, f"second attempt 5 s (±10 %) later, got {wait}")
        self.dispatch()
        self.assertEqual(delivery.state, "pending", "not due yet")
        self.make_due(delivery)
        self.dispatch()
        self.assertEqual((delivery.state, delivery.attempts), ("delivered", 2))
        ids = [headers["webhook-id"] for _path, headers, _body in self.receiver.requests]
        self.assertEqual(len(set(ids)), 1, "a retry is the same message: same webhook-id")
        self.assertEqual(self.receiver.duplicates(), 1)
        self.assertEqual(delivery.attempt_ids.mapped("status_code"), [200, 500])

    def test_given_up_after_the_last_attempt(self):
        self.receiver.script = lambda number, headers, body: (500, {}, 0)
        self.env["shipment.shipment"].create({"tracking_number": "HOOK4"})
        delivery = self.deliveries()
        for _attempt in outbound.RETRY_SCHEDULE:
            self.make_due(delivery)
            self.dispatch()
        self.assertEqual((delivery.state, delivery.attempts), ("failed", len(outbound.RETRY_SCHEDULE)))
        # An operator replays it once the consumer is fixed: back to pending, same id.
        self.receiver.script = lambda number, headers, body: (200, {}, 0)
        wizard = self.env["shipment.outbox.replay"].create({"mode": "failed"})
        wizard.action_replay()
        self.dispatch()
        self.assertEqual(delivery.state, "delivered")

    def test_retry_after_is_honoured(self):
        self.receiver.script = lambda number, headers, body: (429, {"Retry-After": "120"}, 0)
        self.env["shipment.shipment"].create({"tracking_number": "HOOK5"})
        before = fields.Datetime.now()
        self.dispatch()
        delivery = self.deliveries()
        self.assertEqual(delivery.last_status_code, 429)
        self.assertAlmostEqual((delivery.next_attempt_at - before).total_seconds(), 120, delta=2)
        self.receiver.script = lambda number, headers, body: (503, {"Retry-After": "30"}, 0)
        self.make_due(delivery)
        before = fields.Datetime.now()
        self.dispatch()
        self.assertAlmostEqual((delivery.next_attempt_at - before).total_seconds(), 30, delta=2)

    @mute_logger(SUBSCRIPTION_LOGGER)
    def test_gone_disables_the_subscription_and_tells_its_owner(self):
        self.receiver.script = lambda number, headers, body: (410, {}, 0)
        self.process("HOOK6", checkpoints=[3, 1])
        self.dispatch()
        self.assertFalse(self.subscription.enabled)
        self.assertIn("410", self.subscription.disabled_reason)
        sent = len(self.receiver.requests)
        self.assertTrue(self.subscription.activity_ids)
        self.assertEqual(set(self.deliveries().mapped("state")), {"pending"}, "kept for a re-enable")
        self.make_due()
        self.dispatch()
        self.assertEqual(len(self.receiver.requests), sent, "nothing more is sent to a gone endpoint")

    def test_timeout_is_a_failed_attempt(self):
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbox_timeout_seconds", "1")
        # Odoo's test framework raises any timeout under 10 s to 10 s: the consumer outwaits that.
        self.receiver.script = lambda number, headers, body: (200, {}, 11)
        self.env["shipment.shipment"].create({"tracking_number": "HOOK7"})
        self.dispatch()
        delivery = self.deliveries()
        self.assertEqual((delivery.state, delivery.attempts), ("pending", 1))
        self.assertIn("no answer", delivery.last_error)

    def test_redirect_is_not_followed(self):
        target = Receiver()
        self.addCleanup(target.close)
        self.receiver.script = lambda number, headers, body: (307, {"Location": target.url()}, 0)
        self.env["shipment.shipment"].create({"tracking_number": "HOOK8"})
        self.dispatch()
        delivery = self.deliveries()
        self.assertEqual((delivery.state, delivery.last_status_code), ("pending", 307))
        self.assertIn("not followed", delivery.last_error)
        self.assertFalse(target.requests, "a redirect, even to loopback, is never followed")

    def test_internal_destinations_are_refused(self):
        for url in ("http://127.0.0.1:8069/hook", "https://10.0.0.1/hook", "https://169.254.169.254/latest",
                    "https://vm/hook", "https://localhost/hook",
                    f"http://127.0.0.1:{self.receiver.port + 1}/hook"):
            with self.subTest(url=url), self.assertRaises(ValidationError):
                self.Subscription.create({"name": "Bad", "url": url})

    def test_refused_at_delivery_time_when_the_allowance_is_withdrawn_or_the_name_rebinds(self):
        self.env["shipment.shipment"].create({"tracking_number": "HOOK9"})
        # The host name points at loopback (as a rebinding DNS would make it do).
        self.env.execute_query(SQL("UPDATE shipment_subscription SET url = %s WHERE id = %s",
                                   f"http://vm:{self.receiver.port}/hook", self.subscription.id))
        self.subscription.invalidate_recordset(["url"])
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbound_allowed_hosts", "")
        self.dispatch()
        delivery = self.deliveries()
        self.assertEqual(delivery.state, "pending")
        self.assertIn("refused destination", delivery.last_error)
        self.assertFalse(self.receiver.requests)

    @mute_logger(SUBSCRIPTION_LOGGER)
    def test_disabled_after_five_days_of_failure(self):
        self.receiver.script = lambda number, headers, body: (500, {}, 0)
        start = fields.Datetime.now()
        self.env["shipment.shipment"].create({"tracking_number": "HOOK10"})
        self.dispatch()
        self.assertTrue(self.subscription.enabled)
        self.assertEqual(self.subscription.failing_since, self.deliveries().attempt_ids.attempted_at)
        with freeze_time(start + timedelta(days=4)):
            self.make_due()
            self.dispatch()
            self.assertTrue(self.subscription.enabled, "four days of failure: still trying")
        with freeze_time(start + timedelta(days=5, minutes=5)):
            self.make_due()
            self.dispatch()
        self.assertFalse(self.subscription.enabled)
        self.assertIn("5 days", self.subscription.disabled_reason)
        self.assertEqual(self.subscription.activity_ids.user_id, self.env.user)
        notice = self.subscription.message_ids.filtered(lambda m: self.env.user.partner_id in m.partner_ids)
        self.assertTrue(notice, "the owner is e-mailed")

    def test_strict_ordering_holds_later_messages(self):
        self.subscription.strict_ordering = True
        failing = set()

        def script(number, headers, body):
            if json.loads(body)["data"]["sequence"] == 1 and not failing:
                failing.add(headers["webhook-id"])
                return 500, {}, 0
            return 200, {}, 0

        self.receiver.script = script
        self.process("HOOK11", checkpoints=[3, 1])
        self.dispatch()
        sequences = [json.loads(body)["data"]["sequence"] for _p, _h, body in self.receiver.requests]
        self.assertEqual(sequences, [1], "message 2 waits while message 1 is not delivered")
        self.make_due()
        self.dispatch()
        sequences = [json.loads(body)["data"]["sequence"] for _p, _h, body in self.receiver.requests]
        total = len(self.messages_of("HOOK11"))
        self.assertEqual(sequences, [1] + list(range(1, total + 1)))

    def test_strict_ordering_holds_with_several_requests_in_flight(self):
        self.subscription.strict_ordering = True
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbox_concurrency", "8")
        lock, flight = threading.Lock(), {"now": 0, "max": 0}
        spans = defaultdict(list)  # tracking number → [(sequence, start, end)] as received

        def script(number, headers, body):
            data = json.loads(body)["data"]
            start = time.monotonic()
            with lock:
                flight["now"] += 1
                flight["max"] = max(flight["max"], flight["now"])
            time.sleep(0.02)
            with lock:
                flight["now"] -= 1
                spans[data["shipment"]["tracking_number"]].append((data["sequence"], start, time.monotonic()))
            return 204, {}, 0

        self.receiver.script = script
        numbers = [f"ORDER{index}" for index in range(4)]
        for number in numbers:
            self.process(number, checkpoints=ALL)
        self.dispatch()
        self.assertEqual(set(self.deliveries().mapped("state")), {"delivered"})
        for number in numbers:
            received = spans[number]
            self.assertEqual([sequence for sequence, _start, _end in received],
                             list(range(1, len(self.messages_of(number)) + 1)), f"{number} in sequence order")
            for (_seq, _start, end), (_next, start, _end) in zip(received, received[1:]):
                self.assertLessEqual(end, start, "message n+1 left only after n was answered")
        self.assertGreater(flight["max"], 1, "different shipments' messages were in flight together")

    def test_every_attempt_is_logged_when_a_batch_is_recorded_at_once(self):
        self.receiver.script = lambda number, headers, body: (
            (500, {}, 0) if json.loads(body)["data"]["shipment"]["tracking_number"].endswith(("0", "3"))
            else (204, {}, 0))
        self.env["shipment.shipment"].create([{"tracking_number": f"LOG{index:02d}"} for index in range(20)])
        deliveries = self.deliveries()
        self.dispatch()
        self.assertEqual(len(self.receiver.requests), 20)
        failing = deliveries.filtered(lambda d: d.outbox_id.shipment_id.tracking_number.endswith(("0", "3")))
        self.assertEqual(len(failing), 4)
        for delivery in deliveries:
            failed = delivery in failing
            self.assertEqual(
                [(attempt.attempt, attempt.status_code, attempt.success) for attempt in delivery.attempt_ids],
                [(1, 500 if failed else 204, not failed)], delivery.outbox_id.shipment_id.tracking_number)
            self.assertEqual((delivery.state, delivery.attempts, delivery.last_status_code),
                             ("pending" if failed else "delivered", 1, 500 if failed else 204))
        self.make_due(failing)
        self.receiver.script = lambda number, headers, body: (204, {}, 0)
        self.dispatch()
        self.assertEqual(set(deliveries.mapped("state")), {"delivered"})
        for delivery in failing:
            self.assertEqual(delivery.attempt_ids.sorted("attempt").mapped("attempt"), [1, 2])
            self.assertEqual(delivery.attempts, 2)
        self.assertEqual(len(deliveries.attempt_ids), 24, "one row per request made, no more, no less")

    def test_a_slow_consumer_does_not_hold_back_another_subscription(self):
        slow = Receiver(lambda number, headers, body: (204, {}, 0.3))
        self.addCleanup(slow.close)
        self.env["ir.config_parameter"].sudo().set_param(
            "shipment_visibility.outbound_allowed_hosts", f"127.0.0.1:{self.receiver.port}, 127.0.0.1:{slow.port}")
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbox_concurrency", "2")
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbox_batch_budget_seconds", "1")
        # The slow consumer has a backlog older than anything of the storefront's (it
        # subscribed first): by age alone, the storefront would wait behind all of it.
        self.subscription.enabled = False
        self.Subscription.create({"name": "Slow consumer", "url": slow.url(),
                                  "secret": signatures.generate_webhook_secret()})
        self.env["shipment.shipment"].create([{"tracking_number": f"SLOWA{index}"} for index in range(6)])
        self.subscription.enabled = True
        arrived = []
        self.receiver.script = lambda number, headers, body: (arrived.append(time.monotonic()) or (204, {}, 0))
        self.env["shipment.shipment"].create([{"tracking_number": f"SLOWB{index}"} for index in range(6)])
        started = time.monotonic()
        self.dispatch()
        self.assertEqual(len(arrived), 6)
        self.assertLess(max(arrived) - started, 1.0, "the storefront's messages did not wait behind the slow ones")
        self.assertEqual(len(slow.requests), 12, "the slow consumer got all of its messages too, later")
        self.assertEqual(set(self.Delivery.search([]).mapped("state")), {"delivered"})

    def test_without_ordering_later_messages_go_on(self):
        self.receiver.script = lambda number, headers, body: (
            (500, {}, 0) if json.loads(body)["data"]["sequence"] == 1 else (200, {}, 0))
        self.process("HOOK12", checkpoints=[3, 1])
        self.dispatch()
        total = len(self.messages_of("HOOK12"))
        self.assertEqual(len(self.receiver.requests), total)
        self.assertEqual(len(self.deliveries().filtered(lambda d: d.state == "delivered")), total - 1)

    def test_retention_purges_only_fully_delivered_old_messages(self):
        self.receiver.script = lambda number, headers, body: (
            (500, {}, 0) if "HOOK14" in body.decode() else (200, {}, 0))
        self.env["shipment.shipment"].create({"tracking_number": "HOOK13"})
        self.env["shipment.shipment"].create({"tracking_number": "HOOK14"})
        self.dispatch()
        self.env.execute_query(SQL("UPDATE shipment_outbox SET create_date = '2000-01-01'"))
        self.Outbox._gc_delivered_messages()
        self.assertFalse(self.messages_of("HOOK13"))
        self.assertTrue(self.messages_of("HOOK14"), "an undelivered message waits for its replay")

    def test_send_test_button(self):
        self.env["shipment.shipment"].create({"tracking_number": "HOOK15"})
        result = self.subscription.action_send_test()
        self.assertEqual(result["params"]["type"], "success")
        _path, headers, body = self.receiver.requests[-1]
        self.assertEqual(Webhook(self.secret).verify(body, headers)["type"], outbound.SHIPMENT_CREATED)
