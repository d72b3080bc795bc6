"""Hostile and careless input, at the protocol layer: nothing crashes, everything is storable.

The property-based part feeds every registered adapter random, deep, huge and
Unicode-hostile JSON: ``parse`` either returns a result or raises ``ParseError`` (a
located, storable reason), and ``external_id`` never raises at all (it runs inside the
webhook request).
"""

import json
from datetime import datetime, timezone

import psycopg2.errors
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration import partners, payload
from integration.adapters import AdapterContext, ParseError, ParseResult, get_adapter
from integration.errors import PermanentError, RetryableError, is_retryable
from integration.events import (
    MAX_RAW_CODE,
    MAX_TRACKING_NUMBER,
    CanonicalEvent,
    EventError,
    normalize_tracking_number,
)
from integration.redaction import REDACTED, redact_headers
from integration.storable import error_text, storable_json, storable_text
from integration.transport import RemoteError, TransportTimeout

HOSTILE_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "\ufffd", "é", "𝄞", "\u202e", "\n", '"', "\\"])),
    st.just("\x00"), st.just("\ud800"), st.just("9999-12-31T23:00:00-05:00"), st.just("0001-01-01T00:30:00+01:00"),
)
JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), HOSTILE_TEXT)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(HOSTILE_TEXT, children, max_size=4)),
    max_leaves=25,
)
KEYS = ["event", "event_id", "msg", "data", "code", "result", "tracking_number", "checkpoints", "events", "id",
        "description", "object", "type", "timestamp", "track_info", "tracking_status", "tracking_history"]


def _deep(depth, leaf='"x"'):
    return ("[" * depth + leaf + "]" * depth).encode()


def _bodies():
    """Partner-shaped JSON objects built from hostile values, plus raw hostile bytes."""
    shaped = st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=6)
    encoded = shaped.map(lambda value: json.dumps(value).encode())  # ASCII escapes, as partners send
    raw = st.one_of(st.binary(max_size=200), st.sampled_from([
        _deep(10_000), b'{"event_id":' + _deep(10_000) + b"}", b'{"code":"\\u0000"}', b'{"event_id":"\\ud800"}',
        b'{"code": 1' + b"0" * 5000 + b"}", b"\xff\xfe", b"", b"null", b"[]", b'"text"',
    ]))
    return st.one_of(encoded, raw)


NOW = datetime(2026, 7, 14, 8, 0, tzinfo=timezone.utc)
ADAPTER_CODES = sorted({descriptor.code for descriptor in partners.descriptors()})


@pytest.mark.parametrize("code", ADAPTER_CODES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_bodies())
def test_adapters_answer_any_body_with_a_result_or_a_located_parse_error(code, body):
    adapter = get_adapter(code)
    context = AdapterContext()
    try:
        result = adapter.parse(body, context)
    except ParseError as exc:
        text = error_text(exc)
        text.encode("utf-8")  # storable: no lone surrogate
        assert "\x00" not in text
    else:
        assert isinstance(result, ParseResult)
        for event in result.events:
            for name in CanonicalEvent.TEXT_FIELDS:
                value = getattr(event, name)
                assert "\x00" not in value
                value.encode("utf-8")
    found = adapter.external_id(body, {"webhook-id": "msg_1"})
    assert found is None or (isinstance(found, str) and len(found) < 10_000)


@pytest.mark.parametrize("value, expected", [
    ("plain", "plain"), ("a\x00b", "a\\u0000b"), ("x\ud800y", "x\\ud800y"), ("é𝄞", "é𝄞"), (None, None), (5, 5),
])
def test_storable_text_escapes_what_postgresql_refuses(value, expected):
    assert storable_text(value) == expected


def test_storable_json_escapes_keys_and_values_and_stops_at_depth():
    assert storable_json({"k\x00": ["v\ud800", {"n": 1}]}) == {"k\\u0000": ["v\\ud800", {"n": 1}]}
    deep = current = []
    for _level in range(500):
        current.append([])
        current = current[0]
    assert "[nested too deep]" in json.dumps(storable_json(deep))


def test_flat_facts_and_event_text_are_escaped_past_the_ascii_fast_path():
    facts = {"tag": "Delivered", "raw_tag": "a\x00b", "location": "Zürich", "bad": "x\ud800", "n": 3}
    assert storable_json(facts) == {"tag": "Delivered", "raw_tag": "a\\u0000b", "location": "Zürich",
                                    "bad": "x\\ud800", "n": 3}
    event = CanonicalEvent("1Z999", "in_transit", datetime(2026, 12, 1, tzinfo=timezone.utc),
                           description="ok\x00", city="x\ud800", region="Île-de-France", extra=facts)
    assert (event.description, event.city, event.region) == ("ok\\u0000", "x\\ud800", "Île-de-France")
    assert event.extra["raw_tag"] == "a\\u0000b"
    with pytest.raises(EventError, match="city must be text"):
        CanonicalEvent("1Z999", "in_transit", datetime(2026, 12, 1, tzinfo=timezone.utc), city=5)


