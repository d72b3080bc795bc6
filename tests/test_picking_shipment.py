from odoo.tests import tagged

from .common import ShipmentCommon, store_events


@tagged("post_install", "-at_install")
class TestPickingShipment(ShipmentCommon):
    """Delivery orders and their shipments stay in step with ``carrier_tracking_ref``."""

    def test_one_ref_creates_one_linked_shipment(self):
        """A tracking ref on a delivery order creates its shipment, normalized and linked."""
        picking = self._create_picking()
        self.assertFalse(picking.shipment_ids)
        picking.carrier_tracking_ref = " 1z 999 aa1 "
        shipment = picking.shipment_ids
        self.assertEqual(len(shipment), 1)
        self.assertEqual(shipment.tracking_number, "1Z999AA1")
        self.assertEqual(shipment.carrier_id, self.carrier)
        self.assertEqual(shipment.connector_id, self.connector, "the carrier's connector is found")
        self.assertEqual(shipment.partner_id, self.customer)
        self.assertEqual(shipment.status, "pending")
        self.assertEqual(picking.shipment_count, 1)
        self.assertEqual(picking.shipment_status, "pending")

    def test_ref_given_at_creation(self):
        """A delivery order created with a ref gets its shipment too."""
        picking = self._create_picking(carrier_tracking_ref="ABC123")
        self.assertEqual(picking.shipment_ids.tracking_number, "ABC123")

    def test_several_refs_create_one_shipment_each(self):
        """Odoo appends refs comma-separated (multi-parcel): one shipment per ref, no duplicates."""
        picking = self._create_picking()
        picking.carrier_tracking_ref = "PARCEL1,PARCEL2, parcel3 ,PARCEL1"
        self.assertEqual(sorted(picking.shipment_ids.mapped("tracking_number")),
                         ["PARCEL1", "PARCEL2", "PARCEL3"])
        self.assertEqual(picking.shipment_count, 3)

    def test_summary_follows_live_unarchived_shipments_in_their_order(self):
        """The order's status: an open exception first, else the least advanced parcel;
        archived shipments no longer count."""
        picking = self._create_picking(carrier_tracking_ref="SUMA,SUMB")
        self._ingest([self._event("SUMA", "delivered", -1), self._event("SUMB", "in_transit", -2)])
        self.assertEqual((picking.shipment_count, picking.shipment_status), (2, "in_transit"))
        self._ingest([self._event("SUMB", "exception", 1, reason="damaged")])
        self.assertEqual((picking.shipment_status, picking.shipment_exception), ("exception", True))
        picking.shipment_ids.filtered(lambda s: s.tracking_number == "SUMB").active = False
        self.env.flush_all()
        self.assertEqual((picking.shipment_count, picking.shipment_status, picking.shipment_exception),
                         (1, "delivered", False))

    def test_changing_ref_relinks_without_losing_events(self):
        """A replaced ref detaches the old shipment with its events and links a new one."""
        picking = self._create_picking(carrier_tracking_ref="OLD1")
        old = picking.shipment_ids
        self._ingest([self._event("OLD1", "picked_up", -5)])
        self.assertEqual(old.event_count, 1)

        picking.carrier_tracking_ref = "NEW1"
        self.assertEqual(picking.shipment_ids.tracking_number, "NEW1")
        self.assertFalse(old.picking_id, "the old shipment is detached")
        self.assertTrue(old.exists(), "and kept")
        self.assertEqual(old.event_count, 1, "with its events")

        picking.carrier_tracking_ref = "NEW1,OLD1"
        self.assertEqual(set(picking.shipment_ids.ids), {old.id} | set(picking.shipment_ids.filtered(
            lambda s: s.tracking_number == "NEW1").ids), "restoring the ref relinks the same shipment")

    def test_clearing_ref_detaches(self):
        """Clearing the ref (e.g. a cancelled label) detaches every shipment, events kept."""
        picking = self._create_picking(carrier_tracking_ref="A1,B2")
        shipments = picking.shipment_ids
        self._ingest([self._event("A1", "in_transit", -1)])
        picking.carrier_tracking_ref = False
        self.assertFalse(picking.shipment_ids)
        self.assertEqual(picking.shipment_count, 0)
        self.assertFalse(picking.shipment_status)
        self.assertEqual(len(shipments.exists()), 2)
        self.assertEqual(shipments.filtered(lambda s: s.tracking_number == "A1").status, "in_transit")

    def test_unmatched_events_attach_when_ref_arrives(self):
        """Events received before any delivery order knew the number are kept and attached later."""
        Shipment = self.env["shipment.shipment"]
        no_carrier_connector = self.env["shipment.connector"].create(
            {"name": "Generic", "connector_type": "generic_json", "mode": "live", "webhook_secret": "whsec_QUFB"})
        self._ingest([self._event("EARLY1", "picked_up", -10), self._event("EARLY1", "in_transit", -2)],
                     connector=no_carrier_connector)
        unmatched = Shipment.search([("tracking_number", "=", "EARLY1")])
        self.assertEqual(len(unmatched), 1)
        self.assertFalse(unmatched.picking_id)
        self.assertEqual(unmatched.status, "in_transit")

        picking = self._create_picking()
        picking.carrier_tracking_ref = "early1"
        self.assertEqual(picking.shipment_ids, unmatched, "the unmatched shipment is attached, not duplicated")
        self.assertEqual(unmatched.carrier_id, self.carrier)
        self.assertEqual(picking.shipment_status, "in_transit")
        self.assertEqual(len(picking.shipment_event_ids), 2)

    def test_many_orders_created_at_once(self):
        """Orders created in one call (an import) get what orders created one by one get:
        new refs a shipment each, a known unmatched shipment attached, a ref two of the
        orders share one shipment (the last order's), and an order without ref none."""
        Shipment = self.env["shipment.shipment"]
        generic = self.env["shipment.connector"].create(
            {"name": "Generic", "connector_type": "generic_json", "mode": "live", "webhook_secret": "whsec_QUFB"})
        self._ingest([self._event("BATCH-EARLY", "in_transit", -2)], connector=generic)
        early = Shipment.search([("tracking_number", "=", "BATCH-EARLY")])
        self.assertEqual(len(early), 1)
        announced_before = self.env["shipment.outbox"].search([], order="id desc", limit=1).id or 0
        values = {"partner_id": self.customer.id, "picking_type_id": self.picking_type_out.id,
                  "location_id": self.stock_location.id, "location_dest_id": self.customer_location.id,
                  "carrier_id": self.carrier.id}
        pickings = self.env["stock.picking"].create([
            dict(values, carrier_tracking_ref="BATCH1"),
            dict(values, carrier_tracking_ref="BATCH2,BATCH3"),
            dict(values, carrier_tracking_ref="batch-early"),
            dict(values, carrier_tracking_ref="SHARED1"),
            dict(values, carrier_tracking_ref="SHARED1"),
            dict(values),
        ])
        self.assertEqual(pickings[0].shipment_ids.mapped("tracking_number"), ["BATCH1"])
        self.assertEqual(sorted(pickings[1].shipment_ids.mapped("tracking_number")), ["BATCH2", "BATCH3"])
        self.assertEqual(pickings[2].shipment_ids, early, "the unmatched shipment is attached, not duplicated")
        self.assertEqual(early.carrier_id, self.carrier)
        shared = Shipment.search([("tracking_number", "=", "SHARED1")])
        self.assertEqual(len(shared), 1, "one live shipment per number and carrier")
        self.assertEqual(shared.picking_id, pickings[4])
        self.assertFalse(pickings[5].shipment_ids)
        self.assertEqual(early.connector_id, generic, "the connector that reported it keeps it")
        for shipment in pickings.shipment_ids - early:
            self.assertEqual(shipment.connector_id, self.connector, "the carrier's connector is found")
        for shipment in pickings.shipment_ids:
            self.assertEqual(shipment.partner_id, self.customer)
        created = self.env["shipment.outbox"].search([("event_type", "=", "shipment.created"),
                                                      ("shipment_id", "in", pickings.shipment_ids.ids),
                                                      ("id", ">", announced_before)])
        self.assertEqual(sorted(created.shipment_id.mapped("tracking_number")),
                         ["BATCH1", "BATCH2", "BATCH3", "SHARED1"],
                         "consumers hear once of each new shipment (the early one existed already)")

    def test_unmatched_merges_into_existing_carrier_shipment(self):
        """Two shipments for one number (one unmatched) merge without duplicating events."""
        Shipment = self.env["shipment.shipment"]
        generic = self.env["shipment.connector"].create({"name": "Generic", "connector_type": "generic_json",
                                                         "mode": "live", "webhook_secret": "whsec_QUFB"})
        picking = self._create_picking(carrier_tracking_ref="MERGE1")
        own = picking.shipment_ids
        self._ingest([self._event("MERGE1", "picked_up", -10)])
        picking.carrier_tracking_ref = False
        # An unmatched twin is created by a connector that knows no carrier.
        self._ingest([self._event("MERGE1", "picked_up", -10), self._event("MERGE1", "delivered", 5)],
                     connector=generic)
        twins = Shipment.search([("tracking_number", "=", "MERGE1")])
        self.assertEqual(len(twins), 1, "the detached shipment of the carrier was matched")

        # Force a real twin: a shipment without carrier next to the carrier's one.
        twin = Shipment.create({"tracking_number": "MERGE1", "connector_id": generic.id})
        store_events(self.env, [self._event("MERGE1", "picked_up", -10), self._event("MERGE1", "out_for_delivery", 3)],
                     shipments={"MERGE1": twin})
        picking.carrier_tracking_ref = "MERGE1"
        self.assertEqual(picking.shipment_ids, own)
        self.assertFalse(twin.exists(), "the twin was merged away")
        self.assertEqual(sorted(own.event_ids.mapped("milestone")),
                         ["delivered", "out_for_delivery", "picked_up"], "no event lost, none doubled")
        self.assertEqual(own.status, "delivered")

    def test_picking_list_filters(self):
        """The delivery list filters find in-transit, exception, delivered and late orders."""
        Picking = self.env["stock.picking"]
        transit = self._create_picking(carrier_tracking_ref="F1")
        exception = self._create_picking(carrier_tracking_ref="F2")
        delivered = self._create_picking(carrier_tracking_ref="F3")
        self._ingest([
            self._event("F1", "in_transit", -3),
            self._event("F2", "delivery_attempted", -1, reason="recipient_unavailable"),
            self._event("F3", "delivered", -1),
        ])
        delivered.shipment_ids.promised_date = "2026-11-19 12:00:00"

        def found(domain):
            return Picking.search(domain + [("id", "in", (transit | exception | delivered).ids)])

        self.assertEqual(found([("shipment_status", "not in", (False, "pending", "info_received", "delivered",
                                                               "returned_to_sender", "cancelled"))]),
                         transit | exception)
        self.assertEqual(found([("shipment_exception", "=", True)]), exception)
        self.assertEqual(found([("shipment_status", "=", "delivered")]), delivered)
        self.assertEqual(found([("shipment_late", "=", True)]), delivered, "delivered after the promise")
