import json
from datetime import datetime

import pytest
from jsonschema import Draft202012Validator

from integration import api_contract as contract
from integration.api_contract import ApiProblem

SECRET = "database-secret-for-tests"


def test_cursor_round_trip_and_binding():
    filters = {"status": ["delivered"]}
    cursor = contract.make_cursor(SECRET, 1234, filters)
    assert contract.read_cursor(SECRET, cursor, filters) == 1234
    with pytest.raises(ApiProblem) as other_filters:
        contract.read_cursor(SECRET, cursor, {})
    assert other_filters.value.code == "invalid-cursor"
    with pytest.raises(ApiProblem):
        contract.read_cursor("another-database", cursor, filters)


@pytest.mark.parametrize("cursor", ["", "x", "djEuMTIzNC5hYmMuZGVm", "%%%", "djEu" * 40])
def test_cursor_garbage_is_an_invalid_cursor(cursor):
    with pytest.raises(ApiProblem) as problem:
        contract.read_cursor(SECRET, cursor, {})
    assert problem.value.status == 400
    assert problem.value.errors == [{"detail": "not a cursor of this API", "parameter": "cursor"}]


def test_cursor_with_a_changed_id_is_refused():
    import base64

    cursor = contract.make_cursor(SECRET, 10, {})
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    forged = base64.urlsafe_b64encode(text.replace("v1.10.", "v1.0.").encode()).decode().rstrip("=")
    with pytest.raises(ApiProblem):
        contract.read_cursor(SECRET, forged, {})


def test_shipment_query_parsing():
    filters, limit, cursor, fields = contract.parse_shipment_query(
        {"status": "delivered,in_transit", "exception": "true", "updated_since": "2026-12-07T10:00:00+01:00",
         "limit": "200", "fields": "status,tracking_number"})
    assert filters == {"status": ["delivered", "in_transit"], "exception": True,
                       "updated_since": datetime(2026, 12, 7, 9, 0)}
    assert (limit, cursor, fields) == (200, None, ["id", "tracking_number", "status"])
    assert contract.parse_shipment_query({})[1] == contract.DEFAULT_LIMIT


@pytest.mark.parametrize(("args", "parameter"), [
    ({"limit": "201"}, "limit"), ({"limit": "0"}, "limit"), ({"limit": "-1"}, "limit"),
    ({"status": "teleported"}, "status"), ({"status": ","}, "status"), ({"exception": "1"}, "exception"),
    ({"updated_since": "2026-12-07T10:00:00"}, "updated_since"), ({"updated_since": "2026-13-07T10:00:00Z"},
                                                                   "updated_since"),
    ({"fields": "id,connector_id"}, "fields"), ({"order": "id desc"}, "order"), ({"carrier": ""}, "carrier"),
])
def test_shipment_query_errors_name_the_parameter(args, parameter):
    with pytest.raises(ApiProblem) as problem:
        contract.parse_shipment_query(args)
    assert problem.value.code == "invalid-parameter"
    assert problem.value.errors[0]["parameter"] == parameter


def test_edge_of_calendar_datetimes_do_not_overflow():
    assert contract.parse_datetime("x", "0001-01-01T00:00:00+05:00") == datetime.min
    assert contract.parse_datetime("x", "9999-12-31T23:59:59-05:00") == datetime.max
    assert contract.parse_datetime("x", "2026-12-07t10:00:00.123456789z") == datetime(2026, 12, 7, 10, 0, 0, 123456)


def test_etag_matching():
    tag = contract.etag(b"{}")
    assert contract.etag_matches(tag, tag)
    assert contract.etag_matches(f'"other", W/{tag}', tag)
    assert contract.etag_matches("*", tag)
    assert not contract.etag_matches('"other"', tag)
    assert not contract.etag_matches(None, tag)


def test_idempotency_key_format():
    assert contract.check_idempotency_key("order-1:parcel/2") == "order-1:parcel/2"
    for bad in ("", "with space", "é", "x" * 256):
        with pytest.raises(ApiProblem):
            contract.check_idempotency_key(bad)


