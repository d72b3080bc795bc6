from datetime import datetime

import pytest
from jsonschema import Draft202012Validator

from integration import api_contract as contract
from integration import api_subscriptions as subs
from integration.api_contract import ApiProblem


def test_subscription_paths_are_in_the_document():
    document = contract.openapi_document()
    paths = document["paths"]
    assert set(paths["/subscriptions"]) == {"get", "post"}
    assert set(paths["/subscriptions/{subscription_id}"]) == {"get", "patch", "delete"}
    for action in ("rotate-secret", "test", "replay"):
        assert set(paths[f"/subscriptions/{{subscription_id}}/{action}"]) == {"post"}
    operation_ids = [operation["operationId"] for item in paths.values() for operation in item.values()]
    assert len(operation_ids) == len(set(operation_ids)) == 15
    schemas = document["components"]["schemas"]
    for name in ("Subscription", "SubscriptionWithSecret", "CreateSubscription", "UpdateSubscription",
                 "ReplaySubscription", "TestDelivery", "ReplayResult", "SubscriptionPage"):
        Draft202012Validator.check_schema(schemas[name])


def test_secrets_and_broker_urls_are_not_in_the_plain_document():
    properties = subs.SUBSCRIPTION_SCHEMA["properties"]
    assert "secret" not in properties and "amqp_url" not in properties
    assert properties["url"]["type"] == ["string", "null"]
    assert "secret" in contract.openapi_document()["components"]["schemas"]["SubscriptionWithSecret"]["required"]
    assert "secret" not in subs.CREATE_SCHEMA["properties"]
    assert "kind" not in subs.CREATE_SCHEMA["properties"], "the API subscribes webhooks only"


def _validate(schema, document):
    return [error.message for error in Draft202012Validator(schema).iter_errors(document)]


def test_create_and_update_schemas():
    assert not _validate(subs.CREATE_SCHEMA, {"name": "ERP", "url": "https://erp.example.com/hook",
                                              "event_types": ["shipment.delivered"], "customer_id": None})
    assert _validate(subs.CREATE_SCHEMA, {"name": "ERP"})
    assert _validate(subs.CREATE_SCHEMA, {"name": "ERP", "url": "https://x", "event_types": ["nope"]})
    assert _validate(subs.CREATE_SCHEMA, {"name": "ERP", "url": "https://x",
                                          "event_types": ["shipment.created", "shipment.created"]})
    assert _validate(subs.UPDATE_SCHEMA, {})
    assert not _validate(subs.UPDATE_SCHEMA, {"enabled": False})
    assert _validate(subs.UPDATE_SCHEMA, {"rotation_window_hours": subs.MAX_ROTATION_HOURS + 1})


@pytest.mark.parametrize("document, expected", [
    ({"message_id": "msg_1"}, ("message", "msg_1")),
    ({"failed": True}, ("failed", None)),
    ({"from": "2026-12-07T10:00:00+02:00", "to": "2026-12-07T10:00:00.123456789Z"},
     ("range", (datetime(2026, 12, 7, 8, 0), datetime(2026, 12, 7, 10, 0, 0, 123456)))),
])
def test_replay_selection(document, expected):
    assert subs.replay_selection(document) == expected


@pytest.mark.parametrize("document, pointer", [
    ({}, ""),
    ({"message_id": "msg_1", "from": "2026-12-07T10:00:00Z"}, "/from"),
    ({"failed": True, "message_id": "msg_1"}, "/failed"),
    ({"to": "2026-12-07T10:00:00Z"}, "/from"),
    ({"from": "2026-12-07T10:00:00Z"}, "/to"),
    ({"from": "2026-12-08T00:00:00Z", "to": "2026-12-07T00:00:00Z"}, "/to"),
    ({"from": "2026-12-07", "to": "2026-12-08T00:00:00Z"}, "/from"),
    ({"from": "2026-12-31T23:59:60Z", "to": "2027-01-01T00:00:00Z"}, "/from"),
])
def test_replay_selection_errors_have_a_pointer(document, pointer):
    with pytest.raises(ApiProblem) as problem:
        subs.replay_selection(document)
    assert problem.value.status == 422
    assert problem.value.errors[0]["pointer"] == pointer
