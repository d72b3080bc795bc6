from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import ShipmentCommon


@tagged("post_install", "-at_install")
class TestManualEvent(ShipmentCommon):
    """A clerk records a phone update; it goes through normalization and status rules."""

    def setUp(self):
        super().setUp()
        self.picking = self._create_picking(carrier_tracking_ref="PH1")
        self.shipment = self.picking.shipment_ids

    def _wizard(self, **values):
        context = {"default_picking_id": self.picking.id}
        with Form(self.env["shipment.manual.event"].with_context(context)) as form:
            for name, value in values.items():
                setattr(form, name, value)
        return form.record

    def test_record_event_from_delivery_order(self):
        """The recorded event updates the shipment status like any carrier event."""
        wizard = self._wizard(milestone="delivery_attempted", reason="recipient_unavailable",
                              description="Driver called: nobody home", city="Lyon")
        self.assertEqual(wizard.tracking_number, "PH1", "the only ref is proposed")
        wizard.action_record()
        self.assertEqual(self.shipment.status, "delivery_attempted")
        self.assertEqual(self.shipment.exception_state, "open")
        event = self.shipment.event_ids
        self.assertEqual(event.source, "manual")
        self.assertEqual(event.city, "Lyon")
        self.assertEqual(event.description, "Driver called: nobody home")
        self.assertTrue(event.fingerprint)

    def test_recording_twice_is_refused(self):
        """The same fact entered twice is refused instead of doubled."""
        when = fields.Datetime.now() - timedelta(hours=1)
        self._wizard(milestone="picked_up", occurred_at=when).action_record()
        with self.assertRaises(UserError):
            self._wizard(milestone="picked_up", occurred_at=when).action_record()
        self.assertEqual(self.shipment.event_count, 1)

    def test_estimate_changes_eta_only(self):
        """A new delivery date given on the phone moves the ETA, not the status."""
        self._wizard(milestone="in_transit").action_record()
        eta = fields.Datetime.now().replace(microsecond=0) + timedelta(days=3)
        self._wizard(milestone="delivered", event_class="estimated", occurred_at=eta).action_record()
        self.assertEqual(self.shipment.status, "in_transit")
        self.assertEqual(self.shipment.eta, eta)

    def test_rejects_unknown_milestone(self):
        """A milestone outside the taxonomy (e.g. sent over RPC) is refused."""
        wizard = self.env["shipment.manual.event"].create({
            "picking_id": self.picking.id, "tracking_number": "PH1", "milestone": "in_transit"})
        # Selection values are checked on write too; bypass through SQL what a client cannot send
        # through the form, to prove the wizard itself checks.
        self.env.cr.execute("UPDATE shipment_manual_event SET milestone = 'teleported' WHERE id = %s", [wizard.id])
        wizard.invalidate_recordset()
        with self.assertRaisesRegex(UserError, "not a known milestone"):
            wizard.action_record()
        self.assertFalse(self.shipment.event_ids)

    def test_rejects_time_far_in_future(self):
        """Something that happened cannot be dated tomorrow."""
        wizard = self._wizard(milestone="delivered", occurred_at=fields.Datetime.now() + timedelta(days=1))
        with self.assertRaisesRegex(UserError, "future"):
            wizard.action_record()
        self.assertEqual(self.shipment.status, "pending")

    def test_rejects_empty_tracking_ref(self):
        """Without a tracking number there is nothing to attach the event to."""
        wizard = self.env["shipment.manual.event"].create({
            "picking_id": self.picking.id, "tracking_number": "   ", "milestone": "in_transit"})
        with self.assertRaisesRegex(UserError, "tracking number"):
            wizard.action_record()
        self.assertFalse(self.shipment.event_ids)

    def test_rejects_ref_not_on_delivery_order(self):
        """A number that is not one of the order's refs is refused, naming the valid ones."""
        wizard = self.env["shipment.manual.event"].create({
            "picking_id": self.picking.id, "tracking_number": "OTHER", "milestone": "in_transit"})
        with self.assertRaisesRegex(UserError, "PH1"):
            wizard.action_record()

    def test_several_refs_ask_which_one(self):
        """With several refs the wizard does not guess the tracking number."""
        self.picking.carrier_tracking_ref = "PH1,PH2"
        wizard = self.env["shipment.manual.event"].with_context(default_picking_id=self.picking.id).new({})
        self.assertFalse(wizard.tracking_number)
        self.assertEqual(wizard.available_refs, "PH1, PH2")

    def test_from_shipment_form(self):
        """The shipment form's button opens the wizard on that shipment."""
        action = self.shipment.action_record_event()
        wizard = self.env["shipment.manual.event"].with_context(action["context"]).create({"milestone": "picked_up"})
        self.assertEqual(wizard.tracking_number, "PH1")
        wizard.action_record()
        self.assertEqual(self.shipment.status, "picked_up")
