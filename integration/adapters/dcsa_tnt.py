"""DCSA Track & Trace (ocean carriers): TNT 2.2 event arrays and TNT 3.0 ``{"events": […]}``.

A subscription callback (and a ``GET /v2/events`` answer) is a JSON array of events; TNT
3.0 wraps them in ``{"events": […]}`` and moves the codes into ``eventClassification``
(reference section 9). Every event carries its class: ``ACT`` happened, ``EST`` and
``PLN`` predict (they never move a shipment's status), ``REQ`` is asked for.

Which shipment an event belongs to: the booking (``BKG``) when the event names one, else
the transport document (``TRD``), else the container (``EQ``), in the order the
connector's ``options["references"]`` may change. Moves of an *empty* container, the
document workflow of a booking and IoT or reefer readings are kept as events of no
milestone: they are not the customer's cargo moving.
"""

import json
from datetime import datetime, timedelta, timezone

from .. import partners, polling, taxonomy
from ..events import EventError, normalize_tracking_number
from ..timezones import country_code, parse_datetime, parse_partner_time
from .base import Adapter, ParseError, ParseResult, append_unique, build_event, load_json

#: ``<eventType>/<event type code>[/<empty indicator>]`` → (milestone, reason), section 11.4.
DEFAULT_STATUS_MAP = {
    "TRANSPORT/ARRI": ("arrived_at_facility", None),
    "TRANSPORT/DEPA": ("departed_facility", None),
    "EQUIPMENT/STUF/LADEN": ("picked_up", None),
    "EQUIPMENT/LOAD/LADEN": ("in_transit", None),
    "EQUIPMENT/DISC/LADEN": ("in_transit", None),
    "EQUIPMENT/GTIN/LADEN": ("arrived_at_facility", None),
    "EQUIPMENT/GTOT/LADEN": ("departed_facility", None),
    "SHIPMENT/CONF/BKG": ("info_received", None),
    # Known codes that say nothing about where the cargo is.
    **{f"EQUIPMENT/{code}/EMPTY": (taxonomy.UNKNOWN, None)
       for code in ("STUF", "STRP", "LOAD", "DISC", "GTIN", "GTOT", "PICK", "DROP", "INSP", "RSEA", "RMVD")},
    **{f"EQUIPMENT/{code}/LADEN": (taxonomy.UNKNOWN, None)
       for code in ("STRP", "PICK", "DROP", "INSP", "RSEA", "RMVD")},
    **{f"SHIPMENT/{code}": (taxonomy.UNKNOWN, None)
       for code in ("RECE", "DRFT", "PENA", "PENU", "REJE", "APPR", "ISSU", "SURR", "SUBM", "VOID", "CONF")},
    "IOT": (taxonomy.UNKNOWN, None),
    "REEFER": (taxonomy.UNKNOWN, None),
}
#: ``eventClassifierCode`` → our event class.
CLASSES = {"ACT": taxonomy.ACTUAL, "EST": taxonomy.ESTIMATED, "PLN": taxonomy.PLANNED, "REQ": taxonomy.REQUESTED}
#: SMDG delay reason codes → our reasons (others are kept raw, reason ``other``).
DELAY_REASONS = {"WEA": "weather", "ANA": "carrier_delay", "BER": "carrier_delay", "CUS": "customs_documents"}
DEFAULT_REFERENCES = ("BKG", "TRD", "EQ")
# DCSA started in 2019: an event "published" before 2015 is a placeholder date.
_EARLIEST_PUBLICATION = datetime(2015, 1, 1, tzinfo=timezone.utc)
_CLOCK_SKEW = timedelta(days=1)


