"""Taxonomy invariants and the canonical event value type."""

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration import taxonomy
from integration.events import (
    CanonicalEvent,
    EventError,
    normalize_tracking_number,
    split_tracking_refs,
    to_utc,
)

UTC = timezone.utc
PARIS_WINTER = timezone(timedelta(hours=1))
TRACKING = "1Z999AA10123456784"
WHEN = datetime(2026, 3, 1, 14, 30, tzinfo=UTC)


def scan(**values):
    defaults = {
        "tracking_number": TRACKING,
        "milestone": "delivered",
        "occurred_at": WHEN,
        "carrier": "ups",
        "raw_code": "D1",
        "city": "Lyon",
    }
    defaults.update(values)
    return CanonicalEvent(**defaults)


def estimate(**values):
    defaults = {
        "milestone": "delivered",
        "event_class": taxonomy.ESTIMATED,
        "occurred_at": datetime(2026, 3, 5, 21, 59, 59, tzinfo=UTC),
        "window_start": datetime(2026, 3, 4, 22, 0, tzinfo=UTC),
        "window_end": datetime(2026, 3, 5, 21, 59, 59, tzinfo=UTC),
        "issued_at": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        "raw_code": "",
        "city": "",
    }
    defaults.update(values)
    return scan(**defaults)


# --- taxonomy ---------------------------------------------------------------------------


def test_sixteen_distinct_milestones():
    assert len(taxonomy.MILESTONES) == 16
    assert len(set(taxonomy.MILESTONE_CODES)) == 16
    assert set(taxonomy.BY_CODE) == set(taxonomy.MILESTONE_CODES)


def test_pending_and_unknown_are_not_milestones():
    assert taxonomy.PENDING not in taxonomy.MILESTONE_CODES
    assert taxonomy.UNKNOWN not in taxonomy.MILESTONE_CODES
    assert not taxonomy.is_milestone(taxonomy.UNKNOWN)
    assert not taxonomy.is_milestone(taxonomy.PENDING)
    assert not taxonomy.is_milestone(None)
    assert taxonomy.is_milestone("customs_cleared")


def test_terminal_set():
    assert taxonomy.TERMINAL == {"delivered", "returned_to_sender", "cancelled"}


def test_exception_milestones():
    assert taxonomy.EXCEPTION_MILESTONES == {"customs_hold", "delivery_attempted", "delayed", "exception"}
    assert not taxonomy.EXCEPTION_MILESTONES & taxonomy.TERMINAL


def test_shipped_milestones_start_with_custody():
    assert "info_received" not in taxonomy.SHIPPED_MILESTONES
    assert "cancelled" not in taxonomy.SHIPPED_MILESTONES
    assert {"picked_up", "in_transit", "delivered", "returned_to_sender"} <= taxonomy.SHIPPED_MILESTONES
    assert len(taxonomy.SHIPPED_MILESTONES) == 14


def test_display_order_follows_the_life_of_a_parcel():
    codes = taxonomy.MILESTONE_CODES
    assert sorted(taxonomy.DISPLAY_ORDER.values()) == list(range(16))
    assert codes[0] == "info_received"
    assert codes[-1] == "cancelled"
    rank = taxonomy.DISPLAY_ORDER
    assert rank["picked_up"] < rank["in_transit"] < rank["out_for_delivery"] < rank["delivered"]
    assert rank["customs_hold"] < rank["customs_cleared"]
    assert rank["returning_to_sender"] < rank["returned_to_sender"]
    assert all(rank[code] == index for index, code in enumerate(codes))


def test_labels_and_icons():
    assert taxonomy.label("delivered") == "Delivered"
    assert taxonomy.label("delivery_attempted") == "Delivery attempted"
    assert taxonomy.label(taxonomy.PENDING) == taxonomy.PENDING_LABEL
    assert taxonomy.label(taxonomy.UNKNOWN) == taxonomy.UNKNOWN_LABEL
    assert taxonomy.label("teleported") == taxonomy.UNKNOWN_LABEL
    assert all(m.label and m.label != taxonomy.UNKNOWN_LABEL for m in taxonomy.MILESTONES)
    assert len({m.label for m in taxonomy.MILESTONES}) == 16
    assert taxonomy.icon("delivered") == "fa-check-circle"
    assert taxonomy.icon("teleported") == taxonomy.UNKNOWN_ICON
    assert all(m.icon.startswith("fa-") for m in taxonomy.MILESTONES)


