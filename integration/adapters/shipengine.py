"""ShipEngine (ShipStation API) tracking: ``track`` webhooks and tracking poll responses.

Webhook: ``{resource_url, resource_type: "API_TRACK", data: <tracking_information>}``;
``GET /v1/tracking`` answers the bare ``tracking_information``. Events come in no
guaranteed order. ``occurred_at`` is UTC and is the time used; ``carrier_occurred_at``
is the carrier's wall clock without offset and only tells the local offset to show.
"""

from datetime import timedelta, timezone

from .. import partners, taxonomy
from ..events import CanonicalEvent, EventError, normalize_tracking_number
from ..timezones import destination_zone, estimate_window, parse_datetime, parse_partner_time
from .base import Adapter, ParseError, ParseResult, build_event, load_json, require

TRACK_RESOURCE_TYPES = ("API_TRACK", "TRACK_EVENT_V2")

# Reference §11.4, ShipEngine column: status_detail_code first, status_code as fallback.
DEFAULT_STATUS_MAP = {
    # status_detail_code
    "SHIPMENT_CREATED": ("info_received", None),
    "AWAITING_PICKUP_DROP_OFF": ("info_received", None),
    "ELEC_ADVICE_RECD_BY_CARRIER": ("info_received", None),
    "NOT_YET_RECEIVED_BY_CARRIER": ("info_received", None),
    "PICKED_UP": ("picked_up", None),
    "DROPPED_OFF": ("picked_up", None),
    "RECEIVED_BY_CARRIER": ("picked_up", None),
    "RECD_BY_CARRIER_NO_ELEC_ADVICE": ("picked_up", None),
    "IN_TRANSIT": ("in_transit", None),
    "HUB_PROCESSING": ("in_transit", None),
    "SUB_CONTRACTOR_EVENT": ("in_transit", None),
    "SUB_CONTRACTOR_RECEIVED": ("in_transit", None),
    "PARCEL_REDIRECTED": ("in_transit", None),
    "PARCEL_REDIRECTED_BY_CARRIER": ("in_transit", None),
    "PARCEL_OVER_LABELLED": ("in_transit", None),
    "PARCEL_REPACKED": ("in_transit", None),
    "PARCEL_UPDATE_NOTIFICATION": ("in_transit", None),
    "INFORMATION": ("in_transit", None),
    "DELIVERY_SCHEDULED": ("in_transit", None),
    "DELIVERY_ARRANGED_WITH_RECIPIENT": ("in_transit", None),
    "HUB_SCAN_IN": ("arrived_at_facility", None),
    "RECEIVED_LOCAL_DELIVERY_DEPOT": ("arrived_at_facility", None),
    "HUB_SCAN_OUT": ("departed_facility", None),
    "CUSTOMS_PROCESSING": ("customs_hold", None),
    "HELD_BY_CUSTOMS": ("customs_hold", None),
    "HELD_BY_CARRIER_FOR_CLEARANCE_PRE_PROCESSING": ("customs_hold", None),
    "INCORRECT_DECLARATION": ("customs_hold", "customs_documents"),
    "DUTY_NOT_PAID": ("customs_hold", "payment_due"),
    "CUSTOMS_CLEARED": ("customs_cleared", None),
    "OUT_FOR_DELIVERY": ("out_for_delivery", None),
    "ATTEMPTED_DELIVERY": ("delivery_attempted", None),
    "ATTEMPTED_DELIVERY_FINAL": ("delivery_attempted", None),
    "CUSTOMER_CARDED": ("delivery_attempted", "recipient_unavailable"),
    "NO_ACCESS_TO_RECIPIENTS_ADDRESS": ("delivery_attempted", "address_issue"),
    "CUSTOMER_IDENTIFICATION_FAILED": ("delivery_attempted", None),
    "COD_AMOUNT_NOT_PAID": ("delivery_attempted", "payment_due"),
    "AWAITING_COLLECTION_FROM_PICKUP_POINT": ("available_for_pickup", None),
    "COLLECT_AT_LOCAL_PO": ("available_for_pickup", None),
    "CUSTOMER_TO_COLLECT_FROM_CARRIER": ("available_for_pickup", None),
    "DELIVERED_TO_PICKUP_POINT": ("available_for_pickup", None),
    "DELIVERED": ("delivered", None),
    "DELIVERED_TO_RECEPTION": ("delivered", None),
    "DELIVERED_SPECIFIED_SAFE_PLACE": ("delivered", None),
    "DELIVERED_TO_ALTERNATIVE_DELIVERY_LOCATION": ("delivered", None),
    "DELIVERED_TO_NEIGHBOUR": ("delivered", None),
    "DELIVERED_TO_PO_BOX": ("delivered", None),
    "PARCEL_COLLECTED_FROM_PICKUP_POINT": ("delivered", None),
    "PROOF_OF_DELIVERY": ("delivered", None),
    "COD_AMOUNT_PAID": ("delivered", None),
    "DELIVERED_DAMAGED": ("delivered", "damaged"),
    "CARRIER_DELAYS": ("delayed", "carrier_delay"),
    "DELAYED_NOT_CARRIER": ("delayed", "other"),
    "MISROUTED": ("delayed", "misrouted"),
    "DELIVERY_RESCHEDULED": ("delayed", "other"),
    "ADDRESS_QUERY": ("exception", "address_issue"),
    "CUSTOMER_MOVED": ("exception", "address_issue"),
    "PARCEL_DAMAGED": ("exception", "damaged"),
    "HELD_BY_CARRIER": ("exception", "held_by_carrier"),
    "HAZARDOUS_PROHIBITED": ("exception", None),
    "PARCEL_OUTSIDE_OF_SERVICE_CAPABILITY": ("exception", None),
    "REFUSED_BY_CUSTOMER": ("exception", "refused"),
    "NOT_DELIVERED": ("exception", None),
    "NOT_DELIVERED_ADDRESSEE_DECEASED": ("exception", None),
    "PICKUP_FAILED": ("exception", None),
    "NOT_COLLECTED_FROM_PICKUP_POINT": ("exception", "not_collected"),
    "DELIVERED_IN_PART": ("exception", "partial_delivery"),
    "UNSPECIFIED_EXCEPTION": ("exception", None),
    "PARCEL_LOST": ("exception", "lost"),
    "PARCEL_DISPOSED": ("exception", "disposed"),
    "RETURN_TO_SENDER": ("returning_to_sender", None),
    "UNDELIVERABLE_RETURNED_TO_SENDER": ("returned_to_sender", None),
    "CANCELLED": ("cancelled", None),
    "TRACKING_EXPIRED": (taxonomy.UNKNOWN, None),
    "POST_TRANSIT_STATUS": (taxonomy.UNKNOWN, None),
    # CARRIER_STATUS_NOT_MAPPED is left out on purpose: it must fall back to status_code.
    # status_code
    "UN": (taxonomy.UNKNOWN, None),
    "AC": ("info_received", None),
    "NY": ("info_received", None),
    "IT": ("in_transit", None),
    "DE": ("delivered", None),
    "EX": ("exception", None),
    "AT": ("delivery_attempted", None),
    "SP": ("available_for_pickup", None),
}

