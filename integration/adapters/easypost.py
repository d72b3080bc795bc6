"""EasyPost Trackers: ``tracker.*`` webhook Events and Tracker objects.

A webhook body is an Event (``id`` ``evt_…``, ``description``, ``created_at``) whose
``result`` is the whole Tracker, history included (reference section 2). The poll
answers are accepted too: one Tracker (``GET /v2/trackers/{id}``), a list of them, or
the ``{"trackers": […]}`` page of ``GET /v2/trackers``.
"""

import json
from urllib.parse import quote

from .. import partners, polling, taxonomy
from ..events import CanonicalEvent, normalize_tracking_number
from ..timezones import country_code, estimate_window, parse_partner_time
from ..timezones import destination_zone as destination_zone_of
from ..transport import basic_auth_header
from .base import (
    Adapter,
    ParseError,
    ParseResult,
    append_unique,
    body_message_id,
    build_event,
    load_json,
    note_unmapped,
)

# Tracker statuses that say more than any status_detail (rule 11.5.1): the delivered
# scan typically carries the detail ``arrived_at_destination``. ``pre_transit`` is here
# because table 11.3 maps every pre-transit detail to info_received: the carrier does
# not hold the goods yet, whatever the detail says.
_STATUS_FIRST = frozenset(
    {"delivered", "available_for_pickup", "out_for_delivery", "return_to_sender", "cancelled", "pre_transit"}
)
#: Pseudo code for a delivered scan of a return tracker: "delivered back to the sender".
#: Being a status map row, it can be overridden like any partner code.
RETURN_DELIVERED = "delivered+is_return"

#: ``status`` and ``status_detail`` values of reference table 11.3. Both vocabularies
#: share some words (``in_transit``, ``failure``…), always with the same meaning.
DEFAULT_STATUS_MAP = {
    # status
    "unknown": (taxonomy.UNKNOWN, None),
    "error": (taxonomy.UNKNOWN, None),
    "pre_transit": ("info_received", None),
    "in_transit": ("in_transit", None),
    "out_for_delivery": ("out_for_delivery", None),
    "delivered": ("delivered", None),
    RETURN_DELIVERED: ("returned_to_sender", None),
    "available_for_pickup": ("available_for_pickup", None),
    "return_to_sender": ("returning_to_sender", None),
    "failure": ("exception", None),
    "cancelled": ("cancelled", None),
    # status_detail
    "label_created": ("info_received", None),
    "awaiting_information": ("info_received", None),
    "received_at_origin_facility": ("picked_up", None),
    "status_update": ("in_transit", None),
    "transferred_to_destination_carrier": ("in_transit", None),
    "address_correction": ("in_transit", None),
    "arrived_at_facility": ("arrived_at_facility", None),
    "received_at_destination_facility": ("arrived_at_facility", None),
    "arrived_at_destination": ("arrived_at_facility", None),
    "departed_facility": ("departed_facility", None),
    "departed_origin_facility": ("departed_facility", None),
    "delivery_exception": ("delivery_attempted", None),
    "arrived_at_pickup_location": ("available_for_pickup", None),
    "delayed": ("delayed", "carrier_delay"),
    "weather_delay": ("delayed", "weather"),
    "missorted": ("delayed", "misrouted"),
    "held": ("exception", "held_by_carrier"),
    "transit_exception": ("exception", None),
    "damaged": ("exception", "damaged"),
    "refused": ("exception", "refused"),
    "lost": ("exception", "lost"),
    "return": ("returning_to_sender", None),
    "expired": (taxonomy.UNKNOWN, None),
}