def test_selection_pairs():
    plain = taxonomy.selection()
    assert [code for code, _label in plain] == list(taxonomy.MILESTONE_CODES)
    assert dict(plain)["out_for_delivery"] == "Out for delivery"

    with_pending = taxonomy.selection(include_pending=True)
    assert with_pending[0] == (taxonomy.PENDING, taxonomy.PENDING_LABEL)
    assert with_pending[1:] == plain

    with_unknown = taxonomy.selection(include_unknown=True)
    assert with_unknown[-1] == (taxonomy.UNKNOWN, taxonomy.UNKNOWN_LABEL)
    assert with_unknown[:-1] == plain

    both = taxonomy.selection(include_pending=True, include_unknown=True)
    assert len(both) == 18
    # Callers must not be able to corrupt the next caller's list.
    plain.append(("x", "x"))
    assert len(taxonomy.selection()) == 16


def test_event_classes_and_reasons():
    assert taxonomy.EVENT_CLASSES == ("actual", "estimated", "planned", "requested")
    assert set(taxonomy.EVENT_CLASS_LABELS) == set(taxonomy.EVENT_CLASSES)
    assert taxonomy.FINAL_REASONS == {"lost", "disposed"}
    assert taxonomy.FINAL_REASONS <= taxonomy.REASON_CODES
    assert len(taxonomy.REASON_CODES) == len(taxonomy.REASONS) == 16


# --- tracking numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 1z 999 aa1 ", "1Z999AA1"),
        ("1z\t999\naa1", "1Z999AA1"),
        ("JD014600006281230704", "JD014600006281230704"),
    ],
)
def test_normalize_tracking_number(raw, expected):
    assert normalize_tracking_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\t\n", None])
def test_normalize_tracking_number_refuses_empty(raw):
    with pytest.raises(EventError):
        normalize_tracking_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1z999aa1", ["1Z999AA1"]),
        ("1z999aa1, 1Z 999 AA1 ,jd0146", ["1Z999AA1", "JD0146"]),
        ("b2,a1,b2", ["B2", "A1"]),
        (" , ,, ", []),
        ("", []),
        (None, []),
    ],
)
def test_split_tracking_refs(raw, expected):
    assert split_tracking_refs(raw) == expected


# --- construction ---------------------------------------------------------------------


def test_event_is_normalised_on_construction():
    event = scan(
        tracking_number=" 1z999 aa10123456784 ",
        occurred_at=datetime(2026, 3, 1, 15, 30, tzinfo=PARIS_WINTER),
        carrier=" UPS ",
        raw_code=" D1 ",
    )
    assert event.tracking_number == TRACKING
    assert event.occurred_at == WHEN
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert event.utc_offset == 60
    assert event.carrier == "ups"
    assert event.raw_code == "D1"


def test_explicit_offset_is_kept():
    assert scan(utc_offset=-300).utc_offset == -300


def test_event_is_immutable():
    event = scan()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.milestone = "cancelled"
    changed = event.with_values(milestone="exception", reason="lost")
    assert changed.milestone == "exception"
    assert changed.reason == "lost"
    assert event.milestone == "delivered"
    assert event.reason is None


def test_drives_status():
    assert scan().drives_status
    assert scan(milestone="info_received").drives_status
    assert not scan(milestone=taxonomy.UNKNOWN).drives_status
    for event_class in ("estimated", "planned", "requested"):
        assert not scan(event_class=event_class).drives_status
        assert not scan(event_class=event_class).is_actual


@pytest.mark.parametrize(
    "values",
    [
        {"occurred_at": datetime(2026, 3, 1, 14, 30)},
        {"occurred_at": "2026-03-01T14:30:00Z"},
        {"window_start": datetime(2026, 3, 4)},
        {"window_end": datetime(2026, 3, 5)},
        {"issued_at": datetime(2026, 3, 1)},
        {"milestone": "lost"},
        {"milestone": ""},
        {"milestone": taxonomy.PENDING},
        {"event_class": "guessed"},
        {"event_class": "ACT"},
        {"reason": "aliens"},
        {"tracking_number": ""},
        {"tracking_number": "  "},
        {"tracking_number": None},
    ],
)
def test_invalid_values_are_refused(values):
    with pytest.raises(EventError):
        scan(**values)


