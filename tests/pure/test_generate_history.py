"""The history generator: seeded, and its world behaves as documented."""

import statistics
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import generate_history as gen

END = date(2026, 11, 30)
HISTORY = gen.simulate(3000, seed=11, end=END, months=12)


def _delivered(shipment):
    return next((e.occurred_at for e in shipment.events if e.event_class == "actual" and e.milestone == "delivered"),
                None)


def test_seeded():
    assert gen.simulate(50, seed=11, end=END) == gen.simulate(50, seed=11, end=END)
    assert gen.simulate(50, seed=12, end=END) != gen.simulate(50, seed=11, end=END)


def test_deliveries_fall_on_the_carriers_working_days():
    for shipment in HISTORY:
        delivered = _delivered(shipment)
        if delivered:
            assert str(delivered.isoweekday()) in shipment.carrier.days
            assert delivered.date() not in gen.HOLIDAYS


def test_express_is_faster_than_ground_and_distance_costs_days():
    def days(shipments):
        return statistics.fmean((_delivered(s) - s.done_at).days for s in shipments if _delivered(s))

    express = [s for s in HISTORY if s.carrier.service == "express"]
    ground = [s for s in HISTORY if s.carrier.service == "ground"]
    assert days(express) < days(ground)
    near = [s for s in ground if s.destination.country == s.origin.country]
    far = [s for s in ground if s.destination.country in ("ES", "PL")]
    assert days(near) < days(far)


def test_recent_shipments_are_still_in_transit_and_exceptions_carry_carrier_words():
    open_ones = [s for s in HISTORY if not _delivered(s)]
    assert open_ones and all(s.done_at.date() >= date(2026, 11, 1) for s in open_ones)
    problems = [e for s in HISTORY for e in s.events if e.reason]
    assert len(problems) > 0.05 * len(HISTORY)
    assert all(e.description for e in problems)


def test_carrier_estimates_are_revised():
    revised = [s for s in HISTORY if sum(e.event_class == "estimated" for e in s.events) > 1]
    assert len(revised) > 0.1 * len(HISTORY)