class DcsaTntAdapter(Adapter):
    """DCSA TNT 2.2 and 3.0 events, pushed to a subscription callback or polled."""

    code = "dcsa_tnt"
    label = "DCSA Track & Trace (ocean)"
    default_status_map = DEFAULT_STATUS_MAP

    def parse(self, body, context):
        """Parse an array of TNT 2.2 events or a TNT 3.0 ``{"events": […]}`` answer.

        Every event is checked before any is returned, and one error lists every bad
        event with its JSON path, so the partner fixes them all at once.

        :rtype: ParseResult
        :raises ParseError: at the first bad event's path, naming all of them.
        """
        data = load_json(body)
        base = "$"
        if isinstance(data, dict) and isinstance(data.get("events"), list):
            data, base = data["events"], "$.events"
        if not isinstance(data, list):
            raise ParseError("expected an array of events or {\"events\": [...]}", "$")
        preference = tuple(context.options.get("references") or DEFAULT_REFERENCES)
        result, seen, problems = ParseResult(), set(), []
        for index, raw in enumerate(data):
            path = f"{base}[{index}]"
            try:
                event = self._event(raw, path, preference, context, result)
            except ParseError as exc:
                problems.append(exc)
                continue
            append_unique(result, seen, event)
            if event.tracking_number not in result.tracking_numbers:
                result.tracking_numbers.append(event.tracking_number)
        if problems:
            listed = "; ".join(str(problem) for problem in problems)
            raise ParseError(f"{len(problems)} of {len(data)} events rejected: {listed}", problems[0].path)
        result.events.sort(key=lambda event: event.occurred_at)
        return result

    def _event(self, raw, path, preference, context, result):
        if not isinstance(raw, dict):
            raise ParseError("expected an event object", path)
        classification = raw.get("eventClassification")
        v3 = isinstance(classification, dict)
        codes = classification if v3 else raw
        event_type = str(codes.get("eventTypeCode" if v3 else "eventType") or "")
        if not event_type:
            where = "eventClassification.eventTypeCode" if v3 else "eventType"
            raise ParseError("missing the event type", f"{path}.{where}")
        classifier = codes.get("eventClassifierCode")
        event_class = CLASSES.get(classifier)
        if event_class is None:
            raise ParseError(f"unknown eventClassifierCode {classifier!r}",
                             f"{path}.{'eventClassification.' if v3 else ''}eventClassifierCode")
        created_name = "eventUpdatedDateTime" if v3 else "eventCreatedDateTime"
        created = _published_at(raw.get(created_name), f"{path}.{created_name}", context)
        location = _location(raw)
        occurred_at, assumed_utc = _event_time(raw.get("eventDateTime"), f"{path}.eventDateTime", location)

        raw_code = _raw_code(event_type, codes, raw, v3)
        candidates = _candidates(raw_code)
        milestone, reason, _matched = self.resolve(candidates, context)
        if not any(code in context.status_map or code in self.default_status_map for code in candidates):
            if raw_code not in result.unmapped_codes:
                result.unmapped_codes.append(raw_code)
        delay = raw.get("delayReasonCode")
        if not delay and isinstance(raw.get("transportDetails"), dict):
            delay = raw["transportDetails"].get("delayReasonCode")
        if delay and reason is None:
            reason = DELAY_REASONS.get(str(delay), "other")
        try:
            number = normalize_tracking_number(_reference(raw, preference, v3))
        except EventError:
            raise ParseError("the event names no booking, transport document or container", path) from None
        extra = {key: value for key, value in (("event_type", event_type), ("delay_reason_code", delay),
                                               ("change_remark", raw.get("changeRemark")),
                                               ("un_location", location.get("un_location"))) if value}
        return build_event(
            path,
            tracking_number=number,
            milestone=milestone,
            occurred_at=occurred_at,
            event_class=event_class,
            carrier=context.carrier,
            raw_code=raw_code,
            description=_description(raw, raw_code),
            reason=reason,
            city=location.get("city", ""),
            postcode=location.get("postcode", ""),
            country=location.get("country", ""),
            latitude=location.get("latitude"),
            longitude=location.get("longitude"),
            issued_at=None if event_class == taxonomy.ACTUAL else created,
            external_id=str(raw.get("eventID") or ""),
            time_assumed_utc=assumed_utc,
            extra=extra,
        )


def _candidates(raw_code):
    """Most specific first: ``EQUIPMENT/LOAD/LADEN``, then ``EQUIPMENT/LOAD``, then ``EQUIPMENT``."""
    parts = raw_code.split("/")
    return ["/".join(parts[:size]) for size in range(len(parts), 0, -1)]


def _raw_code(event_type, codes, raw, v3):
    if event_type == "SHIPMENT":
        document = raw.get("documentTypeCode") or _v3_document_type(raw)
        code = codes.get("shipmentEventTypeCode") or ""
        return f"SHIPMENT/{code}/{document}" if document else f"SHIPMENT/{code}"
    if event_type == "TRANSPORT":
        return f"TRANSPORT/{codes.get('transportEventTypeCode') or ''}"
    if event_type == "EQUIPMENT":
        details = raw.get("equipmentDetails") if v3 and isinstance(raw.get("equipmentDetails"), dict) else raw
        empty = details.get("emptyIndicatorCode") or ""
        return f"EQUIPMENT/{codes.get('equipmentEventTypeCode') or ''}" + (f"/{empty}" if empty else "")
    return event_type


def _v3_document_type(raw):
    details = raw.get("shipmentDetails")
    reference = details.get("documentReference") if isinstance(details, dict) else None
    return reference.get("typeCode") if isinstance(reference, dict) else None


def _references(raw, v3):
    """``(type, value)`` of every reference an event carries, in the order given."""
    found = []
    for item in raw.get("documentReferences") or ():
        if isinstance(item, dict):
            found.append((item.get("documentReferenceType"), item.get("documentReferenceValue")))
    if raw.get("documentTypeCode") in ("BKG", "TRD") and raw.get("documentID"):
        found.append((raw["documentTypeCode"], raw["documentID"]))
    details = raw.get("shipmentDetails") if isinstance(raw.get("shipmentDetails"), dict) else {}
    for item in [details.get("documentReference"), *(details.get("additionalDocumentReferences") or ())]:
        if isinstance(item, dict):
            found.append((item.get("typeCode"), item.get("reference")))
    equipment = raw.get("equipmentDetails") if v3 and isinstance(raw.get("equipmentDetails"), dict) else raw
    if equipment.get("equipmentReference"):
        found.append(("EQ", equipment["equipmentReference"]))
    for item in raw.get("references") or ():
        if isinstance(item, dict) and item.get("referenceType") == "EQ":
            found.append(("EQ", item.get("referenceValue")))
    return [(kind, str(value)) for kind, value in found if kind and isinstance(value, (str, int)) and value != ""]


