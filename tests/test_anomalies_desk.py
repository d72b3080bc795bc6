from datetime import datetime, timedelta, timezone

from odoo.tests import tagged

from ..integration.events import CanonicalEvent
from .common import ShipmentCommon, store_events

T0 = datetime(2026, 11, 16, 8, 0)


def _utc(value):
    return value.replace(tzinfo=timezone.utc)


@tagged("post_install", "-at_install")
class TestAnomaliesDesk(ShipmentCommon):
    """Each anomaly on a crafted timeline, opened once on the desk with its explanation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Workflow = cls.env["shipment.workflow"]
        cls.company.shipment_eta_churn_limit = 2

    def _shipment(self, number, **values):
        return self.env["shipment.shipment"].create(dict({"tracking_number": number,
                                                          "carrier_id": self.carrier.id}, **values))

    def _events(self, shipment, *steps):
        events = [CanonicalEvent(shipment.tracking_number, milestone, _utc(T0 + timedelta(hours=hours)), city=city,
                                 **extra) for milestone, hours, city, extra in steps]
        store_events(self.env, events, shipments={shipment.tracking_number: shipment})
        self.Workflow._run(shipment)

    def _anomalies(self, shipment):
        return shipment.exception_ids.filtered(lambda e: e.kind == "anomaly")

    def test_back_to_a_hub_already_left_opens_a_looping_anomaly(self):
        shipment = self._shipment("LOOP1")
        self._events(shipment, ("picked_up", 0, "Brussels", {}), ("arrived_at_facility", 5, "Liège", {}),
                     ("arrived_at_facility", 20, "Paris", {}))
        self.assertFalse(self._anomalies(shipment))
        self._events(shipment, ("arrived_at_facility", 30, "Liège", {}))
        anomaly = self._anomalies(shipment)
        self.assertEqual(anomaly.reason, "looping")
        log = self.env["shipment.workflow.log"].search([("shipment_id", "=", shipment.id)])
        self.assertIn("open_exception", log.mapped("action"))
        self.assertEqual(anomaly.explanation, "The parcel is back in Liège, which it had left for Paris.")
        self._events(shipment, ("in_transit", 31, "Liège", {}))
        self.assertEqual(len(self._anomalies(shipment)), 1, "opened once")

    def test_estimate_changing_too_often(self):
        shipment = self._shipment("CHURN1")
        estimates = [(f"delivered_{i}", day) for i, day in enumerate((2, 3, 2, 4))]
        self._events(shipment, ("picked_up", 0, "Brussels", {}))
        for index, (_name, day) in enumerate(estimates):
            issued = _utc(T0 + timedelta(hours=index + 1))
            self._events(shipment, ("delivered", 24 * day, "", {"event_class": "estimated", "issued_at": issued}))
            self.assertEqual(bool(self._anomalies(shipment)), index == 3, f"after {index + 1} estimates")
        self.assertEqual(self._anomalies(shipment).reason, "estimate_churn")

    def test_stalled_after_the_usual_dwell_learned_in_postgresql(self):
        # Three delivered parcels left the pickup after 10, 20 and 30 hours:
        # percentile_cont(0.95) over [10, 20, 30] = 20 + 0.9 × 10 = 29 hours.
        for index, gap in enumerate((10, 20, 30)):
            done = self._shipment(f"DWELL{index}")
            self._events(done, ("picked_up", 0, "Brussels", {}), ("delivered", gap, "Paris", {}))
        self.env["shipment.dwell.stat"]._refresh(self.company, today=T0.date(), min_samples=3)
        stat = self.env["shipment.dwell.stat"].search([("carrier_id", "=", self.carrier.id)])
        self.assertEqual((stat.milestone, stat.sample_count), ("picked_up", 3))
        self.assertAlmostEqual(stat.median_hours, 20.0)
        self.assertAlmostEqual(stat.p95_hours, 29.0)
        waiting = self._shipment("STALL1")
        self._events(waiting, ("picked_up", 0, "Brussels", {}))
        self.Workflow._cron_anomalies(self.company, now=T0 + timedelta(hours=28))
        self.assertFalse(self._anomalies(waiting))
        self.Workflow._cron_anomalies(self.company, now=T0 + timedelta(hours=30))
        anomaly = self._anomalies(waiting)
        self.assertEqual(anomaly.reason, "stalled")
        self.assertEqual(anomaly.explanation, "No scan for 30 hours since “Picked up” in Brussels; this carrier's "
                                              "parcels usually move on within 29 hours.")
        self.Workflow._cron_anomalies(self.company, now=T0 + timedelta(hours=40))
        self.assertEqual(len(self._anomalies(waiting)), 1, "opened once")

    def test_first_scan_missing_long_after_the_delivery_order(self):
        picking = self._create_picking()
        picking.date_done = T0
        shipment = self._shipment("NOSCAN1", picking_id=picking.id)
        self.company.shipment_first_scan_anomaly_hours = 48
        self.Workflow._cron_anomalies(self.company, now=T0 + timedelta(hours=47))
        self.assertFalse(self._anomalies(shipment))
        self.Workflow._cron_anomalies(self.company, now=T0 + timedelta(hours=49))
        self.assertEqual(self._anomalies(shipment).reason, "first_scan_missing")

    def test_explanations_read_plainly(self):
        from ..integration import anomalies

        text = self.Workflow._anomaly_explanation(anomalies.Anomaly(
            "stalled", {"milestone": "arrived_at_facility", "hours": 31, "usual": 29, "place": "Liège"}))
        self.assertEqual(text, "No scan for 31 hours since “Arrived at facility” in Liège; this carrier's parcels "
                               "usually move on within 29 hours.")
