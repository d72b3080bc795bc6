from datetime import timedelta

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .sla_common import SlaHistoryCommon


@tagged("post_install", "-at_install")
class TestSlaReport(SlaHistoryCommon):
    """SLA policies, the partner performance report and the dashboard figures.

    Expected figures are worked out by hand from the history of :class:`SlaHistoryCommon`.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # As in the web client: the active companies are in the context (without it, all
        # the user's companies are active, the other company included).
        cls.Report = cls.env["shipment.performance.report"].with_context(
            tz="UTC", allowed_company_ids=cls.company.ids)
        # The seeded carriers only: demo shipments may share the period.
        cls.period = {
            "date_from": (cls.t0 - timedelta(days=1)).date().isoformat(),
            "date_to": (cls.now + timedelta(days=1)).date().isoformat(),
            "carrier_ids": (cls.carrier | cls.other_carrier).ids,
        }

    def _dashboard(self, **kwargs):
        return self.Report.get_dashboard_data(**dict(self.period, **kwargs))

    def _carrier_row(self, data, carrier):
        rows = [row for row in data["carriers"] if row["carrier_id"] == carrier.id]
        self.assertEqual(len(rows), 1, "one row per carrier and connector")
        return rows[0]

    # ------------------------------------------------------------------ #
    # Dashboard figures
    # ------------------------------------------------------------------ #

    def test_dashboard_totals(self):
        """Every KPI tile over A1–A4 and B1–B3 (B4 is before the period, X1 in another company)."""
        kpis = self._dashboard()["kpis"]
        self.assertEqual(kpis["shipments"], 7)
        self.assertEqual(kpis["delivered"], 5, "A1, A2, B1, B2, B3")
        # On time: A1 (38 ≤ 48), B1 (66 ≤ 72), B3 (45 ≤ 72); late: A2 (60 > 48), B2 (130 > 120).
        self.assertEqual((kpis["on_time_count"], kpis["on_time_base"]), (3, 5))
        self.assertAlmostEqual(kpis["on_time_rate"], 100 * 3 / 5)
        transits = [38, 60, 66, 130, 45]
        self.assertAlmostEqual(kpis["avg_transit_hours"], sum(transits) / 5)  # 67.8
        # percentile_cont(0.9) on 38, 45, 60, 66, 130: rank 0.9 × 4 = 3.6 → 66 + 0.6 × (130 − 66)
        self.assertAlmostEqual(kpis["p90_transit_hours"], 66 + 0.6 * (130 - 66))  # 104.4
        # A2 (failed attempt), A3 (damaged), B2 (customs hold): 3 of 7.
        self.assertEqual(kpis["exception_count"], 3)
        self.assertAlmostEqual(kpis["exception_rate"], 100 * 3 / 7)
        # First scan minus validation: A1 2, A2 6, A3 1, B1 4, B2 8, B3 2 (A4 not scanned yet).
        self.assertEqual(kpis["first_scan_count"], 6)
        self.assertAlmostEqual(kpis["first_scan_latency_hours"], (2 + 6 + 1 + 4 + 8 + 2) / 6)
        # Reception delays of the 15 actual events; B1's late estimate does not count.
        delays = [0.5, 1, 0.5, 2, 1, 3, 1, 2, 4, 2, 1, 5, 1, 0.5, 0]
        self.assertEqual(kpis["event_count"], 15)
        self.assertAlmostEqual(kpis["event_latency_hours"], sum(delays) / 15)  # 1.6333…
        # Proof due for A1 (signed), A2 (missing), B1 (URL), B2 (missing); B3 is still within 24 h.
        self.assertEqual((kpis["pod_complete_count"], kpis["pod_base"]), (2, 4))
        self.assertAlmostEqual(kpis["pod_completeness"], 50.0)

    def test_dashboard_per_carrier(self):
        """The partner table splits the same figures by carrier and connector."""
        data = self._dashboard()
        express = self._carrier_row(data, self.carrier)
        self.assertEqual(express["connector_id"], self.connector.id)
        self.assertEqual(express["connector_name"], "Test AfterShip")
        self.assertEqual((express["shipments"], express["delivered"]), (4, 2))
        self.assertAlmostEqual(express["on_time_rate"], 50.0)
        self.assertAlmostEqual(express["avg_transit_hours"], (38 + 60) / 2)
        self.assertAlmostEqual(express["p90_transit_hours"], 38 + 0.9 * (60 - 38))  # 57.8
        self.assertAlmostEqual(express["exception_rate"], 100 * 2 / 4)
        self.assertAlmostEqual(express["first_scan_latency_hours"], (2 + 6 + 1) / 3)
        self.assertAlmostEqual(express["event_latency_hours"], (0.5 + 1 + 0.5 + 2 + 1 + 3 + 1 + 2) / 8)
        self.assertAlmostEqual(express["pod_completeness"], 50.0)

        freight = self._carrier_row(data, self.other_carrier)
        self.assertEqual(freight["connector_id"], self.connector_b.id)
        self.assertEqual((freight["shipments"], freight["delivered"]), (3, 3))
        self.assertAlmostEqual(freight["on_time_rate"], 100 * 2 / 3)
        self.assertAlmostEqual(freight["avg_transit_hours"], (66 + 130 + 45) / 3)
        # 45, 66, 130: rank 0.9 × 2 = 1.8 → 66 + 0.8 × (130 − 66)
        self.assertAlmostEqual(freight["p90_transit_hours"], 66 + 0.8 * (130 - 66))  # 117.2
        self.assertAlmostEqual(freight["exception_rate"], 100 / 3)
        self.assertAlmostEqual(freight["first_scan_latency_hours"], (4 + 8 + 2) / 3)
        self.assertAlmostEqual(freight["event_latency_hours"], (4 + 2 + 1 + 5 + 1 + 0.5 + 0) / 7)
        self.assertAlmostEqual(freight["pod_completeness"], 100 * 1 / 2)
        self.assertEqual([row["carrier_id"] for row in data["carriers"]], [self.carrier.id, self.other_carrier.id],
                         "busiest partner first")

    def test_exceptions_by_reason_and_days(self):
        """Each shipment with an exception counts once, under the reason of its first exception."""
        data = self._dashboard()
        reasons = {row["reason"]: (row["shipments"], round(row["rate"], 6)) for row in data["exceptions"]}
        self.assertEqual(reasons, {
            "recipient_unavailable": (1, round(100 / 7, 6)),
            "damaged": (1, round(100 / 7, 6)),
            "customs_documents": (1, round(100 / 7, 6)),
        })
        self.assertEqual(
            {row["label"] for row in data["exceptions"]},
            {"Recipient unavailable", "Damaged", "Customs documents"})
        days = data["days"]
        period_days = (self.now + timedelta(days=1)).date() - (self.t0 - timedelta(days=1)).date()
        self.assertEqual(len(days), period_days.days + 1, "every day of the period, empty ones included")
        self.assertEqual(sum(day["shipments"] for day in days), 7)
        first_day = next(day for day in days if day["day"] == self.t0.date().isoformat())
        # A1 and B1 were validated at T0; B2 at T0 + 12 h, on the same day unless T0 is after noon.
        self.assertEqual(first_day["shipments"], 3 if self.t0.hour < 12 else 2)

    def test_filters(self):
        """Period, carrier and company filters; companies are limited to the active ones."""
        late_start = (self.t0 + timedelta(days=2)).date().isoformat()
        kpis = self._dashboard(date_from=late_start)["kpis"]
        # Validated from midnight of T0's day + 2 on: A3 (T0 + 48 h), A4 (T0 + 72 h) and B3.
        self.assertEqual(kpis["shipments"], 3)

        express = self._dashboard(carrier_ids=[self.carrier.id])
        self.assertEqual(express["kpis"]["shipments"], 4)
        self.assertEqual(express["filters"]["carrier_ids"], [self.carrier.id])
        self.assertEqual([row["carrier_id"] for row in express["carriers"]], [self.carrier.id])

        # X1 has no delivery order: it is dated by its first scan, in the other company.
        both = self.Report.with_context(allowed_company_ids=[self.company.id, self.other_company.id])
        kpis = both.get_dashboard_data(**self.period)["kpis"]
        self.assertEqual(kpis["shipments"], 8)
        self.assertAlmostEqual(kpis["avg_transit_hours"], (38 + 60 + 66 + 130 + 45 + 15) / 6)
        self.assertEqual(kpis["on_time_base"], 5, "X1 has neither policy nor promised date")
        only_other = both.get_dashboard_data(company_ids=[self.other_company.id], **self.period)
        self.assertEqual(only_other["kpis"]["shipments"], 1)
        self.assertEqual(only_other["filters"]["company_ids"], [self.other_company.id])
        # A company that is not active is ignored: nothing, rather than everything.
        kpis = self._dashboard(company_ids=[self.other_company.id])["kpis"]
        self.assertEqual(kpis["shipments"], 0)
        self.assertIsNone(kpis["on_time_rate"])

    # ------------------------------------------------------------------ #
    # Report rows
    # ------------------------------------------------------------------ #

    def test_report_rows(self):
        """One row per shipment with its own figures; rates average to the dashboard's."""
        rows = {row.shipment_id: row for row in self.Report.search([("shipment_id", "in", (
            self.a1 | self.a2 | self.a3 | self.a4 | self.b2 | self.b3).ids)])}
        a1 = rows[self.a1]
        self.assertEqual(a1.sla_policy_id, self.policy_express)
        self.assertEqual(a1.date, self.at(0))
        self.assertEqual(a1.shipped_at, self.at(2))
        self.assertEqual(a1.sla_deadline, self.at(2 + 48))
        self.assertTrue(a1.on_time)
        self.assertAlmostEqual(a1.transit_hours, 38)
        self.assertAlmostEqual(a1.first_scan_latency_hours, 2)
        self.assertAlmostEqual(a1.event_latency_hours, (0.5 + 1 + 0.5) / 3)
        self.assertEqual(a1.event_count, 3)
        self.assertEqual((a1.pod_complete, a1.pod_complete_pct), (True, 100.0))
        self.assertFalse(a1.has_exception)

        a2 = rows[self.a2]
        self.assertFalse(a2.on_time)
        self.assertEqual((a2.on_time_pct, a2.exception_reason, a2.pod_complete_pct),
                         (0.0, "recipient_unavailable", 0.0))
        self.assertEqual(rows[self.a3].exception_reason, "damaged")
        self.assertEqual(rows[self.a3].status, "exception")
        a4 = rows[self.a4]
        self.assertFalse(a4.shipped_at)
        self.assertEqual(a4.date, self.at(72), "dated by its delivery order")
        self.assertEqual(a4.event_count, 0)
        self.assertEqual(rows[self.b2].country_id, self.country_fr)
        self.assertEqual(rows[self.b2].sla_policy_id, self.policy_generic_fr)
        self.assertEqual(rows[self.b3].sla_policy_id, self.policy_generic)
        self.assertFalse(rows[self.b3].pod_complete_pct, "proof not due yet: left out of the rate")

        # The pivot's measures: averages of the per-shipment 100/0 rates are the rates.
        [(carrier, count, on_time, transit, exceptions)] = self.Report._read_group(
            [("carrier_id", "=", self.carrier.id), ("company_id", "=", self.company.id)], ["carrier_id"],
            ["__count", "on_time_pct:avg", "transit_hours:avg", "exception_pct:avg"])
        self.assertEqual((carrier, count), (self.carrier, 4))
        self.assertAlmostEqual(on_time, 50.0)
        self.assertAlmostEqual(transit, (38 + 60) / 2)
        self.assertAlmostEqual(exceptions, 50.0)

    def test_no_policy_promised_date_decides(self):
        """Without a transit time the promised date is the deadline."""
        self.env["shipment.sla.policy"].search([]).action_archive()
        self.a1.promised_date = self.at(39)   # delivered at 40: late
        self.a2.promised_date = self.at(100)  # delivered at 90: on time
        self.env.flush_all()
        rows = self.Report.search([("shipment_id", "in", (self.a1 | self.a2).ids)])
        self.assertEqual({row.shipment_id: row.on_time for row in rows}, {self.a1: False, self.a2: True})
        self.assertFalse(rows.sla_policy_id)
        self.assertEqual(rows.filtered(lambda row: row.shipment_id == self.a1).sla_deadline, self.at(39))

    # ------------------------------------------------------------------ #
    # Policy matching
    # ------------------------------------------------------------------ #

    def _assert_policy(self, shipment, policy):
        self.env.flush_all()
        Policy = self.env["shipment.sla.policy"]
        self.assertEqual(Policy._find_policy(shipment), policy)
        self.Report.invalidate_model()  # a SQL view: its cached rows do not follow the policies
        row = self.Report.search([("shipment_id", "=", shipment.id)])
        self.assertEqual(row.sla_policy_id, policy, "the report applies the same precedence")

    def test_find_policy_precedence(self):
        """Connector > carrier > service level > country > generic, then sequence."""
        Policy = self.env["shipment.sla.policy"]
        Policy.search([]).action_archive()
        common = {"transit_hours": 24}
        generic_late = Policy.create(dict(common, name="generic 20", sequence=20))
        generic = Policy.create(dict(common, name="generic 5", sequence=5))
        Policy.create(dict(common, name="other company", sequence=1, company_id=self.other_company.id))
        country = Policy.create(dict(common, name="to Germany", sequence=30, country_ids=[(6, 0, self.country_de.ids)]))
        Policy.create(dict(common, name="to France", sequence=1, country_ids=[(6, 0, self.country_fr.ids)]))
        carrier = Policy.create(dict(common, name="Express", sequence=40, carrier_id=self.carrier.id))
        service = Policy.create(dict(common, name="Express service", sequence=50, carrier_id=self.carrier.id,
                                     service_level="  test   EXPRESS "))
        Policy.create(dict(common, name="Overnight", sequence=1, carrier_id=self.carrier.id,
                           service_level="Overnight"))
        connector = Policy.create(dict(common, name="AfterShip", sequence=60, connector_id=self.connector.id))
        Policy.create(dict(common, name="Other connector", sequence=1, connector_id=self.connector_b.id))

        self._assert_policy(self.a1, connector)
        connector.action_archive()
        self._assert_policy(self.a1, service)
        service.action_archive()
        self._assert_policy(self.a1, carrier)
        carrier.action_archive()
        self._assert_policy(self.a1, country)
        country.action_archive()
        self._assert_policy(self.a1, generic)
        generic.action_archive()
        self._assert_policy(self.a1, generic_late)
        generic_late.action_archive()
        self._assert_policy(self.a1, Policy)
        self.assertEqual(Policy._find_policy(self.env["shipment.shipment"]), Policy)

    def test_find_policies_batch(self):
        """The batch lookup gives each shipment its own policy."""
        policies = self.env["shipment.sla.policy"]._find_policies(self.a1 | self.b2 | self.b3 | self.x1)
        self.assertEqual(policies, {
            self.a1.id: self.policy_express,
            self.b2.id: self.policy_generic_fr,
            self.b3.id: self.policy_generic,
            self.x1.id: self.env["shipment.sla.policy"],
        })
        self.assertEqual(self.env["shipment.sla.policy"]._find_policy(self.a2).max_silence_hours, 24)

    # ------------------------------------------------------------------ #
    # Access
    # ------------------------------------------------------------------ #

    def test_user_cannot_change_policies_manager_can(self):
        user = new_test_user(self.env, "sla_user", groups="shipment_visibility.group_shipment_user")
        manager = new_test_user(self.env, "sla_manager", groups="shipment_visibility.group_shipment_manager")
        policy = self.policy_express.with_user(user)
        self.assertEqual(policy.transit_hours, 48, "users read the policies")
        with self.assertRaises(AccessError):
            policy.write({"transit_hours": 96})
        with self.assertRaises(AccessError):
            self.env["shipment.sla.policy"].with_user(user).create({"name": "Mine"})
        with self.assertRaises(AccessError):
            policy.unlink()

        managed = self.policy_express.with_user(manager)
        managed.write({"transit_hours": 36})
        self.assertEqual(self.policy_express.transit_hours, 36)
        created = self.env["shipment.sla.policy"].with_user(manager).create({"name": "New", "transit_hours": 12})
        self.assertEqual(created.company_id, self.company)
        created.unlink()
        self.assertFalse(created.exists())

    def test_user_reads_report_of_own_companies_only(self):
        """Users read the report and the dashboard, in their own companies only."""
        user = new_test_user(self.env, "sla_reader", groups="shipment_visibility.group_shipment_user")
        report = self.env["shipment.performance.report"].with_user(user).with_context(tz="UTC")
        self.assertEqual(report.search_count([("shipment_id", "=", self.a1.id)]), 1)
        self.assertEqual(report.search_count([("shipment_id", "=", self.x1.id)]), 0, "other company")
        kpis = report.get_dashboard_data(company_ids=[self.other_company.id], **self.period)["kpis"]
        self.assertEqual(kpis["shipments"], 0)
        self.assertEqual(report.get_dashboard_data(**self.period)["kpis"]["shipments"], 7)
        with self.assertRaises(AccessError):
            self.env["shipment.performance.report"].with_user(
                new_test_user(self.env, "sla_nobody", groups="base.group_user")).get_dashboard_data()
