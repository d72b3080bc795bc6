"""The subscriptions part of the REST API's contract, without Odoo.

A consumer's own system manages where our events go: signed webhook endpoints (and,
read-only, the RabbitMQ subscriptions an administrator set up). Secrets appear in an
answer exactly twice in their life: when the subscription is created and when its
secret is rotated. Broker URLs never appear. The schemas here are added to the OpenAPI
document by :func:`integration.api_contract.openapi_document`.
"""

import copy
from datetime import datetime, timezone

from . import outbound
from .api_contract import MAX_LIMIT, ApiProblem, is_rfc3339

EVENT_TYPES = tuple(outbound.EVENT_TYPES)
MAX_ROTATION_HOURS = 24 * 7
_ID = {"type": "integer", "minimum": 1, "maximum": 2147483647}
_UTC = {"$ref": "#/components/schemas/Shipment_utc_datetime"}
_TEXT_OR_NULL = {"type": ["string", "null"]}

_WRITABLE = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"},
    "url": {"type": "string", "minLength": 1, "maxLength": 2000,
            "description": "The https endpoint receiving signed Standard Webhooks messages. Addresses of "
                           "private, loopback, link-local and metadata networks are refused."},
    "event_types": {"type": "array", "uniqueItems": True, "maxItems": len(EVENT_TYPES),
                    "items": {"enum": list(EVENT_TYPES)}, "description": "Empty: every type."},
    "customer_id": {**_ID, "type": ["integer", "null"],
                    "description": "Only this customer's shipments. An account bound to a customer always "
                                   "gets its own customer here."},
    "strict_ordering": {"type": "boolean",
                        "description": "Message n+1 of a shipment waits until message n is delivered."},
    "rotation_window_hours": {"type": "integer", "minimum": 1, "maximum": MAX_ROTATION_HOURS,
                              "description": "How long the previous secret keeps signing after a rotation."},
}

CREATE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["name", "url"],
    "properties": copy.deepcopy(_WRITABLE),
}

UPDATE_SCHEMA = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {**copy.deepcopy(_WRITABLE),
                   "enabled": {"type": "boolean",
                               "description": "false stops deliveries (they wait); true resumes them."}},
}

REPLAY_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "description": "Exactly one of: message_id; from and to; failed.",
    "properties": {
        "message_id": {"type": "string", "pattern": "^msg_[A-Za-z0-9_]{1,80}$",
                       "description": "The webhook-id of one message sent to this subscription."},
        "from": {"type": "string", "format": "date-time", "description": "Messages created at or after."},
        "to": {"type": "string", "format": "date-time", "description": "Messages created at or before."},
        "failed": {"const": True, "description": "Every message this subscription gave up on."},
    },
    "oneOf": [{"required": ["message_id"]}, {"required": ["from", "to"]}, {"required": ["failed"]}],
}

SUBSCRIPTION_SCHEMA = {
    "type": "object", "additionalProperties": False,
    "required": ["id", "name", "kind", "url", "event_types", "customer_id", "enabled", "disabled_reason",
                 "disabled_at", "strict_ordering", "rotation_window_hours", "has_secret", "secret_set_at",
                 "previous_secret_expires_at", "health", "href"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "kind": {"enum": ["webhook", "amqp"], "description": "amqp subscriptions are set up by administrators; "
                                                             "their broker URL is never shown."},
        "url": {**_TEXT_OR_NULL, "description": "The webhook endpoint; null for amqp."},
        "event_types": {"type": "array", "items": {"enum": list(EVENT_TYPES)}},
        "customer_id": {"type": ["integer", "null"]},
        "enabled": {"type": "boolean"},
        "disabled_reason": _TEXT_OR_NULL,
        "disabled_at": _UTC,
        "strict_ordering": {"type": "boolean"},
        "rotation_window_hours": {"type": "integer"},
        "has_secret": {"type": "boolean"},
        "secret_set_at": _UTC,
        "previous_secret_expires_at": {**_UTC, "description": "Until then messages also carry the previous "
                                                              "secret's signature."},
        "health": {
            "type": "object", "additionalProperties": False,
            "required": ["last_success_at", "last_failure_at", "failing_since", "consecutive_failures",
                         "last_error", "pending", "failed", "delivered"],
            "properties": {
                "last_success_at": _UTC, "last_failure_at": _UTC, "failing_since": _UTC,
                "consecutive_failures": {"type": "integer", "minimum": 0}, "last_error": _TEXT_OR_NULL,
                "pending": {"type": "integer", "minimum": 0}, "failed": {"type": "integer", "minimum": 0},
                "delivered": {"type": "integer", "minimum": 0}}},
        "href": {"type": "string"},
    },
}


