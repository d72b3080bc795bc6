import json
import re
import uuid

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from ..integration.events import CanonicalEvent
from .common import store_events
from .portal_common import PortalCommon


@tagged("post_install", "-at_install")
class TestPortalAccess(PortalCommon):
    """Record rules: a portal customer reads their company's shipments, nothing else."""

    def test_portal_user_searches_only_own_shipments_and_events(self):
        Shipment = self.env["shipment.shipment"].with_user(self.portal_user)
        self.assertEqual(Shipment.search([]), self.parcel_a | self.parcel_b)
        events = self.env["shipment.event"].with_user(self.portal_user).search([])
        self.assertEqual(events.shipment_id, self.parcel_a | self.parcel_b)
        with self.assertRaises(AccessError):
            self.stranger_shipment.with_user(self.portal_user).read(["tracking_number"])
        with self.assertRaises(AccessError):
            self.parcel_a.with_user(self.portal_user).write({"pod_signed_by": "forged"})

    def test_delivery_to_another_address_is_still_the_customers(self):
        """The order's customer sees a parcel shipped to a third party's address."""
        self.order_picking.partner_id = self.stranger
        self.assertEqual(self.parcel_a.partner_id, self.stranger)
        self.assertIn(self.parcel_a, self.env["shipment.shipment"].with_user(self.portal_user).search([]))
        self.assertIn(self.parcel_a, self.env["shipment.shipment"].with_user(self.stranger_user).search([]))

    def test_internal_fields_are_out_of_reach(self):
        shipment = self.parcel_a.with_user(self.portal_user)
        for field in ("connector_id", "workflow_notified", "exception_ids", "sla_state", "polling_stopped"):
            with self.assertRaises(AccessError, msg=field):
                shipment.read([field])
        event = self.parcel_a.event_ids[:1].with_user(self.portal_user)
        self.assertTrue(event.read(["milestone", "description", "city"]))
        for field in ("raw_code", "inbox_id", "connector_id", "correlation_id", "fingerprint", "external_id"):
            with self.assertRaises(AccessError, msg=field):
                event.read([field])

    def test_other_company_shipments_stay_hidden(self):
        other = self.env["res.company"].create({"name": "Sister Co"})
        twin = self.env["shipment.shipment"].create({
            "tracking_number": "SISTER1", "company_id": other.id, "partner_id": self.contact.id})
        self.assertNotIn(twin, self.env["shipment.shipment"].with_user(self.portal_user).search([]))

    def test_token_exists_from_creation_and_survives_updates(self):
        token = self.parcel_a.access_token
        self.assertRegex(token, r"^[0-9a-f-]{36}$")
        store_events(self.env, [
            CanonicalEvent("PARCELA1", "out_for_delivery", self.now, city="Paris", country="FR")],
            "webhook", connector=self.connector)
        self.parcel_a.pod_signed_by = "A. Lovelace"
        self.assertEqual(self.parcel_a.access_token, token)
        self.assertNotEqual(self.parcel_a.access_token, self.parcel_b.access_token)

    def test_share_wizard_hands_out_the_tracking_page(self):
        wizard = self.env["portal.share"].with_context(
            active_model="shipment.shipment", active_id=self.parcel_a.id).create({
                "partner_ids": [(6, 0, self.contact.ids)]})
        self.assertTrue(wizard.share_link.endswith(f"/track/{self.parcel_a.access_token}"))
        action = self.env.ref("shipment_visibility.action_shipment_share")
        self.assertEqual(action.binding_model_id.model, "shipment.shipment")


