"""Shippo ``track_updated`` webhooks and Track objects.

A webhook body is ``{"event": "track_updated", "test": bool, "data": Track}`` where the
Track holds ``tracking_history`` (oldest first) and ``tracking_status`` (the latest,
repeated from the history) — reference section 3. The poll answer of
``GET /tracks/{carrier}/{tracking_number}`` is the bare Track and is accepted too.

Shippo gives no message id: :meth:`ShippoAdapter.external_id` returns None and the
inbox deduplicates on the body hash. ``original_eta`` (the first promise) is not
turned into an event: it is an estimate issued at an unknown earlier time, and the
history of ``eta`` values already records every revision as it arrives.
"""

import json

from .. import partners, taxonomy
from ..events import CanonicalEvent, normalize_tracking_number
from ..timezones import country_code, estimate_window, parse_partner_time
from ..timezones import destination_zone as destination_zone_of
from .base import Adapter, ParseError, ParseResult, build_event, load_json

#: ``substatus.code`` values of reference table 11.3, then the ``status`` fallbacks.
DEFAULT_STATUS_MAP = {
    "information_received": ("info_received", None),
    "package_accepted": ("picked_up", None),
    "package_processing": ("in_transit", None),
    "package_processed": ("in_transit", None),
    "package_forwarded": ("in_transit", None),
    "delivery_scheduled": ("in_transit", None),
    "package_arrived": ("arrived_at_facility", None),
    "package_departed": ("departed_facility", None),
    "out_for_delivery": ("out_for_delivery", None),
    # A TRANSIT substatus: the carrier will try again, this is no failure (section 12).
    "delivery_attempted": ("delivery_attempted", None),
    "notice_left": ("delivery_attempted", "recipient_unavailable"),
    "location_inaccessible": ("delivery_attempted", "address_issue"),
    "reschedule_delivery": ("delivery_attempted", None),
    "pickup_available": ("available_for_pickup", None),
    "delivered": ("delivered", None),
    "delayed": ("delayed", "carrier_delay"),
    "delivery_rescheduled": ("delayed", "other"),
    "address_issue": ("exception", "address_issue"),
    "contact_carrier": ("exception", None),
    "package_damaged": ("exception", "damaged"),
    "package_held": ("exception", "held_by_carrier"),
    "package_undeliverable": ("exception", None),
    "package_lost": ("exception", "lost"),
    "package_disposed": ("exception", "disposed"),
    # RETURNED does not tell "on the way back" from "back at the sender": the earlier one.
    "return_to_sender": ("returning_to_sender", None),
    "package_unclaimed": ("returning_to_sender", "not_collected"),
    "other": (taxonomy.UNKNOWN, None),
    "PRE_TRANSIT": ("info_received", None),
    "TRANSIT": ("in_transit", None),
    "DELIVERED": ("delivered", None),
    "RETURNED": ("returning_to_sender", None),
    "FAILURE": ("exception", None),
    "UNKNOWN": (taxonomy.UNKNOWN, None),
}


