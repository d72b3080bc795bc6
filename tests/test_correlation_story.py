"""One correlation id from the accepted message to its events, policies and log lines."""

from odoo.tests import tagged

from .common import ShipmentCommon
from .test_inbox_processor import aftership_body

MODULE_LOGGER = "odoo.addons.shipment_visibility"


@tagged("post_install", "-at_install")
class TestCorrelationStory(ShipmentCommon):
    """Searching the logs, the events or the workflow actions for a message's id finds its whole story."""

    def enqueue(self, tracking_number, correlation_id):
        # InfoReceived, then an exception: the policies open an exception for the shipment.
        body = aftership_body(tracking_number, checkpoints=[3, 5])
        message_id, created, given = self.env["shipment.inbox"].sudo()._enqueue(
            self.connector, body, {"Content-Type": "application/json"}, correlation_id=correlation_id)
        self.assertTrue(created)
        self.assertEqual(given, correlation_id)
        return self.env["shipment.inbox"].browse(message_id)

    def test_each_message_of_a_batch_keeps_its_own_id_everywhere(self):
        first = self.enqueue("CORRSTORY1", "corr-story-first")
        second = self.enqueue("CORRSTORY2", "corr-story-second")
        with self.assertLogs(MODULE_LOGGER, level="DEBUG") as captured:
            self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual((first.state, second.state), ("done", "done"))

        for message in (first, second):
            with self.subTest(message=message.correlation_id):
                shipment = message.shipment_ids
                self.assertEqual(len(shipment), 1)
                events = shipment.event_ids
                self.assertTrue(events)
                self.assertEqual(set(events.mapped("correlation_id")), {message.correlation_id})
                actions = self.env["shipment.workflow.log"].search([("shipment_id", "=", shipment.id)])
                self.assertIn("open_exception", actions.mapped("action"))
                self.assertEqual(set(actions.mapped("correlation_id")), {message.correlation_id},
                                 "the policies' actions name the message that caused them")
                found = self.env["shipment.workflow.log"].search([("correlation_id", "=", message.correlation_id)])
                self.assertEqual(found, actions)
                lines = [line for line in captured.output if f"inbox message {message.id} " in line]
                self.assertTrue(lines, "the processor says what it did with the message")
                self.assertTrue(all(f"correlation_id={message.correlation_id}" in line for line in lines), lines)
