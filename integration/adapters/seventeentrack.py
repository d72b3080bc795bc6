"""17TRACK Tracking API v2.2 / v2.4: webhooks and ``/gettrackinfo`` poll responses.

Push: ``{event: TRACKING_UPDATED | TRACKING_STOPPED, data: {number, carrier, tag,
track_info}}``. Poll: ``{code: 0, data: {accepted: [{number, carrier, track_info}],
rejected: [{number, error}]}}``. Every message carries the whole history, split per
provider (first-mile and last-mile carriers each have a timeline, newest first): all
providers are merged, and a scan both report is kept once (same fingerprint).
"""

import json
from datetime import timezone

from .. import partners, polling, taxonomy
from ..events import CanonicalEvent, EventError, normalize_tracking_number
from ..timezones import destination_zone as destination_zone_of
from ..timezones import estimate_window, parse_datetime, parse_partner_time
from .base import Adapter, ParseError, ParseResult, build_event, load_json, require

# Reference §11.3, 17TRACK column (sub_status), then the main statuses (coarse
# fallback of a sub status this table does not know) and the milestone ``key_stage``
# values events carry in ``stage``.
DEFAULT_STATUS_MAP = {
    # sub_status
    "InfoReceived": ("info_received", None),
    "InTransit_PickedUp": ("picked_up", None),
    "InTransit_Other": ("in_transit", None),
    "InTransit_Arrival": ("arrived_at_facility", None),
    "InTransit_Departure": ("departed_facility", None),
    "InTransit_CustomsProcessing": ("customs_hold", None),
    "InTransit_CustomsRequiringInformation": ("customs_hold", "customs_documents"),
    "InTransit_CustomsReleased": ("customs_cleared", None),
    "OutForDelivery_Other": ("out_for_delivery", None),
    "DeliveryFailure_Other": ("delivery_attempted", None),
    "DeliveryFailure_NoBody": ("delivery_attempted", "recipient_unavailable"),
    "DeliveryFailure_Security": ("delivery_attempted", None),
    "DeliveryFailure_Rejected": ("delivery_attempted", "refused"),
    "DeliveryFailure_InvalidAddress": ("delivery_attempted", "address_issue"),
    "AvailableForPickup_Other": ("available_for_pickup", None),
    "Delivered_Other": ("delivered", None),
    "Exception_Delayed": ("delayed", None),
    "Exception_Other": ("exception", None),
    "Exception_NoBody": ("exception", None),
    "Exception_Security": ("exception", None),
    "Exception_Damage": ("exception", "damaged"),
    "Exception_Rejected": ("exception", "refused"),
    "Exception_Lost": ("exception", "lost"),
    "Exception_Destroyed": ("exception", "disposed"),
    "Exception_Returning": ("returning_to_sender", None),
    "Exception_Returned": ("returned_to_sender", None),
    "Exception_Cancel": ("cancelled", None),
    "NotFound_Other": (taxonomy.UNKNOWN, None),
    "NotFound_InvalidCode": (taxonomy.UNKNOWN, None),
    "Expired_Other": (taxonomy.UNKNOWN, None),
    # main status
    "NotFound": (taxonomy.UNKNOWN, None),
    "InTransit": ("in_transit", None),
    "Expired": (taxonomy.UNKNOWN, None),
    "AvailableForPickup": ("available_for_pickup", None),
    "OutForDelivery": ("out_for_delivery", None),
    "DeliveryFailure": ("delivery_attempted", None),
    "Delivered": ("delivered", None),
    "Exception": ("exception", None),
    # stage (milestone key_stage)
    "PickedUp": ("picked_up", None),
    "Departure": ("departed_facility", None),
    "Arrival": ("arrived_at_facility", None),
    "Returning": ("returning_to_sender", None),
    "Returned": ("returned_to_sender", None),
}