def _with_secret():
    schema = copy.deepcopy(SUBSCRIPTION_SCHEMA)
    schema["properties"]["secret"] = {
        "type": "string", "pattern": "^whsec_",
        "description": "The signing secret (Standard Webhooks). Shown this once: store it now."}
    schema["required"].append("secret")
    return schema


# ----------------------------------------------------------------------------- request checks

def _datetime(pointer, value):
    if not is_rfc3339(value):
        raise ApiProblem("validation-failed", f"'{pointer}': expected an RFC 3339 date and time",
                         [{"detail": "expected an RFC 3339 date and time", "pointer": pointer}])
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        # A leap second, or an instant beyond the calendar once moved to UTC.
        raise ApiProblem("validation-failed", f"'{pointer}': not a usable date and time",
                         [{"detail": "not a usable date and time", "pointer": pointer}]) from None


def replay_selection(document):
    """What a replay request selects: ``("message", uid)``, ``("range", (start, end))`` or ``("failed", None)``.

    Run after the schema; says precisely which combination is wrong, where the schema's
    ``oneOf`` could only say that none matched.

    :raises ApiProblem: 422 with the pointer of the offending member.
    """
    given = [name for name in ("message_id", "from", "to", "failed") if name in document]
    modes = {"message_id": "message", "from": "range", "to": "range", "failed": "failed"}
    chosen = {modes[name] for name in given}
    if len(chosen) != 1:
        detail = "give exactly one of message_id, from and to, or failed"
        pointer = f"/{given[1]}" if len(given) > 1 else ""
        raise ApiProblem("validation-failed", detail[0].upper() + detail[1:] + ".",
                         [{"detail": detail, "pointer": pointer}])
    mode = chosen.pop()
    if mode == "message":
        return mode, document["message_id"]
    if mode == "failed":
        return mode, None
    for name in ("from", "to"):
        if name not in document:
            raise ApiProblem("validation-failed", f"A time range needs '{name}'.",
                             [{"detail": "required with the other end of the range", "pointer": f"/{name}"}])
    start, end = _datetime("/from", document["from"]), _datetime("/to", document["to"])
    if start > end:
        raise ApiProblem("validation-failed", "The range ends before it starts.",
                         [{"detail": "before 'from'", "pointer": "/to"}])
    return mode, (start, end)


# ----------------------------------------------------------------------------- OpenAPI

