"""Parcel aggregator adapters: AfterShip, EasyPost and Shippo (reference sections 1–3, 11, 12).

Expected times are worked out by hand from the fixtures, never read back from the code.
"""

import copy
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration import taxonomy
from integration.adapters import AdapterContext, ParseError, aftership, easypost, get_adapter, shippo

FIXTURES = Path(__file__).parent / "fixtures"
UTC = timezone.utc
RECEIVED = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def load(partner, name):
    return json.loads((FIXTURES / partner / f"{name}.json").read_text())


def body(data):
    return json.dumps(data).encode()


def ctx(**values):
    values.setdefault("received_at", RECEIVED)
    return AdapterContext(**values)


def parse(adapter, data, **context):
    return adapter.parse(body(data), ctx(**context))


def actual(result):
    """(raw code, milestone, UTC time, offset minutes, reason) of the actual events, by time."""
    return [
        (e.raw_code, e.milestone, e.occurred_at, e.utc_offset, e.reason)
        for e in sorted(result.events, key=lambda e: e.occurred_at)
        if e.event_class == taxonomy.ACTUAL
    ]


def predictions(result, event_class):
    return [e for e in result.events if e.event_class == event_class]


def one(events):
    assert len(events) == 1, events
    return events[0]


def by_raw(result, raw_code):
    return one([e for e in result.events if e.raw_code == raw_code])


def fingerprints(result):
    return {e.fingerprint for e in result.events}


def parse_error(adapter, data_or_bytes, **context):
    raw = data_or_bytes if isinstance(data_or_bytes, bytes) else body(data_or_bytes)
    with pytest.raises(ParseError) as info:
        adapter.parse(raw, ctx(**context))
    return info.value


def test_registry_finds_the_three_adapters():
    assert get_adapter("aftership") is aftership.ADAPTER
    assert get_adapter("easypost") is easypost.ADAPTER
    assert get_adapter("shippo") is shippo.ADAPTER
    codes = [a.code for a in (aftership.ADAPTER, easypost.ADAPTER, shippo.ADAPTER)]
    assert codes == ["aftership", "easypost", "shippo"]


# === AfterShip ===============================================================================

AS = aftership.ADAPTER


def test_aftership_checkpoints_become_actual_events_with_resolved_times():
    result = parse(AS, load("aftership", "tracking_update_delivered"))
    assert actual(result) == [
        # offset in the body: taken as given
        ("InfoReceived_001", "info_received", utc(2026, 7, 10, 6, 15), 120, None),
        # zone-less, Leipzig DEU → Europe/Berlin (CEST)
        ("InTransit_002", "picked_up", utc(2026, 7, 10, 15, 40), 120, None),
        ("InTransit_007", "departed_facility", utc(2026, 7, 11, 0, 5), 120, None),
        # Exception_004 is a customs hold, not a generic exception
        ("Exception_004", "customs_hold", utc(2026, 7, 11, 20, 0), -240, None),
        # zone-less, Cincinnati OH → America/New_York (EDT)
        ("InTransit_005", "customs_cleared", utc(2026, 7, 12, 13, 10), -240, None),
        # zone-less, Denver CO → America/Denver (MDT)
        ("InTransit_003", "arrived_at_facility", utc(2026, 7, 13, 12, 45), -360, None),
        # unknown subtag Exception_099 falls back to its tag
        ("Exception", "exception", utc(2026, 7, 13, 17, 20), -360, None),
        ("OutForDelivery_001", "out_for_delivery", utc(2026, 7, 14, 13, 55), -360, None),
        ("Delivered_003", "delivered", utc(2026, 7, 14, 19, 2), -360, None),
    ]
    assert result.tracking_numbers == ["7391852046"]
    assert all(e.carrier == "dhl" and not e.time_assumed_utc for e in result.events)


def test_aftership_checkpoint_keeps_location_message_and_coordinates():
    result = parse(AS, load("aftership", "tracking_update_delivered"))
    delivered = by_raw(result, "Delivered_003")
    assert delivered.description == "Delivered - Signed for by: J SMITH"
    assert (delivered.city, delivered.region, delivered.postcode, delivered.country) == ("Denver", "CO", "80202", "US")
    assert (delivered.latitude, delivered.longitude) == (39.7508, -104.9966)
    pickup = by_raw(result, "InTransit_002")
    assert (pickup.country, pickup.postcode, pickup.latitude) == ("DE", "04435", None)


def test_aftership_unknown_subtag_falls_back_to_tag_and_is_reported():
    result = parse(AS, load("aftership", "tracking_update_delivered"))
    event = by_raw(result, "Exception")
    assert event.milestone == "exception"
    assert event.extra["subtag"] == "Exception_099"
    assert result.unmapped_codes == ["Exception_099"]