class SeventeenTrackAdapter(Adapter):
    """17TRACK webhooks (``TRACKING_UPDATED`` / ``TRACKING_STOPPED``) and ``/gettrackinfo``."""

    code = "seventeentrack"
    label = "17TRACK"
    default_status_map = DEFAULT_STATUS_MAP

    def parse(self, body, context):
        """Parse a 17TRACK webhook body or a ``/gettrackinfo`` response.

        :param bytes body: the exact bytes received.
        :param AdapterContext context: connector configuration.
        :rtype: ParseResult
        :raises ParseError: when the body is neither shape, or 17TRACK reports an error.
        """
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise ParseError("expected an object", "$")
        result = ParseResult()
        if "event" in payload:
            data = payload.get("data")
            if not isinstance(data, dict):
                raise ParseError("expected an object", "$.data")
            kind = payload["event"]
            if kind == "TRACKING_UPDATED":
                self._shipment(data, "$.data", context, result)
            elif kind == "TRACKING_STOPPED":
                # 17TRACK stops following the number: nothing new to record but the fact.
                number = self._number(data, "$.data", result)
                info = self._info(data, context)
                info["tracking_stopped"] = True
                result.shipment_info[number] = info
            else:
                raise ParseError(f"unsupported 17TRACK event {kind!r}", "$.event")
        elif "code" in payload:
            self._poll_response(payload, context, result)
        else:
            raise ParseError("neither a 17TRACK webhook (event) nor an API response (code)", "$")
        return result

    def _poll_response(self, payload, context, result):
        if payload["code"] != 0:
            raise ParseError(f"17TRACK answered error code {payload['code']}", "$.code")
        data = payload.get("data")
        if not isinstance(data, dict):
            raise ParseError("expected an object", "$.data")
        for index, item in enumerate(_list(data, "accepted", "$.data")):
            self._shipment(item, f"$.data.accepted[{index}]", context, result)
        for item in _list(data, "rejected", "$.data"):
            # A refused number gets no shipment; its error still reaches the log.
            if isinstance(item, dict) and item.get("number"):
                error = _dict(item.get("error"))
                number = normalize_tracking_number(str(item["number"]))
                result.shipment_info[number] = {
                    "rejected_code": error.get("code"),
                    "rejected_message": error.get("message"),
                }

    @staticmethod
    def _number(data, path, result):
        try:
            number = normalize_tracking_number(str(require(data, "number", path)))
        except EventError as exc:
            raise ParseError(str(exc), f"{path}.number") from None
        if number not in result.tracking_numbers:
            result.tracking_numbers.append(number)
        return number

    @staticmethod
    def _info(data, context, track=None):
        latest = _dict((track or {}).get("latest_status"))
        info = {
            "carrier": _carrier(data, context),
            "reference": data.get("tag"),
            "partner_status": latest.get("status"),
            "partner_sub_status": latest.get("sub_status"),
        }
        return {key: value for key, value in info.items() if value not in (None, "")}

    def _shipment(self, data, path, context, result):
        if not isinstance(data, dict):
            raise ParseError("expected an object", path)
        number = self._number(data, path, result)
        track = data.get("track_info") or {}
        if not isinstance(track, dict):
            raise ParseError("expected an object", f"{path}.track_info")
        result.shipment_info[number] = self._info(data, context, track)
        recipient = _dict(_dict(track.get("shipping_info")).get("recipient_address"))
        carrier = _carrier(data, context)

        events = {}
        providers_path = f"{path}.track_info.tracking.providers"
        providers = _list(_dict(track.get("tracking")), "providers", f"{path}.track_info.tracking")
        # Without a recipient address, the newest located event (17TRACK lists them newest
        # first) tells the destination's zone, before the connector's.
        addresses = [_dict(raw.get("address")) for provider in map(_dict, providers)
                     for raw in (provider.get("events") if isinstance(provider.get("events"), list) else ())
                     if isinstance(raw, dict)]
        destination_zone = destination_zone_of(
            country=recipient.get("country"), region=recipient.get("state"), city=recipient.get("city"),
            last_scans=[(a.get("country"), a.get("state"), a.get("city")) for a in addresses],
            default=context.default_timezone,
        )
        for p_index, provider in enumerate(map(_dict, providers)):
            provider_key = _dict(provider.get("provider")).get("key")
            for e_index, raw in enumerate(_list(provider, "events", f"{providers_path}[{p_index}]")):
                event_path = f"{providers_path}[{p_index}].events[{e_index}]"
                event = self._event(raw, event_path, number, carrier, destination_zone, context, provider_key)
                events.setdefault(event.fingerprint, event)
        estimate = self._estimate(track, f"{path}.track_info.time_metrics", number, carrier, destination_zone, context)
        if estimate is not None:
            events.setdefault(estimate.fingerprint, estimate)

        for event in sorted(events.values(), key=lambda e: e.occurred_at):
            result.events.append(event)
            if event.milestone == taxonomy.UNKNOWN and event.raw_code not in result.unmapped_codes:
                result.unmapped_codes.append(event.raw_code)

    def _event(self, raw, path, number, carrier, destination_zone, context, provider_key):
        if not isinstance(raw, dict):
            raise ParseError("expected an object", path)
        address = _dict(raw.get("address"))
        occurred_at, assumed_utc = _event_time(raw, path, address, destination_zone)

        sub_status = str(raw.get("sub_status") or "")
        candidates = [sub_status, str(raw.get("stage") or ""), sub_status.split("_")[0]]
        if not any(candidates):
            # 11.5.1: a scan with neither sub status nor stage is movement.
            milestone, reason, raw_code = "in_transit", None, ""
        else:
            milestone, reason, raw_code = self.resolve(candidates, context)
            if milestone == taxonomy.UNKNOWN:
                raw_code = next(code for code in candidates if code)
        coordinates = _dict(address.get("coordinates"))
        return build_event(
            path,
            tracking_number=number,
            milestone=milestone,
            occurred_at=occurred_at,
            carrier=carrier,
            raw_code=raw_code,
            description=raw.get("description") or "",
            reason=reason,
            city=address.get("city") or raw.get("location") or "",
            region=address.get("state") or "",
            postcode=address.get("postal_code") or "",
            country=address.get("country") or "",
            latitude=_float(coordinates.get("latitude")),
            longitude=_float(coordinates.get("longitude")),
            time_assumed_utc=assumed_utc,
            extra={"provider": provider_key} if provider_key is not None else {},
        )

    @staticmethod
    def _estimate(track, path, number, carrier, destination_zone, context):
        estimated = _dict(_dict(track.get("time_metrics")).get("estimated_delivery_date"))
        earliest, latest = estimated.get("from"), estimated.get("to")
        if not (earliest or latest):
            return None
        try:
            occurred_at, start, end, assumed_utc = estimate_window(earliest or latest, latest, destination_zone)
        except ValueError as exc:
            raise ParseError(str(exc), f"{path}.estimated_delivery_date") from None
        source = estimated.get("source")
        return CanonicalEvent(
            tracking_number=number,
            milestone="delivered",
            occurred_at=occurred_at,
            event_class=taxonomy.ESTIMATED,
            carrier=carrier,
            description=f"Estimated delivery ({source})" if source else "Estimated delivery",
            window_start=start,
            window_end=end,
            # 17TRACK does not say when it computed the estimate.
            issued_at=context.received_at,
            time_assumed_utc=assumed_utc,
        )


