"""API-shaped partner formats: generic JSON (our native envelope), 17TRACK, ShipEngine.

Fixtures follow ``reference/CARRIER_FORMATS.md`` §4–6; expected values were worked out
by hand from the payloads (UTC instants, offsets, milestones, reasons, ETA windows).
"""

import copy
import json
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration import taxonomy
from integration.adapters import AdapterContext, ParseError, get_adapter
from integration.adapters.base import build_event
from integration.adapters.generic_json import SCHEMA_PATH, compile_path, json_path
from integration.adapters.seventeentrack import ADAPTER as SEVENTEENTRACK
from integration.adapters.shipengine import ADAPTER as SHIPENGINE

GENERIC = get_adapter("generic_json")
FIXTURES = Path(__file__).parent / "fixtures"
UTC = timezone.utc
RECEIVED = datetime(2026, 4, 29, 15, 0, tzinfo=UTC)


def raw(folder, name):
    return (FIXTURES / folder / name).read_bytes()


def doc(folder, name):
    return json.loads(raw(folder, name))


def dump(payload):
    return json.dumps(payload).encode()


def ctx(**values):
    values.setdefault("received_at", RECEIVED)
    return AdapterContext(**values)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def summary(events):
    """(milestone, class, UTC time, offset minutes, raw code, reason, city), oldest first."""
    return [
        (e.milestone, e.event_class, e.occurred_at, e.utc_offset, e.raw_code, e.reason, e.city)
        for e in sorted(events, key=lambda e: (e.occurred_at, e.event_class))
    ]


def fingerprints(result):
    return sorted(e.fingerprint for e in result.events)


def parse_error(adapter, body, context=None):
    with pytest.raises(ParseError) as info:
        adapter.parse(body, context or ctx())
    return info.value


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["generic_json", "seventeentrack", "shipengine"])
def test_registry_returns_the_adapter_of_each_connector_type(code):
    assert get_adapter(code).code == code


# --------------------------------------------------------------------------------------
# Native envelope and its schema
# --------------------------------------------------------------------------------------


def test_schema_file_is_valid_draft_2020_12_and_speaks_the_taxonomy():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    event = schema["$defs"]["event"]["properties"]
    assert event["code"]["enum"] == list(taxonomy.MILESTONE_CODES)
    assert event["class"]["enum"] == list(taxonomy.EVENT_CLASSES)
    assert [r for r in event["reason"]["enum"] if r is not None] == [code for code, _label in taxonomy.REASONS]


def test_native_fixture_validates_against_the_schema_file():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(doc("generic_json", "native_tracking_updated.json"))


def test_native_envelope_gives_exact_events():
    result = GENERIC.parse(raw("generic_json", "native_tracking_updated.json"), ctx())
    assert result.tracking_numbers == ["NF000123456"]
    assert summary(result.events) == [
        ("picked_up", "actual", utc(2026, 4, 30, 14, 20), 120, "PU", None, "Göteborg"),
        ("departed_facility", "actual", utc(2026, 4, 30, 20, 5), 120, "DEP", None, "Göteborg"),
        ("arrived_at_facility", "actual", utc(2026, 5, 1, 4, 40), 120, "ARR", None, "Oslo"),
        ("delayed", "actual", utc(2026, 5, 2, 7, 55), 120, "DLY", "weather", "Oslo"),
        ("delivered", "estimated", utc(2026, 5, 4, 14, 0), 120, "delivered", None, ""),
    ]
    assert [e.external_id for e in result.events] == [f"evt_01HX000{i}" for i in range(1, 6)]
    assert {e.carrier for e in result.events} == {"nordic_freight"}
    assert result.unmapped_codes == []
    assert result.shipment_info == {"NF000123456": {"carrier": "nordic_freight", "reference": "WH/OUT/00017"}}


def test_native_location_fields_are_read():
    first = GENERIC.parse(raw("generic_json", "native_tracking_updated.json"), ctx()).events[0]
    assert (first.city, first.region, first.postcode, first.country) == ("Göteborg", "Västra Götaland", "41101", "SE")
    assert first.description == "Collected from shipper"


def test_native_estimate_keeps_window_and_envelope_issue_time():
    result = GENERIC.parse(raw("generic_json", "native_tracking_updated.json"), ctx())
    (estimate,) = [e for e in result.events if e.event_class == taxonomy.ESTIMATED]
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 5, 4, 6, 0), utc(2026, 5, 4, 14, 0))
    # The envelope timestamp (10:15+02:00), not the reception time, dates the estimate.
    assert estimate.issued_at == utc(2026, 5, 2, 8, 15)
    assert all(e.issued_at is None for e in result.events if e.is_actual)


def test_native_estimate_without_timestamp_falls_back_to_reception_time():
    payload = doc("generic_json", "native_tracking_updated.json")
    del payload["timestamp"]
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["required"] = ["type", "data"]
    result = GENERIC.parse(dump(payload), ctx(options={"schema": schema}))
    (estimate,) = [e for e in result.events if not e.is_actual]
    assert estimate.issued_at == RECEIVED


def test_zone_less_time_is_refused_at_its_exact_path():
    error = parse_error(GENERIC, raw("generic_json", "invalid_occurred_at.json"))
    assert error.path == "$.data.events[1].occurred_at"
    assert "WITH a UTC offset" in error.reason


