"""Status derivation: a pure function of the set of a shipment's events."""

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration import taxonomy
from integration.events import CanonicalEvent
from integration.status import ShipmentState, StoredEvent, derive, derive_unique, sort_key, timeline

UTC = timezone.utc
TRACKING = "1Z999AA10123456784"


def at(day, hour, minute=0, second=0):
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def ev(milestone, when, **values):
    values.setdefault("carrier", "ups")
    values.setdefault("raw_code", milestone.upper())
    return CanonicalEvent(tracking_number=TRACKING, milestone=milestone, occurred_at=when, **values)


def prediction(event_class, issued, start=None, end=None, occurred=None, milestone="delivered", **values):
    return ev(
        milestone,
        occurred or end,
        event_class=event_class,
        issued_at=issued,
        window_start=start,
        window_end=end,
        raw_code="",
        **values,
    )


INFO = ev("info_received", at(2, 9))
PICKED_UP = ev("picked_up", at(2, 16), city="Lyon")
DEPARTED = ev("departed_facility", at(2, 22), city="Lyon")
ARRIVED = ev("arrived_at_facility", at(3, 6), city="Koeln")
CUSTOMS_HOLD = ev("customs_hold", at(3, 8), city="Koeln", reason="customs_documents")
CUSTOMS_CLEARED = ev("customs_cleared", at(3, 15), city="Koeln")
UNMAPPED = ev(taxonomy.UNKNOWN, at(3, 20), raw_code="X3", description="Status not mapped")
OUT_1 = ev("out_for_delivery", at(4, 7), city="Koeln")
ATTEMPTED = ev("delivery_attempted", at(4, 11), city="Koeln", reason="recipient_unavailable")
OUT_2 = ev("out_for_delivery", at(5, 7, 30), city="Koeln")
DELIVERED = ev("delivered", at(5, 10, 15), city="Koeln", signed_by="MUELLER")
# First estimate: a whole day; revised after the failed attempt to a morning slot.
EDD_FIRST = prediction("estimated", at(2, 10), start=at(3, 23), end=at(4, 22, 59, 59))
EDD_REVISED = prediction("estimated", at(4, 12), start=at(5, 8), end=at(5, 12))
# A guarantee issued even later must not beat an estimate: plans are only a fallback.
GUARANTEE = prediction("planned", at(4, 13), end=at(6, 22, 59, 59))
# Predicting another milestone than delivery is not an ETA.
HUB_ESTIMATE = prediction("estimated", at(4, 14), end=at(4, 18), milestone="arrived_at_facility")

HISTORY = (
    INFO,
    PICKED_UP,
    DEPARTED,
    ARRIVED,
    CUSTOMS_HOLD,
    CUSTOMS_CLEARED,
    UNMAPPED,
    OUT_1,
    ATTEMPTED,
    OUT_2,
    DELIVERED,
    EDD_FIRST,
    EDD_REVISED,
    GUARANTEE,
    HUB_ESTIMATE,
)
# The same facts resent reworded and re-identified, as aggregators do.
RESENT = tuple(
    event.with_values(description=f"resent {index}", external_id=f"resend-{index}", utc_offset=60)
    for index, event in enumerate(HISTORY)
)
BASELINE = derive(HISTORY)


def test_history_has_distinct_facts():
    assert len({event.fingerprint for event in HISTORY}) == len(HISTORY)
    assert [event.fingerprint for event in RESENT] == [event.fingerprint for event in HISTORY]


def test_realistic_history():
    state = derive(HISTORY)
    assert state.status == "delivered"
    assert state.last_event == DELIVERED
    assert state.delivered_at == at(5, 10, 15)
    assert state.shipped_at == at(2, 16)
    assert state.eta_event == EDD_REVISED
    assert state.eta == at(5, 12)
    assert state.eta_window_start == at(5, 8)
    assert state.eta_window_end == at(5, 12)
    assert state.has_open_exception is False
    assert state.exception_reason is None
    assert state.exception_final is False
    assert state.event_count == 15
    assert state.first_event_at == at(2, 9)
    # Predictions are events too: the guarantee's instant is the latest one.
    assert state.last_event_at == at(6, 22, 59, 59)