class ShippoAdapter(Adapter):
    """Shippo ``track_updated`` webhooks and polled Track objects."""

    code = "shippo"
    label = "Shippo"
    default_status_map = DEFAULT_STATUS_MAP

    def external_id(self, body, headers):
        """Always None: Shippo numbers neither its deliveries nor its bodies."""
        return None

    def parse(self, body, context):
        """Parse a ``track_updated`` envelope or a bare Track.

        Other webhook events (``transaction_created``…) yield an empty result.

        :param bytes body: the raw body.
        :param AdapterContext context: connector configuration.
        :rtype: ParseResult
        :raises ParseError: with the JSON path of the missing or malformed element.
        """
        data = load_json(body)
        if not isinstance(data, dict):
            raise ParseError("expected a JSON object", "$")
        result = ParseResult()
        if "data" in data or "event" in data:
            if data.get("event") not in (None, "track_updated"):
                return result
            track, path = data.get("data"), "$.data"
            if not isinstance(track, dict):
                raise ParseError("expected the Track object", path)
        else:
            track, path = data, "$"
        self._parse_track(track, path, context, result)
        result.events.sort(key=lambda event: event.occurred_at)
        return result

    def _parse_track(self, track, path, context, result):
        number = track.get("tracking_number")
        if not isinstance(number, str) or not number.strip():
            raise ParseError("missing required field 'tracking_number'", f"{path}.tracking_number")
        number = normalize_tracking_number(number)
        carrier = str(track.get("carrier") or context.carrier or "").strip().lower()
        result.tracking_numbers.append(number)

        history = track.get("tracking_history")
        history = [] if history is None else history
        if not isinstance(history, list):
            raise ParseError("expected a list", f"{path}.tracking_history")
        statuses = [(status, f"{path}.tracking_history[{i}]") for i, status in enumerate(history)]
        current = track.get("tracking_status")
        if current:
            statuses.append((current, f"{path}.tracking_status"))
        if current is not None and not isinstance(current, dict):
            raise ParseError("expected a status object", f"{path}.tracking_status")
        info = {
            "carrier": carrier,
            "partner_status": (current or {}).get("status"),
            "action_required": bool(((current or {}).get("substatus") or {}).get("action_required")),
        }
        result.shipment_info[number] = {key: value for key, value in info.items() if value}

        address_to = track.get("address_to") or {}
        if not isinstance(address_to, dict):
            raise ParseError("expected an address object", f"{path}.address_to")
        # Without an address_to, the newest located status is the best guess of the
        # destination, before the connector's zone.
        places = [status.get("location") for status, _path in reversed(statuses) if isinstance(status, dict)]
        destination_zone = destination_zone_of(
            country=address_to.get("country"), region=address_to.get("state"), city=address_to.get("city"),
            last_scans=[(p.get("country"), p.get("state"), p.get("city")) for p in places if isinstance(p, dict)],
            default=context.default_timezone,
        )
        seen_ids, seen = set(), set()
        for status, status_path in statuses:
            if not isinstance(status, dict):
                raise ParseError("expected a status object", status_path)
            # tracking_status repeats the newest history entry: under the same object_id
            # (sometimes with less detail), or under another one and a status_date a few
            # milliseconds off, when only the fingerprint (to the second) makes it one.
            object_id = status.get("object_id")
            if object_id and object_id in seen_ids:
                continue
            seen_ids.add(object_id)
            event = self._status_event(status, status_path, number, carrier, destination_zone, context, result)
            if event.fingerprint not in seen:
                seen.add(event.fingerprint)
                result.events.append(event)

        eta = track.get("eta")
        if eta:
            event = self._eta_event(eta, current, path, number, carrier, destination_zone, context)
            if event.fingerprint not in seen:
                result.events.append(event)

    def _status_event(self, status, path, number, carrier, destination_zone, context, result):
        substatus = status.get("substatus") or {}
        if not isinstance(substatus, dict):
            raise ParseError("expected an object", f"{path}.substatus")
        candidates = [substatus.get("code"), status.get("status")]
        milestone, reason, raw_code = self.resolve(candidates, context)
        code = next((str(c) for c in candidates if c not in (None, "")), "")
        if code and code not in context.status_map and code not in self.default_status_map:
            if code not in result.unmapped_codes:
                result.unmapped_codes.append(code)
        raw_time = status.get("status_date")
        if not raw_time:
            raise ParseError("missing required field 'status_date'", f"{path}.status_date")
        location = status.get("location") or {}
        if not isinstance(location, dict):
            raise ParseError("expected an object", f"{path}.location")
        country = country_code(location.get("country"))
        city, region = location.get("city") or "", location.get("state") or ""
        try:
            occurred_at, assumed_utc = parse_partner_time(
                raw_time, country=country, region=region, city=city, default_zone=destination_zone
            )
        except ValueError as exc:
            raise ParseError(str(exc), f"{path}.status_date") from None
        extra = {"object_id": status.get("object_id"), "substatus": substatus.get("text")}
        if substatus.get("action_required"):
            extra["action_required"] = True
        return build_event(
            path,
            tracking_number=number,
            milestone=milestone,
            occurred_at=occurred_at,
            carrier=carrier,
            raw_code=raw_code,
            description=status.get("status_details") or substatus.get("text") or "",
            reason=reason,
            city=city,
            region=region,
            postcode=location.get("zip") or "",
            country=country or (location.get("country") or ""),
            time_assumed_utc=assumed_utc,
            extra={key: value for key, value in extra.items() if value},
        )

    @staticmethod
    def _eta_event(eta, current, path, number, carrier, destination_zone, context):
        # No envelope time: the latest status update dates the estimate, so a poll that
        # finds nothing new reproduces the same fingerprint instead of a new estimate.
        issued_at = context.received_at
        for key in ("object_updated", "object_created"):
            stamp = (current or {}).get(key)
            if stamp:
                try:
                    issued_at, _assumed = parse_partner_time(stamp)
                except ValueError as exc:
                    raise ParseError(str(exc), f"{path}.tracking_status.{key}") from None
                break
        try:
            occurred_at, start, end, assumed_utc = estimate_window(eta, None, destination_zone)
        except ValueError as exc:
            raise ParseError(str(exc), f"{path}.eta") from None
        return CanonicalEvent(
            tracking_number=number,
            milestone="delivered",
            occurred_at=occurred_at,
            event_class=taxonomy.ESTIMATED,
            carrier=carrier,
            raw_code="eta",
            description="Estimated delivery",
            window_start=start,
            window_end=end,
            issued_at=issued_at,
            time_assumed_utc=assumed_utc,
        )


ADAPTER = ShippoAdapter()


# -- partner descriptor


def _example(now):
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({
        "event": "track_updated", "test": False,
        "data": {"carrier": "usps", "tracking_number": "9205590164917312751089", "eta": None,
                 "tracking_status": {"status": "TRANSIT", "status_details": "Arrived at USPS Regional Facility",
                                     "status_date": stamp,
                                     "substatus": {"code": "package_arrived", "action_required": False,
                                                   "text": "Package arrived at a carrier facility"},
                                     "location": {"city": "Memphis", "state": "TN", "zip": "38118",
                                                  "country": "US"}},
                 "tracking_history": []},
    }, separators=(",", ":")).encode()


DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="shippo", label="Shippo", adapter=ADAPTER, sequence=40,
    signature_scheme="shippo", example=_example,
))
