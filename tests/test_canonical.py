from jsonschema import Draft202012Validator, FormatChecker

from odoo.tests import tagged

from ..integration import canonical
from .common import ShipmentCommon


@tagged("post_install", "-at_install")
class TestCanonicalDocuments(ShipmentCommon):
    """What the API answers and the outbox publishes is read from the real records."""

    def test_shipment_and_events_follow_their_schemas(self):
        picking = self._create_picking(carrier_tracking_ref="CANON-1")
        self._ingest([
            self._event("CANON-1", "picked_up", -30, city="Memphis", country="US"),
            self._event("CANON-1", "delivered", -2, signed_by="J. DOE"),
        ])
        shipment = self.env["shipment.shipment"].search([("tracking_number", "=", "CANON-1")])
        self.assertEqual(shipment.picking_id, picking)

        document = shipment._canonical_documents()[shipment.id]
        Draft202012Validator(canonical.load_schema(canonical.SHIPMENT_SCHEMA_FILE),
                             format_checker=FormatChecker()).validate(document)
        self.assertEqual(document["status"], "delivered")
        self.assertEqual(document["delivery_order"], picking.name)
        self.assertEqual(document["carrier"], {"id": self.carrier.id, "name": self.carrier.name})
        self.assertEqual(document["tracking_url"], "https://track.example.com/?n=CANON-1")
        self.assertEqual(document["customer_id"], self.customer.id)

        events = shipment._canonical_event_documents()[shipment.id]
        validator = Draft202012Validator(canonical.load_schema(canonical.EVENT_SCHEMA_FILE),
                                         format_checker=FormatChecker())
        for event in events:
            validator.validate(event)
        self.assertEqual([event["milestone"] for event in events], ["picked_up", "delivered"])
        self.assertEqual(events[0]["location"]["city"], "Memphis")
        self.assertNotIn("raw_code", events[0])
