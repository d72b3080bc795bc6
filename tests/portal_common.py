"""A customer with a portal login, an order split over two parcels, and a stranger.

Dates are relative to the real clock: pages compare "expected" dates with today.
"""

import re
from datetime import datetime, timedelta, timezone

from odoo.tests import new_test_user

from ..integration.events import CanonicalEvent
from .common import ShipmentCommon, store_events

CSRF = re.compile(r'name="csrf_token" value="[^"]*"')


class PortalCommon(ShipmentCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = datetime.now(timezone.utc).replace(microsecond=0)
        cls.env.company.write({"shipment_notify_customers": True})
        cls.customer.write({
            "is_company": True, "name": "Ada Industries", "street": "12 Rue des Lilas", "zip": "75011",
            "city": "Paris", "country_id": cls.env.ref("base.fr").id, "email": "orders@ada.example.com",
            "tz": "Europe/Paris",
        })
        cls.contact = cls.env["res.partner"].create({
            "name": "Ada Lovelace", "parent_id": cls.customer.id, "email": "ada@ada.example.com", "tz": "Europe/Paris",
        })
        cls.portal_user = new_test_user(cls.env, "ada_portal", groups="base.group_portal",
                                        partner_id=cls.contact.id, tz="Europe/Paris")
        cls.stranger = cls.env["res.partner"].create({
            "name": "Eve Stranger", "street": "1 Hidden Lane", "zip": "SW1A 1AA", "city": "London",
            "email": "eve@stranger.example.com"})
        cls.stranger_user = new_test_user(cls.env, "eve_portal", groups="base.group_portal",
                                          partner_id=cls.stranger.id)

        # An order delivered in two parcels, and one parcel of another customer.
        cls.order = cls.env["sale.order"].create({
            "partner_id": cls.customer.id,
            "carrier_id": cls.carrier.id,
            "order_line": [(0, 0, {"product_id": cls.product.id, "product_uom_qty": 2})],
        })
        cls.order.action_confirm()
        cls.order_picking = cls.order.picking_ids
        cls.order_picking.carrier_id = cls.carrier
        cls.order_picking.carrier_tracking_ref = "PARCELA1,PARCELB2"
        cls.parcel_a = cls.order_picking.shipment_ids.filtered(lambda s: s.tracking_number == "PARCELA1")
        cls.parcel_b = cls.order_picking.shipment_ids.filtered(lambda s: s.tracking_number == "PARCELB2")
        cls.stranger_picking = cls._create_picking(partner_id=cls.stranger.id, carrier_tracking_ref="STRANGER9")
        cls.stranger_shipment = cls.stranger_picking.shipment_ids

        now = cls.now
        store_events(cls.env, [
            CanonicalEvent("PARCELA1", "picked_up", now - timedelta(hours=30), city="Lyon", country="FR",
                           postcode="69007", description="Parcel picked up"),
            CanonicalEvent("PARCELA1", "arrived_at_facility", now - timedelta(hours=8), city="Orly", country="FR",
                           description="Arrived at hub Orly"),
            CanonicalEvent("PARCELA1", "delivered", now + timedelta(days=1), event_class="estimated",
                           issued_at=now - timedelta(hours=8),
                           window_start=now + timedelta(days=1), window_end=now + timedelta(days=2)),
            CanonicalEvent("PARCELB2", "picked_up", now - timedelta(hours=28), city="Lyon", country="FR"),
            CanonicalEvent("STRANGER9", "in_transit", now - timedelta(hours=3), city="Dover", country="GB",
                           description="Stranger parcel moving"),
        ], "webhook", connector=cls.connector)
        cls.env.flush_all()

    @staticmethod
    def without_csrf(body):
        """A page body without its CSRF token, which differs on every answer by design."""
        return CSRF.sub("", body)
