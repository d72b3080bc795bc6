from datetime import date, datetime, timedelta, timezone

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..integration.events import CanonicalEvent
from .common import ShipmentCommon, store_events

# Friday 20 November 2026, midday UTC: "now" of every prediction below.
FRIDAY = datetime(2026, 11, 20, 12, 0)


@tagged("post_install", "-at_install")
class TestTransitPrediction(ShipmentCommon):
    """Predictions from a small history worked out by hand.

    Carrier Test Express, Monday to Friday. Lane BE-10 > FR-75 (Brussels to Paris):
    five deliveries after 1, 2, 2, 3 and 5 business days, so
    S(1) = 0.8, S(2) = 0.4, S(3) = 0.2, S(5) = 0: median 2, 10% → 1, 90% → 5.
    Two more Belgium → France deliveries on lane BE-20 > FR-13 took 4 days each, so the
    country level BE > FR holds 1, 2, 2, 3, 4, 4, 5: median 3.
    Every history shipment was picked up on a Monday in October 2026.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.shipment_prediction_min_samples = 5
        cls.company.shipment_at_risk_probability = 45
        cls.env["shipment.sla.policy"].create({"name": "Express 48 h", "carrier_id": cls.carrier.id,
                                               "transit_hours": 48})
        fr = cls.env.ref("base.fr")
        cls.paris = cls.env["res.partner"].create({"name": "Client Paris", "country_id": fr.id, "zip": "75001"})
        cls.marseille = cls.env["res.partner"].create({"name": "Client Marseille", "country_id": fr.id,
                                                       "zip": "13001"})
        mondays = [date(2026, 10, 5), date(2026, 10, 12), date(2026, 10, 19), date(2026, 10, 26),
                   date(2026, 10, 5), date(2026, 10, 12), date(2026, 10, 19)]
        # Monday + n business days within the week (5 → next Monday).
        transits = [1, 2, 2, 3, 5, 4, 4]
        for index, (monday, days) in enumerate(zip(mondays, transits, strict=True)):
            delivered = monday + timedelta(days=days if days < 5 else 7)
            origin, customer = ("1000", cls.paris) if index < 5 else ("2000", cls.marseille)
            cls._history(f"HIST{index}", customer, origin, datetime.combine(monday, datetime.min.time())
                         + timedelta(hours=9), datetime.combine(delivered, datetime.min.time()) + timedelta(hours=14))

    @classmethod
    def _shipment(cls, number, customer, **values):
        return cls.env["shipment.shipment"].create(dict({
            "tracking_number": number, "carrier_id": cls.carrier.id, "partner_id": customer.id}, **values))

    @classmethod
    def _history(cls, number, customer, origin_postcode, picked_up, delivered=None):
        shipment = cls._shipment(number, customer)
        events = [CanonicalEvent(number, "picked_up", picked_up.replace(tzinfo=timezone.utc), city="Brussels",
                                 postcode=origin_postcode, country="BE")]
        if delivered:
            events.append(CanonicalEvent(number, "delivered", delivered.replace(tzinfo=timezone.utc), city="Paris",
                                         country="FR"))
        store_events(cls.env, events, shipments={number: shipment})
        return shipment

    def _learn(self, today=date(2026, 11, 20)):
        self.env["shipment.transit.lane"]._refresh(self.company, today=today)

    def _new_shipment(self, number="NEW1", promised=datetime(2026, 11, 24, 18, 0)):
        shipment = self._history(number, self.paris, "1050", FRIDAY - timedelta(hours=2))
        shipment.promised_date = promised
        return shipment

    def test_lanes_hold_hand_computed_quantiles(self):
        self._learn()
        Lane = self.env["shipment.transit.lane"]
        lane = Lane.search([("carrier_id", "=", self.carrier.id), ("level", "=", "lane"),
                            ("lane_key", "=", "BE-10>FR-75")])
        self.assertEqual((lane.delivered_count, lane.censored_count), (5, 0))
        self.assertEqual((lane.p10_days, lane.p50_days, lane.p90_days), (1, 2, 5))
        country = Lane.search([("carrier_id", "=", self.carrier.id), ("level", "=", "country")])
        self.assertEqual((country.lane_key, country.delivered_count, country.p50_days), ("BE>FR", 7, 3))

    def test_prediction_backs_off_to_coarser_lanes_then_the_policy(self):
        self._learn()
        shipment = self._new_shipment()
        shipment._update_predictions(now=FRIDAY)
        # Lane: median 2 business days after Friday → Tuesday. Window (15-85 band, each day's share
        # spread over the day): 15% falls at 0 + 0.15 / 0.2 = 0.75, a quarter of day 1 is after it:
        # first day 2, Tuesday; 85% at 4 + (0.85 - 0.8) / 0.2 = 4.25, a quarter of day 5: Thursday.
        self.assertEqual(shipment.prediction_source, "lane")
        self.assertEqual(shipment.predicted_delivery, date(2026, 11, 24))
        self.assertEqual((shipment.predicted_window_start, shipment.predicted_window_end),
                         (date(2026, 11, 24), date(2026, 11, 26)))
        self.assertAlmostEqual(shipment.late_probability, 40.0)  # S(2) = 0.4
        self.company.shipment_prediction_min_samples = 6
        shipment._update_predictions(now=FRIDAY)
        self.assertEqual((shipment.prediction_source, shipment.predicted_delivery), ("country", date(2026, 11, 25)))
        self.company.shipment_prediction_min_samples = 100
        shipment._update_predictions(now=FRIDAY)
        # No group is big enough: the SLA policy's 48 h are 2 business days.
        self.assertEqual((shipment.prediction_source, shipment.predicted_delivery), ("policy", date(2026, 11, 24)))

    def test_shipments_in_transit_are_censored(self):
        # Three shipments picked up Monday 9 November are still travelling on Friday 20th:
        # nine business days elapsed, so they count as taking more than eight.
        for index in range(3):
            self._history(f"SLOW{index}", self.paris, "1000", datetime(2026, 11, 9, 9))
        self._learn()
        lane = self.env["shipment.transit.lane"].search([("level", "=", "lane"), ("lane_key", "=", "BE-10>FR-75")])
        # S(1) = 7/8, S(2) = 5/8, S(3) = 4/8, S(5) = 3/8: the median moves from 2 to 3 days.
        self.assertEqual((lane.delivered_count, lane.censored_count, lane.p50_days), (5, 3, 3))

    def test_holidays_and_working_days_of_the_carrier(self):
        self.env["shipment.holiday"].create({"name": "Closed Monday", "date": date(2026, 11, 23),
                                             "carrier_ids": [(6, 0, self.carrier.ids)]})
        self._learn()
        shipment = self._new_shipment()
        shipment._update_predictions(now=FRIDAY)
        self.assertEqual(shipment.predicted_delivery, date(2026, 11, 25))  # Tue, Wed: 2 business days
        self.carrier.shipment_working_days = "123456"
        shipment._update_predictions(now=FRIDAY)
        self.assertEqual(shipment.predicted_delivery, date(2026, 11, 24))  # Sat, Tue

    def test_trending_late_fires_before_the_promise_and_the_parcel_is_late(self):
        self._learn()
        self.carrier.shipment_working_days = "12345"
        shipment = self._new_shipment()  # promised Tuesday 24th, business day 2
        workflow = self.env["shipment.workflow"]
        shipment._update_predictions(now=FRIDAY)
        workflow._prediction_policies(shipment)
        self.assertFalse(shipment.prediction_at_risk, "40% at pickup, under the 45% threshold")
        # Monday, not delivered yet: T ≥ 1 is no news, P(T > 2 | T ≥ 1) = S(2) / S(0) = 40%.
        shipment._update_predictions(now=datetime(2026, 11, 23, 12))
        self.assertAlmostEqual(shipment.late_probability, 40.0)
        self.assertFalse(shipment.prediction_at_risk)
        # Tuesday noon, hours before the promise and with no carrier estimate past it:
        # P(T > 2 | T ≥ 2) = S(2) / S(1) = 0.4 / 0.8 = 50%.
        shipment._update_predictions(now=datetime(2026, 11, 24, 12))
        self.assertAlmostEqual(shipment.late_probability, 50.0)
        self.assertTrue(shipment.prediction_at_risk)
        self.assertLess(shipment.predicted_at, shipment.promised_date)
        workflow._prediction_policies(shipment)
        exception = shipment.exception_ids.filtered(lambda e: e.kind == "trending_late")
        self.assertEqual((exception.reason, exception.state), ("predicted_late", "open"))
        workflow._prediction_policies(shipment)
        self.assertEqual(len(shipment.exception_ids), 1, "once per risk, not per run")
        # It then arrives on Thursday, after the promise: delivery closes the exception.
        store_events(self.env, [CanonicalEvent("NEW1", "delivered", datetime(2026, 11, 26, 10, tzinfo=timezone.utc))],
                     shipments={"NEW1": shipment})
        workflow._run(shipment)
        self.assertEqual(shipment.sla_state, "late")
        self.assertEqual(exception.state, "resolved")
        self.assertFalse(shipment.predicted_delivery)
        self.assertEqual(shipment.predicted_at_pickup, date(2026, 11, 24))

    def test_new_event_refreshes_the_prediction(self):
        self._learn(today=date.today())
        shipment = self._shipment("LIVE1", self.paris)
        store_events(self.env, [CanonicalEvent("LIVE1", "picked_up", datetime.now(timezone.utc) - timedelta(hours=1),
                                               postcode="1000", country="BE")], shipments={"LIVE1": shipment})
        self.env["shipment.workflow"]._run(shipment)
        self.assertTrue(shipment.predicted_delivery)
        self.assertEqual(shipment.prediction_source, "lane")
        self.assertGreaterEqual(shipment.predicted_delivery, date.today())

    def test_shadow_shipments_neither_learn_nor_get_predictions(self):
        shadow = self._history("SHADOW1", self.paris, "1000", datetime(2026, 10, 5, 9), datetime(2026, 10, 20, 9))
        shadow.sudo().shadow = True
        self._learn()
        lane = self.env["shipment.transit.lane"].search([("level", "=", "lane"), ("lane_key", "=", "BE-10>FR-75")])
        self.assertEqual(lane.delivered_count, 5)
        open_shadow = self._history("SHADOW2", self.paris, "1000", FRIDAY)
        open_shadow.sudo().shadow = True
        open_shadow._update_predictions(now=FRIDAY)
        self.assertFalse(open_shadow.predicted_delivery)

    def test_customer_page_shows_the_prediction_between_carrier_and_promise(self):
        self._learn()
        shipment = self._new_shipment()
        shipment._update_predictions(now=FRIDAY)
        sources = [candidate.source for candidate in shipment._customer_delivery_candidates()]
        self.assertEqual(sources, ["carrier", "predicted", "promised"])
        expectation = shipment._customer_expectation(now=FRIDAY)
        self.assertEqual((expectation.source, expectation.start.date(), expectation.end.date()),
                         ("predicted", date(2026, 11, 24), date(2026, 11, 26)))

    def test_user_reads_predictions_but_not_settings(self):
        self._learn()
        user = self.env["res.users"].create({
            "name": "Warehouse", "login": "prediction_user",
            "groups_id": [(6, 0, [self.env.ref("shipment_visibility.group_shipment_user").id,
                                  self.env.ref("stock.group_stock_user").id])]})
        shipment = self._new_shipment()
        shipment._update_predictions(now=FRIDAY)
        as_user = shipment.with_user(user)
        self.assertEqual(as_user.predicted_delivery, date(2026, 11, 24))
        lanes = self.env["shipment.transit.lane"].with_user(user).search([])
        self.assertTrue(lanes)
        with self.assertRaises(AccessError):
            lanes[:1].write({"p50_days": 1})
        with self.assertRaises(AccessError):
            self.env["shipment.holiday"].with_user(user).create({"name": "Mine", "date": date(2026, 12, 24)})
        with self.assertRaises(AccessError):
            as_user.write({"predicted_delivery": date(2026, 12, 1)})