def _reference(raw, preference, v3):
    references = _references(raw, v3)
    for wanted in preference:
        for kind, value in references:
            if kind == wanted:
                return value
    return str(raw.get("documentID") or "")


def _location(raw):
    """City, postcode, country (from the UN/LOCODE or the address) and coordinates."""
    place = raw.get("eventLocation") if isinstance(raw.get("eventLocation"), dict) else {}
    call = raw.get("transportCall") if isinstance(raw.get("transportCall"), dict) else {}
    locode = str(place.get("UNLocationCode") or call.get("UNLocationCode") or "")
    address = place.get("address") if isinstance(place.get("address"), dict) else {}
    country = country_code(locode[:2]) if len(locode) == 5 else None
    country = country or country_code(address.get("countryCode") or address.get("country")) or ""
    coordinates = place.get("geoCoordinate") if isinstance(place.get("geoCoordinate"), dict) else place
    return {
        "un_location": locode,
        "city": str(address.get("city") or place.get("locationName") or ""),
        "postcode": str(address.get("postCode") or ""),
        "country": country,
        "latitude": _float(coordinates.get("latitude")),
        "longitude": _float(coordinates.get("longitude")),
    }


def _event_time(value, path, location):
    """``eventDateTime``: local time of the place with its offset; a missing offset is
    read in the zone of the event's country."""
    if value in (None, ""):
        raise ParseError("missing required field 'eventDateTime'", path)
    try:
        return parse_partner_time(str(value), country=location.get("country"), city=location.get("city"))
    except ValueError as exc:
        raise ParseError(f"not an ISO 8601 date-time: {exc}", path) from None


def _published_at(value, path, context):
    """When the publisher created the event: required, ISO 8601, and plausible (after
    DCSA existed, not after the message arrived)."""
    if value in (None, ""):
        raise ParseError(f"missing required field {path.rsplit('.', 1)[-1]!r}", path)
    try:
        parsed, _has_time = parse_datetime(str(value))
    except ValueError as exc:
        raise ParseError(f"not an ISO 8601 date-time: {exc}", path) from None
    if parsed.tzinfo is None:
        raise ParseError("a publication time needs its UTC offset", path)
    if parsed < _EARLIEST_PUBLICATION:
        raise ParseError(f"published {parsed.date()}, before any DCSA standard: a placeholder date", path)
    if parsed > context.received_at + _CLOCK_SKEW:
        raise ParseError(f"published {parsed.date()}, after the message was received", path)
    return parsed


def _description(raw, raw_code):
    remark = raw.get("changeRemark") or raw.get("reason")
    return f"{raw_code}: {remark}" if isinstance(remark, str) and remark else raw_code


def _float(value):
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


ADAPTER = DcsaTntAdapter()


# -- partner descriptor

EVENTS_PATH = "/v2/events"
#: The TNT 2.2 filter each reference kind is asked with.
_FILTERS = {"BKG": "carrierBookingReference", "TRD": "transportDocumentReference", "EQ": "equipmentReference"}


def _poll_requests(numbers, options):
    # TNT filters on one reference per call; the connector says which kind it tracks.
    kind = (options.get("references") or DEFAULT_REFERENCES)[0]
    name = _FILTERS.get(kind, _FILTERS["BKG"])
    return [polling.PollRequest("GET", EVENTS_PATH, params={name: number, "limit": 250}, numbers=(number,))
            for number in numbers]


def _example(now):
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps([{
        "eventID": "3cecb101-7a1a-43a4-9d62-e88a13165100", "eventCreatedDateTime": stamp,
        "eventType": "TRANSPORT", "eventClassifierCode": "ACT", "eventDateTime": stamp,
        "transportEventTypeCode": "DEPA",
        "transportCall": {"UNLocationCode": "NLRTM", "modeOfTransport": "VESSEL"},
        "documentReferences": [{"documentReferenceType": "BKG", "documentReferenceValue": "ABC123123123"}],
    }], separators=(",", ":")).encode()


DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="dcsa_tnt", label="DCSA Track & Trace (ocean)", adapter=ADAPTER, sequence=80,
    # Polled: TNT 2.2 leaves the key of its callback signature (the base64 secret or its
    # decoded bytes) unsaid, and an unverifiable push is not accepted.
    poll=partners.PollPlan(default_batch=1, max_batch=1, build=_poll_requests, auth=polling.generic_auth),
    example=_example,
))
