"""Messages the partners published themselves, read the way a user expects.

Every file of ``fixtures/real_samples`` is a partner's own message (SDK fixtures,
documentation repositories, recordings of live APIs); ``fixtures/real_samples/README.md``
gives each file's source repository, path, commit and licence, and what it must yield.
The files are read in binary mode, byte for byte as published.
"""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integration import edi_x12, signatures, status, taxonomy
from integration.adapters import AdapterContext, ParseError, get_adapter

SAMPLES = Path(__file__).parent / "fixtures" / "real_samples"
UTC = timezone.utc
RECEIVED = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)

AFTERSHIP = get_adapter("aftership")
EASYPOST = get_adapter("easypost")
SHIPPO = get_adapter("shippo")
SHIPENGINE = get_adapter("shipengine")
X12 = get_adapter("edi_x12_214")
DCSA = get_adapter("dcsa_tnt")


def sample(name):
    return (SAMPLES / name).read_bytes()


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def ctx(**values):
    values.setdefault("received_at", RECEIVED)
    return AdapterContext(**values)


def actual(result, number=None):
    return [e for e in result.events
            if e.event_class == taxonomy.ACTUAL and (number is None or e.tracking_number == number)]


def predictions(result, event_class):
    return [e for e in result.events if e.event_class == event_class]


def aftership_webhook(name, ts=1_700_000_000):
    """AfterShip publishes no byte-exact webhook envelope: its Tracking object (the REST
    answer's ``data.tracking`` or ``data``) is wrapped in the documented
    ``{event, event_id, is_tracking_first_tag, msg, ts}`` envelope here."""
    data = json.loads(sample(name))
    tracking = data.get("data", data)
    tracking = tracking.get("tracking", tracking)
    return json.dumps({"event": "tracking_update", "event_id": f"evt-{name}", "is_tracking_first_tag": False,
                       "msg": tracking, "ts": ts}).encode()


def test_every_sample_is_used_by_a_test():
    """A sample dropped in the folder without a test would silently prove nothing."""
    source = Path(__file__).read_text()
    names = sorted(path.name for path in SAMPLES.iterdir() if path.suffix in (".json", ".edi"))
    assert len(names) == 22
    assert [name for name in names if name not in source] == []


# -- AfterShip


def test_aftership_sdkjava_delivered_in_three_zones():
    # AfterShip/aftership-sdk-java GetTrackingResult.json @ 3e4b840
    result = AFTERSHIP.parse(aftership_webhook("aftership_sdkjava_get_tracking_fedex_delivered.json"), ctx())
    scans = actual(result)
    assert result.tracking_numbers == ["111111111111"]
    assert result.shipment_info["111111111111"]["signed_by"] == "..KOSUTOKO"
    assert len(scans) == 14
    assert {e.utc_offset for e in scans} == {-300, 480, 540}
    assert not any(e.time_assumed_utc for e in scans)
    (delivered,) = [e for e in scans if e.milestone == "delivered"]
    assert delivered.occurred_at == utc(2018, 7, 25, 1, 10)  # 10:10 +09:00, Sapporo
    assert delivered.country == "JP"
    # Two checkpoints at 23:14 +08:00 with different messages are two events.
    same_minute = [e for e in scans if e.occurred_at == utc(2018, 7, 23, 15, 14)]
    assert sorted(e.description for e in same_minute) == [
        "Arrived at FedEx location", "International shipment release - Export"]
    # The estimates contradict each other and were issued long after the delivery:
    # choosing the ETA works, and no estimate reopens the delivered shipment.
    state = status.derive(result.events)
    assert (state.status, state.delivered_at) == ("delivered", utc(2018, 7, 25, 1, 10))
    assert state.eta_event is not None and state.eta_event.event_class == taxonomy.ESTIMATED