def test_history_step_by_step():
    actual = [event for event in HISTORY if event.is_actual]
    expected = [
        "info_received",
        "picked_up",
        "departed_facility",
        "arrived_at_facility",
        "customs_hold",
        "customs_cleared",
        "customs_cleared",  # the unmapped event changes nothing
        "out_for_delivery",
        "delivery_attempted",
        "out_for_delivery",
        "delivered",
    ]
    assert [derive(actual[: index + 1]).status for index in range(len(actual))] == expected


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_order_and_any_duplicates_give_the_same_state(data):
    duplicates = data.draw(st.lists(st.integers(0, len(HISTORY) - 1), max_size=40))
    events = data.draw(st.permutations(list(HISTORY) + [HISTORY[index] for index in duplicates]))
    assert derive(events) == BASELINE
    assert timeline(events) == timeline(HISTORY)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_reworded_copies_are_resolved_independently_of_arrival(data):
    baseline = derive(HISTORY + RESENT)
    pool = HISTORY + RESENT
    duplicates = data.draw(st.lists(st.integers(0, len(pool) - 1), max_size=40))
    events = data.draw(st.permutations(list(pool) + [pool[index] for index in duplicates]))
    state = derive(events)
    assert state == baseline
    # Equality of events covers the description, so the same copy was kept.
    assert state.last_event.description == baseline.last_event.description
    assert state.event_count == len(HISTORY)
    assert [event.description for event in timeline(events)] == [event.description for event in timeline(pool)]


def test_kept_copy_does_not_depend_on_which_came_first():
    first = DELIVERED.with_values(description="Delivered")
    second = DELIVERED.with_values(description="Delivered to neighbour")
    assert derive([first, second]).last_event.description == derive([second, first]).last_event.description
    assert timeline([first, second]) == timeline([second, first])
    assert len(timeline([first, second])) == 1


def test_accepts_a_one_shot_iterable():
    assert derive(iter(HISTORY)) == BASELINE
    assert derive(event for event in reversed(HISTORY)) == BASELINE


def test_late_older_event_does_not_override_a_newer_one():
    late = ev("in_transit", at(3, 18), city="Frankfurt")
    state = derive(HISTORY + (late,))
    assert state.status == "delivered"
    assert state.last_event == DELIVERED
    assert state.event_count == len(HISTORY) + 1

    before_delivery = [INFO, PICKED_UP, OUT_1]
    state = derive([*before_delivery, late])
    assert state.status == "out_for_delivery"
    assert state.last_event == OUT_1


def test_late_older_exception_does_not_reopen():
    late_hold = ev("customs_hold", at(3, 7), city="Koeln", reason="payment_due")
    state = derive([PICKED_UP, CUSTOMS_CLEARED, OUT_1, late_hold])
    assert state.status == "out_for_delivery"
    assert state.has_open_exception is False
    assert state.exception_reason is None


def test_estimated_only_history_is_pending_with_an_eta():
    state = derive([EDD_FIRST, EDD_REVISED])
    assert state.status == taxonomy.PENDING
    assert state.last_event is None
    assert state.eta == at(5, 12)
    assert state.eta_event == EDD_REVISED
    assert state.shipped_at is None
    assert state.delivered_at is None
    assert state.has_open_exception is False
    assert state.event_count == 2
    assert state.first_event_at == at(4, 22, 59, 59)


def test_estimates_and_unknown_events_never_change_status():
    early_estimate = prediction("estimated", at(4, 8), end=at(4, 9))
    later_unknown = ev(taxonomy.UNKNOWN, at(4, 20), raw_code="CARRIER_STATUS_NOT_MAPPED")
    state = derive([PICKED_UP, OUT_1, early_estimate, later_unknown, GUARANTEE])
    assert state.status == "out_for_delivery"
    assert state.last_event == OUT_1
    assert state.delivered_at is None
    assert state.event_count == 5

    requested = prediction("requested", at(4, 8), end=at(4, 12))
    assert derive([requested]).status == taxonomy.PENDING