def _broken(mutate):
    payload = doc("generic_json", "native_tracking_updated.json")
    mutate(payload)
    return dump(payload)


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda p: p["data"]["events"][0].__setitem__("code", "delivered_ok"), "$.data.events[0].code"),
        (lambda p: p["data"]["events"][0].__setitem__("code", "unknown"), "$.data.events[0].code"),
        (lambda p: p["data"]["events"][2].pop("occurred_at"), "$.data.events[2].occurred_at"),
        (lambda p: p["data"]["events"][3].__setitem__("reason", "snow"), "$.data.events[3].reason"),
        (lambda p: p["data"]["events"][4].__setitem__("class", "guessed"), "$.data.events[4].class"),
        (lambda p: p["data"]["events"][4]["window"].__setitem__("to", "2026-05-04"), "$.data.events[4].window.to"),
        (
            lambda p: p["data"]["events"][0]["location"].__setitem__("country", "SWE"),
            "$.data.events[0].location.country",
        ),
        (lambda p: p["data"].pop("tracking_number"), "$.data.tracking_number"),
        (lambda p: p.__setitem__("type", "shipment.created"), "$.type"),
        (lambda p: p.__setitem__("timestamp", "2026-05-02 10:15"), "$.timestamp"),
    ],
)
def test_schema_failures_point_at_the_bad_field(mutate, path):
    assert parse_error(GENERIC, _broken(mutate)).path == path


def test_impossible_date_matching_the_pattern_is_refused_at_its_path():
    body = _broken(lambda p: p["data"]["events"][1].__setitem__("occurred_at", "2026-02-30T10:00:00+01:00"))
    assert parse_error(GENERIC, body).path == "$.data.events[1].occurred_at"


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00", b'{"type": "shipment.tracking.updated",'])
def test_malformed_json_is_a_parse_error_at_the_root(body):
    error = parse_error(GENERIC, body)
    assert error.path == "$"
    assert "not valid JSON" in error.reason


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(5)))
def test_native_event_order_is_irrelevant(order):
    reference = GENERIC.parse(raw("generic_json", "native_tracking_updated.json"), ctx())
    payload = doc("generic_json", "native_tracking_updated.json")
    payload["data"]["events"] = [payload["data"]["events"][i] for i in order]
    assert fingerprints(GENERIC.parse(dump(payload), ctx())) == fingerprints(reference)


def test_webhook_id_header_is_the_external_id():
    body = raw("generic_json", "native_tracking_updated.json")
    assert (
        GENERIC.external_id(body, {"webhook-id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"})
        == "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
    )
    assert GENERIC.external_id(body, {"Webhook-Id": "msg_1"}) == "msg_1"
    assert GENERIC.external_id(body, {"content-type": "application/json"}) is None


# --------------------------------------------------------------------------------------
# Generic JSON configured for a 3PL's own shape
# --------------------------------------------------------------------------------------

THREEPL_PATHS = {
    "tracking_number": "shipment.awb",
    "carrier": "shipment.carrier_name",
    "reference": "$.shipment.order_ref",
    "timestamp": "sent",
    "events": "history",
    "id": "ref",
    "code": ["evt.sub", "evt.code"],
    "class": "kind",
    "occurred_at": "when",
    "city": "where.town",
    "postcode": "where.zip",
    "country": "where.cc",
    "description": "text",
}
THREEPL_MAP = {
    "DLV": ("delivered", None),
    "OFD": ("out_for_delivery", None),
    "PUP": ("picked_up", None),
}


def threepl(status_map=THREEPL_MAP, default_timezone=None, **options):
    options.setdefault("paths", THREEPL_PATHS)
    return ctx(status_map=dict(status_map), options=options, default_timezone=default_timezone)


def test_paths_onboard_a_3pl_body_without_code():
    result = GENERIC.parse(raw("generic_json", "threepl_shaped.json"), threepl())
    assert result.tracking_numbers == ["TPL-778812"]
    assert summary(result.events) == [
        ("picked_up", "actual", utc(2026, 5, 2, 16, 30), 60, "PUP", None, "Leeds"),
        ("unknown", "actual", utc(2026, 5, 3, 6, 30), 60, "HLD", None, "Manchester"),
        # Zone-less: resolved in Europe/London (BST) from the event's country.
        ("out_for_delivery", "actual", utc(2026, 5, 3, 7, 10), 60, "OFD", None, "Manchester"),
        # "DLV-FD" is not mapped: the next path in precedence ("DLV") is.
        ("delivered", "actual", utc(2026, 5, 3, 13, 2), 60, "DLV", None, "Manchester"),
        ("delivered", "estimated", utc(2026, 5, 3, 17, 0), 60, "DLV", None, ""),
    ]
    assert result.unmapped_codes == ["HLD"]
    assert result.shipment_info == {"TPL-778812": {"carrier": "QuickShip", "reference": "SO042"}}
    assert {e.carrier for e in result.events} == {"quickship"}
    assert not any(e.time_assumed_utc for e in result.events)
    delivered = next(e for e in result.events if e.external_id == "h-4")
    assert (delivered.postcode, delivered.country, delivered.description) == ("M1 1AE", "GB", "Delivered to front door")
    (estimate,) = [e for e in result.events if not e.is_actual]
    assert estimate.issued_at == utc(2026, 5, 3, 13, 30)


def test_3pl_codes_without_status_map_are_all_unknown_with_their_most_specific_code():
    result = GENERIC.parse(raw("generic_json", "threepl_shaped.json"), threepl(status_map={}))
    assert {e.milestone for e in result.events} == {taxonomy.UNKNOWN}
    assert result.unmapped_codes == ["DLV-FD", "HLD", "OFD", "PUP", "DLV"]


def test_status_map_override_gives_milestone_and_reason():
    status_map = {**THREEPL_MAP, "HLD": ("exception", "held_by_carrier")}
    result = GENERIC.parse(raw("generic_json", "threepl_shaped.json"), threepl(status_map))
    held = next(e for e in result.events if e.external_id == "h-3")
    assert (held.milestone, held.reason, held.raw_code) == ("exception", "held_by_carrier", "HLD")
    assert result.unmapped_codes == []


