"""Anomaly detectors on crafted timelines."""

from datetime import date, datetime, timedelta

from integration import anomalies as an

T0 = datetime(2026, 11, 16, 8, 0)


def scans(*steps):
    return [an.Scan(milestone, T0 + timedelta(hours=hours), place) for milestone, hours, place in steps]


def test_stalled_beyond_the_usual_dwell():
    last = an.Scan("arrived_at_facility", T0, "Liège hub")
    assert an.stalled(T0 + timedelta(hours=20), last, p95_hours=30) is None
    anomaly = an.stalled(T0 + timedelta(hours=31), last, p95_hours=30)
    assert anomaly.kind == "stalled"
    assert anomaly.facts == {"milestone": "arrived_at_facility", "hours": 31, "usual": 30, "place": "Liège hub"}
    # A short usual dwell does not raise alarms within half a day.
    assert an.stalled(T0 + timedelta(hours=10), last, p95_hours=2) is None


def test_a_normal_journey_is_no_loop():
    assert an.looping(scans(("picked_up", 0, "Brussels"), ("arrived_at_facility", 5, "Brussels hub"),
                            ("departed_facility", 6, "Brussels hub"), ("arrived_at_facility", 20, "Paris hub"),
                            ("out_for_delivery", 30, "Paris"), ("delivered", 33, "Paris"))) is None


def test_back_to_a_facility_already_left_is_a_loop():
    anomaly = an.looping(scans(("arrived_at_facility", 5, "Brussels hub"), ("arrived_at_facility", 20, "Paris hub"),
                               ("arrived_at_facility", 30, "Brussels hub")))
    assert anomaly == an.Anomaly("looping", {"place": "Brussels hub", "left_for": "Paris hub"})


def test_moving_backwards_without_a_failed_attempt():
    anomaly = an.looping(scans(("out_for_delivery", 30, "Paris"), ("arrived_at_facility", 40, "Paris hub")))
    assert anomaly.kind == "looping"
    assert anomaly.facts["after"] == "out_for_delivery"
    # Back at the depot after a failed attempt is the carrier's normal routine.
    assert an.looping(scans(("out_for_delivery", 30, "Paris"), ("delivery_attempted", 33, "Paris"),
                            ("arrived_at_facility", 40, "Paris hub"), ("out_for_delivery", 54, "Paris"))) is None


def test_estimate_churn_over_the_limit():
    days = [date(2026, 11, 18), date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 19)]
    assert an.estimate_churn(days, limit=3) is None
    assert an.estimate_churn(days, limit=2) == an.Anomaly("estimate_churn", {"changes": 3, "limit": 2})


def test_first_scan_missing_long_after_handover():
    assert an.first_scan_missing(T0 + timedelta(hours=47), T0, None, 48) is None
    assert an.first_scan_missing(T0 + timedelta(hours=49), T0, None, 48).facts == {"hours": 49}
    assert an.first_scan_missing(T0 + timedelta(hours=49), T0, T0 + timedelta(hours=3), 48) is None