def test_aftership_sdkjava_zone_less_times_follow_the_documented_rule_or_the_connector_option():
    # AfterShip/aftership-sdk-java UpdateTrackingResult.json (zone-less) and
    # GetTrackingsResult.json (the same shipment, with offsets) @ 3e4b840
    zoneless = aftership_webhook("aftership_sdkjava_update_tracking_fedex_zoneless.json")
    listed = AFTERSHIP.parse(sample("aftership_sdkjava_get_trackings_list.json"), ctx())
    with_offsets = sorted(e.occurred_at for e in actual(listed, "1111111111111"))

    documented = AFTERSHIP.parse(zoneless, ctx())
    scans = actual(documented)
    assert len(scans) == 11
    # No country on any checkpoint: "BROOKLYN, NY" is placed in the origin country's
    # state, the location-less first checkpoint in the last scan's zone (New Jersey).
    assert not any(e.time_assumed_utc for e in scans)
    assert {(e.utc_offset, e.country) for e in scans if e.region} == {(-240, "US")}
    assert scans[0].utc_offset == -240
    assert sorted(e.occurred_at for e in scans) == [t + timedelta(hours=4) for t in with_offsets]

    # These SDK fixtures were written in UTC without an offset: a connector set so reads
    # them as the same instants as the list with offsets.
    configured = AFTERSHIP.parse(zoneless, ctx(options={"zoneless_times": "utc"}))
    assert sorted(e.occurred_at for e in actual(configured)) == with_offsets

    # An exception superseded by later scans and a delivery is not open.
    state = status.derive(documented.events)
    assert (state.status, state.has_open_exception) == ("delivered", False)
    assert [e.raw_code for e in scans if e.milestone == "exception"] == ["Exception_001"]


def test_aftership_sdkjava_list_dates_its_date_only_estimate_from_the_destination_text():
    # GetTrackingsResult.json: destination_raw_location "Sydney, Australia", structured
    # destination empty; the estimate's days are Sydney's, dated by updated_at.
    result = AFTERSHIP.parse(sample("aftership_sdkjava_get_trackings_list.json"), ctx())
    assert result.tracking_numbers == ["1111111111111", "2222222222222", "1231231231231"]
    (estimate,) = predictions(result, taxonomy.ESTIMATED)
    assert (estimate.window_start, estimate.window_end) == (utc(2018, 7, 31, 14), utc(2018, 8, 5, 13, 59, 59))
    assert estimate.time_assumed_utc is False
    assert estimate.issued_at == utc(2018, 8, 16, 3, 50, 54)
    # Polling again gives the same estimate: its issue time is not the clock's.
    later = ctx(received_at=RECEIVED + timedelta(days=3))
    again = AFTERSHIP.parse(sample("aftership_sdkjava_get_trackings_list.json"), later)
    assert [e.fingerprint for e in again.events] == [e.fingerprint for e in result.events]


def test_aftership_sdkpython_postnl_live_recording():
    # AfterShip/aftership-sdk-python cassette test_get_tracking @ 738dbb4 (2021-03-26)
    result = AFTERSHIP.parse(aftership_webhook("aftership_sdkpython_cassette_postnl_get_tracking.body.json"), ctx())
    scans = actual(result)
    assert result.tracking_numbers == ["3SKAAG5995399"]
    assert len(scans) == 6
    assert {e.utc_offset for e in scans} == {60}
    # The same message at two times is two events.
    assert [e.occurred_at for e in scans if e.description == "Shipment received by PostNL"] == [
        utc(2021, 3, 20, 14, 32, 37), utc(2021, 3, 22, 17, 33, 57)]
    # country_name holds an ISO3 code.
    assert {e.country for e in scans if e.country} == {"NL", "ES"}
    assert status.derive(result.events).status == "arrived_at_facility"


def test_aftership_v4_gem_zone_less_carrier_local_times_from_mumbai_to_san_francisco():
    # ollie/after_ship spec/requests/tracking/delivered.json @ b83b7da (real UPS, 2014)
    result = AFTERSHIP.parse(aftership_webhook("aftership_v4_after_ship_gem_ups_in_us_delivered.json"), ctx())
    scans = actual(result)
    assert len(scans) == 15
    assert not any(e.time_assumed_utc for e in scans)
    by_description = {(e.city, e.description): e for e in scans}
    pickup = by_description[("MUMBAI", "PICKUP SCAN")]
    assert (pickup.occurred_at, pickup.utc_offset, pickup.country) == (utc(2014, 10, 30, 14, 32), 330, "IN")
    cologne = by_description[("KOELN (COLOGNE)", "DEPARTURE SCAN")]
    assert (cologne.occurred_at, cologne.utc_offset) == (utc(2014, 11, 1, 0, 12), 60)
    louisville = by_description[("LOUISVILLE", "IMPORT SCAN")]
    assert (louisville.occurred_at, louisville.utc_offset) == (utc(2014, 11, 2, 16, 44), -300)
    delivered = by_description[("SAN FRANCISCO", "DELIVERED")]
    assert (delivered.occurred_at, delivered.utc_offset) == (utc(2014, 11, 3, 17, 56), -480)
    assert result.shipment_info["1ZA2207X0444990982"]["signed_by"] == "A GUPTA (OFFICE)"
    assert status.derive(result.events).status == "delivered"