def test_aftership_completely_unknown_code_is_kept_as_unknown():
    data = load("aftership", "tracking_update_delivered")
    checkpoint = data["msg"]["checkpoints"][2]
    checkpoint["tag"], checkpoint["subtag"] = "Quarantine", "Quarantine_001"
    result = parse(AS, data)
    event = by_raw(result, "Quarantine_001")
    assert event.milestone == taxonomy.UNKNOWN
    assert event.occurred_at == utc(2026, 7, 13, 12, 45)
    assert not event.drives_status
    assert result.unmapped_codes == ["Quarantine_001", "Exception_099"]
    assert len(actual(result)) == 9


def test_aftership_pending_subtag_is_no_milestone_but_not_unmapped():
    data = load("aftership", "tracking_update_delivered")
    checkpoint = data["msg"]["checkpoints"][3]
    checkpoint["tag"], checkpoint["subtag"] = "Pending", "Pending_001"
    result = parse(AS, data)
    assert by_raw(result, "Pending_001").milestone == taxonomy.UNKNOWN
    assert result.unmapped_codes == ["Exception_099"]


def test_aftership_admin_status_map_wins_over_the_default():
    overrides = {
        "Exception_004": ("exception", "payment_due"),
        "Exception_099": ("delayed", "carrier_delay"),
    }
    result = parse(AS, load("aftership", "tracking_update_delivered"), status_map=overrides)
    assert (by_raw(result, "Exception_004").milestone, by_raw(result, "Exception_004").reason) == (
        "exception",
        "payment_due",
    )
    mapped = by_raw(result, "Exception_099")
    assert (mapped.milestone, mapped.reason) == ("delayed", "carrier_delay")
    assert result.unmapped_codes == []


def test_aftership_estimate_is_a_destination_day_window_issued_at_ts():
    result = parse(AS, load("aftership", "tracking_update_delivered"))
    # latest_estimated_delivery (15 July) wins over the courier's 16 July.
    estimate = one(predictions(result, taxonomy.ESTIMATED))
    assert estimate.milestone == "delivered"
    assert estimate.raw_code == "latest_estimated_delivery"
    assert estimate.description == "Carrier EDD"
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 7, 15, 6, 0), utc(2026, 7, 16, 5, 59, 59))
    assert estimate.occurred_at == estimate.window_end
    assert estimate.utc_offset == -360
    assert estimate.issued_at == utc(2026, 7, 14, 19, 5)
    assert estimate.window_start.astimezone(ZoneInfo("America/Denver")).date() == date(2026, 7, 15)


def test_aftership_falls_back_to_the_courier_estimate():
    data = load("aftership", "tracking_update_delivered")
    data["msg"]["latest_estimated_delivery"] = None
    estimate = one(predictions(parse(AS, data), taxonomy.ESTIMATED))
    assert estimate.raw_code == "courier_estimated_delivery_date"
    assert estimate.window_end == utc(2026, 7, 17, 5, 59, 59)


def test_aftership_promised_date_is_planned():
    planned = one(predictions(parse(AS, load("aftership", "tracking_update_delivered")), taxonomy.PLANNED))
    assert (planned.milestone, planned.raw_code) == ("delivered", "order_promised_delivery_date")
    assert (planned.window_start, planned.window_end) == (utc(2026, 7, 16, 6, 0), utc(2026, 7, 17, 5, 59, 59))


def test_aftership_estimate_range_covers_every_local_day():
    result = parse(AS, load("aftership", "edd_revise_customs_hold"))
    estimate = one(predictions(result, taxonomy.ESTIMATED))
    assert estimate.raw_code == "aftership_estimated_delivery_date"
    # 11 to 14 July in London (BST, UTC+1).
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 7, 10, 23, 0), utc(2026, 7, 14, 22, 59, 59))
    assert estimate.issued_at == utc(2026, 7, 13, 3, 30)


def test_aftership_customs_hold_and_chinese_local_times():
    result = parse(AS, load("aftership", "edd_revise_customs_hold"))
    assert actual(result) == [
        ("InfoReceived_001", "info_received", utc(2026, 7, 5, 2, 12), 480, None),
        ("InTransit_002", "picked_up", utc(2026, 7, 5, 10, 30), 480, None),
        ("InTransit_007", "departed_facility", utc(2026, 7, 6, 15, 50), 480, None),
        ("InTransit_004", "arrived_at_facility", utc(2026, 7, 8, 5, 5), 60, None),
        ("Exception_018", "customs_hold", utc(2026, 7, 8, 13, 30), 60, "customs_documents"),
        ("Exception_004", "customs_hold", utc(2026, 7, 9, 8, 0), 60, None),
    ]
    assert result.tracking_numbers == ["EE123456785CN"]
    assert result.unmapped_codes == []