def test_info_received_is_not_shipped():
    state = derive([INFO, EDD_FIRST])
    assert state.status == "info_received"
    assert state.shipped_at is None
    assert derive([INFO, PICKED_UP, ARRIVED]).shipped_at == at(2, 16)


def test_shipped_at_is_the_earliest_custody_event_whatever_its_milestone():
    # Some carriers never send a pickup scan: the first hub scan dates the shipment.
    assert derive([INFO, ARRIVED, OUT_1]).shipped_at == at(3, 6)


@pytest.mark.parametrize(
    ("history", "status"),
    [
        (
            [PICKED_UP, ev("returned_to_sender", at(4, 9)), ev("in_transit", at(4, 12))],
            "returned_to_sender",
        ),
        (
            [INFO, ev("cancelled", at(2, 12)), ev("picked_up", at(2, 18)), ev("out_for_delivery", at(3, 8))],
            "cancelled",
        ),
        (
            [OUT_2, DELIVERED, ev("exception", at(6, 9), reason="damaged")],
            "delivered",
        ),
        (
            [OUT_2, DELIVERED, ev("delivery_attempted", at(6, 9), reason="refused")],
            "delivered",
        ),
    ],
)
def test_terminal_status_is_not_reopened(history, status):
    for events in (history, list(reversed(history))):
        state = derive(events)
        assert state.status == status
        assert state.last_event.milestone == status
        assert state.has_open_exception is False
        assert state.exception_reason is None


def test_latest_terminal_event_wins():
    returned = ev("returned_to_sender", at(9, 10))
    state = derive([*HISTORY, ev("returning_to_sender", at(7, 9)), returned])
    assert state.status == "returned_to_sender"
    assert state.last_event == returned
    assert state.delivered_at is None


def test_cancelled_shipment_still_dates_its_pickup():
    state = derive([INFO, ev("cancelled", at(2, 12)), ev("picked_up", at(2, 18))])
    assert state.status == "cancelled"
    assert state.shipped_at == at(2, 18)


def test_non_terminal_status_follows_the_latest_event():
    state = derive([PICKED_UP, ev("returning_to_sender", at(4, 9)), ev("in_transit", at(4, 12))])
    assert state.status == "in_transit"


@pytest.mark.parametrize(
    ("milestone", "reason"),
    [
        ("exception", "damaged"),
        ("delivery_attempted", "recipient_unavailable"),
        ("delayed", "weather"),
        ("customs_hold", "customs_documents"),
        ("delayed", None),
    ],
)
def test_open_exception_follows_the_latest_actual_event(milestone, reason):
    problem = ev(milestone, at(4, 9), reason=reason)
    state = derive([PICKED_UP, OUT_1.with_values(occurred_at=at(3, 7)), problem])
    assert state.status == milestone
    assert state.last_event == problem
    assert state.has_open_exception is True
    assert state.exception_reason == reason
    assert state.exception_final is False

    # Neither predictions nor unmapped scans resolve a problem ...
    still_open = derive([PICKED_UP, problem, EDD_REVISED, ev(taxonomy.UNKNOWN, at(4, 18), raw_code="X8")])
    assert still_open.has_open_exception is True
    assert still_open.exception_reason == reason

    # ... a later actual scan does.
    resolved = derive([PICKED_UP, problem, ev("in_transit", at(4, 15))])
    assert resolved.status == "in_transit"
    assert resolved.has_open_exception is False
    assert resolved.exception_reason is None
    assert resolved.exception_final is False


@pytest.mark.parametrize(("reason", "final"), [("lost", True), ("disposed", True), ("held_by_carrier", False)])
def test_exception_final(reason, final):
    state = derive([PICKED_UP, ev("exception", at(4, 9), reason=reason)])
    assert state.has_open_exception is True
    assert state.exception_reason == reason
    assert state.exception_final is final


def test_reason_of_a_non_exception_status_is_not_an_exception_reason():
    returning = ev("returning_to_sender", at(4, 9), reason="refused")
    state = derive([PICKED_UP, returning])
    assert state.has_open_exception is False
    assert state.exception_reason is None