def test_unknown_milestone_is_accepted_as_history():
    event = scan(milestone=taxonomy.UNKNOWN, raw_code="Pending_001")
    assert event.milestone == taxonomy.UNKNOWN
    assert event.raw_code == "Pending_001"


def test_to_utc():
    assert to_utc(None) is None
    assert to_utc(datetime(2026, 1, 1, 1, 0, tzinfo=PARIS_WINTER)) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    with pytest.raises(EventError):
        to_utc(datetime(2026, 1, 1))


# --- fingerprint ----------------------------------------------------------------------


def test_fingerprint_is_pinned():
    # Fingerprints are stored as a unique key: changing the recipe would make every
    # replayed history insert duplicates, so a change must be a deliberate migration.
    assert scan().fingerprint == "3d1fc99eef35d52822a00a0a11694d20b27972449c3500ccb7f14fafdf8b5cf4"
    assert estimate().fingerprint == "478d611cb2b4a37c5ad9f5f7d12813e3370888c0bea4f1c8bc7040d56cc567ae"


def test_fingerprint_ignores_presentation():
    reference = scan().fingerprint
    same_fact = [
        scan(description="Delivered, front door", external_id="evt_1", latitude=45.76, longitude=4.83),
        scan(signed_by="DUPONT", pod_url="https://example.com/pod/1", region="ARA", postcode="69002"),
        scan(occurred_at=datetime(2026, 3, 1, 15, 30, tzinfo=PARIS_WINTER)),
        scan(occurred_at=datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))), utc_offset=-300),
        scan(occurred_at=WHEN.replace(microsecond=250_000)),
        scan(tracking_number=" 1z999aa1 0123456784"),
        scan(carrier="UPS"),
        scan(raw_code="d1"),
        scan(city="  LYON "),
        scan(extra={"partner": {"checkpoint": 3}}),
        scan(time_assumed_utc=True),
    ]
    assert [event.fingerprint for event in same_fact] == [reference] * len(same_fact)


def test_actual_fingerprint_ignores_estimate_fields():
    reference = scan().fingerprint
    assert scan(issued_at=datetime(2026, 3, 1, tzinfo=UTC)).fingerprint == reference
    assert scan(window_end=datetime(2026, 3, 2, tzinfo=UTC)).fingerprint == reference


@pytest.mark.parametrize(
    "values",
    [
        {"milestone": "out_for_delivery"},
        {"milestone": taxonomy.UNKNOWN},
        {"occurred_at": WHEN + timedelta(seconds=1)},
        {"occurred_at": datetime(2026, 3, 1, 14, 30, tzinfo=PARIS_WINTER)},
        {"raw_code": "D2"},
        {"city": "Lille"},
        {"carrier": "dhl"},
        {"tracking_number": "1Z999AA10123456785"},
        {"event_class": "planned"},
    ],
)
def test_fingerprint_distinguishes_facts(values):
    assert scan(**values).fingerprint != scan().fingerprint


@pytest.mark.parametrize(
    "values",
    [
        {"issued_at": datetime(2026, 3, 2, 8, 0, tzinfo=UTC)},
        {"issued_at": None},
        {"window_start": datetime(2026, 3, 5, 8, 0, tzinfo=UTC)},
        {"window_end": datetime(2026, 3, 5, 18, 0, tzinfo=UTC)},
        {"window_start": None, "window_end": None},
        {"event_class": taxonomy.PLANNED},
    ],
)
def test_revised_estimate_is_a_new_fact(values):
    assert estimate(**values).fingerprint != estimate().fingerprint


def test_resent_estimate_is_the_same_fact():
    reworded = estimate(
        description="Expected Thursday",
        external_id="edd_42",
        issued_at=datetime(2026, 3, 1, 9, 0, tzinfo=PARIS_WINTER),
    )
    assert reworded.fingerprint == estimate().fingerprint


def test_fingerprint_is_hex_sha256():
    fingerprint = scan().fingerprint
    assert len(fingerprint) == 64
    assert int(fingerprint, 16) >= 0


@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.just(UTC),
    ),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_fingerprint_does_not_depend_on_the_offset_used(instant, offset_minutes):
    zone = timezone(timedelta(minutes=offset_minutes))
    local = scan(occurred_at=instant.astimezone(zone))
    assert local.occurred_at == instant
    assert local.utc_offset == offset_minutes
    assert local.fingerprint == scan(occurred_at=instant).fingerprint
