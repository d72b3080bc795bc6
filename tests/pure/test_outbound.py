"""Outgoing messages: envelope, schemas, signatures (checked by the reference library), retries."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integration import canonical, outbound, signatures

SECRET_OLD = signatures.generate_webhook_secret()
SECRET_NEW = signatures.generate_webhook_secret()


def registry():
    resources = [(uri, Resource.from_contents(schema)) for uri, schema in canonical.schema_registry().items()]
    return Registry().with_resources(resources)


def test_retry_schedule_is_the_published_one_with_jitter():
    assert [outbound.retry_delay(n, rng=lambda: 0.5) for n in range(1, 10)] == [
        5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    assert outbound.retry_delay(10) is None, "ten attempts, then the message is given up"
    low, high = outbound.retry_delay(2, rng=lambda: 0.0), outbound.retry_delay(2, rng=lambda: 1.0)
    assert (low, high) == (270, 330)


def test_broker_backoff_never_gives_up_and_stays_short():
    delays = [outbound.broker_retry_delay(n, rng=lambda: 0.5) for n in range(1, 20)]
    assert delays[0] == 1 and max(delays) == 60
    # Failures are counted per message: a broker down under load passes thousands.
    assert outbound.broker_retry_delay(5000, rng=lambda: 0.5) == 60


@pytest.mark.parametrize("value, seconds", [("120", 120), ("0", 0), (None, None), ("soon", None),
                                            ("999999", outbound.MAX_RETRY_AFTER_SECONDS)])
def test_retry_after_seconds(value, seconds):
    assert outbound.parse_retry_after(value) == seconds


def test_retry_after_http_date():
    now = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
    assert outbound.parse_retry_after("Mon, 07 Dec 2026 10:05:00 GMT", now=now) == 300


@pytest.mark.parametrize("status, success, gone, retry_after", [
    (200, True, False, None), (204, True, False, None), (301, False, False, None), (302, False, False, None),
    (400, False, False, None), (410, False, True, None), (429, False, False, 30), (503, False, False, 30),
    (500, False, False, None),
])
def test_only_2xx_succeeds(status, success, gone, retry_after):
    outcome = outbound.judge_response(status, {"Retry-After": "30", "Location": "http://127.0.0.1/"})
    assert (outcome.success, outcome.gone, outcome.retry_after) == (success, gone, retry_after)
    assert outcome.success or outcome.error


def test_signature_verified_by_the_reference_library_during_rotation():
    body = outbound.envelope(outbound.SHIPMENT_CREATED, datetime(2026, 12, 7), {"sequence": 1})
    headers = outbound.signed_headers(body, "msg_abc", [SECRET_NEW, SECRET_OLD])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET_NEW, SECRET_OLD):
        assert Webhook(secret).verify(body, headers)["type"] == "shipment.created"
    with pytest.raises(WebhookVerificationError):
        Webhook(signatures.generate_webhook_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET_NEW).verify(body + b" ", headers)


def test_envelope_is_bounded_and_typed():
    with pytest.raises(ValueError):
        outbound.envelope("shipment.teleported", datetime(2026, 12, 7), {})
    with pytest.raises(ValueError):
        outbound.envelope(outbound.SHIPMENT_CREATED, datetime(2026, 12, 7), {"x": "y" * outbound.MAX_PAYLOAD_BYTES})
    body = json.loads(outbound.envelope(outbound.DELIVERED, datetime(2026, 12, 7, 10, 1, 2), {}))
    assert body == {"type": "shipment.delivered", "timestamp": "2026-12-07T10:01:02Z", "data": {}}


@pytest.mark.parametrize("event_type", list(outbound.EVENT_TYPES))
def test_every_type_has_a_valid_schema_referring_to_the_canonical_documents(event_type):
    schema = outbound.outbound_schemas()[event_type]
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["type"] == {"const": event_type}
    refs = json.dumps(schema)
    assert "urn:shipment-visibility:schema:shipment:1" in refs and "urn:shipment-visibility:schema:event:1" in refs
    validator = Draft202012Validator(schema, registry=registry())
    wrong = {"type": event_type, "timestamp": "2026-12-07T10:00:00Z", "data": {"sequence": 0}}
    assert list(validator.iter_errors(wrong)), "an incomplete message must not validate"
    assert len(outbound.schema_paths()) == len(outbound.EVENT_TYPES)


def test_retry_schedule_adds_up_to_about_three_days():
    assert timedelta(seconds=sum(outbound.RETRY_SCHEDULE)) < outbound.DISABLE_AFTER
