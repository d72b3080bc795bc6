"""Proof of delivery in our native format: signer, https link and an inline file.

A partner on ``shipment.tracking.updated`` puts the proof on its actual delivered event;
the adapter hands the signer and link on the event and the checked file in the
shipment facts, and refuses what could hurt (another scheme than https, a file that is
not what it says, a file too large).
"""

import base64
import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from integration import proof_of_delivery, taxonomy
from integration.adapters import AdapterContext, ParseError, get_adapter

GENERIC = get_adapter("generic_json")
UTC = timezone.utc
RECEIVED = datetime(2026, 5, 2, 8, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def native(pod=None, event_class="actual", **event):
    delivered = {"id": "evt-9", "code": "delivered", "class": event_class,
                 "occurred_at": "2026-05-01T16:05:00+02:00", **event}
    if pod is not None:
        delivered["proof_of_delivery"] = pod
    return {"type": "shipment.tracking.updated", "timestamp": "2026-05-01T16:06:00+02:00",
            "data": {"tracking_number": "NATIVE-POD-1", "carrier": "acme", "events": [
                {"id": "evt-8", "code": "out_for_delivery", "class": "actual",
                 "occurred_at": "2026-05-01T08:10:00+02:00"},
                delivered]}}


def image(data=PNG, content_type="image/png", **values):
    return {"content_type": content_type, "data": base64.b64encode(data).decode(), **values}


def parse(payload, **context):
    context.setdefault("received_at", RECEIVED)
    return GENERIC.parse(json.dumps(payload).encode(), AdapterContext(**context))


def test_signer_link_and_file_of_the_delivered_event_are_read():
    pod = {"signed_by": "M. Dupont", "url": "https://pod.acme.example/NATIVE-POD-1.pdf",
           "image": image(file_name="signature.png")}
    result = parse(native(pod))
    delivered = next(e for e in result.events if e.milestone == "delivered")
    assert (delivered.signed_by, delivered.pod_url) == ("M. Dupont", "https://pod.acme.example/NATIVE-POD-1.pdf")
    info = result.shipment_info["NATIVE-POD-1"]
    assert (info["signed_by"], info["pod_url"]) == ("M. Dupont", "https://pod.acme.example/NATIVE-POD-1.pdf")
    assert info["pod_file"] == proof_of_delivery.PodFile("image/png", PNG, "signature.png")


@pytest.mark.parametrize(("data", "content_type", "name"), [
    (JPEG, "image/jpeg", "proof-of-delivery-NATIVE-POD-1.jpg"),
    (PDF, "application/pdf", "proof-of-delivery-NATIVE-POD-1.pdf"),
])
def test_jpeg_and_pdf_files_are_taken_and_named(data, content_type, name):
    info = parse(native({"image": image(data, content_type)})).shipment_info["NATIVE-POD-1"]
    assert info["pod_file"] == proof_of_delivery.PodFile(content_type, data, name)
    assert "signed_by" not in info and "pod_url" not in info


def test_file_name_loses_its_path_and_gets_the_type_extension():
    info = parse(native({"image": image(file_name="../../etc/passwd")})).shipment_info["NATIVE-POD-1"]
    assert info["pod_file"].file_name == "passwd.png"


@pytest.mark.parametrize(("pod", "path", "words"), [
    ({"url": "http://pod.acme.example/1"}, "$.data.events[1].proof_of_delivery.url", "HTTPS link"),
    ({"url": "javascript:alert(1)"}, "$.data.events[1].proof_of_delivery.url", "HTTPS link"),
    ({"image": image(JPEG, "image/png")}, "$.data.events[1].proof_of_delivery.image.data", "not a image/png"),
    ({"image": image(b"<html><script>", "image/png")}, "$.data.events[1].proof_of_delivery.image.data",
     "not a image/png"),
    ({"image": image(PNG, "image/svg+xml")}, "$.data.events[1].proof_of_delivery.image.content_type",
     "is not one of"),
    ({"image": {"content_type": "image/png", "data": "not base64!"}},
     "$.data.events[1].proof_of_delivery.image.data", "not standard base64"),
    ({"image": image(PNG + bytes(proof_of_delivery.MAX_IMAGE_BYTES))},
     "$.data.events[1].proof_of_delivery.image.data", "is too long"),
    ({"signer": "typo"}, "$.data.events[1].proof_of_delivery", "Additional properties"),
    ({}, "$.data.events[1].proof_of_delivery", "should be non-empty"),
])
def test_unsafe_or_malformed_proofs_are_refused_with_their_path(pod, path, words):
    with pytest.raises(ParseError) as caught:
        parse(native(pod))
    assert caught.value.path == path
    assert words in caught.value.reason


def test_a_proof_on_an_estimate_is_refused():
    with pytest.raises(ParseError) as caught:
        parse(native({"signed_by": "Nobody yet"}, event_class="estimated"))
    assert caught.value.path == "$.data.events[1]"


def test_own_json_paths_get_the_same_checks_without_the_schema():
    # A 3PL's own JSON, mapped by paths: the schema does not run, the checks still do.
    paths = {"tracking_number": "awb", "events": "scans", "code": "status", "occurred_at": "at", "id": None,
             "class": None, "timestamp": None, "signed_by": "pod.signer", "pod_url": "pod.link",
             "pod_file": "pod.file"}
    scan = {"status": "delivered", "at": "2026-05-01T16:05:00+02:00",
            "pod": {"signer": "K. Tan", "file": image(PNG + bytes(proof_of_delivery.MAX_IMAGE_BYTES))}}
    with pytest.raises(ParseError) as caught:
        parse({"awb": "OWN1", "scans": [scan]}, options={"paths": paths})
    assert (caught.value.path, "larger than 512 KiB" in caught.value.reason) == ("$.scans[0].pod.file.data", True)

    scan["pod"] = {"signer": "K. Tan", "link": "ftp://pod.example/1"}
    with pytest.raises(ParseError) as caught:
        parse({"awb": "OWN1", "scans": [scan]}, options={"paths": paths})
    assert caught.value.path == "$.scans[0].pod.link"

    scan["pod"] = {"signer": "K. Tan", "file": image(JPEG, "image/jpeg")}
    info = parse({"awb": "OWN1", "scans": [scan]}, options={"paths": paths}).shipment_info["OWN1"]
    assert (info["signed_by"], info["pod_file"].data) == ("K. Tan", JPEG)


def test_the_newest_event_with_a_proof_gives_the_shipment_its_proof():
    payload = native({"signed_by": "Second", "image": image(JPEG, "image/jpeg")})
    first = copy.deepcopy(payload["data"]["events"][1])
    first.update(id="evt-7", occurred_at="2026-05-01T12:00:00+02:00", proof_of_delivery={"signed_by": "First"})
    payload["data"]["events"].insert(0, first)
    info = parse(payload).shipment_info["NATIVE-POD-1"]
    assert (info["signed_by"], info["pod_file"].content_type) == ("Second", "image/jpeg")


def test_estimates_are_dated_by_the_signed_timestamp_header_when_the_body_has_no_time():
    paths = {"timestamp": None}
    payload = native()
    payload["data"]["events"].append({"id": "eta", "code": "delivered", "class": "estimated",
                                      "occurred_at": "2026-05-03"})
    context = AdapterContext(options={"paths": paths}).for_message({"Webhook-Timestamp": "1777636800"}, RECEIVED)
    first = GENERIC.parse(json.dumps(payload).encode(), context)
    (estimate,) = [e for e in first.events if e.event_class == taxonomy.ESTIMATED]
    assert estimate.issued_at == datetime.fromtimestamp(1777636800, tz=UTC)
    # Received again a day later (a retry, a replay): the same facts, nothing new.
    later = context.for_message({"webhook-timestamp": "1777636800"}, RECEIVED + timedelta(days=1))
    again = GENERIC.parse(json.dumps(payload).encode(), later)
    assert [e.fingerprint for e in again.events] == [e.fingerprint for e in first.events]


def test_date_only_estimate_without_location_is_a_day_where_the_last_scan_was():
    # The native schema wants offsets; a 3PL's own JSON (read by paths) may send a date.
    own_json = {"paths": {"reference": None}}
    payload = native()
    payload["data"]["events"][0]["location"] = {"city": "Denver", "region": "CO", "country": "US"}
    payload["data"]["events"][1]["location"] = None
    payload["data"]["events"].append({"id": "eta", "code": "delivered", "class": "estimated",
                                      "occurred_at": "2026-05-03"})
    (estimate,) = [e for e in parse(payload, default_timezone="Asia/Tokyo", options=own_json).events
                   if e.event_class == taxonomy.ESTIMATED]
    assert (estimate.window_start, estimate.window_end, estimate.time_assumed_utc) == (
        datetime(2026, 5, 3, 6, tzinfo=UTC), datetime(2026, 5, 4, 5, 59, 59, tzinfo=UTC), False)
    # Nothing located at all: the connector's zone, never UTC when it has one.
    payload["data"]["events"][0]["location"] = None
    (estimate,) = [e for e in parse(payload, default_timezone="Asia/Tokyo", options=own_json).events
                   if e.event_class == taxonomy.ESTIMATED]
    assert estimate.window_start == datetime(2026, 5, 2, 15, tzinfo=UTC)
