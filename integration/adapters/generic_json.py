"""Generic JSON: our native ``shipment.tracking.updated`` envelope, or a partner's own JSON.

By default the body must be the native envelope (``reference/CARRIER_FORMATS.md`` §6),
validated against ``integration/schemas/tracking_updated.schema.json``. A 3PL with a
slightly different JSON is onboarded by configuration alone, through the connector's
``options``:

``schema``
    a JSON Schema (dict) that replaces the native one. When ``paths`` is given without
    ``schema``, the body is not validated against the native schema (it cannot match).
``paths``
    where the values sit, as dot/bracket paths (``shipment.awb``, ``history[0].when``,
    ``['odd key'].x``, an optional leading ``$``). Envelope paths are read from the
    body root: ``tracking_number``, ``carrier``, ``reference``, ``timestamp`` (issue time
    of estimates) and ``events`` (an array; an object counts as one event). Event paths
    are read from each event: ``id``, ``code`` (a path or a list of paths in precedence
    order), ``class``, ``occurred_at``, ``window_from``, ``window_to``, ``city``,
    ``region``, ``postcode``, ``country``, ``description``, ``raw_code``, ``reason``,
    and the proof of delivery: ``signed_by``, ``pod_url`` (https only) and ``pod_file``
    (``{content_type, data, file_name}``, checked by :mod:`integration.proof_of_delivery`).
    Names left out keep the native path; ``null`` switches one off. Zone-less times are
    read in the event location's zone, else the connector's; a bare date on an estimate
    covers that whole local day.

Codes go through :meth:`~integration.adapters.base.Adapter.resolve`: the 16 canonical
codes map to themselves, a partner's codes through the connector's status map, anything
else becomes ``unknown`` (kept, and reported in ``unmapped_codes``).
"""

import json
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from jsonschema import exceptions as schema_exceptions
from jsonschema import validators

from .. import partners, polling, proof_of_delivery, taxonomy, timezones
from ..events import normalize_tracking_number
from .base import Adapter, ParseError, ParseResult, build_event, load_json

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "tracking_updated.schema.json"
EVENT_TYPE = "shipment.tracking.updated"

#: Paths of the native envelope; ``options["paths"]`` entries replace them one by one.
DEFAULT_PATHS = {
    "tracking_number": "data.tracking_number",
    "carrier": "data.carrier",
    "reference": "data.reference",
    "timestamp": "timestamp",
    "events": "data.events",
    "id": "id",
    "code": "code",
    "class": "class",
    "occurred_at": "occurred_at",
    "window_from": "window.from",
    "window_to": "window.to",
    "city": "location.city",
    "region": "location.region",
    "postcode": "location.postcode",
    "country": "location.country",
    "description": "description",
    "raw_code": "raw_code",
    "reason": "reason",
    "signed_by": "proof_of_delivery.signed_by",
    "pod_url": "proof_of_delivery.url",
    "pod_file": "proof_of_delivery.image",
}

# DCSA's event classifiers are what freight partners already send for the same notion.
_CLASS_ALIASES = {
    "act": taxonomy.ACTUAL,
    "est": taxonomy.ESTIMATED,
    "pln": taxonomy.PLANNED,
    "req": taxonomy.REQUESTED,
    **{name: name for name in taxonomy.EVENT_CLASSES},
}

_SEGMENT = re.compile(r"""\.?([^.\[\]'"\s]+)|\[(\d+)\]|\[\s*(?:'([^']*)'|"([^"]*)")\s*\]""")
_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATE_ONLY = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")


@lru_cache(maxsize=1)
def native_schema():
    """The JSON Schema of the native envelope (parsed once per process).

    :rtype: dict
    """
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def compile_path(text):
    """Split a dot/bracket path into keys and indexes.

    ``'$.history[2].where.town'`` → ``('history', 2, 'where', 'town')``; ``'$'`` or ``''``
    designate the root.

    :raises ValueError: on a path that cannot be read.
    :rtype: tuple
    """
    text = (text or "").strip()
    if text.startswith("$"):
        text = text[1:]
    parts = []
    pos = 0
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if not match:
            raise ValueError(f"cannot read path {text!r} at character {pos}")
        name, index, quoted, dquoted = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(next(p for p in (name, quoted, dquoted) if p is not None))
        pos = match.end()
    return tuple(parts)


