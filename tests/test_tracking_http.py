import re
import uuid
from datetime import timedelta
from unittest.mock import patch

from odoo.tests import HttpCase, freeze_time, tagged
from odoo.tools import mute_logger

from ..integration.events import CanonicalEvent
from .common import store_events
from .portal_common import PortalCommon

CSRF_VALUE = re.compile(r'name="csrf_token" value="([^"]+)"')


@tagged("post_install", "-at_install")
class TestTrackingPage(HttpCase, PortalCommon):
    """The public tracking page, used the way customers and attackers would."""

    def setUp(self):
        super().setUp()
        # A budget no test reaches, but the rate limit test (which sets its own).
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.track_lookup_limit", 1000)

    def _csrf(self):
        return CSRF_VALUE.search(self.url_open("/track").text).group(1)

    def _lookup(self, **data):
        data.setdefault("csrf_token", self._csrf())
        return self.url_open("/track", data=data, allow_redirects=False)

    # ------------------------------------------------------------------ lookup form

    def test_form_reads_without_javascript(self):
        page = self.url_open("/track")
        self.assertEqual(page.status_code, 200)
        self.assertNotIn("<script", page.text)
        self.assertIn('name="viewport"', page.text)
        self.assertIn("/web/binary/company_logo?company=", page.text)
        self.assertIn("--sv-primary", page.text)

    def test_order_and_email_open_each_parcel_of_a_split_order(self):
        response = self._lookup(reference=self.order.name.lower(), contact=" Orders@Ada.example.com ")
        self.assertEqual(response.status_code, 200)
        self.assertIn(f'href="/track/{self.parcel_a.access_token}"', response.text)
        self.assertIn(f'href="/track/{self.parcel_b.access_token}"', response.text)
        self.assertNotIn("STRANGER9", response.text)

    def test_order_and_postcode_redirect_to_the_single_parcel(self):
        self.order_picking.carrier_tracking_ref = "PARCELA1"
        response = self._lookup(reference=f"  {self.order.name} ", contact="75 011")
        self.assertEqual(response.status_code, 303)
        self.assertTrue(response.headers["Location"].endswith(f"/track/{self.parcel_a.access_token}"))
        # The delivery order's name works as a reference too.
        response = self._lookup(reference=self.order_picking.name, contact="75011")
        self.assertEqual(response.status_code, 303)

    def test_not_found_and_wrong_contact_answer_the_same(self):
        wrong_contact = self._lookup(reference=self.order.name, contact="eve@stranger.example.com")
        unknown_order = self._lookup(reference="S99999", contact="orders@ada.example.com")
        other_customer = self._lookup(reference=self.order.name, contact="SW1A 1AA")
        unknown_number = self._lookup(number="NOSUCHNUMBER")
        statuses = {r.status_code for r in (wrong_contact, unknown_order, other_customer, unknown_number)}
        self.assertEqual(statuses, {404})
        # Same page, but for what the visitor typed and the CSRF token.
        bodies = {self.without_csrf(r.text).replace(self.order.name, "REF").replace("S99999", "REF")
                  for r in (wrong_contact, unknown_order, other_customer)}
        self.assertEqual(len(bodies), 1)
        self.assertIn("We could not find a shipment matching these details.", wrong_contact.text)

    def test_tracking_number_alone_shows_no_personal_data(self):
        self.parcel_a.pod_signed_by = "Ada Lovelace"
        response = self._lookup(number=" parcela1 ")
        self.assertEqual(response.status_code, 200)
        html = response.text
        self.assertIn("Arrived at a carrier facility", html)
        self.assertIn("Orly, FR", html)
        self.assertIn("Expected delivery", html)
        for personal in ("Ada", "Lilas", "75011", "69007", self.order.name, self.order_picking.name,
                         "orders@ada.example.com", self.parcel_a.access_token, "Delivery address",
                         "Proof of delivery", "Widget"):
            self.assertNotIn(personal, html)
        # The same view from a shareable link.
        self.assertEqual(self.url_open("/track/number/PARCELA1").status_code, 200)

    def test_bad_input_is_refused_precisely(self):
        self.assertEqual(self._lookup().status_code, 400)
        self.assertEqual(self._lookup(reference=self.order.name).status_code, 400)
        for hostile in ("\x00", "%" * 5000, "\u202e" + self.order.name, "' OR 1=1 --", "S%", "_" * 10):
            response = self._lookup(reference=hostile, contact=hostile, number="")
            self.assertIn(response.status_code, (400, 404), hostile[:20])
            response = self._lookup(number=hostile)
            self.assertIn(response.status_code, (400, 404), hostile[:20])
        # No CSRF token: refused by Odoo before any lookup (and logged by it).
        with mute_logger("odoo.http"):
            self.assertEqual(self.url_open("/track", data={"number": "PARCELA1"}).status_code, 400)

    # ------------------------------------------------------------------ token page

    def test_token_page_shows_the_full_page(self):
        self.parcel_a.pod_signed_by = "A. Lovelace"
        self.parcel_a.pod_url = "https://pod.example.com/PARCELA1.jpg"
        response = self.url_open(f"/track/{self.parcel_a.access_token}")
        self.assertEqual(response.status_code, 200)
        html = response.text
        for expected in ("PARCELA1", self.order.name, "12 Rue des Lilas", "Signed by", "A. Lovelace",
                         "Times in Europe/Paris", "https://track.example.com/?n=PARCELA1",
                         f"/track/{self.parcel_a.access_token}/unsubscribe"):
            self.assertIn(expected, html)
        self.assertNotIn("PARCELB2", html)
        self.assertEqual(response.headers["Referrer-Policy"], "no-referrer")
        self.assertIn("no-store", response.headers["Cache-Control"])
        pod = self.url_open(f"/track/{self.parcel_a.access_token}/pod", allow_redirects=False)
        self.assertEqual((pod.status_code, pod.headers["Location"]), (303, "https://pod.example.com/PARCELA1.jpg"))
        self.assertEqual(self.url_open(f"/track/{self.parcel_b.access_token}/pod").status_code, 404)

    def test_guessed_or_malformed_tokens_are_not_found(self):
        for token in (str(uuid.uuid4()), self.parcel_a.access_token.upper(), self.parcel_a.access_token[:-1] + "0"
                      if not self.parcel_a.access_token.endswith("0") else self.parcel_a.access_token[:-1] + "1",
                      "x" * 3000, "%00", "%E2%80%AE"):
            response = self.url_open(f"/track/{token}")
            self.assertEqual(response.status_code, 404, token[:40])
            self.assertNotIn("PARCELA1", response.text)

    def test_regenerated_token_revokes_the_old_link(self):
        old = self.parcel_a.access_token
        self.parcel_a.action_regenerate_access_token()
        new = self.parcel_a.access_token
        self.assertNotEqual(old, new)
        self.assertEqual(self.url_open(f"/track/{old}").status_code, 404)
        self.assertEqual(self.url_open(f"/track/{new}").status_code, 200)

    def test_expected_date_from_the_promise_when_the_carrier_gives_none(self):
        self.parcel_b.promised_date = (self.now + timedelta(days=3)).replace(tzinfo=None)
        html = self.url_open(f"/track/{self.parcel_b.access_token}").text
        self.assertIn("date promised with your order", html)
        self.parcel_b.promised_date = (self.now - timedelta(days=3)).replace(tzinfo=None)
        html = self.url_open(f"/track/{self.parcel_b.access_token}").text
        self.assertNotIn("date promised with your order", html)
        self.assertIn("The delivery date will show here", html)

    def test_attempt_shows_a_customer_friendly_explanation(self):
        store_events(self.env, [CanonicalEvent(
            "PARCELA1", "delivery_attempted", self.now - timedelta(hours=1), city="Paris", country="FR",
            description="CNEE NA NOTICE LEFT")], "webhook", connector=self.connector)
        html = self.url_open(f"/track/{self.parcel_a.access_token}").text
        self.assertIn("nobody was available to receive it", html)
        self.assertIn("What you can do:", html)

    # ------------------------------------------------------------------ rate limit

    def test_lookups_are_rate_limited_per_client(self):
        self.env["ir.config_parameter"].sudo().set_param("shipment_visibility.track_lookup_limit", 3)
        csrf = self._csrf()
        for _attempt in range(3):
            self.assertEqual(self._lookup(number="NOPE", csrf_token=csrf).status_code, 404)
        limited = self._lookup(reference=self.order.name, contact="orders@ada.example.com", csrf_token=csrf)
        self.assertEqual(limited.status_code, 429)
        self.assertGreater(int(limited.headers["Retry-After"]), 0)
        self.assertIn("Too many attempts", limited.text)
        # Guessing tokens draws from the same budget; a customer's own link still works.
        self.assertEqual(self.url_open(f"/track/{uuid.uuid4()}").status_code, 429)
        self.assertEqual(self.url_open(f"/track/{self.parcel_a.access_token}").status_code, 200)
        # Another client (IPv6 /64 or address) has its own budget; an expired window starts over.
        Throttle = self.env["shipment.track.throttle"]
        self.assertEqual(Throttle._hit("2001:db8::1"), 0)
        self.env.cr.execute("UPDATE shipment_track_throttle SET window_start = window_start - interval '1 hour'")
        self.assertEqual(self._lookup(number="NOPE", csrf_token=csrf).status_code, 404)

    # ------------------------------------------------------------------ opt-out

    def test_unsubscribe_link_turns_emails_off_and_on(self):
        token = self.parcel_a.access_token
        page = self.url_open(f"/track/{token}/unsubscribe")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Stop shipment e-mails", page.text)
        # One click, as mail clients do it (RFC 8058): no session, no CSRF token.
        done = self.url_open(f"/track/{token}/unsubscribe", data={"List-Unsubscribe": "One-Click"})
        self.assertEqual(done.status_code, 200)
        self.assertFalse(self.parcel_a.partner_id.shipment_notifications)
        self.url_open(f"/track/{token}/unsubscribe", data={"subscribe": "1"})
        self.assertTrue(self.parcel_a.partner_id.shipment_notifications)
        self.assertEqual(self.url_open(f"/track/{uuid.uuid4()}/unsubscribe", data={}).status_code, 404)

    # ------------------------------------------------------------------ queries

    def test_archived_shipment_link_is_not_found(self):
        token = self.parcel_a.access_token
        self.parcel_a.active = False
        response = self.url_open(f"/track/{token}")
        self.assertEqual(response.status_code, 404)
        self.assertNotIn("PARCELA1", response.text)

    def test_long_history_shows_the_latest_events_and_a_link_to_all(self):
        shipment = self.env["shipment.shipment"].create({
            "tracking_number": "LONG25", "carrier_id": self.carrier.id, "partner_id": self.contact.id})
        store_events(self.env, [
            CanonicalEvent("LONG25", "in_transit", self.now - timedelta(hours=i), city=f"Hub {i:02d}",
                           country="FR", description=f"Scan {i:02d}") for i in range(25)],
            "webhook", connector=self.connector)
        url = f"/track/{shipment._portal_ensure_token()}"
        page = self.url_open(url).text
        self.assertEqual(page.count('class="sv-event '), 20)
        self.assertIn("Scan 00", page)  # the newest
        self.assertNotIn("Scan 20", page)
        self.assertIn("Show all 25 events", page)
        everything = self.url_open(f"{url}?show=all").text
        self.assertEqual(everything.count('class="sv-event '), 25)
        self.assertIn("Scan 24", everything)
        self.assertNotIn("Show all", everything)
        # The company's public face is on the page, read by the same statement.
        self.assertIn(self.env.company.name, page)

    def test_history_summary_follows_the_events_it_summarises(self):
        """The page reads the milestones reached and the number of events from the shipment:
        they must follow every change of the events, not only the processor's inserts."""
        shipment = self.env["shipment.shipment"].create({
            "tracking_number": "SUMMARY1", "carrier_id": self.carrier.id, "partner_id": self.contact.id})
        events = store_events(self.env, [
            CanonicalEvent("SUMMARY1", "picked_up", self.now - timedelta(hours=30), raw_code="PU",
                           description="Picked up"),
            CanonicalEvent("SUMMARY1", "in_transit", self.now - timedelta(hours=20), raw_code="IT",
                           description="Departed hub"),
            CanonicalEvent("SUMMARY1", "unknown", self.now - timedelta(hours=10), raw_code="ZZ9"),
            CanonicalEvent("SUMMARY1", "delivered", self.now + timedelta(days=1), event_class="estimated",
                           issued_at=self.now - timedelta(hours=10), raw_code="EST"),
        ], "webhook", connector=self.connector)
        self.assertEqual(shipment.customer_event_count, 2)  # the bare partner code and the estimate are not shown
        self.assertEqual(shipment.customer_milestones, "in_transit,picked_up,unknown")
        page = self.url_open(f"/track/{shipment.access_token}").text
        self.assertEqual(page.count('class="sv-event '), 2)
        # An admin edits an event: the carrier's words for the unmapped code now show.
        events.filtered(lambda e: e.raw_code == "ZZ9").sudo().description = "Held at the depot"
        self.assertEqual(shipment.customer_event_count, 3)
        page = self.url_open(f"/track/{shipment.access_token}").text
        self.assertEqual(page.count('class="sv-event '), 3)
        self.assertIn("Held at the depot", page)
        events.filtered(lambda e: e.raw_code == "IT").sudo().unlink()
        self.assertEqual(shipment.customer_milestones, "picked_up,unknown")
        self.assertEqual(shipment.customer_event_count, 2)

    # ------------------------------------------------------------------ the kept rendering

    def _count_wordings(self):
        """Count how often the page is worded (the step a kept rendering skips)."""
        Shipment = type(self.env["shipment.shipment"])
        return patch.object(Shipment, "_customer_view_values", autospec=True,
                            side_effect=Shipment._customer_view_values)

    def test_page_is_rendered_again_only_when_what_it_shows_changes(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        url = f"/track/{self.parcel_a.access_token}"
        with self._count_wordings() as worded:
            first = self.url_open(url).text
            second = self.url_open(url).text
            self.assertEqual(first, second)
            self.assertEqual(worded.call_count, 1, "the same page, read again, is the kept rendering")

            self.parcel_a.partner_id.street = "14 Rue des Lilas"  # the address, from another table
            html = self.url_open(url).text
            self.assertIn("14 Rue des Lilas", html)
            self.assertNotIn("12 Rue des Lilas", html)
            self.assertEqual(worded.call_count, 2)

            store_events(self.env, [CanonicalEvent(
                "PARCELA1", "out_for_delivery", self.now - timedelta(minutes=5), city="Paris", country="FR",
                description="With the driver")], "webhook", connector=self.connector)
            html = self.url_open(url).text
            self.assertIn("With the driver", html)
            self.assertEqual(worded.call_count, 3)

            french = self.url_open(f"{url}?lang=fr_FR").text  # another language is another page
            self.assertIn('lang="fr-FR"', french)
            self.assertEqual(worded.call_count, 4)
            self.assertIn('lang="en-US"', self.url_open(url).text)
            self.assertEqual(worded.call_count, 4)

            # "Show all" is never kept: a long history would fill the cache with a few pages.
            self.url_open(f"{url}?show=all")
            self.url_open(f"{url}?show=all")
            self.assertEqual(worded.call_count, 6)

            # Another shipment's page is its own, never the kept one of this shipment.
            other = self.url_open(f"/track/{self.parcel_b.access_token}").text
            self.assertIn("PARCELB2", other)
            self.assertNotIn("PARCELA1", other)

    def test_kept_page_follows_the_clock(self):
        """A kept page must not go on calling a date "expected" once it has passed."""
        url = f"/track/{self.parcel_a.access_token}"
        self.assertIn("estimate from the carrier", self.url_open(url).text)
        self.assertIn("estimate from the carrier", self.url_open(url).text)
        with freeze_time(self.now + timedelta(days=3)):
            html = self.url_open(url).text
        self.assertNotIn("estimate from the carrier", html)
        self.assertIn("The delivery date will show here", html)

    def test_company_public_face_changes_show_on_the_next_page(self):
        """The company's name, colours and contact are cached per worker: a change clears them."""
        url = f"/track/{self.parcel_a.access_token}"
        self.assertIn(self.env.company.name, self.url_open(url).text)
        self.env.company.write({"name": "Renamed Lilas Shop", "primary_color": "#123456"})
        html = self.url_open(url).text
        self.assertIn("Renamed Lilas Shop", html)
        self.assertIn("--sv-primary: #123456", html)
        # Through the company's contact, as its form in Contacts writes it.
        self.env.company.partner_id.write({"phone": "+32 2 555 01 23", "email": "hello@lilas.example.com"})
        html = self.url_open(url).text
        self.assertIn("+32 2 555 01 23", html)
        self.assertIn("hello@lilas.example.com", html)
        self.assertIn("+32 2 555 01 23", self.url_open("/track").text)

    def test_queries_do_not_grow_with_the_history(self):
        def count_queries(shipment):
            url = f"/track/{shipment.access_token}"
            self.url_open(url)  # warm caches (routing, templates)
            before = self.cr.sql_log_count
            response = self.url_open(url)
            self.assertEqual(response.status_code, 200)
            return self.cr.sql_log_count - before

        counts = {}
        for size in (5, 500):
            shipment = self.env["shipment.shipment"].create({
                "tracking_number": f"LONG{size}", "carrier_id": self.carrier.id, "partner_id": self.contact.id})
            store_events(self.env, [
                CanonicalEvent(f"LONG{size}", "in_transit", self.now - timedelta(minutes=10 * i), city=f"Hub {i}",
                               country="FR", description=f"Scan {i}") for i in range(size)],
                "webhook", connector=self.connector)
            counts[size] = count_queries(shipment)
        self.assertEqual(counts[5], counts[500], counts)