def test_aftership_zone_less_time_without_location_uses_destination_then_context_then_utc():
    data = load("aftership", "edd_revise_customs_hold")
    checkpoint = data["msg"]["checkpoints"][0]
    for key in ("city", "state", "zip", "country_region", "country_region_name"):
        checkpoint.pop(key)
    info = by_raw(parse(AS, data), "InfoReceived_001")
    assert (info.occurred_at, info.utc_offset) == (utc(2026, 7, 5, 9, 12), 60)  # London, destination

    data["msg"]["destination_country_region"] = None
    data["msg"]["destination_city"] = None
    # Nor can the other scans tell where the parcel goes.
    for other in data["msg"]["checkpoints"][1:]:
        for key in ("country_region", "country_iso3", "country_name", "state"):
            other.pop(key, None)
    info = by_raw(parse(AS, data, default_timezone="Asia/Tokyo"), "InfoReceived_001")
    assert (info.occurred_at, info.utc_offset, info.time_assumed_utc) == (utc(2026, 7, 5, 1, 12), 540, False)

    info = by_raw(parse(AS, data), "InfoReceived_001")
    assert (info.occurred_at, info.time_assumed_utc) == (utc(2026, 7, 5, 10, 12), True)


def test_aftership_shipment_info_and_external_id():
    raw = (FIXTURES / "aftership" / "tracking_update_delivered.json").read_bytes()
    result = AS.parse(raw, ctx())
    assert result.shipment_info == {
        "7391852046": {"carrier": "dhl", "partner_status": "Delivered", "signed_by": "J SMITH"}
    }
    assert AS.external_id(raw, {}) == "5b8e1d2c-7f3a-4c61-9a0e-2d4f6b8c1e37"
    assert AS.external_id(b"{not json", {}) is None
    assert AS.external_id(b"[]", {}) is None


def test_aftership_duplicate_checkpoint_in_one_message_is_one_event():
    data = load("aftership", "tracking_update_delivered")
    data["msg"]["checkpoints"].append(copy.deepcopy(data["msg"]["checkpoints"][0]))
    assert len(actual(parse(AS, data))) == 9


def test_aftership_rest_answer_gives_the_same_checkpoints():
    msg = load("aftership", "tracking_update_delivered")["msg"]
    webhook = parse(AS, load("aftership", "tracking_update_delivered"))
    for wrapped in ({"meta": {"code": 200}, "data": msg}, {"meta": {"code": 200}, "data": {"tracking": msg}}):
        polled = parse(AS, wrapped)
        assert actual(polled) == actual(webhook)
        # No envelope time: the tracking's last update dates the estimate.
        assert one(predictions(polled, taxonomy.ESTIMATED)).issued_at == utc(2026, 7, 14, 19, 4, 52)
    other = load("aftership", "edd_revise_customs_hold")["msg"]
    listed = parse(AS, {"data": {"trackings": [msg, other], "pagination": {"has_next_page": False}}})
    assert listed.tracking_numbers == ["7391852046", "EE123456785CN"]


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(9)))
def test_aftership_checkpoint_order_is_irrelevant(order):
    data = load("aftership", "tracking_update_delivered")
    reference = fingerprints(parse(AS, data))
    checkpoints = data["msg"]["checkpoints"]
    data["msg"]["checkpoints"] = [checkpoints[i] for i in order]
    assert fingerprints(parse(AS, data)) == reference


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["msg"].pop("tracking_number"), "$.msg.tracking_number"),
        (lambda d: d["msg"].__setitem__("tracking_number", "  "), "$.msg.tracking_number"),
        (lambda d: d.pop("msg"), "$.msg"),
        (lambda d: d.__setitem__("msg", []), "$.msg"),
        (lambda d: d.__setitem__("ts", "yesterday"), "$.ts"),
        (lambda d: d["msg"].__setitem__("checkpoints", {}), "$.msg.checkpoints"),
        (lambda d: d["msg"]["checkpoints"].__setitem__(1, "scan"), "$.msg.checkpoints[1]"),
        (lambda d: d["msg"]["checkpoints"][2].pop("checkpoint_time"), "$.msg.checkpoints[2].checkpoint_time"),
        (
            lambda d: d["msg"]["checkpoints"][4].__setitem__("checkpoint_time", "11/07/2026 02:05"),
            "$.msg.checkpoints[4].checkpoint_time",
        ),
        (
            lambda d: d["msg"]["latest_estimated_delivery"].__setitem__("datetime", "soon"),
            "$.msg.latest_estimated_delivery",
        ),
    ],
)
def test_aftership_malformed_payload_points_at_the_field(mutate, path):
    data = load("aftership", "tracking_update_delivered")
    mutate(data)
    assert parse_error(AS, data).path == path


def test_aftership_invalid_json_and_wrong_shape():
    assert parse_error(AS, b'{"event": ').path == "$"
    assert parse_error(AS, b"\xff\xfe").path == "$"
    assert parse_error(AS, [1, 2]).path == "$"
    assert parse_error(AS, {"hello": "world"}).path == "$"