def test_validation_errors_have_json_pointers():
    errors = contract.validation_errors(contract.REGISTER_SCHEMA, {"tracking_number": 1, "carrier_id": 0, "x": 1})
    assert [error["pointer"] for error in errors] == ["", "/carrier_id", "/tracking_number"]


def test_problem_document():
    problem = ApiProblem("not-found", "No shipment 7.")
    assert problem.document("/api/shipment/v1/shipments/7") == {
        "type": "urn:shipment-visibility:problem:not-found", "title": "No such resource", "status": 404,
        "detail": "No shipment 7.", "instance": "/api/shipment/v1/shipments/7"}


def test_openapi_document_is_self_contained_and_schemas_resolve():
    document = contract.openapi_document("https://odoo.example.com")
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://odoo.example.com/api/shipment/v1"}]
    text = json.dumps(document)
    assert "#/$defs/" not in text and '"$id"' not in text
    refs = set(_refs(document))
    for ref in refs:
        kind, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][kind], ref
    Draft202012Validator.check_schema(document["components"]["schemas"]["Shipment"])
    # A canonical document follows the Shipment component.
    validator = Draft202012Validator({**document, "$ref": "#/components/schemas/Event"})
    event = {"id": 1, "shipment_id": 2, "milestone": "delivered", "event_class": "actual",
             "occurred_at": "2026-12-07T10:00:00Z", "utc_offset_minutes": 60, "received_at": "2026-12-07T10:01:00Z",
             "window": None, "issued_at": None, "location": None, "description": None, "reason": None,
             "source": "api", "signed_by": None, "pod_url": None}
    assert not list(validator.iter_errors(event))


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_outbound_schemas_become_webhooks(tmp_path):
    """Every schemas/outbound/*.json is published under webhooks, its $defs moved to components."""
    assert contract.openapi_document(outbound_dir=tmp_path)["webhooks"] == {}
    (tmp_path / "shipment.status_changed.schema.json").write_text(json.dumps({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:test:status-changed",
        "title": "shipment.status_changed", "type": "object", "required": ["type", "data"],
        "properties": {"type": {"const": "shipment.status_changed"}, "data": {"$ref": "#/$defs/payload"}},
        "$defs": {"payload": {"type": "object"}},
    }))
    document = contract.openapi_document(outbound_dir=tmp_path)
    webhook = document["webhooks"]["shipment.status_changed"]["post"]
    schema_ref = webhook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = document["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert component["properties"]["data"] == {"$ref": "#/components/schemas/Outbound_shipment_status_changed_payload"}
    assert "Outbound_shipment_status_changed_payload" in document["components"]["schemas"]
    # The real directory: none on this branch yet, or whatever the fan-out ships.
    assert set(contract.openapi_document()["webhooks"]) == set(contract.outbound_schemas())


@pytest.mark.parametrize(("value", "valid"), [
    ("2026-12-07T10:00:00Z", True), ("2026-12-07t10:00:00.5+01:00", True), ("2026-12-07T23:59:60-05:30", True),
    ("0000-00-00T00:00:00Z", False), ("2026-02-30T10:00:00Z", False), ("2026-12-07T10:00Z", False),
    ("2026-12-07T24:00:00Z", False), ("2026-12-07T10:00:00+24:00", False), ("2026-12-07 10:00:00Z", False),
])
def test_date_time_format_is_rfc3339(value, valid):
    assert contract.is_rfc3339(value) is valid
    schema = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}}}
    assert (contract.validation_errors(schema, {"at": value}) == []) is valid


def test_nul_characters_are_found_with_their_pointer():
    document = {"a": ["ok", "bad\x00"], "b/c": {"d": "\x00"}, "k\x00": 1}
    assert contract.nul_characters(document) == ["/a/1", "/b~1c/d", "/k\x00"]
    assert contract.nul_characters({"a": "fine", "n": 1}) == []