def json_path(parts, base="$"):
    """Render keys and indexes as a JSON path (``$.a[0]['b c']``), as error messages show it."""
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _get(node, parts):
    for part in parts:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
        elif not isinstance(node, dict):
            return None
        node = node[part] if isinstance(part, int) else node.get(part)
        if node is None:
            return None
    return node


class GenericJsonAdapter(Adapter):
    """Native envelope by default; field paths and schema configurable per connector."""

    code = "generic_json"
    label = "Generic JSON (shipment.tracking.updated)"
    # Canonical codes are their own partner codes in the native format.
    default_status_map = {code: (code, None) for code in taxonomy.MILESTONE_CODES}
    message_id_header = "webhook-id"

    def external_id(self, body, headers):
        """The Standard Webhooks ``webhook-id`` header (any letter case); None without it."""
        found = super().external_id(body, headers)
        if found:
            return found
        for name, value in (headers or {}).items():
            if name.lower() == self.message_id_header and value:
                return value
        return None

    def parse(self, body, context):
        """Validate then normalise one message into canonical events.

        :param bytes body: the exact bytes received.
        :param AdapterContext context: ``options['schema']`` / ``options['paths']`` as
            described in the module documentation.
        :rtype: ParseResult
        :raises ParseError: with the JSON path of the first offending element.
        """
        options = context.options or {}
        paths = self._paths(options.get("paths"))
        payload = load_json(body)
        schema = options.get("schema")
        if schema is not None:
            validate(payload, schema)
        elif not options.get("paths"):
            validate(payload)

        tracking_number, tn_path = self._value(payload, paths["tracking_number"])
        if not isinstance(tracking_number, (str, int)) or not str(tracking_number).strip():
            raise ParseError("missing tracking number", tn_path)
        tracking_number = normalize_tracking_number(str(tracking_number))
        carrier = _text(self._value(payload, paths["carrier"])[0]) or context.carrier
        reference = _text(self._value(payload, paths["reference"])[0])
        issued_raw, issued_path = self._value(payload, paths["timestamp"])
        # The envelope's own time, else its signed Standard Webhooks timestamp.
        issued_at = context.issue_time("webhook-timestamp")
        if issued_raw:
            issued_at = self._time(issued_raw, issued_path, {}, context)[0]

        raw_events, events_path = self._value(payload, paths["events"])
        if isinstance(raw_events, dict):
            raw_events, items = [raw_events], [events_path]
        elif raw_events is None:
            raw_events, items = [], []
        elif isinstance(raw_events, list):
            items = [f"{events_path}[{i}]" for i in range(len(raw_events))]
        else:
            raise ParseError("expected an array of events", events_path)

        # The format has no destination field: the newest located event stands for it
        # (zone-less times without a location, date-only estimates), before the connector's.
        places = [tuple(_text(self._value(raw, paths[name], path)[0]) for name in ("country", "region", "city"))
                  for raw, path in zip(reversed(raw_events), reversed(items)) if isinstance(raw, dict)]
        context = replace(context, default_timezone=timezones.destination_zone(
            last_scans=places, default=context.default_timezone))
        result = ParseResult(tracking_numbers=[tracking_number])
        proofs = []
        info = {key: value for key, value in (("carrier", carrier), ("reference", reference)) if value}
        if info:
            result.shipment_info[tracking_number] = info
        for raw_event, item_path in zip(raw_events, items):
            if not isinstance(raw_event, dict):
                raise ParseError("expected an object", item_path)
            event = self._event(raw_event, item_path, paths, tracking_number, carrier, issued_at, context)
            result.events.append(event)
            pod_file, file_path = self._value(raw_event, paths["pod_file"], item_path)
            if event.signed_by or event.pod_url or pod_file is not None:
                if event.event_class != taxonomy.ACTUAL:
                    raise ParseError("a proof of delivery belongs on an actual event", item_path)
                proofs.append((event, pod_file, file_path))
            if event.milestone == taxonomy.UNKNOWN and event.raw_code not in result.unmapped_codes:
                result.unmapped_codes.append(event.raw_code)
        self._proof_of_delivery(proofs, result)
        return result

    @staticmethod
    def _proof_of_delivery(proofs, result):
        """The shipment's proof of delivery: the newest event carrying one gives it whole.

        :param proofs: ``(event, inline file as sent, its JSON path)`` of each event
            with a signer, a link or a file.
        """
        if not proofs:
            return
        event, pod_file, file_path = max(proofs, key=lambda proof: proof[0].occurred_at)
        # Every inline file is checked, not only the one kept: a bad one is refused.
        checked = {path: proof_of_delivery.decode_file(raw, path, event.tracking_number)
                   for _event, raw, path in proofs if raw is not None}
        info = result.shipment_info.setdefault(event.tracking_number, {})
        info.update({key: getattr(event, key) for key in ("signed_by", "pod_url") if getattr(event, key)})
        if pod_file is not None:
            info["pod_file"] = checked[file_path]

    @staticmethod
    def _paths(configured):
        if configured is None:
            configured = {}
        if not isinstance(configured, dict):
            raise ParseError("paths option must be an object", "options.paths")
        unknown = sorted(set(configured) - set(DEFAULT_PATHS))
        if unknown:
            raise ParseError(f"unknown path name(s) {', '.join(unknown)}", "options.paths")
        compiled = {}
        for name, default in DEFAULT_PATHS.items():
            value = configured.get(name, default)
            candidates = [c for c in (value if isinstance(value, list) else [value]) if c is not None]
            try:
                if not all(isinstance(c, str) for c in candidates):
                    raise ValueError("a path is a string (or a list of strings for code)")
                compiled[name] = [compile_path(candidate) for candidate in candidates]
            except ValueError as exc:
                raise ParseError(str(exc), f"options.paths.{name}") from None
        return compiled

    @staticmethod
    def _value(node, candidates, base="$"):
        """First non-empty value among candidate paths, with the JSON path it was read at."""
        for parts in candidates:
            value = _get(node, parts)
            if value not in (None, ""):
                return value, json_path(parts, base)
        return None, json_path(candidates[0], base) if candidates else base

    @staticmethod
    def _time(value, path, location, context, edge=None):
        """Aware time of a value; ``edge`` (``start``/``end``) reads a bare date as its local day."""
        if not isinstance(value, str):
            raise ParseError("expected an ISO 8601 date and time", path)
        where = {"country": location.get("country"), "region": location.get("region"), "city": location.get("city")}
        try:
            if edge and _DATE_ONLY.match(value):
                # 11.5.3: a predicted date is a local day at the destination, never an instant.
                zone = timezones.zone_for(**where, default=context.default_timezone)
                end, start_utc, _end_utc, assumed_utc = timezones.estimate_window(value, None, zone)
                return (start_utc if edge == "start" else end), assumed_utc
            return timezones.parse_partner_time(value, **where, default_zone=context.default_timezone)
        except ValueError as exc:
            raise ParseError(f"invalid date and time {value!r} ({exc})", path) from None

    def _event(self, raw, base, paths, tracking_number, carrier, issued_at, context):
        def value(name):
            return self._value(raw, paths[name], base)

        location = {name: _text(value(name)[0]) for name in ("city", "region", "postcode", "country")}
        codes = [_text(_get(raw, parts)) for parts in paths["code"]]
        milestone, reason, raw_code = self.resolve(codes, context)
        if milestone == taxonomy.UNKNOWN:
            # The admin maps the most specific code the partner sent, so show that one.
            raw_code = next((code for code in codes if code), raw_code)
        else:
            raw_code = _text(value("raw_code")[0]) or raw_code

        reason_value, reason_path = value("reason")
        if reason_value is not None:
            if not isinstance(reason_value, str) or reason_value not in taxonomy.REASON_CODES:
                raise ParseError(f"unknown reason {reason_value!r}", reason_path)
            reason = reason_value

        class_value, class_path = value("class")
        event_class = taxonomy.ACTUAL
        if class_value is not None:
            event_class = _CLASS_ALIASES.get(str(class_value).strip().lower())
            if event_class is None:
                raise ParseError(f"unknown event class {class_value!r}", class_path)

        predicted = event_class != taxonomy.ACTUAL
        window = []
        for name, edge in (("window_from", "start"), ("window_to", "end")):
            bound, bound_path = value(name)
            window.append(self._time(bound, bound_path, location, context, edge)[0] if bound is not None else None)
        occurred_raw, occurred_path = value("occurred_at")
        assumed_utc = False
        if occurred_raw is not None:
            edge = "end" if predicted else None
            occurred_at, assumed_utc = self._time(occurred_raw, occurred_path, location, context, edge)
            if predicted and window == [None, None] and _DATE_ONLY.match(occurred_raw):
                window = [self._time(occurred_raw, occurred_path, location, context, "start")[0], occurred_at]
        elif predicted and any(window):
            # The last on-time instant is what an estimate predicts (11.5.3).
            occurred_at = window[1] or window[0]
        else:
            raise ParseError("missing event time", occurred_path)

        return build_event(
            base,
            tracking_number=tracking_number,
            milestone=milestone,
            occurred_at=occurred_at,
            event_class=event_class,
            carrier=carrier,
            raw_code=raw_code,
            description=_text(value("description")[0]),
            reason=reason,
            window_start=window[0],
            window_end=window[1],
            issued_at=None if event_class == taxonomy.ACTUAL else issued_at,
            external_id=_text(value("id")[0]),
            time_assumed_utc=assumed_utc,
            signed_by=_text(value("signed_by")[0]),
            pod_url=proof_of_delivery.check_url(*value("pod_url")),
            **location,
        )