def test_zone_less_3pl_time_without_location_uses_the_connector_zone():
    payload = doc("generic_json", "threepl_shaped.json")
    payload["history"] = [{"ref": "x", "evt": {"code": "OFD"}, "when": "2026-01-15T08:10:00"}]
    result = GENERIC.parse(dump(payload), threepl(default_timezone="America/Chicago"))
    assert (result.events[0].occurred_at, result.events[0].utc_offset) == (utc(2026, 1, 15, 14, 10), -360)
    assert result.events[0].time_assumed_utc is False
    flagged = GENERIC.parse(dump(payload), threepl()).events[0]
    assert (flagged.occurred_at, flagged.time_assumed_utc) == (utc(2026, 1, 15, 8, 10), True)


def test_date_only_3pl_estimate_covers_the_local_day_at_the_destination():
    payload = doc("generic_json", "threepl_shaped.json")
    payload["history"] = [{"ref": "eta", "kind": "EST", "evt": {"code": "DLV"}, "when": "2026-07-16"}]
    result = GENERIC.parse(dump(payload), threepl(default_timezone="America/Denver"))
    (estimate,) = result.events
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 7, 16, 6, 0), utc(2026, 7, 17, 5, 59, 59))
    assert (estimate.occurred_at, estimate.utc_offset) == (utc(2026, 7, 17, 5, 59, 59), -360)


def test_3pl_body_with_a_single_event_object():
    payload = {"awb": "TPL-1", "event": {"status": "PUP", "at": "2026-05-02T17:30:00+01:00"}}
    paths = {"tracking_number": "awb", "events": "event", "code": "status", "occurred_at": "at"}
    result = GENERIC.parse(dump(payload), ctx(status_map=THREEPL_MAP, options={"paths": paths}))
    assert summary(result.events) == [("picked_up", "actual", utc(2026, 5, 2, 16, 30), 60, "PUP", None, "")]


def test_3pl_missing_time_is_reported_at_the_configured_path():
    payload = doc("generic_json", "threepl_shaped.json")
    del payload["history"][2]["when"]
    assert parse_error(GENERIC, dump(payload), threepl()).path == "$.history[2].when"


def test_3pl_unknown_reason_and_class_are_reported_at_their_path():
    payload = doc("generic_json", "threepl_shaped.json")
    payload["history"][0]["kind"] = "maybe"
    assert parse_error(GENERIC, dump(payload), threepl()).path == "$.history[0].kind"
    payload = doc("generic_json", "threepl_shaped.json")
    paths = {**THREEPL_PATHS, "reason": "why"}
    for bad in ("snow", ["weather"]):
        payload["history"][1]["why"] = bad
        assert parse_error(GENERIC, dump(payload), threepl(paths=paths)).path == "$.history[1].why"


def test_3pl_missing_tracking_number_is_reported():
    payload = doc("generic_json", "threepl_shaped.json")
    del payload["shipment"]["awb"]
    assert parse_error(GENERIC, dump(payload), threepl()).path == "$.shipment.awb"


def test_custom_schema_replaces_the_native_one():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["shipment", "history"],
        "properties": {
            "history": {
                "type": "array",
                "items": {"type": "object", "required": ["when"], "properties": {"ref": {"type": "string"}}},
            }
        },
    }
    result = GENERIC.parse(raw("generic_json", "threepl_shaped.json"), threepl(schema=schema))
    assert len(result.events) == 5
    payload = doc("generic_json", "threepl_shaped.json")
    payload["history"][3]["ref"] = 7
    assert parse_error(GENERIC, dump(payload), threepl(schema=schema)).path == "$.history[3].ref"
    del payload["history"][1]["when"]
    assert parse_error(GENERIC, dump(payload), threepl(schema=schema)).path == "$.history[1].when"


def test_invalid_configuration_is_reported_against_the_option():
    bad_schema = {"type": "no-such-type"}
    body = raw("generic_json", "threepl_shaped.json")
    assert parse_error(GENERIC, body, threepl(schema=bad_schema)).path == "options.schema"
    assert parse_error(GENERIC, body, threepl(paths={"trackingnumber": "awb"})).path == "options.paths"
    assert parse_error(GENERIC, body, threepl(paths={"events": "history[x"})).path == "options.paths.events"
    assert parse_error(GENERIC, body, threepl(paths={"code": ["evt.code", 3]})).path == "options.paths.code"
    assert parse_error(GENERIC, body, threepl(schema="strict")).path == "options.schema"


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("$.history[2].where.town", ("history", 2, "where", "town")),
        ("data.events", ("data", "events")),
        ("['odd key'].x", ("odd key", "x")),
        ('$["a.b"][0]', ("a.b", 0)),
        ("$", ()),
        ("", ()),
    ],
)
def test_compile_path(text, parts):
    assert compile_path(text) == parts


@pytest.mark.parametrize("text", ["a[b]", "a..b", "a['x"])
def test_compile_path_refuses_what_it_cannot_read(text):
    with pytest.raises(ValueError):
        compile_path(text)


def test_json_path_round_trips_through_compile_path():
    parts = ("history", 2, "odd key", "town")
    assert json_path(parts) == '$.history[2]["odd key"].town'
    assert compile_path(json_path(parts)) == parts


# --------------------------------------------------------------------------------------
# 17TRACK
# --------------------------------------------------------------------------------------

TRACK17_EXPECTED = [
    ("info_received", "actual", utc(2026, 4, 19, 10, 0), 480, "InfoReceived", None, ""),
    ("picked_up", "actual", utc(2026, 4, 20, 2, 30), 480, "InTransit_PickedUp", None, "SHENZHEN"),
    ("arrived_at_facility", "actual", utc(2026, 4, 21, 7, 5), 480, "InTransit_Arrival", None, "GUANGZHOU"),
    ("departed_facility", "actual", utc(2026, 4, 22, 1, 40), 480, "InTransit_Departure", None, "GUANGZHOU"),
    ("unknown", "actual", utc(2026, 4, 22, 18, 15), 480, "Transferred", None, "GUANGZHOU"),
    # Neither sub_status nor stage, no time_utc: in transit, time from time_iso.
    ("in_transit", "actual", utc(2026, 4, 26, 12, 10), -420, "", None, "LOS ANGELES"),
    (
        "customs_hold",
        "actual",
        utc(2026, 4, 27, 23, 20),
        -420,
        "InTransit_CustomsRequiringInformation",
        "customs_documents",
        "LOS ANGELES",
    ),
    ("customs_cleared", "actual", utc(2026, 4, 28, 16, 5), -420, "InTransit_CustomsReleased", None, "LOS ANGELES"),
    ("arrived_at_facility", "actual", utc(2026, 4, 29, 13, 12), -360, "InTransit_Arrival", None, "DENVER"),
    # Zone-less 2026-05-06 … 2026-05-08 in Denver (MDT): whole local days, ends at window end.
    ("delivered", "estimated", utc(2026, 5, 9, 5, 59, 59), -360, "", None, ""),
]