def test_aftership_v4_gem_list_orders_interleaved_local_times_by_their_own_zones():
    # ollie/after_ship spec/requests/trackings.json @ b83b7da: a Hong Kong departure at
    # 21:33 local is hours before an arrival in Ontario, California at 21:29 local.
    result = AFTERSHIP.parse(sample("aftership_v4_after_ship_gem_ups_trackings_list.json"), ctx())
    assert result.tracking_numbers == ["1ZA2207X0490715335", "1ZA2207X0444990982"]
    scans = sorted(actual(result, "1ZA2207X0490715335"), key=status.sort_key)
    assert not any(e.time_assumed_utc for e in scans)
    middle = [(e.city, e.description, e.occurred_at) for e in scans
              if e.city in ("CHEK LAP KOK", "ANCHORAGE", "ONTARIO")]
    assert middle == [
        ("CHEK LAP KOK", "ARRIVAL SCAN", utc(2014, 11, 12, 1, 24)),
        ("CHEK LAP KOK", "DEPARTURE SCAN", utc(2014, 11, 12, 13, 33)),
        ("ANCHORAGE", "ARRIVAL SCAN", utc(2014, 11, 12, 22, 18)),
        ("ANCHORAGE", "DEPARTURE SCAN", utc(2014, 11, 13, 0, 31)),
        ("ONTARIO", "ARRIVAL SCAN", utc(2014, 11, 13, 5, 29)),
        ("ONTARIO", "WAREHOUSE SCAN", utc(2014, 11, 13, 9, 8)),
    ]
    assert scans[-1].milestone == "delivered"
    assert scans[-1].occurred_at == utc(2014, 11, 19, 22, 8)  # 14:08 PST, San Francisco


# -- EasyPost


def test_easypost_client_library_event_fixture_and_its_signature_vector():
    # EasyPost/examples official/fixtures/event-body.json @ 112a6d1, and the signature
    # vector of official/fixtures/client-library-fixtures.json at the same commit.
    body = sample("easypost_examples_fixtures_event-body.json")
    signed = body[:-1] if body.endswith(b"\n") else body
    assert len(signed) == 3550
    headers = {"X-Hmac-Signature": "hmac-sha256-hex=38f3f53c103713df81616a0a186d77141957323ec21d5fe9363db93840f527db"}
    assert signatures.verify("easypost", signed, headers, ["s\u00e9cret"]).scheme == "easypost"
    with pytest.raises(signatures.SignatureError):
        signatures.verify("easypost", signed + b" ", headers, ["s\u00e9cret"])

    result = EASYPOST.parse(body, ctx())
    scans = actual(result)
    assert (result.tracking_numbers, result.shipment_info["1"]["carrier"]) == (["1"], "fedex")
    assert len(scans) == 7
    assert {e.utc_offset for e in scans} == {0}
    assert (scans[1].city, scans[-1].city) == ("ORLANDO", "EDISON")
    assert status.derive(result.events).status == "arrived_at_facility"
    # The date-only EDD is the whole 5 August at the destination, given only as the text
    # "BROOKLYN HGTS NY US": New York time, not UTC.
    (estimate,) = predictions(result, taxonomy.ESTIMATED)
    assert (estimate.window_start, estimate.window_end) == (utc(2024, 8, 5, 4), utc(2024, 8, 6, 3, 59, 59))
    assert estimate.time_assumed_utc is False


def test_easypost_landing_page_delivered_with_signer():
    # EasyPost/examples official/landing_pages/tracking_webhooks/tracking_webhook_response.json @ 112a6d1
    result = EASYPOST.parse(sample("easypost_examples_landing_pages_tracking_webhooks_tracking_webhook_response.json"),
                            ctx())
    assert result.tracking_numbers == ["EZ4000000004"]
    assert result.shipment_info["EZ4000000004"]["signed_by"] == "John Tester"
    state = status.derive(result.events)
    # The EDD lies after the delivery: it stays history, the shipment stays delivered.
    assert (state.status, state.delivered_at) == ("delivered", utc(2014, 8, 24, 15, 33))
    assert state.eta > state.delivered_at


