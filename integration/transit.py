"""Transit-time distributions learned from a shipping history (pure Python, no Odoo).

Transit time is counted in *business days of the carrier*: the working days strictly
after the pickup date up to and including the delivery date, so that a parcel picked up
on Friday and delivered on Monday took one business day, as carriers count. Weekends and
public holidays come from the carrier's :class:`BusinessCalendar`.

Delivered shipments are observed transit times; shipments still on their way are
*censored*: all we know is that their transit is longer than the business days already
elapsed. :func:`kaplan_meier` gives the survival function ``S(t) = P(T > t)`` from both,
so that a history full of slow parcels still in transit does not look fast. A shipment
on its way for ``e`` business days takes ``T`` from the distribution *conditional on*
``T ≥ e``: :meth:`Distribution.conditional_quantile` and :meth:`Distribution.late_probability`.

Groups of shipments (lanes) back off to coarser ones when they have too few deliveries
(:func:`choose`), down to the SLA policy's transit time (:meth:`Distribution.point`).
"""

import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

#: ISO weekdays (Monday = 0) most carriers work.
MONDAY_TO_FRIDAY = (0, 1, 2, 3, 4)
#: Quantile levels of the window users read as "8 in 10 arrive between". Business days
#: are whole, so a band holds more than its nominal share once rounded to days (most
#: lanes put most of their deliveries on one or two days, which are in or out as a whole).
#: On the generated history (benchmarks/bench_prediction.py), with each end rounded to the
#: nearest day, the 10-90 band held 91% of deliveries over the training months and the
#: 15-85 band 84% (79% at pickup), so the levels are 15 and 85; the accuracy report shows
#: every company the coverage its own deliveries give.
WINDOW = (0.15, 0.85)
# Float noise (1 - 0.8 is 0.19999999999999996) must not move a window end by a day.
EPSILON = 1e-9


