from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import freeze_time, new_test_user, tagged

from .common import NOW, ShipmentCommon


def naive(value):
    return value.replace(tzinfo=None)


@tagged("post_install", "-at_install")
@freeze_time(naive(NOW))
class TestWorkflows(ShipmentCommon):
    """Business policies run by the processor after events are stored."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = new_test_user(cls.env, "sv_sales", groups="sales_team.group_sale_salesman")
        cls.responsible = new_test_user(cls.env, "sv_resp", groups="stock.group_stock_user")
        cls.company.write({"shipment_notify_customers": True, "shipment_notify_eta_customer": True,
                           "shipment_exception_user_id": cls.responsible.id})
        cls.Workflow = cls.env["shipment.workflow"]

    def setUp(self):
        super().setUp()
        # Without a responsible on the order, the company's exceptions responsible is used.
        self.picking = self._create_picking(carrier_tracking_ref="WF1", user_id=False)
        self.shipment = self.picking.shipment_ids

    def _deliver(self, events, connector=None):
        """Store events the way the processor does, then run the policies."""
        created = self._ingest(events, connector=connector or self.connector)
        self.Workflow._run(created.shipment_id)
        return created

    def _mails(self, template_xmlid):
        template = self.env.ref(template_xmlid)
        return self.env["mail.mail"].search([("model", "=", "shipment.shipment"), ("res_id", "=", self.shipment.id),
                                             ("subject", "=", template._render_field("subject", self.shipment.ids)[
                                                 self.shipment.id])])

    # ------------------------------------------------------------------ exceptions

    def test_exception_opens_with_activity_and_posts_on_orders(self):
        """A failed attempt opens a classified exception, an activity for the responsible
        and a note on the delivery order."""
        self._deliver([self._event("WF1", "in_transit", -10),
                       self._event("WF1", "delivery_attempted", -2, description="Nobody home, notice left")])
        exception = self.shipment.exception_ids
        self.assertEqual(len(exception), 1)
        self.assertEqual((exception.kind, exception.reason, exception.state),
                         ("carrier", "recipient_unavailable", "open"))
        self.assertEqual(exception.user_id, self.responsible)
        self.assertEqual(exception.activity_ids.user_id, self.responsible)
        self.assertIn("WF1", self.picking.message_ids[0].body)

        # The same history resent creates nothing new.
        self._deliver([self._event("WF1", "delivery_attempted", -2, description="Nobody home, notice left")])
        self.assertEqual(len(self.shipment.exception_ids), 1)

    def test_exception_closes_when_superseded(self):
        """A later actual event closes the carrier exception automatically."""
        self._deliver([self._event("WF1", "exception", -5, reason="address_issue")])
        exception = self.shipment.exception_ids
        self.assertEqual(exception.state, "open")
        self._deliver([self._event("WF1", "out_for_delivery", -1)])
        self.assertEqual(exception.state, "resolved")
        self.assertTrue(exception.auto_resolved)
        self.assertIn("Superseded", exception.resolution_note)
        self.assertFalse(exception.activity_ids, "its activity is marked done")

    def test_newer_problem_supersedes_older_one(self):
        """Two successive problems: the first is closed, the second is open."""
        self._deliver([self._event("WF1", "customs_hold", -8, reason="customs_documents")])
        self._deliver([self._event("WF1", "delayed", -2, reason="weather")])
        exceptions = self.shipment.exception_ids.sorted("id")
        self.assertEqual(exceptions.mapped("state"), ["resolved", "open"])
        self.assertEqual(exceptions.mapped("reason"), ["customs_documents", "weather"])

    # ------------------------------------------------------------------ ETA

    def test_eta_after_promise_flags_at_risk_and_notifies(self):
        """An ETA past the promise flags the shipment at risk, tells the salesperson and
        e-mails the customer the new date."""
        order = self.env["sale.order"].create({
            "partner_id": self.customer.id, "user_id": self.salesperson.id,
            "commitment_date": naive(NOW + timedelta(days=2)),
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1})],
        })
        order.action_confirm()
        picking = order.picking_ids
        picking.carrier_tracking_ref = "ETA1"
        shipment = picking.shipment_ids
        self._deliver([self._event("ETA1", "in_transit", -1),
                       self._event("ETA1", "delivered", 24, event_class="estimated", issued_at=NOW)])
        self.assertFalse(shipment.exception_ids, "within the promise: nothing to do")

        self._deliver([self._event("ETA1", "delivered", 96, event_class="estimated",
                                   issued_at=NOW + timedelta(minutes=5))])
        self.assertEqual(shipment.sla_state, "at_risk")
        at_risk = shipment.exception_ids.filtered(lambda e: e.kind == "at_risk")
        self.assertEqual(at_risk.state, "open")
        self.assertEqual(order.activity_ids.user_id, self.salesperson)
        template = self.env.ref("shipment_visibility.mail_template_shipment_new_eta")
        mails = self.env["mail.mail"].search([("model", "=", "shipment.shipment"), ("res_id", "=", shipment.id)])
        self.assertIn(template._render_field("subject", shipment.ids)[shipment.id], mails.mapped("subject"))

        # Back within the promise: the at-risk exception closes.
        self._deliver([self._event("ETA1", "delivered", 30, event_class="estimated",
                                   issued_at=NOW + timedelta(minutes=10))])
        self.assertEqual(at_risk.state, "resolved")

    # ------------------------------------------------------------------ delivery

    def test_delivered_attaches_pod_and_closes_exceptions(self):
        """Delivery attaches the proof of delivery to the order and closes open exceptions."""
        self._deliver([self._event("WF1", "delivery_attempted", -6, reason="recipient_unavailable")])
        self._deliver([self._event("WF1", "delivered", -1, signed_by="J SMITH",
                                   pod_url="https://pod.example.com/sig.png")])
        attachment = self.shipment.pod_attachment_id
        self.assertEqual((attachment.res_model, attachment.res_id), ("stock.picking", self.picking.id))
        self.assertEqual(attachment.url, "https://pod.example.com/sig.png")
        self.assertTrue(all(e.state == "resolved" for e in self.shipment.exception_ids))
        self.assertTrue(self._mails("shipment_visibility.mail_template_shipment_delivered"))

    def test_invoice_created_once_when_all_shipments_delivered(self):
        """With the setting on, the draft invoice is created once every shipment is delivered, once."""
        self.company.shipment_invoice_on_delivery = True
        self.product.invoice_policy = "order"
        order = self.env["sale.order"].create({
            "partner_id": self.customer.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1, "price_unit": 10})],
        })
        order.action_confirm()
        picking = order.picking_ids
        picking.carrier_tracking_ref = "INV1,INV2"
        self._deliver([self._event("INV1", "delivered", -3)])
        self.assertFalse(order.invoice_ids, "one parcel is still on its way")
        self._deliver([self._event("INV2", "delivered", -1)])
        self.assertEqual(len(order.invoice_ids), 1)
        self.assertEqual(order.invoice_ids.state, "draft")
        picking.shipment_ids.write({"workflow_delivered_done": False})
        self.Workflow._run(picking.shipment_ids)
        self.assertEqual(len(order.invoice_ids), 1, "never twice")

    def test_no_invoice_when_disabled(self):
        self.product.invoice_policy = "order"
        order = self.env["sale.order"].create({
            "partner_id": self.customer.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1, "price_unit": 10})],
        })
        order.action_confirm()
        order.picking_ids.carrier_tracking_ref = "NOINV"
        self._deliver([self._event("NOINV", "delivered", -1)])
        self.assertFalse(order.invoice_ids)

    # ------------------------------------------------------------------ notifications

    def test_customer_gets_latest_milestone_only_and_once(self):
        """A history arriving at once sends only the latest group's e-mail, and never twice."""
        self._deliver([self._event("WF1", "picked_up", -20), self._event("WF1", "out_for_delivery", -1)])
        self.assertTrue(self._mails("shipment_visibility.mail_template_shipment_out_for_delivery"))
        self.assertFalse(self._mails("shipment_visibility.mail_template_shipment_shipped"))
        self._deliver([self._event("WF1", "picked_up", -20)])
        self.assertEqual(len(self._mails("shipment_visibility.mail_template_shipment_out_for_delivery")), 1)

    def test_customer_opt_out_and_company_opt_in(self):
        self.customer.shipment_notifications = False
        self._deliver([self._event("WF1", "picked_up", -20)])
        self.assertFalse(self._mails("shipment_visibility.mail_template_shipment_shipped"))
        self.customer.shipment_notifications = True
        self.company.shipment_notify_customers = False
        self._deliver([self._event("WF1", "out_for_delivery", -1)])
        self.assertFalse(self._mails("shipment_visibility.mail_template_shipment_out_for_delivery"))

    # ------------------------------------------------------------------ shadow mode

    def test_shadow_connector_only_reports(self):
        """In shadow mode nothing is executed, and the report says what would have happened."""
        shadow = self.env["shipment.connector"].create({
            "name": "Shadow partner", "connector_type": "shippo", "mode": "shadow",
            "carrier_ids": [(6, 0, self.other_carrier.ids)]})
        picking = self._create_picking(carrier_id=self.other_carrier.id, carrier_tracking_ref="SH1")
        shipment = picking.shipment_ids
        mails_before = self.env["mail.mail"].search_count([])
        self._deliver([self._event("SH1", "delivery_attempted", -2, reason="recipient_unavailable")],
                      connector=shadow)
        self._deliver([self._event("SH1", "delivered", -1)], connector=shadow)
        self.assertFalse(shipment.event_ids, "the order's shipment is not the shadow partner's")
        self.assertEqual(shipment.status, "pending")
        twin = self.env["shipment.shipment"].search([("tracking_number", "=", "SH1"), ("shadow", "=", True)])
        self.assertEqual((twin.connector_id, twin.picking_id, twin.status), (shadow, picking, "delivered"))
        self.assertEqual(picking.shipment_ids, shipment, "the shadow twin is not one of the order's shipments")
        self.assertFalse(twin.exception_ids | shipment.exception_ids)
        self.assertEqual(self.env["mail.mail"].search_count([]), mails_before)
        log = twin.workflow_log_ids
        self.assertTrue(log)
        self.assertTrue(all(log.mapped("shadow")))
        self.assertIn("open_exception", log.mapped("action"))
        self.assertIn("notify_customer", log.mapped("action"))
        # Replaying the same events does not grow the report.
        count = len(log)
        self.Workflow._run(twin)
        self.assertEqual(len(twin.workflow_log_ids), count)

    def test_shadow_connector_beside_a_live_one_never_touches_the_live_shipment(self):
        """A shadow partner reporting an exception on a shipment the live partner follows: no
        desk exception, no e-mail, no change of the live status; the comparison shows the gap."""
        shadow = self.env["shipment.connector"].create({
            "name": "Candidate partner", "connector_type": "shippo", "mode": "shadow",
            "carrier_ids": [(6, 0, self.carrier.ids)]})
        self._deliver([self._event("WF1", "picked_up", -30), self._event("WF1", "in_transit", -20)])
        mails_before = self.env["mail.mail"].search_count([])
        self._deliver([self._event("WF1", "picked_up", -30),
                       self._event("WF1", "in_transit", -18),
                       self._event("WF1", "exception", -10, reason="damaged")], connector=shadow)
        self.assertEqual(self.shipment.status, "in_transit")
        self.assertEqual(self.shipment.exception_state, "none")
        self.assertFalse(self.env["shipment.exception"].search([("tracking_number", "=", "WF1")]))
        self.assertEqual(self.env["mail.mail"].search_count([]), mails_before)
        twin = self.env["shipment.shipment"].search([("tracking_number", "=", "WF1"), ("shadow", "=", True)])
        self.assertEqual(twin.status, "exception")
        # Shipment users do not see the shadow twin; integration administrators do.
        clerk = new_test_user(self.env, "sv_shadow_clerk", groups="shipment_visibility.group_shipment_user")
        admin = new_test_user(self.env, "sv_shadow_admin",
                              groups="shipment_visibility.group_shipment_integration_admin")
        Shipment = self.env["shipment.shipment"]
        self.assertEqual(Shipment.with_user(clerk).search([("tracking_number", "=", "WF1")]), self.shipment)
        self.assertEqual(Shipment.with_user(admin).search([("tracking_number", "=", "WF1")]), self.shipment | twin)
        # The shadow partner's picked-up scan reached us an hour after the live one.
        self.env.cr.execute("UPDATE shipment_event SET received_at = received_at + interval '1 hour' "
                            "WHERE shipment_id = %s AND milestone = 'picked_up'", [twin.id])
        self.env.invalidate_all()
        rows = self.env["shipment.shadow.comparison"].search([("tracking_number", "=", "WF1")])
        outcomes = {row.milestone: row.outcome for row in rows}
        self.assertEqual(outcomes, {"picked_up": "late", "in_transit": "different", "exception": "extra"})
        late = rows.filtered(lambda row: row.milestone == "picked_up")
        self.assertEqual((late.shadow_connector_id, late.live_connector_id), (shadow, self.connector))
        self.assertAlmostEqual(late.latency_minutes, 60, delta=1)
        self._deliver([self._event("WF1", "delivered", -1)])
        missed = self.env["shipment.shadow.comparison"].search([("tracking_number", "=", "WF1"),
                                                                 ("milestone", "=", "delivered")])
        self.assertEqual(missed.outcome, "missed")

    # ------------------------------------------------------------------ watchdog

    def test_watchdog_raises_stale_and_late(self):
        """Silent shipments get a 'no update' exception, late ones a 'late' exception."""
        self.company.shipment_max_silence_hours = 48
        self._deliver([self._event("WF1", "in_transit", -60)])
        self.shipment.promised_date = naive(NOW - timedelta(hours=1))
        self.Workflow._cron_watchdog()
        kinds = sorted(self.shipment.exception_ids.mapped("kind"))
        self.assertEqual(kinds, ["late", "stale"])
        self.Workflow._cron_watchdog()
        self.assertEqual(len(self.shipment.exception_ids), 2, "not raised twice")

        self._deliver([self._event("WF1", "out_for_delivery", -1)])
        stale = self.shipment.exception_ids.filtered(lambda e: e.kind == "stale")
        self.assertEqual(stale.state, "resolved", "news from the carrier ends the silence")
        self._deliver([self._event("WF1", "delivered", 0)])
        self.assertTrue(all(e.state == "resolved" for e in self.shipment.exception_ids))

    def test_watchdog_quiet_within_limits(self):
        self.company.shipment_max_silence_hours = 72
        self._deliver([self._event("WF1", "in_transit", -60)])
        self.shipment.promised_date = naive(NOW + timedelta(days=1))
        self.Workflow._cron_watchdog()
        self.assertFalse(self.shipment.exception_ids)

    # ------------------------------------------------------------------ desk actions

    def test_desk_actions(self):
        """Acknowledge, resolve with a required note, reschedule the promise."""
        self._deliver([self._event("WF1", "exception", -2, reason="damaged")])
        exception = self.shipment.exception_ids
        exception.action_acknowledge()
        self.assertEqual(exception.state, "acknowledged")
        Resolve = self.env["shipment.exception.resolve"].with_context(active_ids=exception.ids)
        with self.assertRaises(UserError):
            Resolve.create({"note": " "}).action_confirm()
        new_date = fields.Datetime.now() + timedelta(days=3)
        Resolve.create({"note": "Replacement sent", "reschedule": True,
                        "new_promised_date": new_date}).action_confirm()
        self.assertEqual(exception.state, "resolved")
        self.assertEqual(exception.resolution_note, "Replacement sent")
        self.assertEqual(self.shipment.promised_date, new_date)
        self.assertIn("rescheduled", self.picking.message_ids[0].body)

    def test_user_cannot_resolve_manager_can(self):
        self._deliver([self._event("WF1", "exception", -2, reason="lost")])
        exception = self.shipment.exception_ids
        user = new_test_user(self.env, "sv_desk_user", groups="shipment_visibility.group_shipment_user")
        with self.assertRaises(AccessError):
            exception.with_user(user).write({"state": "resolved"})
        manager = new_test_user(self.env, "sv_desk_mgr", groups="shipment_visibility.group_shipment_manager")
        exception.with_user(manager).action_acknowledge()
        self.assertEqual(exception.state, "acknowledged")