def test_17track_merges_both_providers_into_exact_events():
    result = SEVENTEENTRACK.parse(raw("seventeentrack", "tracking_updated.json"), ctx())
    assert summary(result.events) == TRACK17_EXPECTED
    assert result.tracking_numbers == ["RR123456789CN"]
    assert {e.carrier for e in result.events} == {"3011"}
    assert result.shipment_info == {
        "RR123456789CN": {
            "carrier": "3011",
            "reference": "WH/OUT/00042",
            "partner_status": "InTransit",
            "partner_sub_status": "InTransit_Arrival",
        }
    }


def test_17track_scan_reported_by_both_providers_is_kept_once():
    result = SEVENTEENTRACK.parse(raw("seventeentrack", "tracking_updated.json"), ctx())
    departures = [e for e in result.events if e.occurred_at == utc(2026, 4, 22, 1, 40)]
    assert len(departures) == 1
    assert len(result.events) == len({e.fingerprint for e in result.events}) == 10


def test_17track_estimate_window_in_destination_zone():
    result = SEVENTEENTRACK.parse(raw("seventeentrack", "tracking_updated.json"), ctx())
    (estimate,) = [e for e in result.events if e.event_class == taxonomy.ESTIMATED]
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 5, 6, 6, 0), utc(2026, 5, 9, 5, 59, 59))
    assert estimate.occurred_at == estimate.window_end
    assert estimate.issued_at == RECEIVED
    assert estimate.description == "Estimated delivery (Official)"
    assert estimate.time_assumed_utc is False


def test_17track_estimate_without_any_zone_is_flagged_utc():
    payload = doc("seventeentrack", "tracking_updated.json")
    payload["data"]["track_info"]["shipping_info"]["recipient_address"] = {}
    # The newest located event tells the destination when the recipient address does not.
    (derived,) = [e for e in SEVENTEENTRACK.parse(dump(payload), ctx()).events if not e.is_actual]
    assert (derived.window_start, derived.time_assumed_utc) == (utc(2026, 5, 6, 6), False)
    for provider in payload["data"]["track_info"]["tracking"]["providers"]:
        for event in provider["events"]:
            event["address"] = {}
    result = SEVENTEENTRACK.parse(dump(payload), ctx())
    (estimate,) = [e for e in result.events if not e.is_actual]
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 5, 6), utc(2026, 5, 8, 23, 59, 59))
    assert estimate.time_assumed_utc is True
    with_zone = SEVENTEENTRACK.parse(dump(payload), ctx(default_timezone="Europe/Paris"))
    (estimate,) = [e for e in with_zone.events if not e.is_actual]
    assert estimate.window_start == utc(2026, 5, 5, 22, 0)
    assert estimate.time_assumed_utc is False


def test_17track_unknown_stage_is_kept_and_reported():
    result = SEVENTEENTRACK.parse(raw("seventeentrack", "tracking_updated.json"), ctx())
    (unknown,) = [e for e in result.events if e.milestone == taxonomy.UNKNOWN]
    assert (unknown.raw_code, unknown.description) == ("Transferred", "Handed over to airline")
    assert result.unmapped_codes == ["Transferred"]


def test_17track_status_map_overrides_defaults_and_maps_unknown_codes():
    status_map = {
        "Transferred": ("departed_facility", None),
        "InTransit_CustomsRequiringInformation": ("customs_hold", "payment_due"),
    }
    result = SEVENTEENTRACK.parse(raw("seventeentrack", "tracking_updated.json"), ctx(status_map=status_map))
    transferred = next(e for e in result.events if e.raw_code == "Transferred")
    assert transferred.milestone == "departed_facility"
    customs = next(e for e in result.events if e.milestone == "customs_hold")
    assert customs.reason == "payment_due"
    assert result.unmapped_codes == []


def _track17(*events, **data):
    provider = {"provider": {"key": 21051}, "events": list(events)}
    payload = {"number": "LB000000001US", "carrier": 21051, "track_info": {"tracking": {"providers": [provider]}}}
    payload.update(data)
    return dump({"event": "TRACKING_UPDATED", "data": payload})


def test_17track_prefers_time_utc_and_shows_the_time_iso_offset():
    body = _track17(
        {"time_iso": "2026-04-29T07:12:00-06:00", "time_utc": "2026-04-29T13:15:00Z", "sub_status": "InTransit_Other"}
    )
    (event,) = SEVENTEENTRACK.parse(body, ctx()).events
    assert (event.occurred_at, event.utc_offset) == (utc(2026, 4, 29, 13, 15), -360)
    assert event.milestone == "in_transit"