class BusinessCalendar:
    """Working days of a carrier: weekdays it works and public holidays it does not.

    >>> cal = BusinessCalendar(holidays=[date(2026, 12, 25)])
    >>> cal.days_between(date(2026, 12, 24), date(2026, 12, 28))  # Thu → Mon over Christmas
    1
    >>> cal.add_days(date(2026, 12, 24), 1)
    datetime.date(2026, 12, 28)
    """

    def __init__(self, working_weekdays=MONDAY_TO_FRIDAY, holidays=()):
        self.working_weekdays = frozenset(working_weekdays) or frozenset(MONDAY_TO_FRIDAY)
        self.holidays = frozenset(holidays)

    def is_working(self, day):
        return day.weekday() in self.working_weekdays and day not in self.holidays

    def days_between(self, start, end):
        """Working days ``d`` with ``start < d <= end`` (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0
        # Whole weeks at once: a year-long span stays a handful of steps.
        span = (end - start).days
        weeks, rest = divmod(span, 7)
        count = weeks * len(self.working_weekdays)
        count -= sum(1 for holiday in self.holidays
                     if start < holiday <= start + timedelta(days=weeks * 7)
                     and holiday.weekday() in self.working_weekdays)
        day = start + timedelta(days=weeks * 7)
        for _index in range(rest):
            day += timedelta(days=1)
            count += self.is_working(day)
        return count

    def add_days(self, start, count):
        """The ``count``-th working day after ``start`` (``start`` itself for 0)."""
        day = start
        remaining = max(int(count), 0)
        while remaining:
            day += timedelta(days=1)
            if self.is_working(day):
                remaining -= 1
        return day


@dataclass
class Distribution:
    """A transit-time distribution as the steps of its survival function.

    :ivar steps: ``[(t, S(t))]`` for each observed delivery time ``t`` (business days),
        ascending, ``S(t) = P(T > t)``; ``S`` is 1 before the first step.
    :ivar delivered: number of delivered (uncensored) shipments it was learned from.
    :ivar censored: number of shipments still on their way at learning time.
    :ivar source: what it was learned from (a lane level, or ``policy``).
    """

    steps: list
    delivered: int = 0
    censored: int = 0
    source: str = ""
    _times: list = field(default=None, repr=False, compare=False)

    @classmethod
    def point(cls, days, source="policy"):
        """All the mass on ``days`` business days: the SLA policy's transit time, no history."""
        return cls([(int(days), 0.0)], 0, 0, source)

    @classmethod
    def from_json(cls, text, source=""):
        data = json.loads(text)
        return cls([tuple(step) for step in data["steps"]], data["delivered"], data["censored"], source)

    def to_json(self):
        return json.dumps({"steps": [[t, s] for t, s in self.steps],
                           "delivered": self.delivered, "censored": self.censored})

    def survival(self, t):
        """``P(T > t)``."""
        value = 1.0
        for step, s in self.steps:
            if step > t:
                break
            value = s
        return value

    def quantile(self, q, elapsed=0):
        """Smallest ``t ≥ elapsed`` with ``P(T ≤ t | T ≥ elapsed) ≥ q``.

        Beyond the last observed delivery time (a tail of censored shipments only) the
        last observed time is the best the data can say.
        """
        base = self.survival(elapsed - 1)
        if base <= 0:
            # Every shipment of the history arrived sooner: it will arrive now.
            return max(elapsed, self.steps[-1][0] if self.steps else elapsed)
        for t, s in self.steps:
            if t < elapsed:
                continue
            if 1 - s / base >= q - 1e-12:
                return t
        return max(elapsed, self.steps[-1][0]) if self.steps else elapsed

    def fractional_quantile(self, q, elapsed=0):
        """The ``q``-quantile of ``T | T ≥ elapsed`` in fractional business days.

        A delivery on business day ``t`` happened at some moment of that day, so each
        step's mass is spread evenly over ``(t - 1, t]`` and the conditional distribution
        function is interpolated linearly within it: the day counted by :meth:`quantile`
        is the ceiling of this value. Where the data only names a day (every shipment of
        the history arrived sooner, or a censored tail beyond the last observed delivery)
        the answer is the middle of the day :meth:`quantile` gives.

        >>> Distribution([(1, 0.8), (2, 0.4), (3, 0.2), (5, 0.0)]).fractional_quantile(0.9)
        4.5
        """
        base = self.survival(elapsed - 1)
        if base <= 0 or not self.steps:
            return self.quantile(q, elapsed) - 0.5
        for t, s in self.steps:
            if t < elapsed:
                continue
            cdf = 1 - s / base
            if cdf >= q - 1e-12:
                before = 1 - self.survival(t - 1) / base
                return t - 1 + (q - before) / (cdf - before)
        return max(elapsed, self.steps[-1][0]) - 0.5

    def window(self, elapsed=0, low=WINDOW[0], high=WINDOW[1]):
        """The business days ``(first, last)`` between the ``low`` and ``high`` quantiles of ``T | T ≥ elapsed``.

        A day belongs to the window when at least half of it lies between the fractional
        ``low`` and ``high`` quantiles: each end is rounded to the nearest day boundary
        instead of outwards, so that the mass left out on each side is as close to
        ``low`` (and ``1 - high``) as whole days allow. Rounding outwards, as
        :meth:`quantile` does, made the 80% window hold 96% of deliveries in the backtest.

        >>> Distribution([(1, 0.9), (2, 0.6), (3, 0.2), (4, 0.1), (6, 0.0)]).window(low=0.1, high=0.9)
        (2, 4)
        """
        first = math.ceil(self.fractional_quantile(low, elapsed) + 0.5 - EPSILON)
        last = math.floor(self.fractional_quantile(high, elapsed) + 0.5 + EPSILON)
        first = max(first, elapsed)
        return first, max(first, last)

    def late_probability(self, promised, elapsed=0):
        """``P(T > promised | T ≥ elapsed)``: the chance of missing a promise ``promised`` days out."""
        if promised < elapsed:
            return 1.0
        base = self.survival(elapsed - 1)
        if base <= 0:
            return 0.0
        return min(max(self.survival(promised) / base, 0.0), 1.0)


