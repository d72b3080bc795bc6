"""Each partner family end to end: signed webhook over HTTP, processing, shipment state.

Expected values are the partners' fixtures worked out by hand (UTC instants, local
offsets, milestones); see ``tests/pure`` for the same reasoning on the adapters alone.
"""

import copy
import json
from datetime import datetime

from odoo.tests import tagged

from .common import ShipmentCommon
from .http_common import WebhookHttpCase, dump, fixture_bytes, fixture_json, sign_for

THREEPL_PATHS = {
    "tracking_number": "shipment.awb",
    "carrier": "shipment.carrier_name",
    "reference": "$.shipment.order_ref",
    "timestamp": "sent",
    "events": "history",
    "id": "ref",
    "code": ["evt.sub", "evt.code"],
    "class": "kind",
    "occurred_at": "when",
    "city": "where.town",
    "postcode": "where.zip",
    "country": "where.cc",
    "description": "text",
}

# connector key, fixture, tracking number, expected shipment values, events
CASES = [
    ("aftership", ("aftership", "tracking_update_delivered.json"), "7391852046", {
        "status": "delivered", "delivered_at": datetime(2026, 7, 14, 19, 2),
        "shipped_at": datetime(2026, 7, 10, 15, 40), "eta": datetime(2026, 7, 16, 5, 59, 59),
        "eta_window_start": datetime(2026, 7, 15, 6, 0), "exception_state": "none",
        "pod_signed_by": "J SMITH", "is_terminal": True}, 11),
    ("aftership", ("aftership", "edd_revise_customs_hold.json"), "EE123456785CN", {
        "status": "customs_hold", "delivered_at": False, "shipped_at": datetime(2026, 7, 5, 10, 30),
        "eta": datetime(2026, 7, 14, 22, 59, 59), "eta_window_start": datetime(2026, 7, 10, 23, 0),
        "exception_state": "open", "is_terminal": False}, 7),
    ("easypost", ("easypost", "tracker_updated_delivered.json"), "9400111899223197428490", {
        "status": "delivered", "delivered_at": datetime(2026, 7, 15, 16, 32),
        "eta": datetime(2026, 7, 17, 5, 59, 59), "exception_state": "none", "pod_signed_by": "K JONES"}, 9),
    ("easypost", ("easypost", "tracker_updated_return_delivered.json"), "794612345678", {
        "status": "returned_to_sender", "delivered_at": False, "eta": datetime(2026, 7, 18, 22, 0),
        "exception_state": "none", "is_terminal": True}, 6),
    ("shippo", ("shippo", "track_updated_attempted.json"), "9205590164917312751089", {
        "status": "delivery_attempted", "shipped_at": datetime(2026, 7, 13, 16, 5),
        "eta": datetime(2026, 7, 17, 5, 59, 59), "exception_state": "open",
        "exception_reason": "recipient_unavailable", "delivered_at": False}, 7),
    ("seventeentrack", ("seventeentrack", "tracking_updated.json"), "RR123456789CN", {
        "status": "arrived_at_facility", "shipped_at": datetime(2026, 4, 20, 2, 30),
        "eta": datetime(2026, 5, 9, 5, 59, 59), "eta_window_start": datetime(2026, 5, 6, 6, 0),
        "exception_state": "none", "last_event_at": datetime(2026, 4, 29, 13, 12)}, 10),
    ("shipengine", ("shipengine", "track_webhook.json"), "9405511899223197428490", {
        "status": "arrived_at_facility", "shipped_at": datetime(2026, 4, 26, 21, 5),
        "eta": datetime(2026, 5, 2, 5, 59, 59), "exception_state": "none",
        "last_event_at": datetime(2026, 4, 29, 14, 31)}, 8),
    ("native", ("generic_json", "native_tracking_updated.json"), "NF000123456", {
        "status": "delayed", "shipped_at": datetime(2026, 4, 30, 14, 20), "eta": datetime(2026, 5, 4, 14, 0),
        "exception_state": "open", "exception_reason": "weather", "delivered_at": False}, 5),
    ("threepl", ("generic_json", "threepl_shaped.json"), "TPL-778812", {
        "status": "delivered", "delivered_at": datetime(2026, 5, 3, 13, 2), "eta": datetime(2026, 5, 3, 17, 0),
        "shipped_at": datetime(2026, 5, 2, 16, 30), "exception_state": "none"}, 5),
]