def test_eta_latest_issued_wins_not_latest_predicted():
    # EDD_REVISED was issued on the 4th at noon and predicts the 5th at noon.
    pushed_back = prediction("estimated", at(4, 13), end=at(7, 12))
    state = derive([PICKED_UP, EDD_REVISED, pushed_back])
    assert state.eta_event == pushed_back
    assert state.eta == at(7, 12)

    brought_forward = prediction("estimated", at(4, 13), end=at(5, 9))
    state = derive([PICKED_UP, EDD_REVISED, brought_forward])
    assert state.eta_event == brought_forward
    assert state.eta == at(5, 9)

    stale = prediction("estimated", at(4, 9), end=at(9, 12))
    state = derive([PICKED_UP, EDD_REVISED, stale])
    assert state.eta_event == EDD_REVISED
    assert state.eta == at(5, 12)


def test_eta_without_window_is_the_predicted_instant():
    point = prediction("estimated", at(4, 9), occurred=at(6, 14))
    state = derive([point])
    assert state.eta == at(6, 14)
    assert state.eta_window_start is None
    assert state.eta_window_end is None


def test_eta_window_end_wins_over_occurred_at():
    odd = prediction("estimated", at(4, 9), start=at(6, 8), end=at(6, 18), occurred=at(6, 8))
    state = derive([odd])
    assert state.eta == at(6, 18)
    assert state.eta_window_start == at(6, 8)


def test_eta_planned_is_a_fallback():
    plan_first = prediction("planned", at(2, 9), end=at(6, 18))
    plan_revised = prediction("planned", at(3, 9), end=at(7, 18))
    state = derive([PICKED_UP, plan_revised, plan_first])
    assert state.eta_event == plan_revised
    assert state.eta == at(7, 18)

    estimate = prediction("estimated", at(1, 9), end=at(5, 18))
    state = derive([PICKED_UP, plan_revised, plan_first, estimate])
    assert state.eta_event == estimate
    assert state.eta == at(5, 18)


def test_eta_ignores_other_milestones_and_requests():
    requested = prediction("requested", at(4, 9), end=at(5, 17))
    state = derive([PICKED_UP, HUB_ESTIMATE, requested])
    assert state.eta is None
    assert state.eta_event is None
    assert state.eta_window_start is None
    assert state.eta_window_end is None


def test_eta_undated_prediction_loses_to_a_dated_one():
    undated = prediction("estimated", None, end=at(9, 12))
    dated = prediction("estimated", at(1, 9), end=at(5, 12))
    assert derive([undated, dated]).eta_event == dated
    assert derive([dated, undated]).eta_event == dated


def test_eta_ties_fall_back_to_the_predicted_time():
    sooner = prediction("estimated", at(4, 9), end=at(5, 12))
    later = prediction("estimated", at(4, 9), end=at(6, 12))
    assert derive([sooner, later]).eta_event == later
    assert derive([later, sooner]).eta_event == later

    undated_sooner = prediction("estimated", None, end=at(5, 12))
    undated_later = prediction("estimated", None, end=at(6, 12))
    assert derive([undated_later, undated_sooner]).eta == at(6, 12)


def test_eta_ties_on_everything_but_the_fingerprint_are_deterministic():
    one = prediction("estimated", at(4, 9), start=at(5, 8), end=at(5, 12))
    other = prediction("estimated", at(4, 9), start=at(5, 10), end=at(5, 12))
    expected = max(one, other, key=lambda event: event.fingerprint)
    assert derive([one, other]).eta_event == expected
    assert derive([other, one]).eta_event == expected


def test_eta_is_kept_after_delivery():
    state = derive([OUT_2, EDD_REVISED, DELIVERED])
    assert state.status == "delivered"
    assert state.eta == at(5, 12)


def test_same_instant_reads_in_milestone_order():
    out = ev("out_for_delivery", at(5, 10))
    done = ev("delivered", at(5, 10))
    assert derive([done, out]).status == "delivered"
    assert derive([out, done]).status == "delivered"
    assert [event.milestone for event in timeline([out, done])] == ["delivered", "out_for_delivery"]


