import base64
import json
from datetime import datetime
from pathlib import Path

from odoo.tests import tagged

from .common import ShipmentCommon
from .http_common import shipengine_jwks

REAL_SAMPLES = Path(__file__).resolve().parent / "pure" / "fixtures" / "real_samples"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(48))


@tagged("post_install", "-at_install")
class TestNativeMessages(ShipmentCommon):
    """Native proof of delivery reaching the shipment, and replays that add nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Inbox = cls.env["shipment.inbox"]
        cls.native = cls.env["shipment.connector"].create({
            "name": "Regional 3PL (native)", "connector_type": "generic_json", "mode": "live",
            "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "carrier_ids": [(6, 0, cls.other_carrier.ids)]})
        cls.shipengine = cls.env["shipment.connector"].create({
            "name": "ShipEngine", "connector_type": "shipengine", "mode": "live",
            "jwks": shipengine_jwks()})

    def _receive(self, connector, body, headers=None):
        message_id, created, _correlation = self.Inbox._enqueue(
            connector, body, {"Content-Type": "application/json", **(headers or {})}, source="webhook")
        self.assertTrue(created)
        self.Inbox._cron_process_inbox()
        message = self.Inbox.browse(message_id)
        self.assertEqual(message.state, "done", message.last_error)
        return message

    def _native_delivered(self, number, proof):
        return json.dumps({
            "type": "shipment.tracking.updated", "timestamp": "2026-05-01T16:06:00+02:00",
            "data": {"tracking_number": number, "events": [
                {"id": "ofd", "code": "out_for_delivery", "class": "actual",
                 "occurred_at": "2026-05-01T08:10:00+02:00"},
                {"id": "eta", "code": "delivered", "class": "estimated", "occurred_at": "2026-05-01T18:00:00+02:00",
                 "window": {"from": "2026-05-01T14:00:00+02:00", "to": "2026-05-01T18:00:00+02:00"}},
                {"id": "dlv", "code": "delivered", "class": "actual", "occurred_at": "2026-05-01T16:05:00+02:00",
                 "proof_of_delivery": proof}]}}).encode()

    def test_native_delivered_event_with_proof_makes_the_shipment_pod_complete(self):
        picking = self._create_picking(carrier_id=self.other_carrier.id, carrier_tracking_ref="NATPOD1")
        proof = {"signed_by": "M. Dupont", "url": "https://pod.example.com/NATPOD1",
                 "image": {"content_type": "image/png", "data": base64.b64encode(PNG).decode(),
                           "file_name": "signature.png"}}
        message = self._receive(self.native, self._native_delivered("NATPOD1", proof))
        shipment = picking.shipment_ids
        self.assertEqual(message.shipment_ids, shipment)
        self.assertEqual((shipment.status, shipment.pod_signed_by, shipment.pod_url),
                         ("delivered", "M. Dupont", "https://pod.example.com/NATPOD1"))
        attachment = shipment.pod_attachment_id
        self.assertEqual((attachment.res_model, attachment.res_id, attachment.mimetype, attachment.name),
                         ("stock.picking", picking.id, "image/png", "signature.png"))
        self.assertEqual(attachment.raw, PNG)
        delivered = shipment.event_ids.filtered(lambda e: e.event_class == "actual" and e.milestone == "delivered")
        self.assertEqual((delivered.signed_by, delivered.pod_url), ("M. Dupont", "https://pod.example.com/NATPOD1"))
        self.env.flush_all()
        report = self.env["shipment.performance.report"].search([("shipment_id", "=", shipment.id)])
        self.assertEqual(report.mapped("pod_complete"), [True])

        # A replay stores no second attachment, event or estimate.
        events, attachments = len(shipment.event_ids), self.env["ir.attachment"].search_count(
            [("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)])
        message.action_replay()
        self.Inbox._cron_process_inbox()
        self.assertEqual((message.state, message.event_count), ("done", 0))
        self.assertEqual(len(shipment.event_ids), events)
        self.assertEqual(shipment.pod_attachment_id, attachment)
        self.assertEqual(self.env["ir.attachment"].search_count(
            [("res_model", "=", "stock.picking"), ("res_id", "=", picking.id)]), attachments)

    def test_native_proof_that_is_not_what_it_says_fails_the_message_with_its_path(self):
        proof = {"image": {"content_type": "image/png", "data": base64.b64encode(b"<svg onload=x>").decode()}}
        message_id, _created, _correlation = self.Inbox._enqueue(
            self.native, self._native_delivered("NATPOD2", proof), {"Content-Type": "application/json"})
        self.Inbox._cron_process_inbox()
        message = self.Inbox.browse(message_id)
        self.assertEqual(message.state, "failed")
        self.assertIn("$.data.events[2].proof_of_delivery.image.data", message.last_error)
        self.assertFalse(self.env["shipment.shipment"].search([("tracking_number", "=", "NATPOD2")]).event_ids)

    def test_replaying_a_message_whose_estimate_has_no_date_of_its_own_inserts_nothing(self):
        # ShipEngine's own SDK mock: its estimate carries no issue time, the signed
        # timestamp header dates it; replaying then re-parses the same facts.
        body = (REAL_SAMPLES / "shipengine_dotnet_sdk_track_using_label_id_200.json").read_bytes()
        message = self._receive(self.shipengine, body, {"X-ShipEngine-Timestamp": "2021-07-10T03:00:00Z"})
        shipment = message.shipment_ids
        estimate = shipment.event_ids.filtered(lambda e: e.event_class == "estimated")
        self.assertEqual(estimate.issued_at, datetime(2021, 7, 10, 3, 0))
        self.assertEqual(message.event_count, 2)
        before = shipment.event_ids
        for _attempt in range(2):
            message.action_replay()
            self.Inbox._cron_process_inbox()
            self.assertEqual((message.state, message.event_count), ("done", 0))
            self.assertEqual(shipment.event_ids, before)
        self.assertEqual(shipment.eta, estimate.occurred_at)

    def test_replaying_a_message_without_any_time_dates_its_estimate_by_its_reception(self):
        body = (REAL_SAMPLES / "shipengine_dotnet_sdk_track_using_label_id_200.json").read_bytes()
        body = body.replace(b"1026167028310292", b"1026167028310293")
        message = self._receive(self.shipengine, body)
        estimate = message.shipment_ids.event_ids.filtered(lambda e: e.event_class == "estimated")
        self.assertEqual(estimate.issued_at, message.received_at)
        message.action_replay()
        self.Inbox._cron_process_inbox()
        self.assertEqual(message.event_count, 0)
        self.assertEqual(message.shipment_ids.event_ids.filtered(lambda e: e.event_class == "estimated"), estimate)

    def test_real_x12_file_imports_every_set_and_shows_its_envelope_warnings(self):
        # apimeister/x12-types parse_214_2: a stretched ISA and "SE*13*001 N/L".
        edi = self.env["shipment.connector"].create({
            "name": "Files X12", "connector_type": "edi_x12_214", "mode": "live",
            "default_timezone": "America/Los_Angeles"})
        data = (REAL_SAMPLES / "x12_214_apimeister_x12types_parse_214_2_two_st_sets.edi").read_bytes()
        wizard = self.env["shipment.file.import"].create({
            "connector_id": edi.id, "file": base64.b64encode(data), "file_name": "two_sets.edi"})
        wizard.action_import()
        self.assertEqual((wizard.imported_count, wizard.failed_count), (2, 0))
        self.assertEqual(wizard.warnings.splitlines()[0][:7], "line 1:")
        self.assertIn("line 15: SE02 '001 N/L' has text after the control number", wizard.warnings)
        self.Inbox._cron_process_inbox()
        self.assertEqual(wizard.message_ids.mapped("state"), ["done", "done"])
        shipment = self.env["shipment.shipment"].search([("tracking_number", "=", "1234567")])
        self.assertEqual((shipment.status, shipment.delivered_at), ("delivered", datetime(2006, 3, 2, 0, 30)))