def test_17track_zone_less_time_iso_uses_the_event_address():
    body = _track17({"time_iso": "2026-01-10T09:00:00", "address": {"country": "JP"}, "stage": "Arrival"})
    (event,) = SEVENTEENTRACK.parse(body, ctx()).events
    assert (event.occurred_at, event.utc_offset, event.milestone) == (
        utc(2026, 1, 10, 0, 0),
        540,
        "arrived_at_facility",
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        # sub_status wins over stage.
        ({"sub_status": "InTransit_Departure", "stage": "Arrival"}, ("departed_facility", "InTransit_Departure")),
        # an unmapped sub_status gives way to the stage…
        ({"sub_status": "InTransit_Reconsigned", "stage": "Arrival"}, ("arrived_at_facility", "Arrival")),
        # …then to its main status.
        ({"sub_status": "InTransit_Reconsigned", "stage": ""}, ("in_transit", "InTransit")),
        ({"sub_status": "Exception_Lost"}, ("exception", "Exception_Lost")),
        ({"sub_status": "NotFound_Other"}, ("unknown", "NotFound_Other")),
        ({"sub_status": "Expired_Other"}, ("unknown", "Expired_Other")),
        # No milestone either way: the admin sees the precise code, not its main status.
        ({"sub_status": "NotFound_Weird"}, ("unknown", "NotFound_Weird")),
        ({"sub_status": "", "stage": ""}, ("in_transit", "")),
    ],
)
def test_17track_code_precedence(event, expected):
    body = _track17({"time_utc": "2026-04-29T13:15:00Z", **event})
    (parsed,) = SEVENTEENTRACK.parse(body, ctx()).events
    assert (parsed.milestone, parsed.raw_code) == expected


def test_17track_exception_reasons():
    body = _track17(
        {"time_utc": "2026-04-29T13:15:00Z", "sub_status": "Exception_Lost"},
        {"time_utc": "2026-04-29T14:15:00Z", "sub_status": "Exception_Destroyed"},
        {"time_utc": "2026-04-29T15:15:00Z", "sub_status": "DeliveryFailure_NoBody"},
    )
    assert [e.reason for e in SEVENTEENTRACK.parse(body, ctx()).events] == ["lost", "disposed", "recipient_unavailable"]


def test_17track_tracking_stopped_lists_the_number_without_events():
    result = SEVENTEENTRACK.parse(raw("seventeentrack", "tracking_stopped.json"), ctx())
    assert result.events == []
    assert result.tracking_numbers == ["RR123456789CN"]
    assert result.shipment_info["RR123456789CN"] == {
        "carrier": "3011",
        "reference": "WH/OUT/00042",
        "tracking_stopped": True,
    }


def test_17track_gettrackinfo_response_parses_accepted_and_notes_rejected():
    result = SEVENTEENTRACK.parse(raw("seventeentrack", "gettrackinfo_response.json"), ctx())
    assert result.tracking_numbers == ["LX987654321CN"]
    assert summary(result.events) == [
        ("out_for_delivery", "actual", utc(2026, 4, 29, 5, 2), 120, "OutForDelivery_Other", None, "Berlin"),
        ("delivered", "actual", utc(2026, 4, 29, 9, 47), 120, "Delivered_Other", None, "Berlin"),
    ]
    assert result.shipment_info["XX000000000CN"] == {
        "rejected_code": -18019902,
        "rejected_message": "The tracking number is not registered.",
    }


def test_17track_api_error_code_is_a_parse_error():
    body = dump({"code": -18010014, "data": {"accepted": [], "rejected": []}})
    assert parse_error(SEVENTEENTRACK, body).path == "$.code"


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"event": "TRACKING_DELETED", "data": {"number": "X1"}}, "$.event"),
        ({"event": "TRACKING_UPDATED", "data": {"carrier": 3011}}, "$.data.number"),
        ({"event": "TRACKING_UPDATED", "data": []}, "$.data"),
        ({"hello": "world"}, "$"),
        ([1, 2], "$"),
    ],
)
def test_17track_unexpected_bodies(payload, path):
    assert parse_error(SEVENTEENTRACK, dump(payload)).path == path


def test_17track_bad_event_time_points_at_the_event():
    payload = doc("seventeentrack", "tracking_updated.json")
    providers = payload["data"]["track_info"]["tracking"]["providers"]
    providers[1]["events"][2]["time_utc"] = "yesterday"
    error = parse_error(SEVENTEENTRACK, dump(payload))
    assert error.path == "$.data.track_info.tracking.providers[1].events[2].time_utc"


def test_17track_malformed_json():
    assert parse_error(SEVENTEENTRACK, b'{"event": "TRACKING_UPDATED", "data": {').path == "$"


@settings(max_examples=30, deadline=None)
@given(st.randoms(use_true_random=False))
def test_17track_provider_and_event_order_is_irrelevant(rnd):
    reference = SEVENTEENTRACK.parse(raw("seventeentrack", "tracking_updated.json"), ctx())
    payload = doc("seventeentrack", "tracking_updated.json")
    providers = payload["data"]["track_info"]["tracking"]["providers"]
    rnd.shuffle(providers)
    for provider in providers:
        rnd.shuffle(provider["events"])
    assert fingerprints(SEVENTEENTRACK.parse(dump(payload), ctx())) == fingerprints(reference)


SEVENTEENTRACK_SUB_STATUSES = """
    NotFound_Other NotFound_InvalidCode InfoReceived InTransit_PickedUp InTransit_Other InTransit_Departure
    InTransit_Arrival InTransit_CustomsProcessing InTransit_CustomsReleased InTransit_CustomsRequiringInformation
    Expired_Other AvailableForPickup_Other OutForDelivery_Other DeliveryFailure_Other DeliveryFailure_NoBody
    DeliveryFailure_Security DeliveryFailure_Rejected DeliveryFailure_InvalidAddress Delivered_Other Exception_Other
    Exception_Returning Exception_Returned Exception_NoBody Exception_Security Exception_Damage Exception_Rejected
    Exception_Delayed Exception_Lost Exception_Destroyed Exception_Cancel
""".split()
SEVENTEENTRACK_MAIN = "NotFound InfoReceived InTransit Expired AvailableForPickup OutForDelivery DeliveryFailure"
SEVENTEENTRACK_MAIN = (SEVENTEENTRACK_MAIN + " Delivered Exception").split()
SEVENTEENTRACK_STAGES = "InfoReceived PickedUp Departure Arrival AvailableForPickup OutForDelivery Delivered"
SEVENTEENTRACK_STAGES = (SEVENTEENTRACK_STAGES + " Returning Returned").split()


