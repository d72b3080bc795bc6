"""The outbox: one message per business event, written in the transaction of the change."""

import json

from odoo.tests import tagged

from ..integration import outbound
from .outbox_common import OutboxCommon

EARLY = [3, 1, 4, 5]  # info received, in transit ×2, exception
ALL = list(range(9))


@tagged("post_install", "-at_install")
class TestOutboxEmission(OutboxCommon):

    def test_inbox_processing_emits_every_type_in_order(self):
        self._create_picking(carrier_tracking_ref="OUTBOX1")
        self.process("OUTBOX1", checkpoints=EARLY)
        first = self.messages_of("OUTBOX1")
        types = first.mapped("event_type")
        self.assertEqual(types[0], outbound.SHIPMENT_CREATED)
        self.assertEqual(types.count(outbound.EVENT_RECORDED), 4, "one per new actual milestone")
        for expected in (outbound.STATUS_CHANGED, outbound.EXCEPTION_OPENED, outbound.ETA_CHANGED):
            self.assertIn(expected, types)
        self.assertNotIn(outbound.DELIVERED, types)

        self.process("OUTBOX1", checkpoints=ALL)
        messages = self.messages_of("OUTBOX1")
        later = messages - first
        later_types = later.mapped("event_type")
        self.assertIn(outbound.DELIVERED, later_types)
        self.assertIn(outbound.EXCEPTION_RESOLVED, later_types)
        self.assertEqual(later_types.count(outbound.EVENT_RECORDED), 5, "only the milestones not sent before")
        self.assertEqual(messages.mapped("sequence"), list(range(1, len(messages) + 1)),
                         "per-shipment sequence from 1 without gaps")
        self.assertValidMessages(messages)

        delivered = json.loads(later.filtered(lambda m: m.event_type == outbound.DELIVERED).payload)
        self.assertEqual(delivered["data"]["shipment"]["status"], "delivered")
        self.assertEqual(delivered["data"]["shipment"]["proof_of_delivery"]["signed_by"], "J SMITH")
        self.assertEqual(delivered["data"]["event"]["milestone"], "delivered")
        status = json.loads(later.filtered(lambda m: m.event_type == outbound.STATUS_CHANGED)[-1:].payload)
        announced = json.loads(first.filtered(lambda m: m.event_type == outbound.STATUS_CHANGED)[-1:].payload)
        self.assertEqual(status["data"]["previous_status"], announced["data"]["shipment"]["status"],
                         "the status consumers were last told")
        self.assertEqual(delivered["data"]["shipment"]["delivery_order"], messages.shipment_id.picking_id.name)

        inbox_correlations = set(self.env["shipment.inbox"].search(
            [("shipment_ids.tracking_number", "=", "OUTBOX1")]).mapped("correlation_id"))
        recorded = messages.filtered(lambda m: m.event_type == outbound.EVENT_RECORDED)
        self.assertTrue(set(recorded.mapped("correlation_id")) <= inbox_correlations)

    def test_replayed_message_emits_nothing_new(self):
        self.process("OUTBOX2", checkpoints=ALL)
        count = len(self.messages_of("OUTBOX2"))
        self.process("OUTBOX2", checkpoints=ALL, event_id="evt-again")
        self.assertEqual(len(self.messages_of("OUTBOX2")), count, "known facts change nothing, announce nothing")

    def test_a_rolled_back_change_leaves_no_message(self):
        try:
            with self.env.cr.savepoint():
                self.env["shipment.shipment"].create({"tracking_number": "ROLLBACK1"})
                self.assertTrue(self.messages_of("ROLLBACK1"))
                raise RuntimeError("the change fails after the outbox row was written")
        except RuntimeError:
            pass
        self.env.invalidate_all()
        self.assertFalse(self.Outbox.search([("payload", "ilike", "ROLLBACK1")]))

    def test_committed_and_rolled_back_transactions(self):
        """Real connections: only the committed change is ever seen by the dispatcher."""
        with self.registry.cursor() as cr:
            env = self.env(cr=cr, su=True)
            env["shipment.shipment"].create({"tracking_number": "TXROLLBACK"})
            cr.rollback()
        with self.registry.cursor() as cr:
            env = self.env(cr=cr, su=True)
            env["shipment.shipment"].create({"tracking_number": "TXCOMMIT"})
        try:
            with self.registry.cursor() as cr:
                env = self.env(cr=cr, su=True)
                rows = env["shipment.outbox"].search([("shipment_id.tracking_number", "in",
                                                        ["TXROLLBACK", "TXCOMMIT"])])
                self.assertEqual(rows.shipment_id.mapped("tracking_number"), ["TXCOMMIT"])
                self.assertEqual(rows.mapped("event_type"), [outbound.SHIPMENT_CREATED])
        finally:
            with self.registry.cursor() as cr:
                env = self.env(cr=cr, su=True)
                env["shipment.shipment"].search([("tracking_number", "in", ["TXROLLBACK", "TXCOMMIT"])]).unlink()

    def test_manual_event_and_desk_resolution_are_announced(self):
        self._create_picking(carrier_tracking_ref="OUTBOX3")
        self.process("OUTBOX3", checkpoints=[3, 1])
        shipment = self.env["shipment.shipment"].search([("tracking_number", "=", "OUTBOX3")])
        before = self.messages_of("OUTBOX3")
        wizard = self.env["shipment.manual.event"].create({
            "shipment_id": shipment.id, "tracking_number": "OUTBOX3", "milestone": "delivery_attempted",
            "reason": "recipient_unavailable", "description": "Driver called: nobody home"})
        wizard.action_record()
        opened = self.messages_of("OUTBOX3") - before
        self.assertIn(outbound.EVENT_RECORDED, opened.mapped("event_type"))
        self.assertIn(outbound.EXCEPTION_OPENED, opened.mapped("event_type"))
        exception = shipment.exception_ids.filtered(lambda e: e.state != "resolved")
        self.assertTrue(exception)
        exception._resolve("Carrier confirmed the box is fine")
        resolved = self.messages_of("OUTBOX3").filtered(lambda m: m.event_type == outbound.EXCEPTION_RESOLVED)
        self.assertEqual(len(resolved), len(exception))
        data = json.loads(resolved[0].payload)["data"]
        self.assertEqual(data["exception"]["state"], "resolved")
        self.assertTrue(data["exception"]["resolved_at"])
        self.assertValidMessages(self.messages_of("OUTBOX3"))

    def test_watchdog_exception_is_announced(self):
        picking = self._create_picking(carrier_tracking_ref="OUTBOX4")
        shipment = self.env["shipment.shipment"].search([("tracking_number", "=", "OUTBOX4")])
        self.assertTrue(shipment)
        shipment.sudo().promised_date = "2020-01-01 00:00:00"
        picking.sudo().date_done = "2020-01-01 00:00:00"
        self.env["shipment.workflow"]._cron_watchdog()
        types = self.messages_of("OUTBOX4").mapped("event_type")
        self.assertEqual(types[0], outbound.SHIPMENT_CREATED)
        self.assertIn(outbound.EXCEPTION_OPENED, types)

    def test_shadow_connector_announces_nothing(self):
        self.connector.mode = "shadow"
        self.process("OUTBOX5", checkpoints=ALL)
        self.assertFalse(self.Outbox.search([("payload", "ilike", "OUTBOX5")]))

    def test_subscription_filters_decide_the_deliveries(self):
        other = self.env["res.partner"].create({"name": "Other Customer"})
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.outbound_allowed_hosts", "127.0.0.1")
        every = self.Subscription.create({"name": "All", "url": "http://127.0.0.1:9/a"})
        delivered_only = self.Subscription.create({
            "name": "Delivered", "url": "http://127.0.0.1:9/b",
            "event_type_ids": [(6, 0, self.env.ref("shipment_visibility.outbox_event_type_delivered").ids)]})
        mine = self.Subscription.create({"name": "Ada's ERP", "url": "http://127.0.0.1:9/c",
                                         "customer_id": self.customer.id})
        theirs = self.Subscription.create({"name": "Other's ERP", "url": "http://127.0.0.1:9/d",
                                           "customer_id": other.id})
        self._create_picking(carrier_tracking_ref="OUTBOX6")
        self.process("OUTBOX6", checkpoints=ALL)
        messages = self.messages_of("OUTBOX6")
        deliveries = self.Delivery.search([("outbox_id", "in", messages.ids)])
        self.assertEqual(len(deliveries.filtered(lambda d: d.subscription_id == every)), len(messages))
        self.assertEqual(deliveries.filtered(lambda d: d.subscription_id == delivered_only).mapped("event_type"),
                         [outbound.DELIVERED])
        self.assertEqual(len(deliveries.filtered(lambda d: d.subscription_id == mine)), len(messages))
        self.assertFalse(deliveries.filtered(lambda d: d.subscription_id == theirs))
        counts = (every | theirs)._delivery_counts()
        self.assertEqual(counts[every.id]["pending"], len(messages))
        self.assertNotIn("pending", counts[theirs.id])