class EasyPostAdapter(Adapter):
    """EasyPost ``tracker.created`` / ``tracker.updated`` Events and polled Trackers."""

    code = "easypost"
    label = "EasyPost"
    default_status_map = DEFAULT_STATUS_MAP

    def external_id(self, body, headers):
        """The Event ``id`` (``evt_…``); a bare Tracker is a poll answer and has no message id."""
        return body_message_id(body, "id", accept=_is_event)

    def parse(self, body, context):
        """Parse an Event, a Tracker, a list of Trackers or a ``{"trackers": […]}`` page.

        Events about other objects (``batch.updated``, ``refund.successful``…) reach the
        same URL when the webhook is account-wide: they yield an empty result.

        :param bytes body: the raw body.
        :param AdapterContext context: connector configuration.
        :rtype: ParseResult
        :raises ParseError: with the JSON path of the missing or malformed element.
        """
        data = load_json(body)
        result = ParseResult()
        for tracker, path, issued_at in self._trackers(data, context, result):
            self._parse_tracker(tracker, path, issued_at, context, result)
        result.events.sort(key=lambda event: event.occurred_at)
        return result

    def _trackers(self, data, context, result):
        if isinstance(data, list):
            return [(_tracker(t, f"$[{i}]"), f"$[{i}]", None) for i, t in enumerate(data)]
        if not isinstance(data, dict):
            raise ParseError("expected a JSON object or array", "$")
        if _is_event(data):
            result.external_id = str(data["id"]) if data.get("id") else None
            if not str(data.get("description") or "").startswith("tracker."):
                return []
            # The Event's creation is when EasyPost issued the estimates it carries.
            issued_at = _time(data.get("created_at"), "$.created_at")
            return [(_tracker(data.get("result"), "$.result"), "$.result", issued_at)]
        if isinstance(data.get("trackers"), list):
            return [(_tracker(t, f"$.trackers[{i}]"), f"$.trackers[{i}]", None) for i, t in enumerate(data["trackers"])]
        return [(_tracker(data, "$"), "$", None)]

    def _parse_tracker(self, tracker, path, issued_at, context, result):
        number = tracker.get("tracking_code")
        if not isinstance(number, str) or not number.strip():
            raise ParseError("missing required field 'tracking_code'", f"{path}.tracking_code")
        number = normalize_tracking_number(number)
        carrier = str(tracker.get("carrier") or context.carrier or "").strip().lower()
        if issued_at is None:
            issued_at = _time(tracker.get("updated_at"), f"{path}.updated_at") or context.received_at
        if number not in result.tracking_numbers:
            result.tracking_numbers.append(number)
        info = {
            "carrier": carrier,
            "partner_status": tracker.get("status"),
            "signed_by": tracker.get("signed_by"),
        }
        result.shipment_info[number] = {key: value for key, value in info.items() if value}

        carrier_detail = tracker.get("carrier_detail") or {}
        if not isinstance(carrier_detail, dict):
            raise ParseError("expected an object", f"{path}.carrier_detail")
        destination = carrier_detail.get("destination_tracking_location") or {}
        if not isinstance(destination, dict):
            raise ParseError("expected an object", f"{path}.carrier_detail.destination_tracking_location")
        is_return = bool(tracker.get("is_return"))
        details = tracker.get("tracking_details")
        details = [] if details is None else details
        if not isinstance(details, list):
            raise ParseError("expected a list", f"{path}.tracking_details")
        # The structured destination is often null while ``destination_location`` holds
        # it as text ("BROOKLYN HGTS NY US"); the last located scan comes next.
        destination_zone = destination_zone_of(
            country=destination.get("country"), region=destination.get("state"), city=destination.get("city"),
            text=carrier_detail.get("destination_location"),
            # Read lazily: only when the destination fields tell no zone.
            last_scans=(_detail_place(detail) for detail in reversed(details) if isinstance(detail, dict)),
            default=context.default_timezone,
        )
        seen = {event.fingerprint for event in result.events}
        for index, detail in enumerate(details):
            event = self._detail_event(
                detail, f"{path}.tracking_details[{index}]", number, carrier, is_return, destination_zone, context
            )
            note_unmapped(result, self._candidates(detail, is_return), self.default_status_map, context)
            append_unique(result, seen, event)

        estimate = _estimate(tracker, carrier_detail)
        if estimate:
            name, value, field_path = estimate
            append_unique(
                result,
                seen,
                _prediction(
                    number, carrier, taxonomy.ESTIMATED, name, value, destination_zone, issued_at, path + field_path
                ),
            )
        guaranteed = carrier_detail.get("guaranteed_delivery_date")
        if guaranteed:
            name = "guaranteed_delivery_date"
            append_unique(
                result,
                seen,
                _prediction(
                    number,
                    carrier,
                    taxonomy.PLANNED,
                    name,
                    guaranteed,
                    destination_zone,
                    issued_at,
                    f"{path}.carrier_detail.{name}",
                ),
            )

    @staticmethod
    def _candidates(detail, is_return):
        """Raw codes of one tracking detail in precedence order (rule 11.5.1)."""
        status = detail.get("status") or ""
        status_detail = detail.get("status_detail") or ""
        if status_detail == "unknown":
            status_detail = ""
        if status == "delivered" and is_return:
            return [RETURN_DELIVERED, status]
        if status in _STATUS_FIRST:
            return [status, status_detail]
        return [status_detail, status]

    def _detail_event(self, detail, path, number, carrier, is_return, destination_zone, context):
        if not isinstance(detail, dict):
            raise ParseError("expected a tracking detail object", path)
        milestone, reason, raw_code = self.resolve(self._candidates(detail, is_return), context)
        location = detail.get("tracking_location") or {}
        if not isinstance(location, dict):
            raise ParseError("expected an object", f"{path}.tracking_location")
        raw_time = detail.get("datetime")
        if not raw_time:
            raise ParseError("missing required field 'datetime'", f"{path}.datetime")
        country = country_code(location.get("country"))
        city, region = location.get("city") or "", location.get("state") or ""
        try:
            occurred_at, assumed_utc = parse_partner_time(
                raw_time, country=country, region=region, city=city, default_zone=destination_zone
            )
        except ValueError as exc:
            raise ParseError(str(exc), f"{path}.datetime") from None
        return build_event(
            path,
            tracking_number=number,
            milestone=milestone,
            occurred_at=occurred_at,
            carrier=carrier,
            raw_code=raw_code,
            description=detail.get("message") or detail.get("description") or "",
            reason=reason,
            city=city,
            region=region,
            postcode=location.get("zip") or "",
            country=country or (location.get("country") or ""),
            time_assumed_utc=assumed_utc,
            extra={
                key: detail[key] for key in ("status", "status_detail", "carrier_code", "source") if detail.get(key)
            },
        )


