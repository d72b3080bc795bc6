"""The REST API's contract, without Odoo: errors, cursors, ETags, query parsing, OpenAPI.

Errors are RFC 9457 problem documents with a stable ``type`` per error. Cursors are
opaque to clients but signed, and bound to the filters they were made for: a tampered
or transplanted cursor is refused, never followed. The OpenAPI 3.1 document is built
from the same JSON Schemas as the answers, so the contract cannot drift from the code.
"""

import base64
import copy
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from . import canonical

API_PREFIX = "/api/shipment/v1"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:shipment-visibility:problem:"
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_IDEMPOTENCY_KEY = 255
OUTBOUND_SCHEMA_DIR = canonical.SCHEMA_DIR / "outbound"
TRACKING_UPDATED_SCHEMA_FILE = canonical.SCHEMA_DIR / "tracking_updated.schema.json"

#: Stable problem types: code -> (HTTP status, title).
PROBLEMS = {
    "unauthorized": (401, "Missing or invalid API key"),
    "forbidden": (403, "The key's account lacks the scope this call needs"),
    "not-found": (404, "No such resource"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "conflict": (409, "Conflict with the current state"),
    "payload-too-large": (413, "Request body too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "invalid-parameter": (400, "Invalid query parameter"),
    "invalid-cursor": (400, "Invalid cursor"),
    "malformed-body": (400, "Malformed request body"),
    "validation-failed": (422, "The request body does not follow the schema"),
    "idempotency-key-reused": (422, "Idempotency-Key reused with a different request"),
    "rate-limited": (429, "Too many requests"),
    "unavailable": (503, "Service unavailable, retry later"),
}

SHIPMENT_FIELDS = tuple(canonical.load_schema(canonical.SHIPMENT_SCHEMA_FILE)["properties"])
STATUSES = tuple(canonical.load_schema(canonical.SHIPMENT_SCHEMA_FILE)["properties"]["status"]["enum"])
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$")
_IDEMPOTENCY_KEY = re.compile(rf"^[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}$")


class ApiProblem(Exception):
    """An error the API answers as a problem document.

    :param str code: a key of :data:`PROBLEMS`.
    :param str detail: what was wrong with this request, for a person.
    :param list errors: per-item details: ``{"detail", "pointer"}`` for the body (a JSON
        Pointer), ``{"detail", "parameter"}`` for a query parameter or header.
    :param dict headers: extra response headers (``Retry-After``…).
    """

    def __init__(self, code, detail, errors=None, headers=None):
        super().__init__(detail)
        self.code = code
        self.status, self.title = PROBLEMS[code]
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def document(self, instance=None):
        doc = {"type": PROBLEM_TYPE_PREFIX + self.code, "title": self.title, "status": self.status,
               "detail": self.detail}
        if instance:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = self.errors
        return doc


def parameter_problem(name, detail):
    return ApiProblem("invalid-parameter", f"{name}: {detail}", [{"detail": detail, "parameter": name}])


# ----------------------------------------------------------------------------- query parsing

def parse_datetime(name, value):
    """A naive UTC datetime from an ISO 8601 value with an offset; zone-less is ambiguous."""
    if not _DATETIME.match(value or ""):
        raise parameter_problem(name, "expected an ISO 8601 date and time with an offset, e.g. 2026-12-07T10:00:00Z")
    text = value.replace("z", "Z").replace("Z", "+00:00").replace("t", "T").replace(" ", "T")
    match = re.search(r"\.(\d+)", text)
    if match and len(match.group(1)) > 6:  # Python keeps microseconds only
        text = text[:match.start(1)] + match.group(1)[:6] + text[match.end(1):]
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:
        # An instant at the edge of the calendar (year 1 ahead of UTC, 9999 behind): as a
        # lower bound it means "from the beginning" or "nothing yet".
        return datetime.min if parsed.year < 5000 else datetime.max
    except ValueError:
        raise parameter_problem(name, "not a valid date and time") from None


def parse_limit(value):
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d{1,4}", value) or not 1 <= int(value) <= MAX_LIMIT:
        raise parameter_problem("limit", f"expected an integer from 1 to {MAX_LIMIT}")
    return int(value)


def parse_fields(value):
    """The top-level keys of the shipment document to return; ``None`` for all of them."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SHIPMENT_FIELDS]
    if not names or unknown:
        raise parameter_problem("fields", f"unknown field(s) {', '.join(unknown) or '(none given)'}; "
                                          f"choose among {', '.join(SHIPMENT_FIELDS)}")
    # The id always comes back: without it a sparse document cannot be followed up.
    return ["id", *[name for name in SHIPMENT_FIELDS if name in names and name != "id"]]


def parse_id(name, value):
    if not re.fullmatch(r"[1-9]\d{0,9}", value or "") or int(value) > 2**31 - 1:
        raise parameter_problem(name, "expected a positive integer")
    return int(value)


def parse_text(name, value, max_length=80):
    value = (value or "").strip()
    if not value or len(value) > max_length or "\x00" in value:
        raise parameter_problem(name, f"expected a non-empty text of at most {max_length} characters")
    return value


SHIPMENT_FILTERS = ("status", "carrier", "tracking_number", "order_reference", "customer_reference",
                    "exception", "updated_since")
LIST_PARAMETERS = frozenset(SHIPMENT_FILTERS) | {"limit", "cursor", "fields"}


def parse_shipment_query(args):
    """Filters, limit, cursor and fields of ``GET /shipments``.

    :param dict args: query parameters (single values).
    :return: ``(filters, limit, cursor, fields)``; ``filters`` holds only given filters.
    :raises ApiProblem: on the first invalid parameter, naming it.
    """
    unknown = sorted(set(args) - LIST_PARAMETERS)
    if unknown:
        raise parameter_problem(unknown[0], "unknown parameter")
    filters = {}
    if "status" in args:
        statuses = [status.strip() for status in args["status"].split(",") if status.strip()]
        bad = [status for status in statuses if status not in STATUSES]
        if not statuses or bad:
            raise parameter_problem("status", f"unknown status {', '.join(bad) or '(none given)'}")
        filters["status"] = statuses
    for name in ("carrier", "tracking_number", "order_reference", "customer_reference"):
        if name in args:
            filters[name] = parse_text(name, args[name])
    if "exception" in args:
        if args["exception"] not in ("true", "false"):
            raise parameter_problem("exception", "expected true or false")
        filters["exception"] = args["exception"] == "true"
    if "updated_since" in args:
        filters["updated_since"] = parse_datetime("updated_since", args["updated_since"])
    return filters, parse_limit(args.get("limit")), args.get("cursor"), parse_fields(args.get("fields"))


# ----------------------------------------------------------------------------- cursors

def filters_fingerprint(filters):
    """What a cursor is bound to: the filters, in a canonical form."""
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _mac(secret, payload):
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def make_cursor(secret, last_id, filters):
    """An opaque cursor: resume after ``last_id`` with these same filters."""
    payload = f"v1.{int(last_id)}.{filters_fingerprint(filters)}"
    return base64.urlsafe_b64encode(f"{payload}.{_mac(secret, payload)}".encode()).decode().rstrip("=")


def read_cursor(secret, cursor, filters):
    """The id to resume after; :class:`ApiProblem` when the cursor was not made by us for these filters."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, last_id, fingerprint, mac = text.split(".")
    except (ValueError, UnicodeError):
        raise ApiProblem("invalid-cursor", "The cursor is not one this API returned.",
                         [{"detail": "not a cursor of this API", "parameter": "cursor"}]) from None
    payload = f"{version}.{last_id}.{fingerprint}"
    if version != "v1" or not last_id.isdigit() or not hmac.compare_digest(mac, _mac(secret, payload)):
        raise ApiProblem("invalid-cursor", "The cursor is not one this API returned.",
                         [{"detail": "not a cursor of this API", "parameter": "cursor"}])
    if fingerprint != filters_fingerprint(filters):
        raise ApiProblem("invalid-cursor", "The cursor was made for other filters: repeat the same filters.",
                         [{"detail": "made for other filters", "parameter": "cursor"}])
    return int(last_id)


# ----------------------------------------------------------------------------- ETags and keys

def etag(body):
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def etag_matches(if_none_match, current):
    """Whether an ``If-None-Match`` header matches the current ETag (weak comparison)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return current in tags


def check_idempotency_key(value):
    if value is not None and not _IDEMPOTENCY_KEY.match(value):
        raise parameter_problem("Idempotency-Key", f"expected 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters")
    return value


def request_fingerprint(method, path, body):
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


# ----------------------------------------------------------------------------- body validation

_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def is_rfc3339(value):
    """Whether ``value`` is an RFC 3339 date-time (what ``format: date-time`` promises)."""
    if not isinstance(value, str):
        return True  # formats judge strings only; the type keyword judges the rest
    match = _RFC3339.match(value)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    offset = match.group(8)
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    offset_ok = offset in ("Z", "z") or (int(offset[1:3]) <= 23 and int(offset[4:6]) <= 59)
    return hour <= 23 and minute <= 59 and second <= 60 and offset_ok


def validation_errors(schema, document):
    """Every violation of ``schema`` by ``document``, as ``{"detail", "pointer"}``, by path."""
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker(formats=())
    checker.checks("date-time")(is_rfc3339)
    validator = Draft202012Validator(schema, format_checker=checker)
    errors = []
    for error in sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path]):
        pointer = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in error.absolute_path)
        errors.append({"detail": error.message[:300], "pointer": pointer})
    return errors


def nul_characters(document, pointer=""):
    """JSON Pointers of the strings (values or keys) holding a NUL, which nothing can store."""
    found = []
    if isinstance(document, str):
        if "\x00" in document:
            found.append(pointer)
    elif isinstance(document, dict):
        for key, value in document.items():
            child = pointer + "/" + str(key).replace("~", "~0").replace("/", "~1")
            found += [child] if "\x00" in str(key) else nul_characters(value, child)
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += nul_characters(value, f"{pointer}/{index}")
    return found


REGISTER_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["tracking_number"],
    "properties": {
        "tracking_number": {"type": "string", "pattern": "\\S", "maxLength": 80},
        "carrier_id": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
        "order_reference": {"type": ["string", "null"], "maxLength": 80,
                            "description": "A delivery order or sale order reference to link the shipment to."},
    },
}


# ----------------------------------------------------------------------------- OpenAPI

#: Components standing for our own schemas when another schema refers to them by ``$id``.
_COMPONENT_OF_SCHEMA_ID = {
    canonical.load_schema(canonical.SHIPMENT_SCHEMA_FILE)["$id"]: "Shipment",
    canonical.load_schema(canonical.EVENT_SCHEMA_FILE)["$id"]: "Event",
}


def _embed(schema, prefix, components):
    """``schema`` without ``$schema``/``$id``, its ``$defs`` moved into ``components``."""
    schema = copy.deepcopy(schema)
    schema.pop("$schema", None)
    schema.pop("$id", None)
    definitions = schema.pop("$defs", {})

    def rewrite(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = f"#/components/schemas/{prefix}_{ref.removeprefix('#/$defs/')}"
            elif isinstance(ref, str) and ref.partition("#")[0] in _COMPONENT_OF_SCHEMA_ID:
                # Another of our schemas, by its $id (the outbound payloads embed the
                # canonical shipment and event): its component, or one of its $defs.
                schema_id, _hash, fragment = ref.partition("#")
                target = _COMPONENT_OF_SCHEMA_ID[schema_id]
                if fragment.startswith("/$defs/"):
                    target = f"{target}_{fragment.removeprefix('/$defs/')}"
                node["$ref"] = f"#/components/schemas/{target}"
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)
        return node

    for name, definition in definitions.items():
        components[f"{prefix}_{name}"] = rewrite(definition)
    return rewrite(schema)


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _problem_responses(*statuses):
    return {str(status): {"$ref": f"#/components/responses/Problem{status}"} for status in statuses}


def _json(schema, description, headers=None):
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _query(name, description, schema=None, required=False):
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string", "minLength": 1, "maxLength": 80}}


def outbound_schemas(directory=None):
    """The outbound event payloads: ``{name: schema}`` of ``schemas/outbound/*.json``."""
    directory = Path(directory or OUTBOUND_SCHEMA_DIR)
    return {path.stem.removesuffix(".schema"): canonical.load_schema(path)
            for path in sorted(directory.glob("*.json"))} if directory.is_dir() else {}


def openapi_document(server_url=None, outbound_dir=None):
    """The OpenAPI 3.1 document of the REST API."""
    components = {}
    components["Shipment"] = _embed(canonical.load_schema(canonical.SHIPMENT_SCHEMA_FILE), "Shipment", components)
    sparse = copy.deepcopy(components["Shipment"])
    sparse.pop("required")
    sparse["required"] = ["id"]
    sparse["title"] = "Shipment (v1), the fields asked for"
    components["ShipmentFields"] = sparse
    components["Event"] = _embed(canonical.load_schema(canonical.EVENT_SCHEMA_FILE), "Event", components)
    components["TrackingUpdated"] = _embed(canonical.load_schema(TRACKING_UPDATED_SCHEMA_FILE), "TrackingUpdated",
                                           components)
    components["RegisterShipment"] = copy.deepcopy(REGISTER_SCHEMA)
    components["Problem"] = {
        "type": "object", "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "enum": [PROBLEM_TYPE_PREFIX + code for code in PROBLEMS]},
            "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "string"}, "pointer": {"type": "string"},
                               "parameter": {"type": "string"}}}},
        },
    }
    components["Link"] = {"type": "object", "required": ["id", "href"], "additionalProperties": False,
                          "properties": {"id": {"type": "integer"}, "href": {"type": "string"}}}
    components["ShipmentPage"] = {
        "type": "object", "required": ["data", "next_cursor"], "additionalProperties": False,
        "properties": {"data": {"type": "array", "items": _ref("ShipmentFields")},
                       "next_cursor": {"type": ["string", "null"],
                                       "description": "Pass as cursor for the next page; null on the last one."}}}
    components["EventList"] = {"type": "object", "required": ["data"], "additionalProperties": False,
                               "properties": {"data": {"type": "array", "items": _ref("Event")}}}
    components["LookupResult"] = {
        "type": "object", "required": ["data", "others"], "additionalProperties": False,
        "properties": {"data": _ref("Shipment"),
                       "others": {"type": "array", "items": _ref("Link"),
                                  "description": "Older shipments with the same number at this carrier "
                                                 "(carriers recycle tracking numbers), most recent first."}}}
    components["OpenException"] = {
        "type": "object", "additionalProperties": False,
        "required": ["id", "shipment_id", "tracking_number", "kind", "state", "reason", "opened_at", "age_seconds",
                     "href"],
        "properties": {
            "id": {"type": "integer"}, "shipment_id": {"type": "integer"}, "tracking_number": {"type": "string"},
            "kind": {"type": "string", "description": "carrier (reported by the carrier) or a policy's own."},
            "state": {"enum": ["open", "acknowledged"]},
            "reason": {"type": "string"},
            "opened_at": _ref("Shipment_utc_datetime"),
            "age_seconds": {"type": "integer", "minimum": 0}, "href": {"type": "string"}}}
    components["ExceptionPage"] = {
        "type": "object", "required": ["data", "next_cursor"], "additionalProperties": False,
        "properties": {"data": {"type": "array", "items": _ref("OpenException")},
                       "next_cursor": {"type": ["string", "null"]}}}
    components["Accepted"] = {
        "type": "object", "required": ["status", "message_id", "correlation_id"], "additionalProperties": False,
        "properties": {"status": {"enum": ["accepted", "duplicate"]}, "message_id": {"type": "integer"},
                       "correlation_id": {"type": "string"}}}

    rate_headers = {
        "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests allowed per minute."},
        "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left now."},
        "RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Seconds until one more is allowed."},
    }
    read_headers = dict(rate_headers, ETag={"schema": {"type": "string"}})
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}}
    responses = {f"Problem{status}": {"description": title, "content": problem_content}
                 for status, title in [(400, "Invalid parameter"), (401, "Missing or invalid API key"),
                                       (403, "Out of the key's scope"), (404, "Not found (or not yours)"),
                                       (406, "Not acceptable"), (409, "Conflict"), (413, "Body too large"),
                                       (415, "Unsupported media type"), (422, "Validation failed"),
                                       (429, "Rate limited")]}
    responses["Problem429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    not_modified = {"304": {"description": "Not modified: the ETag in If-None-Match is current."}}
    if_none_match = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}
    shipment_id = {"name": "shipment_id", "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}}
    fields_param = _query("fields", "Comma-separated top-level keys of the shipment document; id always comes.",
                          {"type": "string", "minLength": 1, "maxLength": 400})
    reads = (400, 401, 403, 406, 429)
    paths = {
        "/shipments": {
            "get": {
                "operationId": "listShipments", "summary": "Shipments, oldest first, by cursor",
                "parameters": [
                    _query("status", "Comma-separated statuses.", {"type": "string", "minLength": 1,
                                                                  "maxLength": 400}),
                    _query("carrier", "Carrier id, or its name."),
                    _query("tracking_number", "Tracking number (any case, spaces ignored)."),
                    _query("order_reference", "Delivery order or sale order reference."),
                    _query("customer_reference", "The customer's own order reference."),
                    _query("exception", "Only shipments with (true) or without (false) an exception.",
                           {"type": "string", "enum": ["true", "false"]}),
                    _query("updated_since", "Shipments changed at or after this time.",
                           {"type": "string", "format": "date-time"}),
                    _query("limit", f"Page size, at most {MAX_LIMIT}.",
                           {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
                    _query("cursor", "next_cursor of the previous page, with the same filters.",
                           {"type": "string", "minLength": 1, "maxLength": 200}),
                    fields_param, if_none_match,
                ],
                "responses": {"200": _json(_ref("ShipmentPage"), "A page of shipments.", read_headers),
                              **not_modified, **_problem_responses(*reads)},
            },
            "post": {
                "operationId": "registerShipment", "summary": "Register a tracking number to follow",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY}}],
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref("RegisterShipment")}}},
                "responses": {"201": _json(_ref("Shipment"), "Registered.", rate_headers),
                              **_problem_responses(400, 401, 403, 409, 413, 415, 422, 429)},
            },
        },
        "/shipments/{shipment_id}": {
            "get": {
                "operationId": "getShipment", "summary": "One shipment",
                "parameters": [shipment_id, fields_param, if_none_match],
                "responses": {"200": _json(_ref("ShipmentFields"), "The shipment.", read_headers), **not_modified,
                              **_problem_responses(*reads, 404)},
            },
        },
        "/shipments/{shipment_id}/events": {
            "get": {
                "operationId": "listShipmentEvents", "summary": "A shipment's events, actual and estimated, by time",
                "parameters": [shipment_id, if_none_match],
                "responses": {"200": _json(_ref("EventList"), "The events.", read_headers), **not_modified,
                              **_problem_responses(*reads, 404)},
            },
        },
        "/lookup": {
            "get": {
                "operationId": "lookupShipment", "summary": "The most recent shipment of a carrier's tracking number",
                "parameters": [_query("carrier", "Carrier id, or its name.", required=True),
                               _query("tracking_number", "Tracking number.", required=True), if_none_match],
                "responses": {"200": _json(_ref("LookupResult"), "Found.", read_headers), **not_modified,
                              **_problem_responses(*reads, 404)},
            },
        },
        "/exceptions": {
            "get": {
                "operationId": "listExceptions", "summary": "Shipments with an open exception, oldest first",
                "parameters": [_query("limit", f"Page size, at most {MAX_LIMIT}.",
                                      {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
                               _query("cursor", "next_cursor of the previous page.",
                                      {"type": "string", "minLength": 1, "maxLength": 200}), if_none_match],
                "responses": {"200": _json(_ref("ExceptionPage"), "Open exceptions.", read_headers),
                              **not_modified, **_problem_responses(*reads)},
            },
        },
        "/events": {
            "post": {
                "operationId": "pushEvents", "summary": "Push tracking events in the native format",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TrackingUpdated")}}},
                "responses": {"202": _json(_ref("Accepted"), "Stored; processed shortly.", rate_headers),
                              "200": _json(_ref("Accepted"), "Already received: the same message.", rate_headers),
                              **_problem_responses(400, 401, 403, 413, 415, 422, 429)},
            },
        },
    }
    # Imported here: the subscriptions' contract builds on this module.
    from .api_subscriptions import add_to_openapi
    paths.update(add_to_openapi(components, {
        "ref": _ref, "json": _json, "problems": _problem_responses, "query": _query, "rate_headers": rate_headers,
        "read_headers": read_headers, "not_modified": not_modified, "if_none_match": if_none_match}))
    webhooks = {}
    for name, schema in outbound_schemas(outbound_dir).items():
        key = re.sub(r"[^A-Za-z0-9]", "_", name)
        components[f"Outbound_{key}"] = _embed(schema, f"Outbound_{key}", components)
        webhooks[name] = {"post": {
            "summary": schema.get("title", name), "description": schema.get("description", ""),
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(f"Outbound_{key}")}}},
            "responses": {"2XX": {"description": "Received: any 2xx acknowledges the delivery."}},
        }}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Shipment Visibility API", "version": "1.0.0",
                 "description": "Canonical shipments and events of Shipment Visibility. Authenticate with "
                                "'Authorization: Bearer <key>' (a service account's key). Errors are RFC 9457 "
                                "problem documents."},
        "servers": [{"url": (server_url or "") + API_PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "webhooks": webhooks,
        "components": {"schemas": components, "responses": responses,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
    return document