def test_17track_default_map_covers_every_documented_code_with_valid_values():
    table = SEVENTEENTRACK.default_status_map
    missing = set(SEVENTEENTRACK_SUB_STATUSES + SEVENTEENTRACK_MAIN + SEVENTEENTRACK_STAGES) - set(table)
    assert missing == set()
    for milestone, reason in table.values():
        assert milestone == taxonomy.UNKNOWN or taxonomy.is_milestone(milestone)
        assert reason is None or reason in taxonomy.REASON_CODES
    no_milestone = {code for code, (milestone, _reason) in table.items() if milestone == taxonomy.UNKNOWN}
    assert no_milestone == {"NotFound_Other", "NotFound_InvalidCode", "Expired_Other", "NotFound", "Expired"}


# --------------------------------------------------------------------------------------
# ShipEngine
# --------------------------------------------------------------------------------------

SHIPENGINE_EXPECTED = [
    ("info_received", "actual", utc(2026, 4, 26, 13, 0), -240, "SHIPMENT_CREATED", None, "COLUMBUS"),
    ("picked_up", "actual", utc(2026, 4, 26, 21, 5), -240, "PICKED_UP", None, "COLUMBUS"),
    ("arrived_at_facility", "actual", utc(2026, 4, 27, 19, 20), -300, "HUB_SCAN_IN", None, "CHICAGO"),
    # No status_detail_code: the status_code decides.
    ("in_transit", "actual", utc(2026, 4, 28, 11, 0), -300, "IT", None, ""),
    ("unknown", "actual", utc(2026, 4, 28, 23, 40), -300, "CARRIER_STATUS_NOT_MAPPED", None, "CHICAGO"),
    ("departed_facility", "actual", utc(2026, 4, 29, 2, 12), -300, "HUB_SCAN_OUT", None, "CHICAGO"),
    ("arrived_at_facility", "actual", utc(2026, 4, 29, 14, 31), -360, "HUB_SCAN_IN", None, "DENVER"),
    # estimated_delivery_date 2026-05-01T00:00:00 (no zone) is 1 May in Denver.
    ("delivered", "estimated", utc(2026, 5, 2, 5, 59, 59), -360, "", None, ""),
]


def test_shipengine_webhook_gives_exact_events():
    result = SHIPENGINE.parse(raw("shipengine", "track_webhook.json"), ctx(default_timezone="America/Denver"))
    assert summary(result.events) == SHIPENGINE_EXPECTED
    assert result.tracking_numbers == ["9405511899223197428490"]
    assert {e.carrier for e in result.events} == {"usps"}
    assert result.unmapped_codes == ["CARRIER_STATUS_NOT_MAPPED"]
    info = result.shipment_info["9405511899223197428490"]
    assert (info["partner_status"], info["partner_status_detail"]) == ("IT", "HUB_SCAN_IN")
    assert "signed_by" not in info and "pod_url" not in info


def test_shipengine_event_details_are_kept():
    result = SHIPENGINE.parse(raw("shipengine", "track_webhook.json"), ctx())
    denver = next(e for e in result.events if e.city == "DENVER")
    assert (denver.region, denver.postcode, denver.country) == ("CO", "80266", "US")
    assert (denver.latitude, denver.longitude) == (39.7392, -104.9903)
    assert denver.description == "Arrived at USPS Regional Destination Facility"


@pytest.mark.parametrize(
    ("default_timezone", "window"),
    [
        ("America/Denver", (utc(2026, 5, 1, 6, 0), utc(2026, 5, 2, 5, 59, 59))),
        # ShipEngine sends no destination: the newest located scan (Denver) tells where
        # the parcel ends up, before the connector's zone (a fallback, not an override).
        ("America/New_York", (utc(2026, 5, 1, 6, 0), utc(2026, 5, 2, 5, 59, 59))),
        # Without a connector zone, the same scan decides.
        (None, (utc(2026, 5, 1, 6, 0), utc(2026, 5, 2, 5, 59, 59))),
    ],
)
def test_shipengine_date_only_estimate_covers_the_local_day(default_timezone, window):
    result = SHIPENGINE.parse(raw("shipengine", "track_webhook.json"), ctx(default_timezone=default_timezone))
    (estimate,) = [e for e in result.events if e.event_class == taxonomy.ESTIMATED]
    assert (estimate.milestone, estimate.window_start, estimate.window_end) == ("delivered", *window)
    assert estimate.occurred_at == window[1]
    assert estimate.issued_at == RECEIVED
    assert estimate.time_assumed_utc is False


def test_shipengine_estimate_without_any_zone_is_flagged():
    payload = {"tracking_number": "1Z1", "estimated_delivery_date": "2026-05-01T00:00:00", "events": []}
    (estimate,) = SHIPENGINE.parse(dump(payload), ctx()).events
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 5, 1), utc(2026, 5, 1, 23, 59, 59))
    assert estimate.time_assumed_utc is True


def test_shipengine_poll_response_with_pod_and_shuffled_events():
    result = SHIPENGINE.parse(raw("shipengine", "tracking_info_delivered.json"), ctx())
    assert summary(result.events) == [
        ("picked_up", "actual", utc(2026, 4, 28, 20, 0), -240, "PICKED_UP", None, "PARSIPPANY"),
        (
            "arrived_at_facility",
            "actual",
            utc(2026, 4, 29, 22, 10),
            -240,
            "RECEIVED_LOCAL_DELIVERY_DEPOT",
            None,
            "MASPETH",
        ),
        ("out_for_delivery", "actual", utc(2026, 4, 30, 12, 5), -240, "OUT_FOR_DELIVERY", None, "BROOKLYN"),
        ("delivered", "actual", utc(2026, 4, 30, 14, 42), -240, "DELIVERED", None, "BROOKLYN"),
        # No connector zone: the delivery scan in Brooklyn puts 30 April in New York time.
        ("delivered", "estimated", utc(2026, 5, 1, 3, 59, 59), -240, "", None, ""),
    ]
    delivered = next(e for e in result.events if e.milestone == "delivered" and e.is_actual)
    assert (delivered.signed_by, delivered.pod_url) == (
        "GARCIA",
        "https://www.ups.com/track/pod/1Z999AA10123456784.png",
    )
    assert [e.signed_by for e in result.events if e is not delivered] == [""] * 4
    info = result.shipment_info["1Z999AA10123456784"]
    assert info["signed_by"] == "GARCIA"
    assert info["pod_url"] == "https://www.ups.com/track/pod/1Z999AA10123456784.png"
    assert info["actual_delivery_date"] == "2026-04-30T10:42:00"