@lru_cache(maxsize=1)
def _native_validator():
    schema = native_schema()
    return validators.validator_for(schema)(schema)


def validate(payload, schema=None):
    """Validate a decoded body against a JSON Schema (the native one by default).

    :raises ParseError: for the most relevant error (:func:`jsonschema.exceptions.best_match`),
        with the JSON path of the failing element; for a missing property the path names
        the property itself, which is what the sender has to add.
    """
    if schema is None:
        validator = _native_validator()
    elif not isinstance(schema, dict):
        raise ParseError("the configured JSON Schema must be an object", "options.schema")
    else:
        try:
            validator_class = validators.validator_for(schema)
            validator_class.check_schema(schema)
        except schema_exceptions.SchemaError as exc:
            raise ParseError(f"the configured JSON Schema is invalid ({exc.message})", "options.schema") from None
        validator = validator_class(schema)
    error = schema_exceptions.best_match(validator.iter_errors(payload))
    if error is None:
        return
    path = error.json_path
    message = error.message
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "pattern" and description:
        # The regular expression says nothing to a sender; the schema's wording does.
        message = f"{error.instance!r}: {description}"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((name for name in error.validator_value if name not in error.instance), None)
        if missing is not None:
            path = json_path([missing], path)
    raise ParseError(message, path)


def _text(value):
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


ADAPTER = GenericJsonAdapter()


# -- partner descriptor


def _example(now):
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return json.dumps({
        "type": "shipment.tracking.updated", "timestamp": stamp,
        "data": {"carrier": "example", "tracking_number": "EXAMPLE123", "reference": "WH/OUT/00042",
                 "events": [{"id": "evt-example-1", "code": "picked_up", "class": "actual", "occurred_at": stamp,
                             "location": {"city": "Amsterdam", "country": "NL"}}]},
    }, separators=(",", ":")).encode()


DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="generic_json", label="Generic JSON (native format)", adapter=ADAPTER, sequence=10,
    signature_scheme="standard_webhooks",
    kept_headers=("webhook-id", "webhook-timestamp"),
    timestamp_header="webhook-timestamp",
    poll=partners.PollPlan(
        default_batch=1, max_batch=500, build=polling.generic_plan, auth=polling.generic_auth,
        batch_option="batch_url_template"),
    example=_example,
))

# Entries people make in Odoo (the manual event wizard, later the API) are native
# messages too, on a connector of their own: same parsing, dedup and policies.
MANUAL_DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="manual", label="Manual entry", adapter=ADAPTER, sequence=1000))
