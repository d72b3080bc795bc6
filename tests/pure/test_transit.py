"""Transit-time model: business days, Kaplan–Meier, conditional quantiles, back-off.

Every expected value below was worked out by hand from the small histories written
next to it.
"""

import doctest
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration import transit


def test_doctests():
    assert doctest.testmod(transit).failed == 0


# --------------------------------------------------------------------- business days

CHRISTMAS = transit.BusinessCalendar(holidays=[date(2026, 12, 25), date(2027, 1, 1)])


def test_business_days_skip_weekends():
    friday, monday = date(2026, 11, 20), date(2026, 11, 23)
    cal = transit.BusinessCalendar()
    assert cal.days_between(friday, monday) == 1
    assert cal.days_between(friday, friday + timedelta(days=1)) == 0  # Saturday delivery: no working day
    assert cal.days_between(monday, monday) == 0
    assert cal.days_between(monday, date(2026, 11, 30)) == 5  # one whole week
    assert cal.add_days(friday, 1) == monday
    assert cal.add_days(friday, 0) == friday


def test_business_days_skip_holidays():
    # Wed 23 Dec → Mon 4 Jan: Thu 24, Mon 28, Tue 29, Wed 30, Thu 31, Mon 4 (25 Dec and 1 Jan off)
    assert CHRISTMAS.days_between(date(2026, 12, 23), date(2027, 1, 4)) == 6
    assert CHRISTMAS.add_days(date(2026, 12, 23), 6) == date(2027, 1, 4)
    assert CHRISTMAS.add_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    # A holiday on a weekend changes nothing.
    weekend_holiday = transit.BusinessCalendar(holidays=[date(2026, 11, 21)])
    assert weekend_holiday.days_between(date(2026, 11, 16), date(2026, 11, 30)) == 10


def test_six_day_carrier_works_saturdays():
    cal = transit.BusinessCalendar(working_weekdays=(0, 1, 2, 3, 4, 5))
    assert cal.days_between(date(2026, 11, 20), date(2026, 11, 23)) == 2  # Sat + Mon


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 1, 1)), st.integers(0, 40))
def test_add_days_inverts_days_between(start, count):
    end = CHRISTMAS.add_days(start, count)
    assert CHRISTMAS.days_between(start, end) == count
    assert count == 0 or CHRISTMAS.is_working(end)


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 1, 1)), st.integers(0, 400))
def test_days_between_matches_counting_day_by_day(start, span):
    end = start + timedelta(days=span)
    expected = sum(CHRISTMAS.is_working(start + timedelta(days=i)) for i in range(1, span + 1))
    assert CHRISTMAS.days_between(start, end) == expected


# --------------------------------------------------------------------- Kaplan–Meier

# Ten deliveries: 1, 2, 2, 2, 3, 3, 3, 3, 4, 6 business days.
TEN = [(1, True), (2, True), (2, True), (2, True), (3, True), (3, True), (3, True), (3, True),
       (4, True), (6, True)]


def test_quantiles_without_censoring_are_the_empirical_ones():
    dist = transit.learn(TEN)
    assert [t for t, _s in dist.steps] == [1, 2, 3, 4, 6]
    assert [s for _t, s in dist.steps] == pytest.approx([0.9, 0.6, 0.2, 0.1, 0.0])
    assert dist.quantile(0.1) == 1   # 1 of 10 by day 1
    assert dist.quantile(0.5) == 3   # 4 of 10 by day 2, 8 by day 3
    assert dist.quantile(0.9) == 4
    assert dist.quantile(0.95) == 6
    assert dist.delivered == 10 and dist.censored == 0


