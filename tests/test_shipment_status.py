from datetime import timedelta

from odoo.tests import tagged

from .common import NOW, ShipmentCommon


def naive(value):
    return value.replace(tzinfo=None)


@tagged("post_install", "-at_install")
class TestShipmentStatus(ShipmentCommon):
    """Status, ETA and times are derived through the ORM from stored events."""

    def setUp(self):
        super().setUp()
        self.picking = self._create_picking(carrier_tracking_ref="TRK1")
        self.shipment = self.picking.shipment_ids

    def test_history_drives_status_and_times(self):
        """A full history gives the delivered status, shipped and delivered times."""
        self._ingest([
            self._event("TRK1", "info_received", -48),
            self._event("TRK1", "picked_up", -40, city="Berlin"),
            self._event("TRK1", "in_transit", -20),
            self._event("TRK1", "out_for_delivery", -3),
        ])
        self.assertEqual(self.shipment.status, "out_for_delivery")
        self.assertEqual(self.shipment.shipped_at, naive(NOW - timedelta(hours=40)))
        self.assertFalse(self.shipment.delivered_at)
        self.assertEqual(self.picking.shipment_status, "out_for_delivery")

        self._ingest([self._event("TRK1", "delivered", -1, signed_by="A. Smith")])
        self.assertEqual(self.shipment.status, "delivered")
        self.assertEqual(self.shipment.delivered_at, naive(NOW - timedelta(hours=1)))
        self.assertTrue(self.shipment.is_terminal)
        self.assertEqual(self.shipment.last_event_id.milestone, "delivered")
        self.assertEqual(self.shipment.event_count, 5)

    def test_duplicates_are_not_stored_twice(self):
        """The same facts delivered again (aggregators resend full histories) insert nothing."""
        events = [self._event("TRK1", "picked_up", -5), self._event("TRK1", "in_transit", -2)]
        first = self._ingest(events)
        again = self._ingest(list(reversed(events)) + events)
        self.assertEqual(len(first), 2)
        self.assertFalse(again)
        self.assertEqual(self.shipment.event_count, 2)
        self.assertEqual(len(self.shipment.event_ids), 2)

    def test_late_older_event_does_not_override(self):
        """An old scan arriving after a newer one is history, not the status."""
        self._ingest([self._event("TRK1", "out_for_delivery", -1)])
        self._ingest([self._event("TRK1", "in_transit", -30)])
        self.assertEqual(self.shipment.status, "out_for_delivery")
        self.assertEqual(self.shipment.event_count, 2)

    def test_estimates_move_eta_not_status(self):
        """Estimated events set the ETA (latest issued wins) and never change the status."""
        self._ingest([self._event("TRK1", "in_transit", -10)])
        first_eta = NOW + timedelta(days=2)
        self._ingest([self._event("TRK1", "delivered", 48, event_class="estimated",
                                  issued_at=NOW - timedelta(hours=9))])
        self.assertEqual(self.shipment.status, "in_transit")
        self.assertEqual(self.shipment.eta, naive(first_eta))

        revised = NOW + timedelta(days=4)
        self._ingest([self._event("TRK1", "delivered", 96, event_class="estimated",
                                  issued_at=NOW - timedelta(hours=1))])
        self.assertEqual(self.shipment.eta, naive(revised), "the most recently issued estimate wins")
        self.assertEqual(self.shipment.status, "in_transit")
        self.assertFalse(self.shipment.delivered_at)
        self.assertEqual(self.picking.shipment_eta, naive(revised))

    def test_exception_opens_and_closes(self):
        """A problem event opens an exception; a later actual event supersedes it."""
        self._ingest([self._event("TRK1", "in_transit", -10),
                      self._event("TRK1", "delivery_attempted", -5, reason="recipient_unavailable")])
        self.assertEqual(self.shipment.exception_state, "open")
        self.assertEqual(self.shipment.exception_reason, "recipient_unavailable")
        self.assertTrue(self.picking.shipment_exception)
        self.assertIn(self.shipment, self.env["shipment.shipment"].search([("exception_state", "!=", "none")]))

        self._ingest([self._event("TRK1", "out_for_delivery", -2)])
        self.assertEqual(self.shipment.exception_state, "none")
        self.assertFalse(self.shipment.exception_reason)
        self.assertFalse(self.picking.shipment_exception)

    def test_lost_is_a_final_exception(self):
        """A lost parcel is an exception that will not resolve by itself."""
        self._ingest([self._event("TRK1", "exception", -1, reason="lost")])
        self.assertEqual(self.shipment.exception_state, "final")

    def test_sla_state_from_promise(self):
        """At risk when the ETA passes the promise; late or on time once delivered."""
        self.shipment.promised_date = naive(NOW + timedelta(days=1))
        self._ingest([self._event("TRK1", "delivered", 72, event_class="estimated", issued_at=NOW)])
        self.assertEqual(self.shipment.sla_state, "at_risk")
        self.assertTrue(self.picking.shipment_late)
        self._ingest([self._event("TRK1", "delivered", 20)])
        self.assertEqual(self.shipment.sla_state, "on_time")
        self.assertFalse(self.picking.shipment_late)

    def test_promised_date_follows_sale_commitment(self):
        """The customer commitment comes from the sale order, else the order's deadline."""
        order = self.env["sale.order"].create({
            "partner_id": self.customer.id,
            "commitment_date": "2026-12-01 10:00:00",
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1})],
        })
        order.action_confirm()
        picking = order.picking_ids
        picking.carrier_tracking_ref = "SO1"
        self.assertEqual(str(picking.shipment_ids.promised_date), "2026-12-01 10:00:00")
        self.assertEqual(picking.shipment_ids.sale_id, order)