@tagged("post_install", "-at_install")
class TestAdaptersEndToEnd(WebhookHttpCase, ShipmentCommon):
    """Real partner bodies through the route and the processor into shipments."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partners["shipengine"].default_timezone = "America/Denver"
        cls.native = cls.generic["standard_webhooks"]
        cls.threepl = cls._make_connector(cls.env, "QuickShip 3PL", "generic_json", "hmac_sha256_hex",
                                          options={"paths": THREEPL_PATHS})
        for code, milestone in (("DLV", "delivered"), ("OFD", "out_for_delivery"), ("PUP", "picked_up")):
            cls.env["shipment.status.map"].create({
                "connector_type": "generic_json", "connector_id": cls.threepl.id,
                "raw_code": code, "milestone": milestone})
        cls.by_key = dict(cls.partners, native=cls.native, threepl=cls.threepl)

    def deliver(self, connector, body):
        """Post ``body`` signed as the partner would, and run the processor."""
        response = self.post(connector, body, sign_for(connector, body))
        self.assertIn(response.status_code, (200, 202), response.text)
        self.env["shipment.inbox"]._cron_process_inbox()
        message = self.env["shipment.inbox"].browse(response.json()["message_id"])
        self.assertEqual(message.state, "done", message.last_error)
        return message

    def shipment(self, number):
        return self.env["shipment.shipment"].search([("tracking_number", "=", number)])

    def assertShipment(self, shipment, expected, event_count):
        for name, value in expected.items():
            self.assertEqual(shipment[name], value, name)
        self.assertEqual(len(shipment.event_ids), event_count)
        self.assertEqual(shipment.event_count, event_count)

    def test_each_partner_family_gives_the_expected_shipment(self):
        for key, fixture, number, expected, event_count in CASES:
            with self.subTest(connector=key, fixture=fixture[1]):
                message = self.deliver(self.by_key[key], fixture_bytes(*fixture))
                shipment = self.shipment(number)
                self.assertEqual(len(shipment), 1)
                self.assertEqual(message.shipment_ids, shipment)
                self.assertEqual(message.event_count, event_count)
                self.assertShipment(shipment, expected, event_count)
                self.assertEqual(set(shipment.event_ids.mapped("inbox_id")), {message})
                self.assertEqual(set(shipment.event_ids.mapped("source")), {"webhook"})
                self.assertEqual(set(shipment.event_ids.mapped("correlation_id")), {message.correlation_id})

    def test_zone_less_partner_times_are_resolved_at_the_scan(self):
        """Times without offset are read in the scan's zone, and the offset is kept."""
        expectations = [
            ("aftership", ("aftership", "tracking_update_delivered.json"), "InTransit_002",
             datetime(2026, 7, 10, 15, 40), 120),
            ("easypost", ("easypost", "tracker_updated_delivered.json"), "out_for_delivery",
             datetime(2026, 7, 15, 12, 58), -360),
            ("shippo", ("shippo", "track_updated_attempted.json"), "package_accepted",
             datetime(2026, 7, 13, 16, 5), -420),
            ("threepl", ("generic_json", "threepl_shaped.json"), "OFD", datetime(2026, 5, 3, 7, 10), 60),
        ]
        for key, fixture, raw_code, occurred_at, offset in expectations:
            with self.subTest(connector=key):
                message = self.deliver(self.by_key[key], fixture_bytes(*fixture))
                event = message.shipment_ids.event_ids.filtered(
                    lambda e, raw_code=raw_code: e.raw_code == raw_code and e.event_class == "actual")
                self.assertEqual(len(event), 1)
                self.assertEqual(event.occurred_at, occurred_at)
                self.assertEqual(event.utc_offset, offset)
                self.assertFalse(event.time_assumed_utc)

    def test_older_history_arriving_late_changes_nothing_current(self):
        """AfterShip's earlier, shorter history delivered after the full one: no regression."""
        connector = self.partners["aftership"]
        self.deliver(connector, fixture_bytes("aftership", "tracking_update_delivered.json"))
        shipment = self.shipment("7391852046")
        before = (shipment.status, shipment.delivered_at, shipment.eta, shipment.last_event_id)
        data = fixture_json("aftership", "tracking_update_delivered.json")
        data["event_id"] = "older-delivery"
        data["ts"] -= 5 * 86400
        data["msg"]["checkpoints"] = [cp for cp in data["msg"]["checkpoints"]
                                      if cp["tag"] in ("InfoReceived", "InTransit")]
        data["msg"]["latest_estimated_delivery"]["datetime"] = "2026-07-20"
        message = self.deliver(connector, dump(data))
        # Only the older estimate and promise (another issue time) are new facts.
        self.assertEqual(message.event_count, 2)
        shipment.invalidate_recordset()
        self.assertEqual((shipment.status, shipment.delivered_at, shipment.eta, shipment.last_event_id), before)

    def test_reshuffled_resend_adds_nothing(self):
        """The same checkpoints in another order under a new id are the same facts."""
        connector = self.partners["easypost"]
        self.deliver(connector, fixture_bytes("easypost", "tracker_updated_delivered.json"))
        data = fixture_json("easypost", "tracker_updated_delivered.json")
        data["id"] = "evt_resent_reshuffled"
        data["result"]["tracking_details"].reverse()
        message = self.deliver(connector, dump(data))
        self.assertEqual(message.event_count, 0)
        self.assertEqual(len(self.shipment("9400111899223197428490").event_ids), 9)

    def test_tracking_stopped_keeps_the_shipment_as_it_is(self):
        connector = self.partners["seventeentrack"]
        self.deliver(connector, fixture_bytes("seventeentrack", "tracking_updated.json"))
        shipment = self.shipment("RR123456789CN")
        message = self.deliver(connector, fixture_bytes("seventeentrack", "tracking_stopped.json"))
        self.assertEqual(message.event_count, 0)
        self.assertEqual(message.shipment_ids, shipment)
        self.assertEqual((shipment.status, len(shipment.event_ids)), ("arrived_at_facility", 10))

    def test_webhook_updates_the_delivery_order_that_waits_for_it(self):
        picking = self._create_picking(carrier_tracking_ref="9400111899223197428490")
        shipment = picking.shipment_ids
        self.assertEqual(shipment.status, "pending")
        message = self.deliver(self.partners["easypost"], fixture_bytes("easypost", "tracker_updated_delivered.json"))
        self.assertEqual(message.shipment_ids, shipment)
        self.assertFalse(message.has_unmatched)
        self.assertEqual(shipment.status, "delivered")
        self.assertEqual(picking.shipment_status, "delivered")
        self.assertEqual(picking.shipment_eta, datetime(2026, 7, 17, 5, 59, 59))

    def test_partner_specific_status_codes_reach_the_milestones(self):
        """Reasons and unmapped partner codes survive the trip into stored events."""
        self.deliver(self.partners["seventeentrack"], fixture_bytes("seventeentrack", "tracking_updated.json"))
        events = self.shipment("RR123456789CN").event_ids
        customs = events.filtered(lambda e: e.milestone == "customs_hold")
        self.assertEqual((customs.reason, customs.occurred_at), ("customs_documents", datetime(2026, 4, 27, 23, 20)))
        unknown = events.filtered(lambda e: e.milestone == "unknown")
        self.assertEqual(unknown.raw_code, "Transferred")
        self.assertEqual(self.partners["seventeentrack"].unmapped_code_count, 1)

    def test_body_order_inside_a_native_message_is_irrelevant(self):
        data = fixture_json("generic_json", "native_tracking_updated.json")
        reordered = copy.deepcopy(data)
        reordered["data"]["events"].reverse()
        first = self.deliver(self.native, json.dumps(data).encode())
        second = self.deliver(self.native, json.dumps(reordered).encode())
        self.assertEqual(first.event_count, 5)
        self.assertEqual(second.event_count, 0)
        self.assertEqual(first.shipment_ids, second.shipment_ids)