def add_to_openapi(components, helpers):
    """Add the subscriptions' schemas to ``components`` and return their paths.

    :param dict helpers: the builder's ``ref``, ``json``, ``problems``, ``query`` functions
        and its ``read_headers``, ``rate_headers``, ``not_modified``, ``if_none_match``,
        so that these operations read like the others.
    :return: ``{path: path item}`` relative to the API prefix.
    """
    ref, as_json, problems, query = helpers["ref"], helpers["json"], helpers["problems"], helpers["query"]
    rate_headers, read_headers = helpers["rate_headers"], helpers["read_headers"]
    components["Subscription"] = copy.deepcopy(SUBSCRIPTION_SCHEMA)
    components["SubscriptionWithSecret"] = _with_secret()
    components["SubscriptionPage"] = {
        "type": "object", "required": ["data", "next_cursor"], "additionalProperties": False,
        "properties": {"data": {"type": "array", "items": ref("Subscription")},
                       "next_cursor": {"type": ["string", "null"]}}}
    components["CreateSubscription"] = copy.deepcopy(CREATE_SCHEMA)
    components["UpdateSubscription"] = copy.deepcopy(UPDATE_SCHEMA)
    components["ReplaySubscription"] = copy.deepcopy(REPLAY_SCHEMA)
    components["TestDelivery"] = {
        "type": "object", "additionalProperties": False,
        "required": ["delivered", "status_code", "error", "message_id", "event_type"],
        "properties": {"delivered": {"type": "boolean", "description": "The endpoint answered 2xx."},
                       "status_code": {"type": ["integer", "null"]}, "error": _TEXT_OR_NULL,
                       "message_id": {"type": "string"}, "event_type": {"enum": list(EVENT_TYPES)}}}
    components["ReplayResult"] = {
        "type": "object", "additionalProperties": False, "required": ["requeued"],
        "properties": {"requeued": {"type": "integer", "minimum": 0,
                                    "description": "Deliveries sent again (same webhook-id as before)."}}}
    subscription_id = {"name": "subscription_id", "in": "path", "required": True, "schema": dict(_ID)}
    reads, writes = (400, 401, 403, 406, 429), (400, 401, 403, 413, 415, 422, 429)

    def body(name):
        return {"required": True, "content": {"application/json": {"schema": ref(name)}}}

    def action(operation_id, summary, description, responses, request=None):
        operation = {"operationId": operation_id, "summary": summary, "description": description,
                     "parameters": [subscription_id], "responses": responses}
        if request:
            operation["requestBody"] = body(request)
        return {"post": operation}

    return {
        "/subscriptions": {
            "get": {
                "operationId": "listSubscriptions", "summary": "Event subscriptions, oldest first, by cursor",
                "parameters": [query("limit", f"Page size, at most {MAX_LIMIT}.",
                                     {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
                               query("cursor", "next_cursor of the previous page.",
                                     {"type": "string", "minLength": 1, "maxLength": 200}),
                               helpers["if_none_match"]],
                "responses": {"200": as_json(ref("SubscriptionPage"), "Subscriptions.", read_headers),
                              **helpers["not_modified"], **problems(*reads)},
            },
            "post": {
                "operationId": "createSubscription", "summary": "Subscribe a webhook endpoint to our events",
                "requestBody": body("CreateSubscription"),
                "responses": {"201": as_json(ref("SubscriptionWithSecret"), "Created; the secret is shown once.",
                                             rate_headers), **problems(*writes)},
            },
        },
        "/subscriptions/{subscription_id}": {
            "get": {
                "operationId": "getSubscription", "summary": "One subscription, with its health",
                "parameters": [subscription_id, helpers["if_none_match"]],
                "responses": {"200": as_json(ref("Subscription"), "The subscription.", read_headers),
                              **helpers["not_modified"], **problems(*reads, 404)},
            },
            "patch": {
                "operationId": "updateSubscription", "summary": "Change a subscription, enable or disable it",
                "parameters": [subscription_id], "requestBody": body("UpdateSubscription"),
                "responses": {"200": as_json(ref("Subscription"), "Updated.", rate_headers),
                              **problems(*writes, 404, 409)},
            },
            "delete": {
                "operationId": "deleteSubscription", "summary": "Remove a subscription (its pending messages are "
                                                                "no longer sent)",
                "parameters": [subscription_id],
                "responses": {"204": {"description": "Removed."}, **problems(400, 401, 403, 404, 429)},
            },
        },
        "/subscriptions/{subscription_id}/rotate-secret": action(
            "rotateSubscriptionSecret", "Replace the signing secret",
            "A new whsec_ secret, shown once; the previous one keeps signing (a second signature) during the "
            "rotation window, so the consumer can switch without losing a message.",
            {"200": as_json(ref("SubscriptionWithSecret"), "Rotated.", rate_headers),
             **problems(400, 401, 403, 404, 409, 429)}),
        "/subscriptions/{subscription_id}/test": action(
            "testSubscription", "Send a test message now and answer its outcome",
            "A signed shipment.created message about one of the account's shipments, sent at once, outside the "
            "outbox (not retried).",
            {"200": as_json(ref("TestDelivery"), "Sent; whether the endpoint took it.", rate_headers),
             **problems(400, 401, 403, 404, 409, 429)}),
        "/subscriptions/{subscription_id}/replay": action(
            "replaySubscription", "Send messages again: one, a time range, or every failed one",
            "Replayed messages keep their webhook-id: a consumer that has one already drops the copy.",
            {"202": as_json(ref("ReplayResult"), "Queued again.", rate_headers), **problems(*writes, 404)},
            request="ReplaySubscription"),
    }