@tagged("post_install", "-at_install")
class TestPortalPages(HttpCase, PortalCommon):
    """/my, /my/shipments and /my/shipments/<id> as the customer sees them."""

    def setUp(self):
        super().setUp()
        self.authenticate("ada_portal", "ada_portal")

    def test_home_counts_own_shipments(self):
        result = self.make_jsonrpc_request("/my/counters", {"counters": ["shipment_count"]})
        self.assertEqual(result["shipment_count"], 2)
        home = self.url_open("/my/home").text
        self.assertIn('href="/my/shipments"', home)

    def test_list_shows_own_shipments_with_filters_search_and_sort(self):
        page = self.url_open("/my/shipments")
        self.assertEqual(page.status_code, 200)
        self.assertIn("PARCELA1", page.text)
        self.assertIn("PARCELB2", page.text)
        self.assertNotIn("STRANGER9", page.text)
        self.assertIn(self.order.name, page.text)
        in_transit = self.url_open("/my/shipments?filterby=in_transit").text
        self.assertIn("PARCELA1", in_transit)
        delivered = self.url_open("/my/shipments?filterby=delivered").text
        self.assertNotIn("PARCELA1", delivered)
        self.assertIn("No shipment matches your search.", delivered)
        by_number = self.url_open("/my/shipments?search_in=tracking&search=parcelb").text
        self.assertIn("PARCELB2", by_number)
        self.assertNotIn("PARCELA1", by_number)
        by_order = self.url_open(f"/my/shipments?search_in=order&search={self.order.name}").text
        self.assertIn("PARCELA1", by_order)
        self.assertIn("PARCELB2", by_order)
        # Sort by ETA: the parcel with an estimate comes first; unknown options fall back.
        by_eta = self.url_open("/my/shipments?sortby=eta").text
        self.assertLess(by_eta.index("PARCELA1"), by_eta.index("PARCELB2"))
        for query in ("sortby=drop%20table", "filterby=%00", "search_in=nope&search=" + "x" * 5000,
                      "search=%E2%80%AE%F0%9F%93%A6"):
            self.assertEqual(self.url_open(f"/my/shipments?{query}").status_code, 200, query)
        self.assertEqual(self.url_open("/my/shipments/page/7").status_code, 200)

    def test_shipment_page_shows_progress_timeline_and_address(self):
        page = self.url_open(f"/my/shipments/{self.parcel_a.id}")
        self.assertEqual(page.status_code, 200)
        html = page.text
        self.assertIn("Arrived at a carrier facility", html)
        self.assertIn("Expected delivery", html)
        self.assertIn("estimate from the carrier", html)
        # Newest first.
        self.assertLess(html.index("Arrived at hub Orly"), html.index("Parcel picked up"))
        self.assertIn("Times in Europe/Paris", html)
        self.assertIn("https://track.example.com/?n=PARCELA1", html)
        self.assertIn("12 Rue des Lilas", html)
        self.assertIn(f'href="/my/orders/{self.order.id}"', html)
        self.assertEqual(len(re.findall(r'class="sv-step sv-step-done"', html)), 2)
        self.assertIn('sv-step sv-step-current" aria-current="step"', html)

    def test_foreign_or_missing_shipment_is_not_found(self):
        foreign = self.url_open(f"/my/shipments/{self.stranger_shipment.id}")
        missing = self.url_open("/my/shipments/999999999")
        self.assertEqual((foreign.status_code, missing.status_code), (404, 404))
        self.assertNotIn("STRANGER9", foreign.text)

    def test_a_token_opens_only_its_own_shipment(self):
        # Own token on a foreign id, a guessed token, a token of another shipment: nothing.
        for token in (self.parcel_a.access_token, str(uuid.uuid4()), "../../etc", "x" * 4000):
            response = self.url_open(f"/my/shipments/{self.stranger_shipment.id}?access_token={token}",
                                     allow_redirects=False)
            self.assertEqual(response.status_code, 404, token[:40])
        # The right token opens the foreign shipment's public page, not the portal page.
        response = self.url_open(
            f"/my/shipments/{self.stranger_shipment.id}?access_token={self.stranger_shipment.access_token}",
            allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers["Location"].endswith(f"/track/{self.stranger_shipment.access_token}"))

    def test_order_page_has_one_card_per_shipment(self):
        self.order._portal_ensure_token()
        html = self.url_open(self.order.get_portal_url()).text
        self.assertEqual(html.count("o_sv_shipment_card"), 2)
        self.assertIn(f"/my/shipments/{self.parcel_a.id}?access_token=", html)
        self.assertIn(f"/my/shipments/{self.parcel_b.id}?access_token=", html)

    def test_delivery_slip_links_each_parcel(self):
        self.order._portal_ensure_token()
        # As the order page links it: with the order's token (portal users cannot read pickings).
        response = self.url_open(f"/my/picking/pdf/{self.order_picking.id}?access_token={self.order.access_token}")
        self.assertEqual(response.status_code, 200)
        # Test mode renders the report as HTML instead of PDF.
        body = response.content.decode()
        self.assertIn(f"/track/{self.parcel_a.access_token}", body)
        self.assertIn(f"/track/{self.parcel_b.access_token}", body)

    def test_nothing_internal_reaches_the_pages(self):
        self.connector.name = "Secret Connector Name"
        event = self.parcel_a.event_ids.filtered(lambda e: e.milestone == "picked_up")
        event.sudo().write({"raw_code": "RAWCODE-INTERNAL-77", "correlation_id": "corr-internal-55"})
        self.parcel_a.message_post(body="Internal note: customer is difficult", subtype_xmlid="mail.mt_note")
        pages = [self.url_open(f"/my/shipments/{self.parcel_a.id}").text, self.url_open("/my/shipments").text,
                 self.url_open(f"/track/{self.parcel_a.access_token}").text]
        for html in pages:
            for secret in ("Secret Connector Name", "RAWCODE-INTERNAL-77", "corr-internal-55",
                           "customer is difficult", "STRANGER9", "Eve Stranger", self.connector.webhook_token):
                self.assertNotIn(secret, html)

    def test_counters_route_answers_json_for_stranger_too(self):
        self.authenticate("eve_portal", "eve_portal")
        result = self.make_jsonrpc_request("/my/counters", {"counters": ["shipment_count"]})
        self.assertEqual(result["shipment_count"], 1)
        self.assertNotIn("PARCELA1", self.url_open("/my/shipments").text)
        body = json.dumps(result)
        self.assertNotIn("PARCEL", body)