def kaplan_meier(observations):
    """Kaplan–Meier estimate of ``S(t) = P(T > t)`` from integer transit times.

    :param observations: iterable of ``(time, delivered)``: for a delivered shipment its
        transit time; for one still on its way the business days known to have passed
        without delivery (it is censored at that time: ``T > time``).
    :return: ``[(t, S(t))]`` for every delivery time ``t``, ascending.

    >>> kaplan_meier([(1, True), (2, True), (2, False), (3, True)])
    [(1, 0.75), (2, 0.5), (3, 0.0)]
    """
    deaths, removed = {}, {}
    total = 0
    for time, delivered in observations:
        time = int(time)
        total += 1
        removed[time] = removed.get(time, 0) + 1
        if delivered:
            deaths[time] = deaths.get(time, 0) + 1
    at_risk = total
    survival = 1.0
    steps = []
    for time in sorted(removed):
        died = deaths.get(time, 0)
        if died:
            survival *= 1 - died / at_risk
            steps.append((time, survival))
        at_risk -= removed[time]
    return steps


def learn(observations, source=""):
    """A :class:`Distribution` from ``(time, delivered)`` observations (see :func:`kaplan_meier`)."""
    observations = list(observations)
    delivered = sum(1 for _time, done in observations if done)
    return Distribution(kaplan_meier(observations), delivered, len(observations) - delivered, source)


def choose(candidates, min_delivered, fallback=None):
    """The first candidate distribution learned from enough deliveries, finest first.

    :param candidates: :class:`Distribution` or None, from the finest lane to the coarsest.
    :param int min_delivered: deliveries a group needs to be trusted.
    :param fallback: what to use when none qualifies (the SLA policy's point distribution).
    """
    for candidate in candidates:
        if candidate is not None and candidate.delivered >= max(min_delivered, 1):
            return candidate
    return fallback


def policy_days(transit_hours):
    """The SLA policy's transit time in whole business days (a day starts at 24 h)."""
    if not transit_hours or transit_hours <= 0:
        return None
    return max(1, math.ceil(transit_hours / 24 - 1e-9))


# --------------------------------------------------------------------------- lanes

#: Lane levels, finest first, with the key parts each one keeps.
LEVELS = ("lane", "country", "destination", "carrier")


def region(country, postcode):
    """A region key: the country, refined by the first two characters of the postcode."""
    country = (country or "").strip().upper()
    prefix = "".join((postcode or "").split()).upper()[:2]
    return f"{country}-{prefix}" if country and prefix else country


def lane_keys(origin_country, origin_postcode, dest_country, dest_postcode):
    """The key of the shipment in each level of :data:`LEVELS` (None where unknown).

    >>> lane_keys("US", "38118", "US", "10001")
    {'lane': 'US-38>US-10', 'country': 'US>US', 'destination': '>US', 'carrier': ''}
    """
    origin_country = (origin_country or "").strip().upper()
    dest_country = (dest_country or "").strip().upper()
    keys = {"lane": None, "country": None, "destination": None, "carrier": ""}
    if dest_country:
        keys["destination"] = f">{dest_country}"
        if origin_country:
            keys["country"] = f"{origin_country}>{dest_country}"
            keys["lane"] = (f"{region(origin_country, origin_postcode)}>"
                            f"{region(dest_country, dest_postcode)}")
    return keys


@dataclass
class Prediction:
    """What is predicted for one shipment still on its way.

    Dates are calendar dates on the carrier's working days.
    """

    delivery: date
    window_start: date
    window_end: date
    late_probability: float
    source: str


def predict(distribution, calendar, pickup, today, promised=None):
    """Predict delivery of a shipment picked up on ``pickup`` and not delivered by ``today``.

    :param Distribution distribution: its lane's distribution (see :func:`choose`).
    :param BusinessCalendar calendar: its carrier's calendar.
    :param date promised: the promised delivery date, if any.
    :rtype: Prediction
    """
    elapsed = calendar.days_between(pickup, today)
    median = distribution.quantile(0.5, elapsed)
    low, high = distribution.window(elapsed)
    probability = 0.0
    if promised:
        probability = distribution.late_probability(calendar.days_between(pickup, promised), elapsed)
    return Prediction(calendar.add_days(pickup, median), calendar.add_days(pickup, low),
                      calendar.add_days(pickup, high), probability, distribution.source)
