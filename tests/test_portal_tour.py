from odoo.tests import HttpCase, tagged

from .portal_common import PortalCommon


@tagged("post_install", "-at_install")
class TestPortalTour(HttpCase, PortalCommon):
    """In a real browser, as the customer: My Account → Shipments → a parcel → the order."""

    def test_customer_follows_a_parcel_from_my_account(self):
        self.start_tour("/my", "shipment_visibility_portal", login="ada_portal")