# Real UTC offsets are whole quarter hours within ±14 h; anything else means the
# carrier's wall clock is not a local time of the scan and is better ignored.
_MAX_OFFSET_MINUTES = 14 * 60


class ShipEngineAdapter(Adapter):
    """ShipEngine ``track`` webhooks and bare ``tracking_information`` poll responses."""

    code = "shipengine"
    label = "ShipEngine / ShipStation API"
    default_status_map = DEFAULT_STATUS_MAP

    def parse(self, body, context):
        """Parse a ``track`` webhook body or a tracking poll response.

        :param bytes body: the exact bytes received.
        :param AdapterContext context: connector configuration; ``default_timezone``
            is the destination zone of the date-only ``estimated_delivery_date``.
        :rtype: ParseResult
        :raises ParseError: on another webhook type or a body without tracking number.
        """
        payload = load_json(body)
        if not isinstance(payload, dict):
            raise ParseError("expected an object", "$")
        info, path = payload, "$"
        if "resource_type" in payload:
            resource_type = payload["resource_type"]
            if resource_type not in TRACK_RESOURCE_TYPES:
                raise ParseError(f"not a tracking webhook (resource_type {resource_type!r})", "$.resource_type")
            info, path = payload.get("data"), "$.data"
            if not isinstance(info, dict):
                raise ParseError("expected an object", path)
        result = ParseResult()
        self._tracking(info, path, context, result)
        return result

    def _tracking(self, info, path, context, result):
        try:
            number = normalize_tracking_number(str(require(info, "tracking_number", path)))
        except EventError as exc:
            raise ParseError(str(exc), f"{path}.tracking_number") from None
        result.tracking_numbers.append(number)
        carrier = info.get("carrier_code") or context.carrier
        raw_events = info.get("events") or []
        if not isinstance(raw_events, list):
            raise ParseError("expected an array", f"{path}.events")

        events = {}
        for index, raw in enumerate(raw_events):
            event = self._event(raw, f"{path}.events[{index}]", number, carrier, context)
            events.setdefault(event.fingerprint, event)
        scans = sorted(events.values(), key=lambda e: e.occurred_at)
        if scans and not scans[-1].raw_code and scans[-1].milestone == taxonomy.UNKNOWN:
            # The 2019 schema gave events no code of their own: the tracking's status
            # describes its newest event (a delivered tracking, its delivery scan).
            newest = scans[-1]
            milestone, reason, raw_code = self.resolve(
                [info.get("status_detail_code"), info.get("status_code")], context)
            if raw_code:
                dated = newest.with_values(milestone=milestone, reason=reason, raw_code=raw_code)
                del events[newest.fingerprint]
                events.setdefault(dated.fingerprint, dated)
                scans[-1] = dated

        estimate = self._estimate(info, path, number, carrier, scans, context)
        if estimate is not None:
            events.setdefault(estimate.fingerprint, estimate)
        for event in sorted(events.values(), key=lambda e: e.occurred_at):
            result.events.append(event)
            if event.milestone == taxonomy.UNKNOWN and event.raw_code and event.raw_code not in result.unmapped_codes:
                result.unmapped_codes.append(event.raw_code)

        shipment = {
            "carrier": carrier,
            "partner_status": info.get("status_code"),
            "partner_status_detail": info.get("status_detail_code"),
            "tracking_url": info.get("tracking_url"),
            "actual_delivery_date": info.get("actual_delivery_date"),
        }
        # POD is a fact about the shipment: the newest event that carries it wins.
        for event in scans:
            if event.signed_by:
                shipment["signed_by"] = event.signed_by
            if event.pod_url:
                shipment["pod_url"] = event.pod_url
        result.shipment_info[number] = {key: value for key, value in shipment.items() if value not in (None, "")}

    def _event(self, raw, path, number, carrier, context):
        if not isinstance(raw, dict):
            raise ParseError("expected an object", path)
        location = {
            "city": raw.get("city_locality") or "",
            "region": raw.get("state_province") or "",
            "postcode": raw.get("postal_code") or "",
            "country": raw.get("country_code") or "",
        }
        occurred_at, assumed_utc = _event_time(raw, path, location, context)
        candidates = [str(raw.get(key) or "") for key in ("status_detail_code", "status_code")]
        milestone, reason, raw_code = self.resolve(candidates, context)
        if milestone == taxonomy.UNKNOWN:
            # The admin maps the most specific code, not the coarse "UN"; with no
            # ShipEngine code at all (``status_code: ""``), the carrier's own one.
            carrier_code = str(raw.get("carrier_status_code") or raw.get("event_code") or "")
            raw_code = next((code for code in candidates if code), "")
            if not raw_code and carrier_code:
                milestone, reason, raw_code = self.resolve([carrier_code], context)
        extra = {key: raw[key] for key in ("event_code", "carrier_status_code", "carrier_detail_code") if raw.get(key)}
        return build_event(
            path,
            tracking_number=number,
            milestone=milestone,
            occurred_at=occurred_at,
            carrier=carrier,
            raw_code=raw_code,
            description=raw.get("description") or raw.get("carrier_status_description") or "",
            reason=reason,
            latitude=_float(raw.get("latitude")),
            longitude=_float(raw.get("longitude")),
            signed_by=(raw.get("signer") or "").strip(),
            pod_url=raw.get("proof_of_delivery_url") or "",
            time_assumed_utc=assumed_utc,
            extra=extra,
            **location,
        )

    @staticmethod
    def _estimate(info, path, number, carrier, scans, context):
        value = info.get("estimated_delivery_date")
        if not value:
            return None
        # The date is the destination's: the connector says where that is, else the
        # newest located scan is the best guess (the parcel is heading there).
        zone = destination_zone(
            last_scans=[(e.country, e.region, e.city) for e in reversed(scans)], default=context.default_timezone)
        try:
            occurred_at, start, end, assumed_utc = estimate_window(value, None, zone)
        except ValueError as exc:
            raise ParseError(str(exc), f"{path}.estimated_delivery_date") from None
        return CanonicalEvent(
            tracking_number=number,
            milestone="delivered",
            occurred_at=occurred_at,
            event_class=taxonomy.ESTIMATED,
            carrier=carrier,
            description="Estimated delivery",
            window_start=start,
            window_end=end,
            # ShipEngine does not date its estimate: its signed send time does.
            issued_at=context.issue_time(DESCRIPTOR_TIMESTAMP_HEADER),
            time_assumed_utc=assumed_utc,
        )


