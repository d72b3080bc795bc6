from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import ShipmentCommon


@tagged("post_install", "-at_install")
class TestAccess(ShipmentCommon):
    """Each group sees and changes what its job needs, in its own companies only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, "sv_user", groups="shipment_visibility.group_shipment_user")
        cls.manager = new_test_user(cls.env, "sv_manager", groups="shipment_visibility.group_shipment_manager")
        cls.admin = new_test_user(cls.env, "sv_integration",
                                  groups="shipment_visibility.group_shipment_integration_admin")
        cls.other_company = cls.env["res.company"].create({"name": "Other Co"})
        cls.foreign_shipment = cls.env["shipment.shipment"].create({
            "tracking_number": "FOREIGN1", "company_id": cls.other_company.id})
        cls.own_shipment = cls.env["shipment.shipment"].create({"tracking_number": "OWN1"})

    def test_user_reads_shipments_but_not_connectors_for_writing(self):
        """A User reads shipments and connectors but cannot change or create connectors."""
        connector = self.connector.with_user(self.user)
        self.assertEqual(connector.name, "Test AfterShip")
        with self.assertRaises(AccessError):
            connector.write({"name": "Hijacked"})
        with self.assertRaises(AccessError):
            self.env["shipment.connector"].with_user(self.user).create({"name": "New"})
        with self.assertRaises(AccessError):
            self.own_shipment.with_user(self.user).unlink()

    def test_user_cannot_read_other_company_shipments(self):
        """Multi-company rules hide another company's shipments and events."""
        Shipment = self.env["shipment.shipment"].with_user(self.user)
        self.assertEqual(Shipment.search([("tracking_number", "in", ["FOREIGN1", "OWN1"])]), self.own_shipment)
        with self.assertRaises(AccessError):
            self.foreign_shipment.with_user(self.user).read(["tracking_number"])

    def test_manager_cannot_edit_connectors_admin_can(self):
        """Connectors belong to integration administrators."""
        with self.assertRaises(AccessError):
            self.connector.with_user(self.manager).write({"mode": "shadow"})
        self.connector.with_user(self.admin).write({"mode": "shadow"})
        self.assertEqual(self.connector.mode, "shadow")

    def test_user_records_manual_event(self):
        """Warehouse staff can record a phone update."""
        picking = self._create_picking(carrier_tracking_ref="CLERK1")
        wizard = self.env["shipment.manual.event"].with_user(self.user).create({
            "picking_id": picking.id, "tracking_number": "CLERK1", "milestone": "picked_up"})
        wizard.action_record()
        self.assertEqual(picking.shipment_ids.status, "picked_up")

    def test_user_cannot_edit_events(self):
        """Events are facts: a User can add them through the wizard but not rewrite them."""
        self._ingest([self._event("OWN1", "in_transit", -1)])
        event = self.own_shipment.event_ids
        with self.assertRaises(AccessError):
            event.with_user(self.user).write({"milestone": "delivered"})

    def test_stock_user_sees_tracking(self):
        """Inventory users get the Shipment Visibility User group through their own."""
        clerk = new_test_user(self.env, "sv_clerk", groups="stock.group_stock_user")
        self.assertTrue(clerk.has_group("shipment_visibility.group_shipment_user"))
        self.assertFalse(clerk.has_group("shipment_visibility.group_shipment_manager"))