def test_error_text_is_storable_and_never_empty():
    assert error_text(ValueError("bad \x00 \ud800")) == "bad \\u0000 \\ud800"
    assert error_text(RuntimeError()) == "RuntimeError"
    assert len(error_text(ValueError("x" * 5000))) == 2000


@pytest.mark.parametrize("body", [_deep(10_000), _deep(65), b'{"a":' * 100 + b"1" + b"}" * 100])
def test_nesting_beyond_the_limit_is_a_payload_error_not_a_recursion_error(body):
    with pytest.raises(payload.PayloadError, match="nested deeper than 64"):
        payload.loads(body)


def test_nesting_within_the_limit_and_hostile_numbers():
    assert payload.loads(_deep(64)) is not None
    with pytest.raises(payload.PayloadError):
        payload.loads(b"1" * 5000)  # beyond Python's integer conversion limit
    with pytest.raises(payload.PayloadError, match="not valid JSON"):
        payload.loads(b"\xff")


@pytest.mark.parametrize("exc, retryable", [
    (psycopg2.errors.SerializationFailure(), True),
    (psycopg2.errors.DeadlockDetected(), True),
    (psycopg2.errors.LockNotAvailable(), True),
    (psycopg2.errors.UniqueViolation(), True),
    (psycopg2.OperationalError("server closed the connection"), True),
    (requests.ConnectionError("refused"), True),
    (TransportTimeout("slow"), True),
    (RemoteError("HTTP 503", 503), True),
    (RemoteError("HTTP 400", 400), False),
    (TimeoutError(), True),
    (RetryableError("later"), True),
    (RecursionError("deep"), False),
    (OverflowError("date value out of range"), False),
    (ParseError("missing", "$.msg"), False),
    (EventError("bad"), False),
    (ValueError("A string literal cannot contain NUL (0x00) characters."), False),
    (psycopg2.errors.NumericValueOutOfRange(), False),
    (KeyError("x"), False),
    (AttributeError("a bug"), False),
    (PermanentError("never"), False),
])
def test_errors_are_retried_only_when_they_are_about_the_moment(exc, retryable):
    assert is_retryable(exc) is retryable


def test_header_redaction_keeps_an_allowlist_only():
    headers = {
        "Content-Type": "application/json", "User-Agent": "partner/1.0", "webhook-id": "msg_1",
        "X-Correlation-ID": "abc", "X-Credential": "c", "X-Passwd": "p", "X-Pass": "p", "X-Access-Code": "a",
        "X-Client-Cert": "-----BEGIN CERTIFICATE-----", "Authorization": "Bearer t", "X-Partner-Id": "123",
        "aftership-hmac-sha256": "sig", "X-Request-Id": "r1",
    }
    stored = redact_headers(headers)
    kept = {"Content-Type", "User-Agent", "webhook-id", "X-Correlation-ID", "X-Request-Id"}
    for name, value in headers.items():
        assert stored[name] == (value if name in kept else REDACTED), name
    assert redact_headers({"X-Partner-Id": "123"}, keep=["x-partner-id"]) == {"X-Partner-Id": "123"}
    assert redact_headers({"User-Agent": "a\x00b"}) == {"User-Agent": "a\\u0000b"}


@given(st.text())
def test_tracking_number_normalisation_is_idempotent_and_storable(value):
    try:
        once = normalize_tracking_number(value)
    except EventError:
        return
    assert normalize_tracking_number(once) == once
    assert "\x00" not in once
    once.encode("utf-8")


def test_events_refuse_values_no_index_can_hold():
    with pytest.raises(EventError, match="longer than"):
        CanonicalEvent("X" * (MAX_TRACKING_NUMBER + 1), "picked_up", NOW)
    with pytest.raises(EventError, match="longer than"):
        CanonicalEvent("X1", "picked_up", NOW, raw_code="c" * (MAX_RAW_CODE + 1))
    event = CanonicalEvent("X1", "picked_up", NOW, description="a\x00b", city="\ud800")
    assert (event.description, event.city) == ("a\\u0000b", "\\ud800")
    assert len(event.fingerprint) == 64


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_dates_beyond_the_calendar_are_located_parse_errors(moment):
    body = json.dumps({"type": "shipment.tracking.updated", "timestamp": "2026-07-14T19:05:00+02:00",
                       "data": {"tracking_number": "X1", "events": [
                           {"id": "e1", "code": "picked_up", "class": "actual", "occurred_at": moment}]}}).encode()
    with pytest.raises(ParseError) as caught:
        get_adapter("generic_json").parse(body, AdapterContext())
    assert "events[0]" in caught.value.path or "events" in str(caught.value)
