"""Our crons stop in time for Odoo's cron watchdog and hand what is left to the next pass."""

from odoo import fields
from odoo.tests import tagged

from ..integration import signatures
from .common import ShipmentCommon
from .outbox_common import OutboxCommon, Receiver
from .test_inbox_processor import aftership_body, enqueue

PROCESSOR_CRON = "shipment_visibility.ir_cron_process_inbox"
DISPATCHER_CRON = "shipment_visibility.ir_cron_dispatch_outbox"


class CronPassMixin:
    """Runs one job through Odoo's own ``_process_job``, as a cron worker's pass does."""

    cron_xmlid = None

    def setUp(self):
        super().setUp()
        self.cron = self.env.ref(self.cron_xmlid)
        self.params = self.env["ir.config_parameter"].sudo()
        self.calls_before = self.calls()

    def run_pass(self):
        """One job of a cron pass: Odoo calls it up to ten times while it reports work left."""
        # A pass consumes the triggers that made the job due. Odoo clears them against the
        # transaction's clock, which a test's transaction holds still: done here instead.
        self.env["ir.cron.trigger"].search([("cron_id", "=", self.cron.id)]).unlink()
        self.env.flush_all()
        self.registry.enter_test_mode(self.cr)
        try:
            self.registry["ir.cron"]._process_job(
                self.registry.db_name, self.registry.cursor(),
                {**self.cron.read(load=None)[0], "done": 0, "remaining": 0, "timed_out_counter": 0})
        finally:
            self.registry.leave_test_mode()
        self.env.invalidate_all()

    def calls(self):
        return self.env["ir.cron.progress"].search_count([("cron_id", "=", self.cron.id)]) - getattr(
            self, "calls_before", 0)

    def ready(self):
        """Due again at once: the job's next regular call is later, a trigger says now.

        (Odoo's own readiness query compares with the transaction's start, which in a
        test is the start of the whole class.)"""
        now = fields.Datetime.now()
        self.assertGreater(self.cron.nextcall, now, "the pass rescheduled the job's regular call")
        return bool(self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id),
                                                              ("call_at", "<=", now)]))


@tagged("post_install", "-at_install")
class TestCronBudget(CronPassMixin, ShipmentCommon):
    """The inbox processor's cron."""

    cron_xmlid = PROCESSOR_CRON

    def setUp(self):
        super().setUp()
        self.params.set_param("shipment_visibility.inbox_batch_size", "1")
        self.messages = self.env["shipment.inbox"].browse(
            [enqueue(self.connector, aftership_body(f"BUDGET{i}"))[0] for i in range(3)])

    def test_spent_series_hands_the_rest_to_the_next_pass(self):
        self.params.set_param("shipment_visibility.cron_series_budget_seconds", "0")
        self.run_pass()
        self.assertEqual(self.messages.mapped("state").count("done"), 1, "one batch, then the series is over")
        self.assertEqual(self.calls(), 1, "Odoo was told nothing is left, and stopped calling the job")
        self.assertTrue(self.ready(), "the job is due again at once: the next pass takes the rest")
        self.run_pass()
        self.run_pass()
        self.assertEqual(self.messages.mapped("state"), ["done"] * 3)
        self.assertEqual(self.calls(), 3)
        self.assertFalse(self.ready(), "nothing left: no trigger for an empty queue")

    def test_spent_pass_hands_over_even_with_series_time_left(self):
        self.params.set_param("shipment_visibility.cron_pass_budget_seconds", "0")
        self.run_pass()
        self.assertEqual(self.messages.mapped("state").count("done"), 1)
        self.assertTrue(self.ready())

    def test_a_budget_that_is_not_a_number_counts_as_the_default(self):
        """A typo in the system parameter must not stop the processor."""
        self.params.set_param("shipment_visibility.cron_series_budget_seconds", "twenty")
        with self.assertLogs("odoo.addons.shipment_visibility.models.ir_cron", "WARNING") as logs:
            self.run_pass()
        self.assertIn("is not a number of seconds", logs.output[0])
        self.assertEqual(self.messages.mapped("state"), ["done"] * 3)
        self.assertFalse(self.ready())

    def test_within_budget_the_job_drains_the_queue_in_one_pass(self):
        self.run_pass()
        self.assertEqual(self.messages.mapped("state"), ["done"] * 3)
        self.assertEqual(self.calls(), 1, "within its budget one call works the whole queue")
        self.assertFalse(self.ready())

    def test_outside_a_cron_pass_only_the_jobs_own_budget_counts(self):
        """"Run Manually" and scripts are not cut short by a pass budget they are not in."""
        self.params.set_param("shipment_visibility.cron_series_budget_seconds", "0")
        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(self.messages.mapped("state"), ["done"] * 3)


@tagged("post_install", "-at_install")
class TestDispatcherCronBudget(CronPassMixin, OutboxCommon):
    """The outbox dispatcher's cron, delivering to a real loopback consumer."""

    cron_xmlid = DISPATCHER_CRON

    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)
        self.params.set_param("shipment_visibility.outbound_allowed_hosts", f"127.0.0.1:{self.receiver.port}")
        self.subscription = self.Subscription.create({
            "name": "Storefront", "url": self.receiver.url(), "secret": signatures.generate_webhook_secret()})
        self.process("BUDGETHOOK", checkpoints=list(range(9)))
        self.deliveries = self.Delivery.search([("subscription_id", "=", self.subscription.id)])
        self.assertGreater(len(self.deliveries), 2)
        self.params.set_param("shipment_visibility.outbox_batch_size", "1")

    def test_spent_series_delivers_one_batch_and_hands_over(self):
        self.params.set_param("shipment_visibility.cron_series_budget_seconds", "0")
        self.run_pass()
        self.assertEqual(self.deliveries.mapped("state").count("delivered"), 1)
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertEqual(self.calls(), 1)
        self.assertTrue(self.ready())

    def test_within_budget_the_dispatcher_delivers_everything_in_one_pass(self):
        self.run_pass()
        self.assertEqual(set(self.deliveries.mapped("state")), {"delivered"})
        self.assertEqual(len(self.receiver.requests), len(self.deliveries))
        self.assertFalse(self.ready())
