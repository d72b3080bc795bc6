"""The canonical shipment and event documents follow their published schemas."""

from datetime import datetime, timedelta, timezone

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from integration import canonical

SHIPMENT_VALIDATOR = Draft202012Validator(canonical.load_schema(canonical.SHIPMENT_SCHEMA_FILE),
                                          format_checker=FormatChecker())
EVENT_VALIDATOR = Draft202012Validator(canonical.load_schema(canonical.EVENT_SCHEMA_FILE),
                                       format_checker=FormatChecker())


def shipment_row(**overrides):
    row = dict.fromkeys(canonical.SHIPMENT_ROW_KEYS, False)
    row.update(id=7, tracking_number="1Z999AA10123456784", status="pending", exception_state="none",
               company_id=1, company_name="YourCompany",
               created_at=datetime(2026, 12, 1, 9, 0, 0, 123456), updated_at=datetime(2026, 12, 1, 9, 5))
    row.update(overrides)
    return row


def event_row(**overrides):
    row = dict.fromkeys(canonical.EVENT_ROW_KEYS, False)
    row.update(id=3, shipment_id=7, milestone="in_transit", event_class="actual", source="webhook",
               occurred_at=datetime(2026, 12, 2, 14, 30), received_at=datetime(2026, 12, 2, 14, 31),
               utc_offset=-300)
    row.update(overrides)
    return row


def test_minimal_shipment_is_valid_and_uses_nulls_not_false():
    document = canonical.shipment_document(shipment_row())
    SHIPMENT_VALIDATOR.validate(document)
    assert document["carrier"] is None
    assert document["eta"] is None and document["eta_window"] is None
    assert document["proof_of_delivery"] is None and document["exception"] is None
    assert document["created_at"] == "2026-12-01T09:00:00Z"


def test_full_shipment_is_valid():
    document = canonical.shipment_document(shipment_row(
        carrier_id=4, carrier_name="UPS", status="delivered", exception_state="open",
        exception_reason="recipient_unavailable", eta=datetime(2026, 12, 3, 17),
        eta_window_start=datetime(2026, 12, 3, 9), eta_window_end=datetime(2026, 12, 3, 17),
        promised_date=datetime(2026, 12, 4), delivered_at=datetime(2026, 12, 3, 15, 2),
        delivery_order="WH/OUT/00012", sale_order="S00042", customer_reference="PO-77", customer_id=9,
        pod_signed_by="J. DOE", pod_url="https://carrier.example/pod/1", pod_document=12,
        tracking_url="https://carrier.example/track?n=1Z999AA10123456784"))
    SHIPMENT_VALIDATOR.validate(document)
    assert document["eta_window"] == {"start": "2026-12-03T09:00:00Z", "end": "2026-12-03T17:00:00Z"}
    assert document["proof_of_delivery"] == {"signed_by": "J. DOE", "url": "https://carrier.example/pod/1",
                                             "has_document": True}
    assert document["exception"] == {"state": "open", "reason": "recipient_unavailable"}


def test_aware_datetimes_are_converted_to_utc():
    paris = timezone(timedelta(hours=1))
    assert canonical.iso_utc(datetime(2026, 12, 3, 10, 0, tzinfo=paris)) == "2026-12-03T09:00:00Z"


def test_unknown_status_is_refused_by_the_schema():
    document = canonical.shipment_document(shipment_row(status="teleported"))
    assert not SHIPMENT_VALIDATOR.is_valid(document)


def test_event_documents_are_valid():
    plain = canonical.event_document(event_row())
    EVENT_VALIDATOR.validate(plain)
    assert plain["location"] is None and plain["utc_offset_minutes"] == -300
    located = canonical.event_document(event_row(
        event_class="estimated", milestone="delivered", window_start=datetime(2026, 12, 3, 9),
        window_end=datetime(2026, 12, 3, 17), issued_at=datetime(2026, 12, 2, 8), city="Memphis",
        region="TN", postcode="38118", country_code="US", latitude=35.04, longitude=-89.98,
        description="Estimated delivery", reason=False))
    EVENT_VALIDATOR.validate(located)
    assert located["location"]["city"] == "Memphis"
    assert located["window"]["end"] == "2026-12-03T17:00:00Z"


@pytest.mark.parametrize("schema_file", [canonical.SHIPMENT_SCHEMA_FILE, canonical.EVENT_SCHEMA_FILE])
def test_schemas_are_valid_and_registered(schema_file):
    schema = canonical.load_schema(schema_file)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] in canonical.schema_registry()