def test_easypost_tracking_guide_keeps_a_delivery_dated_before_later_scans():
    # EasyPost/examples official/guides/tracking-guide/json/tracking-webhook.json @ 112a6d1
    result = EASYPOST.parse(sample("easypost_examples_guides_tracking-guide_tracking-webhook.json"), ctx())
    scans = actual(result)
    delivered = [e for e in scans if e.milestone == "delivered"]
    assert [e.occurred_at for e in delivered] == [utc(2014, 11, 19, 10, 51, 54)]
    assert max(e.occurred_at for e in scans if e.milestone == "out_for_delivery") == utc(2014, 11, 24, 8, 10)
    assert status.derive(result.events).status == "delivered"


def test_easypost_tracker_retrieve_poll_answer():
    # EasyPost/examples official/docs/responses/trackers/trackers-retrieve.json @ 112a6d1
    result = EASYPOST.parse(sample("easypost_examples_docs_responses_trackers_trackers-retrieve.json"), ctx())
    scans = actual(result)
    assert (result.tracking_numbers, result.shipment_info["EZ1000000001"]["carrier"]) == (["EZ1000000001"], "usps")
    assert [(e.milestone, e.city) for e in scans] == [("info_received", ""), ("info_received", "HOUSTON")]
    assert status.derive(result.events).status == "info_received"
    (estimate,) = predictions(result, taxonomy.ESTIMATED)
    assert estimate.issued_at != RECEIVED  # dated by the tracker itself


# -- Shippo


def test_shippo_usps_2016_python_client_recording():
    # goshippo/shippo-python-client shippo/test/fixtures/track/test_get_status @ 6bca791
    result = SHIPPO.parse(sample("shippo_pyclient_cassette_track_usps_get_status.body.json"), ctx())
    scans = actual(result)
    assert result.tracking_numbers == ["9205590164917337534322"]
    assert len(scans) == 11
    # Two UNKNOWN rows first, one of them without a location: kept, as unknown.
    assert [(e.milestone, e.city) for e in scans[:2]] == [("unknown", ""), ("unknown", "San Francisco")]
    # That API version had no out-for-delivery status: it is a TRANSIT row.
    (ofd,) = [e for e in scans if "out for delivery" in e.description]
    assert ofd.milestone == "in_transit"
    state = status.derive(result.events)
    assert (state.status, state.delivered_at) == ("delivered", utc(2016, 12, 8, 15, 19))
    assert state.last_event.city == "Berkeley"


def test_shippo_usps_2016_ruby_client_recording():
    # goshippo/shippo-ruby-client spec/fixtures/track/test_retrieve.yml @ 110e5dc
    result = SHIPPO.parse(sample("shippo_rubyclient_cassette_2017_track_usps_9205590164917312751089.body.json"), ctx())
    assert len(actual(result)) == 7
    state = status.derive(result.events)
    assert (state.status, state.delivered_at, state.last_event.city) == (
        "delivered", utc(2016, 7, 23, 13, 3), "Spotsylvania")


def test_shippo_transit_sandbox_number_collapses_its_current_status_whatever_its_object_id():
    # goshippo/shippo-ruby-client spec/fixtures/track/test_retrieve.yml @ 3839388
    body = sample("shippo_rubyclient_cassette_2019_track_shippo_transit.body.json")
    data = json.loads(body)
    assert data["tracking_status"]["object_id"] not in {row["object_id"] for row in data["tracking_history"]}
    result = SHIPPO.parse(body, ctx())
    assert [e.milestone for e in actual(result)] == ["unknown", "in_transit"]
    (estimate,) = predictions(result, taxonomy.ESTIMATED)
    # Dated by the status object, so the next poll repeats it instead of adding one.
    assert estimate.issued_at == datetime(2019, 9, 13, 21, 43, 41, 659000, tzinfo=UTC)
    later = SHIPPO.parse(body, ctx(received_at=RECEIVED + timedelta(hours=6)))
    assert [e.fingerprint for e in later.events] == [e.fingerprint for e in result.events]


# -- ShipEngine


