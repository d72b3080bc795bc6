"""Alert decisions: when a measured value fires an alert, and when it may resolve.

Pure functions of numbers and times, so that the hysteresis and the business hours are
tested without a database.
"""

import operator
from datetime import datetime

COMPARISONS = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
FIRE, RESOLVE, HOLD = "fire", "resolve", "hold"


def breaches(value, comparison, threshold):
    """Whether ``value`` is on the alerting side of ``threshold``."""
    if value is None:
        return False
    return COMPARISONS[comparison](value, threshold)


def decide(firing, clear_streak, value, comparison, threshold, clear_threshold, clear_checks):
    """What one evaluation does to one alert.

    An alert fires as soon as the value breaches ``threshold``. Once firing it resolves
    only after ``clear_checks`` evaluations in a row on the safe side of
    ``clear_threshold`` (a band beyond the threshold), so that a value wobbling around the
    threshold does not fire and resolve on every evaluation.

    :param bool firing: whether the alert is firing now.
    :param int clear_streak: consecutive clear evaluations so far.
    :param value: measured value, or None when there is nothing to measure (clear).
    :return: ``(FIRE | RESOLVE | HOLD, new clear streak)``.
    """
    if not firing:
        return (FIRE, 0) if breaches(value, comparison, threshold) else (HOLD, 0)
    if breaches(value, comparison, clear_threshold):
        return HOLD, 0
    streak = clear_streak + 1
    return (RESOLVE, 0) if streak >= max(1, clear_checks) else (HOLD, streak)


def within_hours(local_now, hour_from, hour_to, weekdays_only):
    """Whether ``local_now`` (a wall-clock datetime) is inside the business hours.

    ``hour_from``/``hour_to`` are hours of the day as floats (8.5 = 08:30). A window
    whose end is before its start spans midnight (22 → 6).
    """
    if not isinstance(local_now, datetime):
        raise TypeError("local_now must be a datetime")
    if weekdays_only and local_now.weekday() >= 5:
        return False
    hour = local_now.hour + local_now.minute / 60 + local_now.second / 3600
    if hour_from == hour_to:
        return True
    if hour_from < hour_to:
        return hour_from <= hour < hour_to
    return hour >= hour_from or hour < hour_to


def increase_over_window(samples, now, window_seconds, current):
    """Increase of a cumulative counter over the last ``window_seconds``.

    :param samples: ``[(epoch seconds, value)]``, oldest first, earlier readings.
    :param current: the counter's value now.
    :return: ``(increase, samples to keep)``; the increase is counted from the oldest
        reading inside the window (a counter reset counts from zero).
    """
    start = now - window_seconds
    kept = [(at, value) for at, value in samples if at >= start]
    older = [(at, value) for at, value in samples if at < start]
    # The newest reading before the window is the baseline when it exists: the counter's
    # value when the window opened.
    baseline = older[-1][1] if older else (kept[0][1] if kept else current)
    if older:
        kept = [older[-1], *kept]
    increase = current - baseline if current >= baseline else current
    return increase, [*kept, (now, current)]
