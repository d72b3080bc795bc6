from odoo.tests import TransactionCase, tagged

from ..integration import taxonomy


@tagged("post_install", "-at_install")
class TestDemoData(TransactionCase):
    """The demo database tells the whole story: every milestone and every kind of outcome."""

    def ref(self, xmlid):
        return self.env.ref(f"shipment_visibility.{xmlid}")

    def test_demo_shipments_have_expected_outcomes(self):
        delivered = self.ref("shipment_delivered_ups")
        self.assertEqual(delivered.status, "delivered")
        self.assertTrue(delivered.delivered_at)
        self.assertTrue(delivered.pod_signed_by, "the delivered demo shipment has a proof of delivery")

        exception = self.ref("shipment_exception_dhl")
        self.assertEqual(exception.exception_state, "open")
        self.assertTrue(exception.eta, "the ETA came from estimated events")
        estimates = exception.event_ids.filtered(lambda e: e.event_class == "estimated")
        self.assertGreaterEqual(len(estimates), 2, "the ETA changed at least once")

        self.assertEqual(self.ref("shipment_return_usps").status, "returned_to_sender")
        self.assertEqual(self.ref("shipment_cancelled_ups").status, "cancelled")
        multi = self.ref("picking_multi_ups")
        self.assertEqual(multi.shipment_count, 2)
        self.assertFalse(self.ref("shipment_unmatched_dhl").picking_id)

    def test_demo_covers_every_milestone(self):
        demo_shipments = self.env["shipment.shipment"].search([
            ("id", "in", [self.ref(x).id for x in (
                "shipment_delivered_ups", "shipment_exception_dhl", "shipment_return_usps",
                "shipment_cancelled_ups", "shipment_multi_ups_1", "shipment_multi_ups_2",
                "shipment_unmatched_dhl")])])
        milestones = set(demo_shipments.event_ids.mapped("milestone"))
        self.assertEqual(set(taxonomy.MILESTONE_CODES) - milestones, set())
        self.assertIn(taxonomy.UNKNOWN, milestones, "an unmapped partner code is shown too")

    def test_demo_delivery_orders_link_their_shipments(self):
        picking = self.ref("picking_delivered_ups")
        self.assertEqual(picking.shipment_ids, self.ref("shipment_delivered_ups"))
        self.assertEqual(picking.shipment_status, "delivered")
        self.assertTrue(self.ref("picking_exception_dhl").shipment_exception)