def test_aftership_admin_map_with_an_invalid_milestone_is_a_parse_error():
    overrides = {"Delivered_003": ("gone", None)}
    error = parse_error(AS, load("aftership", "tracking_update_delivered"), status_map=overrides)
    assert error.path == "$.msg.checkpoints[0]"


AFTERSHIP_MATRIX = {
    "InfoReceived_001": "info_received",
    "InTransit_001": "in_transit",
    "InTransit_002": "picked_up",
    "InTransit_003": "arrived_at_facility",
    "InTransit_004": "arrived_at_facility",
    "InTransit_005": "customs_cleared",
    "InTransit_006": "customs_hold",
    "InTransit_007": "departed_facility",
    "InTransit_008": "in_transit",
    "InTransit_009": "in_transit",
    "OutForDelivery_001": "out_for_delivery",
    "OutForDelivery_002": "available_for_pickup",
    "OutForDelivery_003": "out_for_delivery",
    "OutForDelivery_004": "in_transit",
    "AvailableForPickup_001": "available_for_pickup",
    "AttemptFail_001": "delivery_attempted",
    "AttemptFail_002": "delivery_attempted",
    "AttemptFail_003": "delivery_attempted",
    "Delivered_001": "delivered",
    "Delivered_002": "delivered",
    "Delivered_003": "delivered",
    "Delivered_004": "delivered",
    "Delivered_005": "delivered",
    "Exception_001": "exception",
    "Exception_002": "exception",
    "Exception_003": "exception",
    "Exception_004": "customs_hold",
    "Exception_005": "delayed",
    "Exception_006": "exception",
    "Exception_007": "exception",
    "Exception_008": "exception",
    "Exception_009": "exception",
    "Exception_010": "returning_to_sender",
    "Exception_011": "returned_to_sender",
    "Exception_012": "exception",
    "Exception_013": "exception",
    "Exception_016": "delayed",
    "Exception_017": "delayed",
    "Exception_018": "customs_hold",
    "Exception_019": "delayed",
    "Exception_020": "cancelled",
    "Exception_021": "exception",
    "Pending_001": "unknown",
    "Pending_006": "unknown",
    "Expired_001": "unknown",
    "InfoReceived": "info_received",
    "InTransit": "in_transit",
    "OutForDelivery": "out_for_delivery",
    "AttemptFail": "delivery_attempted",
    "AvailableForPickup": "available_for_pickup",
    "Delivered": "delivered",
    "Exception": "exception",
    "Pending": "unknown",
    "Expired": "unknown",
}


def test_aftership_default_map_follows_the_mapping_matrix():
    got = {code: AS.default_status_map[code][0] for code in AFTERSHIP_MATRIX}
    assert got == AFTERSHIP_MATRIX
    reasons = {code: AS.default_status_map[code][1] for code in ("AttemptFail_002", "AttemptFail_003", "Exception_013")}
    assert reasons == {
        "AttemptFail_002": "recipient_unavailable",
        "AttemptFail_003": "business_closed",
        "Exception_013": "lost",
    }
    assert "Exception_014" not in AS.default_status_map
    for milestone, reason in AS.default_status_map.values():
        assert milestone == taxonomy.UNKNOWN or taxonomy.is_milestone(milestone)
        assert reason is None or reason in taxonomy.REASON_CODES


# === EasyPost ================================================================================

EP = easypost.ADAPTER


def test_easypost_details_are_sorted_and_status_wins_for_the_delivered_scan():
    result = parse(EP, load("easypost", "tracker_updated_delivered"))
    assert actual(result) == [
        ("pre_transit", "info_received", utc(2026, 7, 12, 20, 5), 0, None),
        # USPS acceptance carries arrived_at_facility: detail codes are approximations
        ("arrived_at_facility", "arrived_at_facility", utc(2026, 7, 13, 1, 14), 0, None),
        ("departed_facility", "departed_facility", utc(2026, 7, 13, 6, 2), 0, None),
        # status_detail "unknown" falls back to the status
        ("in_transit", "in_transit", utc(2026, 7, 14, 3, 40), 0, None),
        ("weather_delay", "delayed", utc(2026, 7, 14, 9, 0), 0, "weather"),
        ("arrived_at_facility", "arrived_at_facility", utc(2026, 7, 15, 4, 21), 0, None),
        # zone-less 06:58 in Denver (MDT)
        ("out_for_delivery", "out_for_delivery", utc(2026, 7, 15, 12, 58), -360, None),
        # status delivered + detail arrived_at_destination → delivered
        ("delivered", "delivered", utc(2026, 7, 15, 16, 32), 0, None),
    ]
    assert result.tracking_numbers == ["9400111899223197428490"]
    assert result.unmapped_codes == []
    assert {e.carrier for e in result.events} == {"usps"}