def test_shipengine_dotnet_mock_without_carrier_or_status_code():
    # ShipEngine/shipengine-dotnet TrackUsingLabelId200Response.json @ e844ad7
    result = SHIPENGINE.parse(sample("shipengine_dotnet_sdk_track_using_label_id_200.json"), ctx())
    (scan,) = actual(result)
    assert (scan.milestone, scan.raw_code, scan.occurred_at) == ("unknown", "3000", utc(2021, 7, 10, 2, 58, 1))
    assert result.unmapped_codes == ["3000"]  # the carrier's code, the one an admin can map
    (estimate,) = predictions(result, taxonomy.ESTIMATED)
    # No date on ShipEngine's estimate: the message's reception dates it, not the clock.
    assert estimate.issued_at == RECEIVED


def test_shipengine_estimate_is_dated_by_the_signed_timestamp_header():
    body = sample("shipengine_dotnet_sdk_track_using_label_id_200.json")
    context = ctx().for_message({"X-ShipEngine-Timestamp": "2021-07-10T03:00:00Z"}, RECEIVED)
    (estimate,) = predictions(SHIPENGINE.parse(body, context), taxonomy.ESTIMATED)
    assert estimate.issued_at == utc(2021, 7, 10, 3)


@pytest.mark.parametrize(("name", "delivered_at"), [
    # uniquelyparticular/sync-shipengine-to-zendesk src/index.js lines 35–67 @ 6019ecf
    ("shipengine_api_track_2019_usps_sync-shipengine-to-zendesk_comment.json",
     datetime(2019, 4, 17, 2, 33, 38, 252000, tzinfo=UTC)),
    # uniquelyparticular/sync-shipengine-to-moltin src/index.js lines 44–76 @ 5ce4142
    ("shipengine_api_track_2019_usps_sync-shipengine-to-moltin_comment.json",
     datetime(2019, 4, 12, 17, 45, 26, 734000, tzinfo=UTC)),
])
def test_shipengine_2019_api_track_webhook_with_event_date(name, delivered_at):
    result = SHIPENGINE.parse(sample(name), ctx())
    (scan,) = actual(result)
    assert (scan.milestone, scan.occurred_at, scan.city, scan.region) == ("delivered", delivered_at, "AUSTIN", "TX")
    assert result.unmapped_codes == []
    assert status.derive(result.events).status == "delivered"


# -- ANSI X12 214


def _x12_events(name, **context):
    chunks = X12.split(sample(name))
    events = []
    for chunk in chunks:
        assert chunk.ok, chunk.error
        events += X12.parse(chunk.body, ctx(**context)).events
    return chunks, events


def test_x12_1edisource_control_number_mismatch_is_a_warning_and_appointments_are_plans():
    # apimeister/x12-types src/v004010/test_214.rs parse_214_1 @ 1bec576
    chunks, events = _x12_events("x12_214_apimeister_x12types_parse_214_1_1edisource.edi")
    assert [(c.tracking_number, c.line) for c in chunks] == [("995551", 3)]
    assert [(w.line, "IEA02" in w.reason and "ISA13" in w.reason) for w in chunks.warnings] == [(31, True)]
    plans = [e for e in events if e.event_class == taxonomy.PLANNED]
    assert sorted({(e.raw_code, e.milestone) for e in plans}) == [("AA", "picked_up"), ("AB", "delivered")]
    assert all(e.extra["appointment_reason_code"] == "NA" and e.reason is None for e in plans)
    scans = [e for e in events if e.event_class == taxonomy.ACTUAL]
    assert not any(e.raw_code in ("AA", "AB") for e in scans)
    # PS is Pacific standard time, a fixed −08:00; one delivery (D1) per stop.
    assert {e.utc_offset for e in events} == {-480}
    assert sorted(e.occurred_at for e in scans if e.milestone == "delivered") == [
        utc(2011, 12, 19, 12, 30), utc(2011, 12, 19, 19, 0), utc(2011, 12, 22, 15, 45)]