def _is_event(data):
    return data.get("object") == "Event" or ("result" in data and "description" in data)


def _tracker(value, path):
    if not isinstance(value, dict):
        raise ParseError("expected a Tracker object", path)
    return value


def _estimate(tracker, carrier_detail):
    """``(field name, value, JSON path below the tracker)`` of the best delivery estimate, or None.

    The carrier's local date (and time) is preferred: ``est_delivery_date`` is that date
    encoded as midnight UTC, which must be read as a date, never as an instant.
    """
    local_date = carrier_detail.get("est_delivery_date_local")
    if local_date:
        local_time = carrier_detail.get("est_delivery_time_local")
        value = f"{local_date}T{local_time}" if local_time else local_date
        return "est_delivery_date_local", value, ".carrier_detail.est_delivery_date_local"
    if tracker.get("est_delivery_date"):
        return "est_delivery_date", tracker["est_delivery_date"], ".est_delivery_date"
    return None


def _prediction(number, carrier, event_class, raw_code, value, zone, issued_at, path):
    try:
        occurred_at, start, end, assumed_utc = estimate_window(value, None, zone)
    except ValueError as exc:
        raise ParseError(str(exc), path) from None
    return CanonicalEvent(
        tracking_number=number,
        milestone="delivered",
        occurred_at=occurred_at,
        event_class=event_class,
        carrier=carrier,
        raw_code=raw_code,
        description="Guaranteed delivery" if event_class == taxonomy.PLANNED else "Estimated delivery",
        window_start=start,
        window_end=end,
        issued_at=issued_at,
        time_assumed_utc=assumed_utc,
    )






def _time(value, path):
    if not value:
        return None
    try:
        parsed, _assumed = parse_partner_time(value)
    except ValueError as exc:
        raise ParseError(str(exc), path) from None
    return parsed


ADAPTER = EasyPostAdapter()


# -- partner descriptor

TRACKERS_PATH = "/v2/trackers"


def _poll_requests(numbers, options):
    # A tracker is read by its id; without one, creating the tracker again returns the
    # existing one (reference section 2), so the POST is safe to repeat.
    requests = []
    for number in numbers:
        tracker_id = (options.get("tracker_ids") or {}).get(number)
        if tracker_id:
            path = f"{TRACKERS_PATH}/{quote(str(tracker_id), safe='')}"
            requests.append(polling.PollRequest("GET", path, numbers=(number,)))
        else:
            body = {"tracker": {"tracking_code": number}}
            requests.append(polling.PollRequest("POST", TRACKERS_PATH, json=body, numbers=(number,)))
    return requests


def _example(now):
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({
        "object": "Event", "id": "evt_example000001", "mode": "production", "description": "tracker.updated",
        "created_at": stamp, "updated_at": stamp,
        "result": {"object": "Tracker", "id": "trk_example000001", "tracking_code": "9400100000000000000000",
                   "carrier": "USPS", "status": "in_transit", "status_detail": "arrived_at_facility",
                   "est_delivery_date": None, "updated_at": stamp,
                   "tracking_details": [{"object": "TrackingDetail", "message": "Arrived at USPS facility",
                                         "status": "in_transit", "status_detail": "arrived_at_facility",
                                         "datetime": stamp, "source": "USPS",
                                         "tracking_location": {"object": "TrackingLocation", "city": "CHICAGO",
                                                               "state": "IL", "country": "US", "zip": "60601"}}]},
    }, separators=(",", ":")).encode()


DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="easypost", label="EasyPost", adapter=ADAPTER, sequence=30,
    signature_scheme="easypost",
    poll=partners.PollPlan(
        default_batch=1, max_batch=1, build=_poll_requests,
        # The key is the basic-auth user name, with an empty password.
        auth=lambda api_key, header=None, scheme=None: {"Authorization": basic_auth_header(api_key, "")}),
    example=_example,
))


def _detail_place(detail):
    location = detail.get("tracking_location") or {}
    if not isinstance(location, dict):
        return "", "", ""
    return str(location.get("country") or ""), str(location.get("state") or ""), str(location.get("city") or "")