def test_easypost_midnight_utc_estimate_stays_16_july_in_denver():
    result = parse(EP, load("easypost", "tracker_updated_delivered"))
    estimate = one(predictions(result, taxonomy.ESTIMATED))
    assert estimate.raw_code == "est_delivery_date"
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 7, 16, 6, 0), utc(2026, 7, 17, 5, 59, 59))
    denver = ZoneInfo("America/Denver")
    assert estimate.window_start.astimezone(denver).date() == date(2026, 7, 16)
    assert estimate.window_end.astimezone(denver).date() == date(2026, 7, 16)
    assert estimate.occurred_at == estimate.window_end
    assert estimate.issued_at == utc(2026, 7, 15, 17, 45, 12)
    assert predictions(result, taxonomy.PLANNED) == []


def test_easypost_delivered_scan_location_and_shipment_info():
    raw = (FIXTURES / "easypost" / "tracker_updated_delivered.json").read_bytes()
    result = EP.parse(raw, ctx())
    delivered = by_raw(result, "delivered")
    assert (delivered.description, delivered.city, delivered.region, delivered.postcode, delivered.country) == (
        "Delivered, In/At Mailbox",
        "DENVER",
        "CO",
        "80202",
        "US",
    )
    assert delivered.extra["status_detail"] == "arrived_at_destination"
    assert result.shipment_info == {
        "9400111899223197428490": {"carrier": "usps", "partner_status": "delivered", "signed_by": "K JONES"}
    }
    assert result.external_id == "evt_8a1f3c2e9b7d4e6fa0c1d2e3f4a5b6c7"
    assert EP.external_id(raw, {}) == "evt_8a1f3c2e9b7d4e6fa0c1d2e3f4a5b6c7"


def test_easypost_is_return_delivered_is_returned_to_sender():
    result = parse(EP, load("easypost", "tracker_updated_return_delivered"))
    assert actual(result) == [
        ("return_to_sender", "returning_to_sender", utc(2026, 7, 15, 14, 10), 0, None),
        # a detail EasyPost added after 11.3: kept, mapped through the status
        ("in_transit", "in_transit", utc(2026, 7, 16, 19, 5), 0, None),
        ("arrived_at_facility", "arrived_at_facility", utc(2026, 7, 17, 9, 15), 0, None),
        (easypost.RETURN_DELIVERED, "returned_to_sender", utc(2026, 7, 18, 15, 47), 0, None),
    ]
    assert result.unmapped_codes == ["rerouted"]
    assert by_raw(result, "in_transit").extra["status_detail"] == "rerouted"


def test_easypost_local_estimate_pair_is_preferred_and_guarantee_is_planned():
    result = parse(EP, load("easypost", "tracker_updated_return_delivered"))
    estimate = one(predictions(result, taxonomy.ESTIMATED))
    # 2026-07-18 17:00 in Chicago (CDT), not the midnight-UTC est_delivery_date
    assert estimate.raw_code == "est_delivery_date_local"
    assert estimate.occurred_at == estimate.window_start == estimate.window_end == utc(2026, 7, 18, 22, 0)
    assert estimate.utc_offset == -300
    planned = one(predictions(result, taxonomy.PLANNED))
    assert planned.raw_code == "guaranteed_delivery_date"
    assert (planned.window_start, planned.window_end) == (utc(2026, 7, 19, 5, 0), utc(2026, 7, 20, 4, 59, 59))
    assert planned.issued_at == utc(2026, 7, 18, 16, 0, 3)


def test_easypost_estimate_without_destination_uses_the_context_zone():
    data = load("easypost", "tracker_updated_delivered")
    data["result"]["carrier_detail"]["destination_tracking_location"] = None
    # Nothing else tells the destination either: no text, no located scan.
    data["result"]["carrier_detail"]["destination_location"] = None
    for detail in data["result"]["tracking_details"]:
        detail["tracking_location"] = None
    estimate = one(predictions(parse(EP, data, default_timezone="Europe/Berlin"), taxonomy.ESTIMATED))
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 7, 15, 22, 0), utc(2026, 7, 16, 21, 59, 59))


def test_easypost_pre_transit_is_info_received_whatever_the_detail():
    data = load("easypost", "tracker_updated_delivered")
    data["result"]["tracking_details"][1]["status_detail"] = "status_update"
    assert by_raw(parse(EP, data), "pre_transit").milestone == "info_received"


def test_easypost_admin_status_map_wins_over_the_default():
    overrides = {"weather_delay": ("delayed", "other"), "delivered": ("available_for_pickup", None)}
    result = parse(EP, load("easypost", "tracker_updated_delivered"), status_map=overrides)
    assert by_raw(result, "weather_delay").reason == "other"
    assert by_raw(result, "delivered").milestone == "available_for_pickup"