def _event_time(raw, path, address, destination_zone):
    """UTC instant from ``time_utc`` when present, shown in the offset of ``time_iso``."""
    time_utc, time_iso = raw.get("time_utc"), raw.get("time_iso")
    local = None
    if time_iso:
        try:
            local, assumed_utc = parse_partner_time(
                time_iso,
                country=address.get("country"),
                region=address.get("state"),
                city=address.get("city"),
                default_zone=destination_zone,
            )
        except ValueError as exc:
            if not time_utc:
                raise ParseError(str(exc), f"{path}.time_iso") from None
    if not time_utc:
        if local is None:
            raise ParseError("event has neither time_utc nor time_iso", path)
        return local, assumed_utc
    try:
        instant, _has_time = parse_datetime(time_utc)
    except ValueError as exc:
        raise ParseError(str(exc), f"{path}.time_utc") from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        # Documented as UTC: a missing "Z" is a formatting slip, not an unknown zone.
        instant = instant.replace(tzinfo=timezone.utc)
    if local is not None and not assumed_utc:
        instant = instant.astimezone(local.tzinfo)
    return instant, False


def _carrier(data, context):
    carrier = data.get("carrier")
    return str(carrier) if carrier not in (None, "", 0) else context.carrier


def _dict(value):
    # Optional sub-objects: absent, null or malformed all mean "nothing said".
    return value if isinstance(value, dict) else {}


def _list(data, key, path):
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ParseError("expected an array", f"{path}.{key}")
    return value


def _float(value):
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


ADAPTER = SeventeenTrackAdapter()


# -- partner descriptor

REGISTER_PATH = "/track/v2.2/register"
TRACKINFO_PATH = "/track/v2.2/gettrackinfo"


def _poll_requests(numbers, options):
    # Registering a number twice is answered "already registered" (-18019901) and costs
    # no quota: every batch is registered before it is queried, no state to keep.
    body = [{"number": number} for number in numbers]
    return [
        polling.PollRequest("POST", REGISTER_PATH, json=body, numbers=numbers, purpose=polling.REGISTER),
        # A POST that only reads: safe to retry.
        polling.PollRequest("POST", TRACKINFO_PATH, json=body, numbers=numbers),
    ]


def _example(now):
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({
        "event": "TRACKING_UPDATED",
        "data": {"number": "RR123456789CN", "carrier": 3011, "tag": "SO042",
                 "track_info": {
                     "latest_status": {"status": "InTransit", "sub_status": "InTransit_Arrival"},
                     "tracking": {"providers": [{"provider": {"key": 3011, "name": "China Post"}, "events": [
                         {"time_iso": stamp, "time_utc": stamp, "description": "Arrived at sorting center",
                          "location": "Guangzhou", "stage": "Arrival", "sub_status": "InTransit_Arrival",
                          "address": {"country": "CN", "city": "Guangzhou"}}]}]}}},
    }, separators=(",", ":")).encode()


DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="seventeentrack", label="17TRACK", adapter=ADAPTER, sequence=50,
    signature_scheme="seventeentrack",
    poll=partners.PollPlan(
        # 17TRACK refuses a 41st number with -18010014 (reference section 4).
        default_batch=40, max_batch=40, build=_poll_requests,
        auth=lambda api_key, header=None, scheme=None: {"17token": api_key}),
    example=_example,
))
