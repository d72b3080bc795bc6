from odoo.tests import tagged

from .sla_common import SlaHistoryCommon


@tagged("post_install", "-at_install")
class TestSlaSplit(SlaHistoryCommon):
    """Promise kept (against the promised date) and SLA met (against the policy) are two fields,
    and the shipment list, the report and the dashboard say the same about the SLA."""

    def test_shipment_sla_agrees_with_the_report(self):
        Report = self.env["shipment.performance.report"]
        shipments = self.a1 | self.a2 | self.a3 | self.b1 | self.b2 | self.b3
        rows = {row.shipment_id: row for row in Report.search([("shipment_id", "in", shipments.ids)])}
        for shipment in shipments:
            row = rows[shipment]
            self.assertEqual(shipment.sla_deadline, row.sla_deadline, shipment.tracking_number)
            expected = "pending" if not row.is_delivered else "met" if row.on_time else "missed"
            self.assertEqual(shipment.sla_result, expected, shipment.tracking_number)
        self.assertEqual((self.a1.sla_result, self.a2.sla_result, self.b2.sla_result), ("met", "missed", "missed"))

    def test_promise_kept_while_sla_missed(self):
        # A2 took 60 h against Express's 48 h, but the customer was promised a later day.
        self.a2.promised_date = self.at(200)
        self.assertEqual(self.a2.sla_state, "on_time")
        self.assertEqual(self.a2.sla_result, "missed")
        labels = dict(self.a2._fields["sla_state"]._description_selection(self.env))
        self.assertEqual(labels["on_time"], "Promise kept")
        self.assertEqual(self.a2._fields["sla_state"].string, "Promise")
        self.assertEqual(self.a2._fields["sla_result"].string, "SLA")

    def test_shadow_shipments_stay_out_of_report_and_dashboard(self):
        Report = self.env["shipment.performance.report"]
        before = Report.get_dashboard_data(date_from=self.at(-24).date().isoformat())["kpis"]["shipments"]
        shadow = self.env["shipment.shipment"].sudo().create({
            "tracking_number": "SLAA1", "carrier_id": self.carrier.id, "connector_id": self.connector_b.id,
            "shadow": True})
        self._add_event(shadow, "picked_up", 2, 1)
        self._add_event(shadow, "delivered", 100, 1)
        self.env.flush_all()
        self.assertFalse(Report.search([("shipment_id", "=", shadow.id)]))
        after = Report.get_dashboard_data(date_from=self.at(-24).date().isoformat())["kpis"]["shipments"]
        self.assertEqual(after, before)

    def test_editing_a_policy_recomputes_the_sla_of_its_shipments(self):
        Report = self.env["shipment.performance.report"]
        # A1 (Express, to Germany): first scan at 2 h, delivered at 40 h; Express allows 48 h.
        self.assertEqual((self.a1.sla_deadline, self.a1.sla_result), (self.at(50), "met"))
        # 36 h: deadline 2 + 36 = 38 h, delivery at 40 h misses it.
        self.policy_express.transit_hours = 36
        self.assertEqual((self.a1.sla_deadline, self.a1.sla_result), (self.at(38), "missed"))
        # B1 (Freight): generic 72 h, first scan 4 h, delivered 70 h; cut to 60 h: deadline 64 h.
        self.assertEqual(self.b1.sla_result, "met")
        self.policy_generic.transit_hours = 60
        self.assertEqual((self.b1.sla_deadline, self.b1.sla_result), (self.at(64), "missed"))
        # Express archived: A1 falls back on the generic 60 h, deadline 62 h, met again.
        self.policy_express.action_archive()
        self.assertEqual((self.a1.sla_deadline, self.a1.sla_result), (self.at(62), "met"))
        # A new policy more specific than the generic one (country) takes A1: 24 h → deadline 26 h.
        to_germany = self.env["shipment.sla.policy"].create({
            "name": "Germany 24 h", "transit_hours": 24, "country_ids": [(6, 0, self.country_de.ids)]})
        self.assertEqual((self.a1.sla_deadline, self.a1.sla_result), (self.at(26), "missed"))
        # Without transit time the promise decides: promised at 39 h, delivered at 40 h.
        self.a1.promised_date = self.at(39)
        to_germany.transit_hours = 0
        self.assertEqual((self.a1.sla_deadline, self.a1.sla_result), (self.at(39), "missed"))
        to_germany.unlink()
        self.assertEqual((self.a1.sla_deadline, self.a1.sla_result), (self.at(62), "met"))
        # The other company's shipment has no policy of its own and never moved.
        self.assertEqual(self.x1.sla_result, "no_target")
        # The shipment and the report keep saying the same.
        Report.invalidate_model()
        for shipment in self.a1 | self.b1:
            row = Report.search([("shipment_id", "=", shipment.id)])
            self.assertEqual(row.sla_deadline, shipment.sla_deadline, shipment.tracking_number)

    def test_renaming_a_carrier_moves_its_shipments_to_the_service_level_policy(self):
        # A1 travels with Test Express (Express policy, 48 h: deadline 50 h, delivered at 40 h).
        overnight = self.env["shipment.sla.policy"].create({
            "name": "Overnight", "carrier_id": self.carrier.id, "service_level": "Overnight", "transit_hours": 24})
        self.assertEqual(self.a1.sla_policy_id, self.policy_express)
        # Renamed "Overnight", its shipments match the service-level policy: 2 + 24 = 26 h, missed.
        self.carrier.name = "Overnight"
        self.assertEqual((self.a1.sla_policy_id, self.a1.sla_deadline, self.a1.sla_result),
                         (overnight, self.at(26), "missed"))