def test_easypost_bare_tracker_list_and_page_are_accepted():
    event = load("easypost", "tracker_updated_delivered")
    other = load("easypost", "tracker_updated_return_delivered")
    webhook = parse(EP, event)
    polled = parse(EP, event["result"])
    assert actual(polled) == actual(webhook)
    assert polled.external_id is None
    assert EP.external_id(body(event["result"]), {}) is None
    # A poll has no Event: the tracker's update time dates the estimate.
    assert one(predictions(polled, taxonomy.ESTIMATED)).issued_at == utc(2026, 7, 15, 17, 45, 10)
    listed = parse(EP, [event["result"], other["result"]])
    paged = parse(EP, {"trackers": [event["result"], other["result"]], "has_more": False})
    assert listed.tracking_numbers == paged.tracking_numbers == ["9400111899223197428490", "794612345678"]
    assert fingerprints(listed) == fingerprints(paged)
    assert len(actual(listed)) == 12


def test_easypost_events_about_other_objects_yield_nothing():
    data = {"id": "evt_0a1b", "object": "Event", "description": "batch.updated", "result": {"object": "Batch"}}
    result = parse(EP, data)
    assert (result.events, result.tracking_numbers, result.external_id) == ([], [], "evt_0a1b")


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(8)))
def test_easypost_detail_order_is_irrelevant(order):
    data = load("easypost", "tracker_updated_delivered")
    reference = fingerprints(parse(EP, data))
    details = data["result"]["tracking_details"]
    data["result"]["tracking_details"] = [details[i] for i in order]
    assert fingerprints(parse(EP, data)) == reference


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["result"].pop("tracking_code"), "$.result.tracking_code"),
        (lambda d: d.__setitem__("result", None), "$.result"),
        (lambda d: d["result"].__setitem__("tracking_details", "none"), "$.result.tracking_details"),
        (lambda d: d["result"]["tracking_details"].__setitem__(2, None), "$.result.tracking_details[2]"),
        (lambda d: d["result"]["tracking_details"][3].pop("datetime"), "$.result.tracking_details[3].datetime"),
        (
            lambda d: d["result"]["tracking_details"][3].__setitem__("datetime", "13 Jul 2026"),
            "$.result.tracking_details[3].datetime",
        ),
        (lambda d: d.__setitem__("created_at", "never"), "$.created_at"),
        (lambda d: d["result"].__setitem__("est_delivery_date", "next week"), "$.result.est_delivery_date"),
        (lambda d: d["result"].__setitem__("carrier_detail", "USPS"), "$.result.carrier_detail"),
    ],
)
def test_easypost_malformed_payload_points_at_the_field(mutate, path):
    data = load("easypost", "tracker_updated_delivered")
    mutate(data)
    assert parse_error(EP, data).path == path


def test_easypost_invalid_json_and_wrong_shape():
    assert parse_error(EP, b"").path == "$"
    assert parse_error(EP, "tracker").path == "$"
    assert parse_error(EP, [{"tracking_code": "1"}, 7]).path == "$[1]"


EASYPOST_MATRIX = {
    "pre_transit": "info_received",
    "label_created": "info_received",
    "awaiting_information": "info_received",
    "received_at_origin_facility": "picked_up",
    "in_transit": "in_transit",
    "status_update": "in_transit",
    "transferred_to_destination_carrier": "in_transit",
    "address_correction": "in_transit",
    "arrived_at_facility": "arrived_at_facility",
    "received_at_destination_facility": "arrived_at_facility",
    "arrived_at_destination": "arrived_at_facility",
    "departed_facility": "departed_facility",
    "departed_origin_facility": "departed_facility",
    "out_for_delivery": "out_for_delivery",
    "delivery_exception": "delivery_attempted",
    "available_for_pickup": "available_for_pickup",
    "arrived_at_pickup_location": "available_for_pickup",
    "delivered": "delivered",
    "delivered+is_return": "returned_to_sender",
    "delayed": "delayed",
    "weather_delay": "delayed",
    "missorted": "delayed",
    "failure": "exception",
    "held": "exception",
    "transit_exception": "exception",
    "damaged": "exception",
    "refused": "exception",
    "lost": "exception",
    "return_to_sender": "returning_to_sender",
    "return": "returning_to_sender",
    "cancelled": "cancelled",
    "unknown": "unknown",
    "error": "unknown",
    "expired": "unknown",
}


def test_easypost_default_map_follows_the_mapping_matrix():
    assert {code: EP.default_status_map[code][0] for code in EASYPOST_MATRIX} == EASYPOST_MATRIX
    assert set(EP.default_status_map) == set(EASYPOST_MATRIX)
    assert EP.default_status_map["missorted"][1] == "misrouted"
    assert EP.default_status_map["held"][1] == "held_by_carrier"


# === Shippo ==================================================================================

SH = shippo.ADAPTER


