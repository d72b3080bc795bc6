"""Alert hysteresis, business hours and windowed counter increases."""

from datetime import datetime

import pytest

from integration.alerting import FIRE, HOLD, RESOLVE, breaches, decide, increase_over_window, within_hours


def test_breaches_each_comparison_and_nothing_measured():
    assert breaches(1, "gt", 0) and not breaches(0, "gt", 0)
    assert breaches(0, "ge", 0) and breaches(1, "lt", 2) and breaches(2, "le", 2)
    assert not breaches(None, "gt", 0)


def test_fires_at_once_and_resolves_after_consecutive_clear_checks_beyond_the_band():
    # lag p95 above 300 s fires; resolves only below 240 s, twice in a row
    args = {"comparison": "gt", "threshold": 300, "clear_threshold": 240, "clear_checks": 2}
    assert decide(False, 0, 301, **args) == (FIRE, 0)
    assert decide(False, 0, 300, **args) == (HOLD, 0)
    assert decide(True, 0, 290, **args) == (HOLD, 0), "inside the band: still firing"
    assert decide(True, 0, 200, **args) == (HOLD, 1)
    assert decide(True, 1, 250, **args) == (HOLD, 0), "back in the band: the streak restarts"
    assert decide(True, 1, 200, **args) == (RESOLVE, 0)
    assert decide(True, 0, None, **args) == (HOLD, 1), "nothing measured counts as clear"


def test_a_value_wobbling_around_the_threshold_fires_once():
    firing, streak, fired = False, 0, 0
    for value in [301, 299, 302, 298, 305, 299, 301]:
        action, streak = decide(firing, streak, value, "gt", 300, 240, 2)
        fired += action == FIRE
        firing = (firing or action == FIRE) and action != RESOLVE
    assert fired == 1 and firing


@pytest.mark.parametrize(("when", "hours", "weekdays", "expected"), [
    (datetime(2026, 12, 7, 9, 0), (8, 18), True, True),     # Monday 09:00
    (datetime(2026, 12, 7, 18, 0), (8, 18), True, False),   # end is exclusive
    (datetime(2026, 12, 7, 7, 59), (8, 18), True, False),
    (datetime(2026, 12, 6, 9, 0), (8, 18), True, False),    # Sunday
    (datetime(2026, 12, 6, 9, 0), (8, 18), False, True),
    (datetime(2026, 12, 7, 23, 0), (22, 6), False, True),   # across midnight
    (datetime(2026, 12, 7, 5, 30), (22, 6), False, True),
    (datetime(2026, 12, 7, 12, 0), (22, 6), False, False),
    (datetime(2026, 12, 7, 8, 29), (8.5, 17), False, False),
    (datetime(2026, 12, 7, 3, 0), (0, 0), False, True),
])
def test_within_hours(when, hours, weekdays, expected):
    assert within_hours(when, *hours, weekdays) is expected


def test_increase_over_window_uses_the_reading_when_the_window_opened():
    samples = [(0, 10), (600, 15), (1200, 40)]
    increase, kept = increase_over_window(samples, 1800, 900, 45)
    assert increase == 30           # 45 now, 15 when the window opened (at 900 the last reading was 600)
    assert kept == [(600, 15), (1200, 40), (1800, 45)]
    assert increase_over_window([], 100, 900, 7) == (0, [(100, 7)]), "the first reading is the baseline"
    assert increase_over_window([(0, 50)], 100, 900, 3)[0] == 3, "a reset counts from zero"