def test_x12_two_sets_with_a_stretched_isa_and_junk_after_a_control_number():
    # apimeister/x12-types src/v004010/test_214.rs parse_214_2 @ 1bec576
    chunks, events = _x12_events("x12_214_apimeister_x12types_parse_214_2_two_st_sets.edi",
                                 default_timezone="America/Los_Angeles")
    assert [(c.tracking_number, c.line) for c in chunks] == [("1234567", 3), ("1234567", 16)]
    assert [w.line for w in chunks.warnings] == [1, 15]
    assert "not the fixed 106" in chunks.warnings[0].reason
    assert "'001 N/L' has text after the control number" in chunks.warnings[1].reason
    assert all(isinstance(w, edi_x12.X12Warning) for w in chunks.warnings)
    # LT: local time of the location; no location is given, so the connector's zone.
    summary = sorted((e.event_class, e.milestone, e.raw_code, e.occurred_at) for e in events)
    assert summary == [
        ("actual", "delivered", "D1", utc(2006, 3, 2, 0, 30)),
        ("actual", "picked_up", "AF", utc(2006, 3, 1, 16, 0)),
        ("estimated", "delivered", "G62/17", utc(2006, 3, 2, 1, 0)),
    ]
    assert not any(e.time_assumed_utc for e in events)


def test_x12_broken_set_fails_alone_beside_a_valid_one():
    data = sample("x12_214_apimeister_x12types_parse_214_2_two_st_sets.edi").replace(b"SE*12*002~", b"SE*11*002~")
    chunks = X12.split(data)
    assert [(c.line, c.ok) for c in chunks] == [(3, True), (16, False)]
    assert chunks[1].error.path == "line 27"


def test_x12_estimate_carries_its_at7_reason():
    data = sample("x12_214_apimeister_x12types_parse_214_2_two_st_sets.edi").replace(
        b"AT7*AF*NS***20060301*0800*LT~", b"AT7*AG*AO***20060302*0900*PT~")
    chunks = X12.split(data)
    (estimate,) = [e for e in X12.parse(chunks[0].body, ctx()).events if e.raw_code == "AG"]
    assert (estimate.event_class, estimate.reason, estimate.occurred_at) == (
        taxonomy.ESTIMATED, "weather", utc(2006, 3, 2, 17))


# -- DCSA Track & Trace


def test_dcsa_tnt_22_conformance_response():
    # dcsaorg/Conformance-Gateway tnt/.../messages/tnt-220-response.json @ 283bf7a
    result = DCSA.parse(sample("dcsa_conformance_tnt-220-response.json"), ctx())
    assert result.unmapped_codes == []
    booking = [e for e in result.events if e.tracking_number == "ABC123123123"]
    # The arrival sent twice under two event ids is one event, with its delay reason.
    (arrival,) = [e for e in booking if e.raw_code == "TRANSPORT/ARRI"]
    assert (arrival.milestone, arrival.event_class, arrival.reason) == ("arrived_at_facility", "actual", "weather")
    assert (arrival.occurred_at, arrival.utc_offset, arrival.country) == (utc(2021, 1, 9, 13, 12, 56), 60, "FR")
    assert arrival.extra["delay_reason_code"] == "WEA"
    # The estimated load of an EMPTY container is no milestone, and predicts nothing.
    empty = [e for e in booking if e.raw_code == "EQUIPMENT/LOAD/EMPTY"]
    assert {(e.event_class, e.milestone, e.utc_offset) for e in empty} == {("estimated", "unknown", 510)}
    assert {e.issued_at for e in empty} == {utc(2021, 1, 23, 12, 34, 56), utc(2021, 1, 9, 14, 12, 56)}
    drafts = [e for e in result.events if e.raw_code.startswith("SHIPMENT/DRFT")]
    assert {(e.milestone, e.event_class) for e in drafts} == {("unknown", "actual")}
    state = status.derive(booking)
    assert (state.status, state.eta) == ("arrived_at_facility", None)


def test_dcsa_tnt_30_events_with_iot_and_reefer_readings():
    # dcsaorg/Conformance-Gateway tnt/.../messages/tnt-300-response.json @ 283bf7a
    result = DCSA.parse(sample("dcsa_conformance_tnt-300-response.json"), ctx())
    summary = [(e.tracking_number, e.raw_code, e.milestone) for e in result.events]
    assert summary == [
        ("ABC709951", "SHIPMENT/CONF/BKG", "info_received"),
        ("ABC709951", "TRANSPORT/DEPA", "departed_facility"),
        ("APZU4812090", "EQUIPMENT/GTIN/EMPTY", "unknown"),
        ("APZU4812090", "IOT", "unknown"),
        ("APZU4812090", "REEFER", "unknown"),
    ]
    assert status.derive([e for e in result.events if e.tracking_number == "APZU4812090"]).status == "pending"
    departure = result.events[1]
    assert (departure.country, departure.city, departure.occurred_at) == (
        "GB", "Example Terminal Alpha", utc(2026, 1, 16, 11, 30))


