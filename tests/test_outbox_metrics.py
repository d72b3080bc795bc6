"""The outbox's backlog, failures and subscription health in the Prometheus scrape."""

from prometheus_client.parser import text_string_to_metric_families

from odoo.tests import tagged

from ..integration import signatures
from .outbox_common import OutboxCommon, Receiver


@tagged("post_install", "-at_install")
class TestOutboxMetrics(OutboxCommon):

    def figures(self):
        # A scrape reads committed rows in a transaction of its own; here, in the test's.
        self.env.flush_all()
        text = self.env["shipment.metrics"]._exposition().decode()
        return {(sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def test_backlog_failures_and_health_per_subscription(self):
        receiver = Receiver(script=lambda number, headers, body: (503, {}, 0))
        self.addCleanup(receiver.close)
        self.env["ir.config_parameter"].sudo().set_param(
            "shipment_visibility.outbound_allowed_hosts", f"127.0.0.1:{receiver.port}")
        subscription = self.Subscription.create({
            "name": "Data platform", "url": receiver.url(), "secret": signatures.generate_webhook_secret()})
        labels = frozenset({("subscription_id", str(subscription.id)), ("subscription", "Data platform")})

        self.process("METRICS1", checkpoints=[0])
        deliveries = self.Delivery.search([("subscription_id", "=", subscription.id)])
        self.assertTrue(deliveries)
        before = self.figures()
        self.assertEqual(before[("shipment_visibility_outbox_deliveries", labels | {("state", "pending")})],
                         len(deliveries))
        self.assertGreaterEqual(before[("shipment_visibility_outbox_oldest_pending_age_seconds", labels)], 0)
        self.assertEqual(before[("shipment_visibility_subscription_enabled", labels | {("kind", "webhook")})], 1)

        self.Delivery._cron_dispatch()
        self.assertTrue(receiver.requests, "the consumer was called and answered 503")
        after = self.figures()
        failures = after[("shipment_visibility_outbox_delivery_attempts_total", labels | {("outcome", "failure")})]
        self.assertEqual(failures, len(receiver.requests))
        self.assertGreaterEqual(after[("shipment_visibility_subscription_consecutive_failures", labels)], 1)
        self.assertNotIn(("shipment_visibility_outbox_delivery_attempts_total", labels | {("outcome", "success")}),
                         after)