def test_shipengine_delivered_damaged_is_delivered_with_reason_damaged():
    payload = doc("shipengine", "tracking_info_delivered.json")
    scan = next(e for e in payload["events"] if e["status_code"] == "DE")
    scan["status_detail_code"] = "DELIVERED_DAMAGED"
    (delivered,) = [
        e for e in SHIPENGINE.parse(dump(payload), ctx()).events if e.is_actual and e.raw_code.startswith("DEL")
    ]
    assert (delivered.milestone, delivered.reason, delivered.raw_code) == ("delivered", "damaged", "DELIVERED_DAMAGED")


def test_shipengine_bare_and_enveloped_tracking_information_agree():
    bare = doc("shipengine", "tracking_info_delivered.json")
    envelope = {"resource_url": "https://api.shipengine.com/v1/tracking?x", "resource_type": "API_TRACK", "data": bare}
    assert fingerprints(SHIPENGINE.parse(dump(envelope), ctx())) == fingerprints(SHIPENGINE.parse(dump(bare), ctx()))


@pytest.mark.parametrize(
    ("detail", "status", "expected"),
    [
        ("CARRIER_STATUS_NOT_MAPPED", "IT", ("in_transit", "IT")),
        ("CARRIER_STATUS_NOT_MAPPED", "UN", ("unknown", "CARRIER_STATUS_NOT_MAPPED")),
        ("SOMETHING_NEW", "DE", ("delivered", "DE")),
        (None, "AC", ("info_received", "AC")),
        (None, "UN", ("unknown", "UN")),
        ("TRACKING_EXPIRED", None, ("unknown", "TRACKING_EXPIRED")),
        ("PARCEL_LOST", "EX", ("exception", "PARCEL_LOST")),
    ],
)
def test_shipengine_detail_code_then_status_code(detail, status, expected):
    event = {"occurred_at": "2026-04-29T14:31:00Z", "status_detail_code": detail, "status_code": status}
    (parsed,) = SHIPENGINE.parse(dump({"tracking_number": "1Z1", "events": [event]}), ctx()).events
    assert (parsed.milestone, parsed.raw_code) == expected


def test_shipengine_uses_occurred_at_not_the_carrier_wall_clock():
    event = {"occurred_at": "2026-04-29T14:31:00Z", "carrier_occurred_at": "2026-04-29T14:38:00", "status_code": "IT"}
    (parsed,) = SHIPENGINE.parse(dump({"tracking_number": "1Z1", "events": [event]}), ctx()).events
    # A 7-minute "offset" is no time zone: the instant stays, shown in UTC.
    assert (parsed.occurred_at, parsed.utc_offset) == (utc(2026, 4, 29, 14, 31), 0)


def test_shipengine_carrier_wall_clock_alone_is_read_in_the_scan_zone():
    event = {
        "carrier_occurred_at": "2026-01-15T08:00:00",
        "status_code": "IT",
        "state_province": "IL",
        "country_code": "US",
    }
    (parsed,) = SHIPENGINE.parse(dump({"tracking_number": "1Z1", "events": [event]}), ctx()).events
    assert (parsed.occurred_at, parsed.utc_offset, parsed.time_assumed_utc) == (utc(2026, 1, 15, 14, 0), -360, False)


def test_shipengine_status_map_overrides():
    status_map = {"HUB_SCAN_IN": ("in_transit", None), "CARRIER_STATUS_NOT_MAPPED": ("delayed", "carrier_delay")}
    result = SHIPENGINE.parse(raw("shipengine", "track_webhook.json"), ctx(status_map=status_map))
    assert [e.milestone for e in result.events if e.raw_code == "HUB_SCAN_IN"] == ["in_transit", "in_transit"]
    sorting = next(e for e in result.events if e.raw_code == "CARRIER_STATUS_NOT_MAPPED")
    assert (sorting.milestone, sorting.reason) == ("delayed", "carrier_delay")
    assert result.unmapped_codes == []


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(7)))
def test_shipengine_event_order_is_irrelevant(order):
    reference = SHIPENGINE.parse(raw("shipengine", "track_webhook.json"), ctx())
    payload = doc("shipengine", "track_webhook.json")
    payload["data"]["events"] = [payload["data"]["events"][i] for i in order]
    assert fingerprints(SHIPENGINE.parse(dump(payload), ctx())) == fingerprints(reference)


def test_shipengine_replayed_history_adds_no_new_fact():
    payload = doc("shipengine", "track_webhook.json")
    once = fingerprints(SHIPENGINE.parse(dump(payload), ctx()))
    payload["data"]["events"] = payload["data"]["events"] + copy.deepcopy(payload["data"]["events"])
    assert fingerprints(SHIPENGINE.parse(dump(payload), ctx())) == once


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"resource_url": "x", "resource_type": "API_RATE", "data": {}}, "$.resource_type"),
        ({"resource_url": "x", "resource_type": "API_TRACK", "data": None}, "$.data"),
        ({"resource_url": "x", "resource_type": "API_TRACK", "data": {"events": []}}, "$.data.tracking_number"),
        ({"tracking_number": "1Z1", "events": [{"status_code": "IT"}]}, "$.events[0]"),
        (
            {"tracking_number": "1Z1", "events": [{"occurred_at": "soon", "status_code": "IT"}]},
            "$.events[0].occurred_at",
        ),
        ({"tracking_number": "1Z1", "events": {"a": 1}}, "$.events"),
    ],
)
def test_shipengine_unexpected_bodies(payload, path):
    assert parse_error(SHIPENGINE, dump(payload)).path == path