def test_condition_on_elapsed_time():
    dist = transit.learn(TEN)
    # Still not delivered after 3 business days: only the 4 and the 6 remain (T ≥ 3 leaves 3,3,3,3,4,6).
    assert dist.quantile(0.5, elapsed=3) == 3
    # T ≥ 4: {4, 6}; the median is 4, the 90% quantile 6.
    assert dist.quantile(0.5, elapsed=4) == 4
    assert dist.quantile(0.9, elapsed=4) == 6
    # Promise in 3 business days: unconditional P(T > 3) = 2/10; at day 3, P(T > 3 | T ≥ 3) = 2/6.
    assert abs(dist.late_probability(3) - 0.2) < 1e-9
    assert abs(dist.late_probability(3, elapsed=3) - 2 / 6) < 1e-9
    # Past the promise already: certainly late.
    assert dist.late_probability(3, elapsed=4) == 1.0


def test_censoring_makes_the_distribution_slower():
    delivered = [(1, True), (1, True), (2, True), (2, True)]
    # Four more shipments still in transit after 2 business days (T > 2).
    censored = delivered + [(2, False)] * 4
    naive = transit.learn(delivered)
    km = transit.learn(censored)
    assert naive.survival(2) == 0.0
    # At t=1: 8 at risk, 2 deliveries → 0.75; at t=2: 6 at risk, 2 deliveries → 0.75 × 4/6 = 0.5.
    assert km.steps == [(1, 0.75), (2, 0.5)]
    assert km.censored == 4
    assert naive.quantile(0.5) == 1
    assert km.quantile(0.5) == 2
    # Half the mass lies beyond the last observed delivery: the 90% quantile is at least that.
    assert km.quantile(0.9) >= naive.quantile(0.9)
    assert km.late_probability(2) == 0.5 > naive.late_probability(2)


def test_back_off_to_coarser_lane_then_policy():
    fine = transit.learn([(1, True), (1, True)], "lane")
    coarse = transit.learn(TEN, "carrier")
    policy = transit.Distribution.point(transit.policy_days(48))
    assert transit.choose([fine, None, coarse], min_delivered=3, fallback=policy) is coarse
    assert transit.choose([fine, None, coarse], min_delivered=2, fallback=policy) is fine
    assert transit.choose([fine, None, coarse], min_delivered=11, fallback=policy) is policy
    assert policy.quantile(0.5) == 2 and policy.quantile(0.1) == 2 and policy.quantile(0.9) == 2
    assert transit.policy_days(0) is None
    assert transit.policy_days(30) == 2


def test_json_round_trip():
    dist = transit.learn(TEN + [(5, False)])
    again = transit.Distribution.from_json(dist.to_json(), "lane")
    assert again.steps == [tuple(step) for step in dist.steps]
    assert (again.delivered, again.censored) == (10, 1)


def test_fractional_quantiles_interpolate_within_the_delivery_day():
    dist = transit.learn(TEN)
    # F(0) = 0, F(1) = 0.1, F(2) = 0.4, F(3) = 0.8, F(4) = 0.9, F(5) = 0.9, F(6) = 1; each day's
    # mass spread evenly over (t - 1, t].
    assert dist.fractional_quantile(0.1) == pytest.approx(1.0)    # 0 + (0.1 - 0) / 0.1
    assert dist.fractional_quantile(0.5) == pytest.approx(2.25)   # 2 + (0.5 - 0.4) / 0.4
    assert dist.fractional_quantile(0.9) == pytest.approx(4.0)    # 3 + (0.9 - 0.8) / 0.1
    assert dist.fractional_quantile(0.95) == pytest.approx(5.5)   # 5 + (0.95 - 0.9) / 0.1
    # T ≥ 3 leaves 3, 3, 3, 3, 4, 6: F(3) = 4/6, F(4) = 5/6, F(6) = 1.
    assert dist.fractional_quantile(0.1, elapsed=3) == pytest.approx(2 + 0.1 / (4 / 6))  # 2.15
    assert dist.fractional_quantile(0.9, elapsed=3) == pytest.approx(5 + (0.9 - 5 / 6) / (1 / 6))  # 5.4


