from datetime import datetime, timedelta, timezone

from odoo.tests import HttpCase, tagged

from ..integration.events import CanonicalEvent
from .common import ShipmentCommon, store_events


@tagged("post_install", "-at_install")
class TestTrackingTour(HttpCase, ShipmentCommon):
    """In a real browser: delivery order → Tracking page → shipment form."""

    def test_clerk_follows_tracking_from_delivery_order(self):
        picking = self._create_picking(carrier_tracking_ref="TOUR123")
        now = datetime.now(timezone.utc).replace(microsecond=0)
        events = [
            CanonicalEvent("TOUR123", "picked_up", now - timedelta(hours=30), city="Berlin", country="DE",
                           description="Shipment picked up"),
            CanonicalEvent("TOUR123", "arrived_at_facility", now - timedelta(hours=10), city="Leipzig",
                           country="DE", description="Arrived at Hub Leipzig"),
            CanonicalEvent("TOUR123", "out_for_delivery", now - timedelta(hours=2), city="Dresden",
                           country="DE", description="With delivery courier"),
        ]
        store_events(self.env, events, connector=self.connector)
        self.assertEqual(picking.shipment_status, "out_for_delivery")
        self.start_tour(f"/odoo/action-stock.action_picking_tree_all/{picking.id}",
                        "shipment_visibility_picking_tracking", login="admin")