def test_shippo_history_and_current_status_collapse_and_resolve_local_times():
    result = parse(SH, load("shippo", "track_updated_attempted"))
    assert actual(result) == [
        ("information_received", "info_received", utc(2026, 7, 12, 16, 20), 0, None),
        # zone-less, San Francisco CA (PDT)
        ("package_accepted", "picked_up", utc(2026, 7, 13, 16, 5), -420, None),
        ("package_departed", "departed_facility", utc(2026, 7, 14, 5, 40), -420, None),
        # zone-less, Denver CO (MDT)
        ("package_arrived", "arrived_at_facility", utc(2026, 7, 15, 9, 12), -360, None),
        ("out_for_delivery", "out_for_delivery", utc(2026, 7, 15, 14, 1), -360, None),
        # a TRANSIT substatus: an attempt, not a failure
        ("notice_left", "delivery_attempted", utc(2026, 7, 15, 20, 37), -360, "recipient_unavailable"),
    ]
    assert result.tracking_numbers == ["9205590164917312751089"]
    assert result.unmapped_codes == []
    notice = by_raw(result, "notice_left")
    assert notice.extra["action_required"] is True
    assert notice.description == "Notice left (No authorized recipient available)."


def test_shippo_eta_is_a_destination_day_and_original_eta_is_ignored():
    result = parse(SH, load("shippo", "track_updated_attempted"))
    estimate = one(predictions(result, taxonomy.ESTIMATED))
    assert estimate.raw_code == "eta"
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 7, 16, 6, 0), utc(2026, 7, 17, 5, 59, 59))
    assert estimate.window_start.astimezone(ZoneInfo("America/Denver")).date() == date(2026, 7, 16)
    assert estimate.issued_at == utc(2026, 7, 15, 20, 52, 10, 412000)
    assert predictions(result, taxonomy.PLANNED) == []


def test_shippo_eta_without_a_status_update_is_issued_when_received():
    data = load("shippo", "track_updated_attempted")
    data["data"]["tracking_status"] = None
    estimate = one(predictions(parse(SH, data), taxonomy.ESTIMATED))
    assert estimate.issued_at == RECEIVED


def test_shippo_has_no_external_id_and_reports_action_required():
    raw = (FIXTURES / "shippo" / "track_updated_attempted.json").read_bytes()
    result = SH.parse(raw, ctx())
    assert SH.external_id(raw, {}) is None
    assert result.external_id is None
    assert result.shipment_info == {
        "9205590164917312751089": {"carrier": "usps", "partner_status": "TRANSIT", "action_required": True}
    }


def test_shippo_bare_track_unknown_substatus_and_return():
    result = parse(SH, load("shippo", "track_returned_poll"))
    assert actual(result) == [
        ("information_received", "info_received", utc(2026, 7, 10, 11, 0), 0, None),
        # zone-less, Memphis TN (CDT)
        ("package_accepted", "picked_up", utc(2026, 7, 10, 23, 45), -300, None),
        # unknown substatus: falls back to the TRANSIT status; Frankfurt (CEST)
        ("TRANSIT", "in_transit", utc(2026, 7, 13, 8, 20), 120, None),
        ("UNKNOWN", taxonomy.UNKNOWN, utc(2026, 7, 14, 7, 0), 0, None),
        ("delivery_attempted", "delivery_attempted", utc(2026, 7, 15, 8, 30), 120, None),
        ("package_unclaimed", "returning_to_sender", utc(2026, 7, 18, 10, 0), 120, "not_collected"),
    ]
    assert result.unmapped_codes == ["package_customs_review"]


def test_shippo_midnight_without_zone_is_a_berlin_day():
    estimate = one(predictions(parse(SH, load("shippo", "track_returned_poll")), taxonomy.ESTIMATED))
    assert (estimate.window_start, estimate.window_end) == (utc(2026, 7, 19, 22, 0), utc(2026, 7, 20, 21, 59, 59))
    assert estimate.utc_offset == 120


def test_shippo_admin_status_map_wins_over_the_default():
    overrides = {"package_customs_review": ("customs_hold", None), "notice_left": ("delivery_attempted", "refused")}
    returned = parse(SH, load("shippo", "track_returned_poll"), status_map=overrides)
    assert by_raw(returned, "package_customs_review").milestone == "customs_hold"
    assert returned.unmapped_codes == []
    attempted = parse(SH, load("shippo", "track_updated_attempted"), status_map=overrides)
    assert by_raw(attempted, "notice_left").reason == "refused"


