"""A partner added by another addon receives webhooks like a built-in one."""

import json

from odoo.tests import tagged

from odoo.addons.shipment_visibility.integration import partners
from odoo.addons.shipment_visibility.tests.http_common import WebhookHttpCase, sign_for

BODY = json.dumps({"parcel": "ACME000123", "scans": [
    {"at": "2026-07-14T08:10:00", "status": "ACCEPTED", "place": "Lyon, FR"},
    {"at": "2026-07-15T09:30:00+02:00", "status": "HANDED_OVER", "place": "Paris, FR"},
]}).encode()


@tagged("post_install", "-at_install")
class TestExamplePartner(WebhookHttpCase):

    def test_the_partner_is_registered_and_offered(self):
        self.assertEqual(partners.get("acme_parcels").label, "Acme Parcels")
        selection = dict(self.env["shipment.connector"]._fields["connector_type"].selection)
        self.assertEqual(selection["acme_parcels"], "Acme Parcels")
        self.assertIn("acme_parcels", dict(self.env["shipment.status.map"]._selection_connector_type()))

    def test_a_webhook_of_the_added_partner_becomes_events(self):
        connector = self._make_connector(self.env, "Acme", "acme_parcels", "adapter",
                                         webhook_secret="acme-secret", mode="live")
        self.assertTrue(connector.support_webhook)
        self.assertFalse(connector.support_polling)
        self.assertEqual(connector._effective_scheme(), "hmac_sha256_hex")
        response = self.post(connector, BODY, sign_for(connector, BODY))
        self.assertEqual(response.status_code, 202, response.text)
        self.assertEqual(self.post(connector, BODY, {"X-Signature": "0" * 64}).status_code, 401)
        self.env["shipment.inbox"]._cron_process_inbox()
        shipment = self.env["shipment.shipment"].search([("tracking_number", "=", "ACME000123")])
        self.assertEqual(shipment.status, "delivered")
        first = shipment.event_ids.sorted("occurred_at")[0]
        # A zone-less time is read in the scan's own country: 08:10 in Lyon is 06:10 UTC.
        self.assertEqual(first.occurred_at.strftime("%H:%M"), "06:10")
        self.assertEqual(first.milestone, "picked_up")