def test_shipengine_malformed_json():
    assert parse_error(SHIPENGINE, b"<html>502 Bad Gateway</html>").path == "$"


SHIPENGINE_DETAIL_CODES = """
    SHIPMENT_CREATED AWAITING_PICKUP_DROP_OFF ELEC_ADVICE_RECD_BY_CARRIER NOT_YET_RECEIVED_BY_CARRIER DROPPED_OFF
    PICKED_UP RECEIVED_BY_CARRIER RECD_BY_CARRIER_NO_ELEC_ADVICE IN_TRANSIT HUB_SCAN_IN HUB_SCAN_OUT HUB_PROCESSING
    RECEIVED_LOCAL_DELIVERY_DEPOT SUB_CONTRACTOR_EVENT SUB_CONTRACTOR_RECEIVED PARCEL_REDIRECTED
    PARCEL_REDIRECTED_BY_CARRIER PARCEL_OVER_LABELLED PARCEL_REPACKED PARCEL_UPDATE_NOTIFICATION INFORMATION MISROUTED
    CUSTOMS_PROCESSING CUSTOMS_CLEARED HELD_BY_CUSTOMS HELD_BY_CARRIER_FOR_CLEARANCE_PRE_PROCESSING
    INCORRECT_DECLARATION DUTY_NOT_PAID DELIVERY_SCHEDULED DELIVERY_RESCHEDULED DELIVERY_ARRANGED_WITH_RECIPIENT
    OUT_FOR_DELIVERY ATTEMPTED_DELIVERY ATTEMPTED_DELIVERY_FINAL CUSTOMER_CARDED NO_ACCESS_TO_RECIPIENTS_ADDRESS
    CUSTOMER_IDENTIFICATION_FAILED COD_AMOUNT_NOT_PAID AWAITING_COLLECTION_FROM_PICKUP_POINT COLLECT_AT_LOCAL_PO
    CUSTOMER_TO_COLLECT_FROM_CARRIER DELIVERED_TO_PICKUP_POINT NOT_COLLECTED_FROM_PICKUP_POINT DELIVERED
    DELIVERED_TO_RECEPTION DELIVERED_SPECIFIED_SAFE_PLACE DELIVERED_TO_ALTERNATIVE_DELIVERY_LOCATION
    DELIVERED_TO_NEIGHBOUR DELIVERED_TO_PO_BOX PARCEL_COLLECTED_FROM_PICKUP_POINT PROOF_OF_DELIVERY COD_AMOUNT_PAID
    DELIVERED_DAMAGED DELIVERED_IN_PART POST_TRANSIT_STATUS CARRIER_DELAYS DELAYED_NOT_CARRIER HELD_BY_CARRIER
    ADDRESS_QUERY PARCEL_DAMAGED PICKUP_FAILED CUSTOMER_MOVED HAZARDOUS_PROHIBITED
    PARCEL_OUTSIDE_OF_SERVICE_CAPABILITY REFUSED_BY_CUSTOMER NOT_DELIVERED NOT_DELIVERED_ADDRESSEE_DECEASED
    UNSPECIFIED_EXCEPTION PARCEL_LOST PARCEL_DISPOSED TRACKING_EXPIRED CANCELLED RETURN_TO_SENDER
    UNDELIVERABLE_RETURNED_TO_SENDER
""".split()


def test_shipengine_default_map_covers_every_documented_code():
    table = SHIPENGINE.default_status_map
    documented = set(SHIPENGINE_DETAIL_CODES) | {"UN", "AC", "IT", "DE", "EX", "AT", "NY", "SP"}
    assert documented - set(table) == set()
    # Left out so that it falls back to the status code (11.4 "alone").
    assert "CARRIER_STATUS_NOT_MAPPED" not in table
    for milestone, reason in table.values():
        assert milestone == taxonomy.UNKNOWN or taxonomy.is_milestone(milestone)
        assert reason is None or reason in taxonomy.REASON_CODES
    no_milestone = {code for code, (milestone, _reason) in table.items() if milestone == taxonomy.UNKNOWN}
    assert no_milestone == {"UN", "TRACKING_EXPIRED", "POST_TRANSIT_STATUS"}
    assert table["DELIVERED_DAMAGED"] == ("delivered", "damaged")
    assert table["DELIVERED_TO_PICKUP_POINT"] == ("available_for_pickup", None)


def test_native_codes_map_to_themselves():
    assert GENERIC.default_status_map == {code: (code, None) for code in taxonomy.MILESTONE_CODES}


def test_every_adapter_result_is_json_serialisable_shipment_info():
    # shipment_info is stored on Odoo records: keep it plain data.
    for adapter, folder, name in (
        (GENERIC, "generic_json", "native_tracking_updated.json"),
        (SEVENTEENTRACK, "seventeentrack", "gettrackinfo_response.json"),
        (SHIPENGINE, "shipengine", "tracking_info_delivered.json"),
    ):
        json.dumps(adapter.parse(raw(folder, name), ctx()).shipment_info)


def test_build_event_names_the_partner_path_of_an_invalid_event():
    when = datetime(2026, 7, 1, tzinfo=timezone.utc)
    assert build_event("$.events[0]", tracking_number="1Z1", milestone="delivered", occurred_at=when).milestone \
        == "delivered"
    with pytest.raises(ParseError) as caught:
        build_event("$.events[3]", tracking_number="1Z1", milestone="teleported", occurred_at=when)
    assert caught.value.path == "$.events[3]"
    assert "teleported" in str(caught.value)