def test_same_instant_same_milestone_is_decided_by_fingerprint():
    here = ev("in_transit", at(4, 10), city="Lyon")
    there = ev("in_transit", at(4, 10), city="Dijon")
    expected = max(here, there, key=lambda event: event.fingerprint)
    assert derive([here, there]).last_event == expected
    assert derive([there, here]).last_event == expected


def test_sort_key():
    event = ev("customs_cleared", at(3, 15))
    assert sort_key(event) == (at(3, 15), taxonomy.DISPLAY_ORDER["customs_cleared"], event.fingerprint)
    unmapped = ev(taxonomy.UNKNOWN, at(3, 15))
    cancelled = ev("cancelled", at(3, 15))
    assert sort_key(cancelled) < sort_key(unmapped)
    assert sort_key(unmapped) < sort_key(ev("info_received", at(3, 15, 0, 1)))


def test_timeline_newest_first_without_duplicates():
    events = timeline([INFO, DELIVERED, PICKED_UP, INFO, OUT_2, PICKED_UP.with_values(description="again")])
    assert [event.milestone for event in events] == ["delivered", "out_for_delivery", "picked_up", "info_received"]
    full = timeline(HISTORY + HISTORY)
    assert len(full) == len(HISTORY)
    assert [sort_key(event) for event in full] == sorted((sort_key(event) for event in HISTORY), reverse=True)


def test_empty_input():
    state = derive([])
    assert state == ShipmentState()
    assert state.status == taxonomy.PENDING
    assert state.last_event is None
    assert state.eta is None
    assert state.shipped_at is None
    assert state.delivered_at is None
    assert state.has_open_exception is False
    assert state.event_count == 0
    assert state.first_event_at is None
    assert state.last_event_at is None
    assert derive(()) == state
    assert timeline([]) == []


def test_state_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BASELINE.status = "cancelled"


def test_state_times_are_aware_utc():
    for value in (BASELINE.eta, BASELINE.shipped_at, BASELINE.delivered_at, BASELINE.first_event_at):
        assert value.utcoffset() == timedelta(0)


def stored(event, record_id):
    """An event as the shipment reads it back from the database."""
    return StoredEvent(record_id, event.fingerprint, event.milestone, event.event_class, event.occurred_at,
                       event.issued_at, event.window_start, event.window_end, event.reason)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_stored_events_derive_the_same_state_as_canonical_ones(data):
    """The processor re-derives from stored rows: any subset, in any order, same answer."""
    subset = data.draw(st.lists(st.sampled_from(HISTORY), unique=True))
    order = data.draw(st.permutations(range(len(subset))))
    rows = [stored(subset[index], record_id=index + 1) for index in order]
    expected = derive(subset)
    state = derive_unique(rows)
    compared = ("status", "eta", "eta_window_start", "eta_window_end", "shipped_at", "delivered_at",
                "has_open_exception", "exception_reason", "exception_final", "event_count", "first_event_at",
                "last_event_at")
    assert {name: getattr(state, name) for name in compared} == {name: getattr(expected, name) for name in compared}
    if expected.last_event is None:
        assert state.last_event is None
    else:
        assert state.last_event.fingerprint == expected.last_event.fingerprint
    assert (state.eta_event.fingerprint if state.eta_event else None) == (
        expected.eta_event.fingerprint if expected.eta_event else None)


def test_stored_events_name_the_record_that_set_the_status():
    rows = [stored(event, record_id=100 + index) for index, event in enumerate(HISTORY)]
    state = derive_unique(reversed(rows))
    assert state.status == "delivered"
    assert state.last_event.record_id == 100 + HISTORY.index(DELIVERED)
    assert state.eta_event.record_id == 100 + HISTORY.index(EDD_REVISED)
    assert state.exception_reason is None


def test_stored_open_exception_keeps_its_reason():
    events = [INFO, PICKED_UP, ARRIVED, CUSTOMS_HOLD]
    state = derive_unique([stored(event, index) for index, event in enumerate(events)])
    assert (state.status, state.has_open_exception, state.exception_reason) == (
        "customs_hold", True, "customs_documents")
