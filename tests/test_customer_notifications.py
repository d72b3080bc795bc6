import ast
import re
from datetime import timedelta

from odoo.tests import HttpCase, tagged

from ..integration.events import CanonicalEvent
from .common import store_events
from .portal_common import PortalCommon

HREF = re.compile(r'href="([^"]+)"')


class NotificationCommon(PortalCommon):

    def _deliver(self, *events):
        created = store_events(self.env, list(events), "webhook", connector=self.connector)
        self.env.flush_all()
        self.env["shipment.workflow"]._run(created.shipment_id)
        self.env.flush_all()
        return created

    def _ev(self, number, milestone, hours, **values):
        return CanonicalEvent(number, milestone, self.now + timedelta(hours=hours), **values)

    def _mails(self, template_xmlid=None):
        domain = [("model", "=", "shipment.shipment"),
                  ("res_id", "in", (self.parcel_a | self.parcel_b).ids)]
        mails = self.env["mail.mail"].search(domain)
        if template_xmlid:
            template = self.env.ref(template_xmlid)
            subjects = set(template._render_field("subject", (self.parcel_a | self.parcel_b).ids).values())
            mails = mails.filtered(lambda m: m.subject in subjects)
        return mails


@tagged("post_install", "-at_install")
class TestCustomerNotifications(NotificationCommon):
    """Milestone e-mails: one per order and milestone, linking to the tracking page."""

    def test_one_email_per_order_and_milestone_with_two_parcels(self):
        self._deliver(self._ev("PARCELA1", "in_transit", -6), self._ev("PARCELB2", "in_transit", -5))
        self.assertEqual(len(self._mails("shipment_visibility.mail_template_shipment_shipped")), 1)
        self._deliver(self._ev("PARCELA1", "out_for_delivery", -3), self._ev("PARCELB2", "out_for_delivery", -2))
        self.assertEqual(len(self._mails("shipment_visibility.mail_template_shipment_out_for_delivery")), 1)

    def test_delivered_is_sent_once_the_whole_order_arrived(self):
        self._deliver(self._ev("PARCELA1", "delivered", -2))
        self.assertFalse(self._mails("shipment_visibility.mail_template_shipment_delivered"))
        self._deliver(self._ev("PARCELB2", "delivered", -1))
        self.assertEqual(len(self._mails("shipment_visibility.mail_template_shipment_delivered")), 1)
        # A resent history changes nothing.
        self._deliver(self._ev("PARCELA1", "delivered", -2), self._ev("PARCELB2", "delivered", -1))
        self.assertEqual(len(self._mails("shipment_visibility.mail_template_shipment_delivered")), 1)

    def test_attempt_and_pickup_have_their_own_emails(self):
        self._deliver(self._ev("PARCELA1", "delivery_attempted", -3, description="Nobody home"))
        attempted = self._mails("shipment_visibility.mail_template_shipment_delivery_attempted")
        self.assertEqual(len(attempted), 1)
        self.assertIn("nobody was available to receive it", attempted.body_html)
        self._deliver(self._ev("PARCELA1", "available_for_pickup", -1, city="Paris", country="FR"))
        pickup = self._mails("shipment_visibility.mail_template_shipment_available_for_pickup")
        self.assertEqual(len(pickup), 1)
        self.assertIn("Bring an ID", pickup.body_html)

    def test_delay_email_explains_and_is_sent_once_per_problem_per_order(self):
        self._deliver(self._ev("PARCELA1", "exception", -3, description="Storm over the hub"),
                      self._ev("PARCELB2", "exception", -3, description="Storm over the hub"))
        delayed = self._mails("shipment_visibility.mail_template_shipment_delayed")
        self.assertEqual(len(delayed), 1)
        self.assertIn("Bad weather is slowing the carrier down.", delayed.body_html)

    def test_emails_link_to_tracking_page_and_opt_out(self):
        self._deliver(self._ev("PARCELA1", "in_transit", -6))
        mail = self._mails("shipment_visibility.mail_template_shipment_shipped")
        links = HREF.findall(mail.body_html)
        self.assertIn(self.parcel_a._track_url(), links)
        self.assertIn(self.parcel_a._track_url("/unsubscribe"), links)
        headers = ast.literal_eval(mail.headers)
        self.assertEqual(headers["List-Unsubscribe"], f"<{self.parcel_a._track_url('/unsubscribe')}>")
        self.assertEqual(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertIn("Expected delivery", mail.body_html)

    def test_opted_out_customer_gets_nothing(self):
        self.parcel_a.partner_id.shipment_notifications = False
        self._deliver(self._ev("PARCELA1", "in_transit", -6))
        self.assertFalse(self._mails())


@tagged("post_install", "-at_install")
class TestNotificationLinks(HttpCase, NotificationCommon):
    """The links of a real e-mail work for a visitor who is not logged in."""

    def test_email_links_open_the_page_and_stop_the_emails(self):
        self._deliver(self._ev("PARCELA1", "out_for_delivery", -1, city="Paris", country="FR"))
        mail = self._mails("shipment_visibility.mail_template_shipment_out_for_delivery")
        base = self.parcel_a.get_base_url()
        track, unsubscribe = (link.removeprefix(base) for link in (
            self.parcel_a._track_url(), self.parcel_a._track_url("/unsubscribe")))
        links = [link.removeprefix(base) for link in HREF.findall(mail.body_html)]
        self.assertIn(track, links)
        page = self.url_open(track)
        self.assertEqual(page.status_code, 200)
        self.assertIn("Out for delivery", page.text)
        self.assertIn(unsubscribe, links)
        self.assertEqual(self.url_open(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code, 200)
        self.assertFalse(self.parcel_a.partner_id.shipment_notifications)
        self._deliver(self._ev("PARCELB2", "delivery_attempted", 0))
        self.assertFalse(self._mails("shipment_visibility.mail_template_shipment_delivery_attempted"))