def test_dcsa_tnt_22_wrong_date_times_are_each_rejected_with_their_path():
    # dcsaorg/Conformance-Gateway tnt/.../messages/tnt-220-response-wrong-date-times.json @ 283bf7a
    with pytest.raises(ParseError) as caught:
        DCSA.parse(sample("dcsa_conformance_tnt-220-response-wrong-date-times.json"), ctx())
    error = caught.value
    assert error.path == "$[1].eventCreatedDateTime"
    assert error.reason.startswith("6 of 7 events rejected: ")
    for fragment in ("$[1].eventCreatedDateTime: missing", "$[2].eventDateTime: missing",
                     "$[3].eventCreatedDateTime: not an ISO 8601", "$[4].eventDateTime: not an ISO 8601",
                     "$[5].eventCreatedDateTime: published 1999-01-01", "$[6].eventCreatedDateTime: published 2099"):
        assert fragment in error.reason
    # The one valid event alone parses.
    (valid,) = json.loads(sample("dcsa_conformance_tnt-220-response-wrong-date-times.json"))[:1]
    (event,) = DCSA.parse(json.dumps([valid]).encode(), ctx()).events
    assert (event.raw_code, event.occurred_at) == ("SHIPMENT/DRFT/SHI", utc(2019, 11, 11, 23, 11))


# -- Standard Webhooks


def test_standard_webhooks_library_vector_verifies_and_signs():
    # standard-webhooks/standard-webhooks libraries/go/webhook_test.go TestWebhookSign @ b2fa7b8
    body = sample("standard_webhooks_lib_test_vector_payload.json")
    assert body == b'{"test": 2432232314}'
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    assert signatures.verify("standard_webhooks", body, headers, [secret], now=1614265330).message_id == (
        "msg_p5jXN8AQM9LWM0D4loKWxJek")
    sent = signatures.sign("standard_webhooks", body, secret, timestamp=1614265330,
                           message_id="msg_p5jXN8AQM9LWM0D4loKWxJek")
    assert sent["webhook-signature"] == headers["webhook-signature"]
    for tampered in ({"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd"},
                     {"webhook-timestamp": "161426533.0"}, {"webhook-timestamp": "invalid timestamp"},
                     {"webhook-timestamp": "-161426533"}):
        with pytest.raises(signatures.SignatureError):
            signatures.verify("standard_webhooks", body, {**headers, **tampered}, [secret], now=1614265330)


def test_dcsa_is_polled_one_reference_per_call_with_the_kind_the_connector_tracks():
    from integration import polling

    ((request,),) = [batch.requests for batch in polling.plan("dcsa_tnt", ["ABC709951"], options={})]
    assert (request.method, request.path, request.params) == (
        "GET", "/v2/events", {"carrierBookingReference": "ABC709951", "limit": 250})
    containers = polling.plan("dcsa_tnt", ["APZU4812090", "MSKU1234565"], batch=5, options={"references": ["EQ"]})
    assert [r.params["equipmentReference"] for batch in containers for r in batch.requests] == [
        "APZU4812090", "MSKU1234565"]
    # A connector tracking containers files the 2.2 sample's events under the container.
    result = DCSA.parse(sample("dcsa_conformance_tnt-220-response.json"), ctx(options={"references": ["EQ"]}))
    assert result.tracking_numbers == ["APZU4812090"]


def test_shippo_date_only_eta_without_address_to_falls_back_on_the_last_located_status():
    data = json.loads(sample("shippo_pyclient_cassette_track_usps_get_status.body.json"))
    (given,) = predictions(SHIPPO.parse(json.dumps(data).encode(), ctx()), taxonomy.ESTIMATED)
    data["address_to"] = None
    (derived,) = predictions(SHIPPO.parse(json.dumps(data).encode(), ctx(default_timezone="Asia/Tokyo")),
                             taxonomy.ESTIMATED)
    # Berkeley, CA: the same Pacific day as the given destination, not Tokyo's.
    assert (derived.window_start, derived.window_end) == (given.window_start, given.window_end)
    assert given.window_start == utc(2016, 12, 8, 8)