def test_shippo_other_webhook_events_yield_nothing():
    result = parse(SH, {"event": "transaction_created", "test": True, "data": {"object_id": "abc"}})
    assert (result.events, result.tracking_numbers) == ([], [])


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(6)))
def test_shippo_history_order_is_irrelevant(order):
    data = load("shippo", "track_updated_attempted")
    reference = fingerprints(parse(SH, data))
    history = data["data"]["tracking_history"]
    data["data"]["tracking_history"] = [history[i] for i in order]
    assert fingerprints(parse(SH, data)) == reference


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["data"].pop("tracking_number"), "$.data.tracking_number"),
        (lambda d: d.__setitem__("data", "track"), "$.data"),
        (lambda d: d["data"].__setitem__("tracking_history", {}), "$.data.tracking_history"),
        (lambda d: d["data"]["tracking_history"].__setitem__(0, 3), "$.data.tracking_history[0]"),
        (lambda d: d["data"]["tracking_history"][1].pop("status_date"), "$.data.tracking_history[1].status_date"),
        (
            lambda d: d["data"]["tracking_history"][2].__setitem__("status_date", "July 15"),
            "$.data.tracking_history[2].status_date",
        ),
        (
            lambda d: d["data"]["tracking_status"].update(object_id="fresh", status_date="?"),
            "$.data.tracking_status.status_date",
        ),
        (lambda d: d["data"].__setitem__("eta", "tomorrow"), "$.data.eta"),
        (lambda d: d["data"].__setitem__("address_to", "Denver"), "$.data.address_to"),
    ],
)
def test_shippo_malformed_payload_points_at_the_field(mutate, path):
    data = load("shippo", "track_updated_attempted")
    mutate(data)
    assert parse_error(SH, data).path == path


def test_shippo_invalid_json_and_wrong_shape():
    assert parse_error(SH, b"track_updated").path == "$"
    assert parse_error(SH, [{}]).path == "$"


def test_shippo_default_map_follows_the_mapping_matrix():
    expected = {
        "information_received": "info_received",
        "package_accepted": "picked_up",
        "package_processing": "in_transit",
        "package_processed": "in_transit",
        "package_forwarded": "in_transit",
        "delivery_scheduled": "in_transit",
        "package_arrived": "arrived_at_facility",
        "package_departed": "departed_facility",
        "out_for_delivery": "out_for_delivery",
        "delivery_attempted": "delivery_attempted",
        "notice_left": "delivery_attempted",
        "location_inaccessible": "delivery_attempted",
        "reschedule_delivery": "delivery_attempted",
        "pickup_available": "available_for_pickup",
        "delivered": "delivered",
        "delayed": "delayed",
        "delivery_rescheduled": "delayed",
        "address_issue": "exception",
        "contact_carrier": "exception",
        "package_damaged": "exception",
        "package_held": "exception",
        "package_undeliverable": "exception",
        "package_lost": "exception",
        "package_disposed": "exception",
        "return_to_sender": "returning_to_sender",
        "package_unclaimed": "returning_to_sender",
        "other": "unknown",
        "PRE_TRANSIT": "info_received",
        "TRANSIT": "in_transit",
        "DELIVERED": "delivered",
        "RETURNED": "returning_to_sender",
        "FAILURE": "exception",
        "UNKNOWN": "unknown",
    }
    assert {code: milestone for code, (milestone, _reason) in SH.default_status_map.items()} == expected
    assert SH.default_status_map["package_lost"][1] == "lost"
    assert SH.default_status_map["package_disposed"][1] == "disposed"
    assert SH.default_status_map["location_inaccessible"][1] == "address_issue"


def test_replaying_every_fixture_yields_the_same_facts():
    for adapter, partner in ((AS, "aftership"), (EP, "easypost"), (SH, "shippo")):
        for path in sorted((FIXTURES / partner).glob("*.json")):
            raw = path.read_bytes()
            first = adapter.parse(raw, ctx())
            again = adapter.parse(raw, ctx(received_at=RECEIVED + timedelta(hours=3)))
            assert fingerprints(first) == fingerprints(again), path.name
            assert all(e.occurred_at.tzinfo is UTC for e in first.events)


def test_shippo_current_status_missing_from_history_is_kept():
    data = load("shippo", "track_updated_attempted")
    data["data"]["tracking_status"].update(
        object_id="0e2a4c6e8a0c4e2a4c6e8a0c2e4a6c8f",
        status="DELIVERED",
        status_details="Delivered, Front Door/Porch.",
        status_date="2026-07-16T11:04:00",
        substatus={"code": "delivered", "text": "Package has been delivered.", "action_required": False},
    )
    result = parse(SH, data)
    assert actual(result)[-1] == ("delivered", "delivered", utc(2026, 7, 16, 17, 4), -360, None)
    assert len(actual(result)) == 7


def test_shippo_current_status_is_recognised_by_object_id_not_by_content():
    # The current status sometimes comes back thinner than its history twin.
    data = load("shippo", "track_updated_attempted")
    data["data"]["tracking_status"]["location"] = None
    result = parse(SH, data)
    assert len(actual(result)) == 6
    assert by_raw(result, "notice_left").city == "Denver"