def _event_time(raw, path, location, context):
    occurred, local = raw.get("occurred_at"), raw.get("carrier_occurred_at")
    # ``event_date`` is the field of the 2019 schema (UTC, like occurred_at), which
    # accounts created then still receive.
    occurred_path = f"{path}.occurred_at"
    if not occurred and not local and raw.get("event_date"):
        occurred, occurred_path = raw["event_date"], f"{path}.event_date"
    if not occurred:
        if not local:
            raise ParseError("event has neither occurred_at, carrier_occurred_at nor event_date", path)
        try:
            return parse_partner_time(local, **_where(location), default_zone=context.default_timezone)
        except ValueError as exc:
            raise ParseError(str(exc), f"{path}.carrier_occurred_at") from None
    try:
        instant, _has_time = parse_datetime(occurred)
    except ValueError as exc:
        raise ParseError(str(exc), occurred_path) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        # Documented as UTC: a missing "Z" is a formatting slip, not an unknown zone.
        instant = instant.replace(tzinfo=timezone.utc)
    instant = instant.astimezone(timezone.utc)
    return _with_local_offset(instant, local), False


def _with_local_offset(instant, local):
    """Show a UTC instant in the offset the carrier's zone-less wall clock implies."""
    try:
        wall, _has_time = parse_datetime(local) if local else (None, False)
    except ValueError:
        return instant
    if wall is None or wall.tzinfo is not None:
        return instant
    minutes = round((wall - instant.replace(tzinfo=None)) / timedelta(minutes=1))
    if minutes % 15 or abs(minutes) > _MAX_OFFSET_MINUTES:
        return instant
    return instant.astimezone(timezone(timedelta(minutes=minutes)))


def _where(location):
    return {"country": location["country"], "region": location["region"], "city": location["city"]}


def _float(value):
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


ADAPTER = ShipEngineAdapter()


# -- partner descriptor

DESCRIPTOR_TIMESTAMP_HEADER = "x-shipengine-timestamp"

DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="shipengine", label="ShipEngine / ShipStation API", adapter=ADAPTER, sequence=60,
    # Signed with ShipEngine's own RSA key: no example can be signed on our side.
    signature_scheme="shipengine",
    kept_headers=("x-shipengine-timestamp", "x-shipengine-rsa-sha256-key-id"),
    timestamp_header=DESCRIPTOR_TIMESTAMP_HEADER,
))