def test_window_rounds_each_end_to_the_nearest_day():
    dist = transit.learn(TEN)
    # 10% → 1.0: day 1 lies wholly before it, so the window starts on day 2 and leaves out
    # exactly the 10% delivered on day 1 (rounding outwards started on day 1 and left out 0%).
    # 90% → 4.0: day 4 lies wholly before it and is in; day 5 is not. Window 2–4 holds
    # 3 + 4 + 1 = 8 of the 10 deliveries.
    assert dist.window(low=0.1, high=0.9) == (2, 4)
    # T ≥ 3: 10% → 2.15, so day 3 (2, 3] is more than half inside: first day 3.
    # 90% → 5.4, so day 5 (4, 5] is in, day 6 (5, 6] less than half: last day 5.
    assert dist.window(elapsed=3, low=0.1, high=0.9) == (3, 5)
    # The SLA policy's point distribution: all in day 2 → 10% at 1.1, 90% at 1.9, both in day 2.
    assert transit.Distribution.point(2).window(low=0.1, high=0.9) == (2, 2)
    # Censored tail: 90% is never reached, the last observed delivery (day 2) ends the window.
    km = transit.learn([(1, True), (1, True), (2, True), (2, True)] + [(2, False)] * 4)
    assert km.window(low=0.1, high=0.9) == (1, 2)  # 10%: 0 + 0.1 / 0.25 = 0.4, day 1 more than half inside


def test_default_window_is_the_15_85_band():
    # The lane of the Odoo tests: deliveries after 1, 2, 2, 3 and 5 business days.
    # F(1) = 0.2, F(2) = 0.6, F(3) = 0.8, F(4) = 0.8, F(5) = 1.
    lane = transit.learn([(1, True), (2, True), (2, True), (3, True), (5, True)])
    # 15% → 0 + 0.15 / 0.2 = 0.75: only a quarter of day 1 is inside, first day 2.
    # 85% → 4 + (0.85 - 0.8) / 0.2 = 4.25: a quarter of day 5 inside, last day 4.
    assert transit.WINDOW == (0.15, 0.85)
    assert lane.window() == (2, 4)
    # The 10-90 band of the same lane: 0.5 and 4.5, ties keep the day: 1 to 5.
    assert lane.window(low=0.1, high=0.9) == (1, 5)


def test_predict_maps_business_days_to_dates_and_probability():
    dist = transit.learn(TEN)
    cal = transit.BusinessCalendar()
    friday = date(2026, 11, 20)
    prediction = transit.predict(dist, cal, friday, friday, promised=date(2026, 11, 25))  # Wed = day 3
    assert prediction.delivery == date(2026, 11, 25)       # median 3 → Wednesday
    # 15% → 1 + (0.15 - 0.1) / 0.3 = 1.17, 85% → 3 + (0.85 - 0.8) / 0.1 = 3.5: days 2 to 4.
    assert prediction.window_start == date(2026, 11, 24)   # day 2 → Tuesday
    assert prediction.window_end == date(2026, 11, 26)     # day 4 → Thursday
    assert abs(prediction.late_probability - 0.2) < 1e-9
    # Still not delivered on Thursday (day 4): the 4 and the 6 remain.
    later = transit.predict(dist, cal, friday, date(2026, 11, 26), promised=date(2026, 11, 25))
    assert later.late_probability == 1.0
    # F(4) = 0.5, F(6) = 1: 85% → 5 + (0.85 - 0.5) / 0.5 = 5.7, day 6 more than half inside.
    assert later.window_end == date(2026, 11, 30)  # day 6 → Monday


def test_lane_keys():
    keys = transit.lane_keys("be", "1000", "FR", "75 001")
    assert keys == {"lane": "BE-10>FR-75", "country": "BE>FR", "destination": ">FR", "carrier": ""}
    assert transit.lane_keys(None, None, "FR", None) == {
        "lane": None, "country": None, "destination": ">FR", "carrier": ""}
