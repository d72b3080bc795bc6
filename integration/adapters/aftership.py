"""AfterShip Tracking: webhook envelopes and REST tracking objects.

A webhook body is ``{event, event_id, is_tracking_first_tag, msg, ts}`` where ``msg``
is the whole Tracking object, history included (reference section 1). Every checkpoint
becomes an *actual* event, the estimated delivery dates an *estimated* one and the
merchant's promise a *planned* one. The REST answers of ``GET /trackings`` and
``GET /trackings/{id}`` (``{"data": …}``) carry the same Tracking objects and are
accepted too, for poll reconciliation.
"""

import json
from datetime import datetime, timezone

from .. import partners, polling, taxonomy
from ..events import CanonicalEvent, normalize_tracking_number
from ..timezones import country_code, estimate_window, parse_partner_time, region_country
from ..timezones import destination_zone as destination_zone_of
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

#: Subtags of reference table 11.3, then the tags the subtags fall back to (11.5.1).
DEFAULT_STATUS_MAP = {
    **{f"Pending_00{n}": (taxonomy.UNKNOWN, None) for n in range(1, 7)},
    "InfoReceived_001": ("info_received", None),
    "InTransit_001": ("in_transit", None),
    "InTransit_002": ("picked_up", None),
    "InTransit_003": ("arrived_at_facility", None),
    "InTransit_004": ("arrived_at_facility", None),
    "InTransit_005": ("customs_cleared", None),
    "InTransit_006": ("customs_hold", None),
    "InTransit_007": ("departed_facility", None),
    "InTransit_008": ("in_transit", None),
    "InTransit_009": ("in_transit", None),
    "OutForDelivery_001": ("out_for_delivery", None),
    # Legacy subtag: AfterShip used it for "ready for pickup" before AvailableForPickup.
    "OutForDelivery_002": ("available_for_pickup", None),
    "OutForDelivery_003": ("out_for_delivery", None),
    # An appointment being scheduled is news, not the parcel leaving on the van.
    "OutForDelivery_004": ("in_transit", None),
    "AvailableForPickup_001": ("available_for_pickup", None),
    "AttemptFail_001": ("delivery_attempted", None),
    "AttemptFail_002": ("delivery_attempted", "recipient_unavailable"),
    "AttemptFail_003": ("delivery_attempted", "business_closed"),
    "Delivered_001": ("delivered", None),
    "Delivered_002": ("delivered", None),
    "Delivered_003": ("delivered", None),
    "Delivered_004": ("delivered", None),
    "Delivered_005": ("delivered", None),
    "Exception_001": ("exception", "other"),
    "Exception_002": ("exception", "address_issue"),
    "Exception_003": ("exception", "refused"),
    # "Customs delay": a customs hold, not a generic exception (pitfall in section 12).
    "Exception_004": ("customs_hold", None),
    "Exception_005": ("delayed", "other"),
    "Exception_006": ("exception", "payment_due"),
    "Exception_007": ("exception", "address_issue"),
    "Exception_008": ("exception", "not_collected"),
    "Exception_009": ("exception", "other"),
    "Exception_010": ("returning_to_sender", None),
    "Exception_011": ("returned_to_sender", None),
    "Exception_012": ("exception", "damaged"),
    "Exception_013": ("exception", "lost"),
    # Exception_014 and _015 are undocumented: left to the Exception tag fallback.
    "Exception_016": ("delayed", "carrier_delay"),
    "Exception_017": ("delayed", "weather"),
    "Exception_018": ("customs_hold", "customs_documents"),
    "Exception_019": ("delayed", "carrier_delay"),
    "Exception_020": ("cancelled", None),
    "Exception_021": ("exception", "disposed"),
    "Expired_001": (taxonomy.UNKNOWN, None),
    "Pending": (taxonomy.UNKNOWN, None),
    "InfoReceived": ("info_received", None),
    "InTransit": ("in_transit", None),
    "OutForDelivery": ("out_for_delivery", None),
    "AttemptFail": ("delivery_attempted", None),
    "AvailableForPickup": ("available_for_pickup", None),
    "Delivered": ("delivered", None),
    "Exception": ("exception", None),
    "Expired": (taxonomy.UNKNOWN, None),
}

# Estimated delivery fields, most authoritative first: the latest EDD is AfterShip's
# own pick among carrier, AI and custom rules; ``expected_delivery`` is the v4 name.
_ESTIMATE_FIELDS = (
    "latest_estimated_delivery",
    "courier_estimated_delivery_date",
    "aftership_estimated_delivery_date",
    "custom_estimated_delivery_date",
    "expected_delivery",
)


class AfterShipAdapter(Adapter):
    """AfterShip Tracking webhooks (``tracking_update``, ``edd_revise``…) and REST trackings."""

    code = "aftership"
    label = "AfterShip"
    default_status_map = DEFAULT_STATUS_MAP

    def external_id(self, body, headers):
        """The envelope's ``event_id``: AfterShip signs no timestamp, so this is the replay key."""
        return body_message_id(body, "event_id")

    def parse(self, body, context):
        """Parse a webhook envelope or a REST answer holding one or more Tracking objects.

        :param bytes body: the raw body.
        :param AdapterContext context: connector configuration.
        :rtype: ParseResult
        :raises ParseError: with the JSON path of the missing or malformed element.
        """
        data = load_json(body)
        if not isinstance(data, dict):
            raise ParseError("expected a JSON object", "$")
        result = ParseResult()
        seen = set()  # fingerprints kept so far, across every tracking of the body
        for tracking, path, issued_at in self._trackings(data, context):
            self._parse_tracking(tracking, path, issued_at, context, result, seen)
        result.events.sort(key=lambda event: event.occurred_at)
        return result

    def _trackings(self, data, context):
        """``(tracking, json_path, issued_at)`` for every Tracking object of the body."""
        if "msg" in data:
            msg = data["msg"]
            if not isinstance(msg, dict):
                raise ParseError("expected the Tracking object", "$.msg")
            return [(msg, "$.msg", _unix_time(data.get("ts"), "$.ts") or context.received_at)]
        if "event_id" in data or "event" in data:
            raise ParseError("missing required field 'msg'", "$.msg")
        payload = data.get("data")
        if not isinstance(payload, dict):
            raise ParseError("neither a webhook envelope (msg) nor a REST answer (data)", "$")
        if isinstance(payload.get("trackings"), list):
            found = [(t, f"$.data.trackings[{i}]") for i, t in enumerate(payload["trackings"])]
        elif isinstance(payload.get("tracking"), dict):
            found = [(payload["tracking"], "$.data.tracking")]
        else:
            found = [(payload, "$.data")]
        trackings = []
        for tracking, path in found:
            if not isinstance(tracking, dict):
                raise ParseError("expected the Tracking object", path)
            # A poll answer has no envelope time: AfterShip's last update dates the estimates.
            updated = _iso_time(tracking.get("updated_at"), f"{path}.updated_at")
            trackings.append((tracking, path, updated or context.received_at))
        return trackings

    def _parse_tracking(self, tracking, path, issued_at, context, result, seen):
        number = tracking.get("tracking_number")
        if not isinstance(number, str) or not number.strip():
            raise ParseError("missing required field 'tracking_number'", f"{path}.tracking_number")
        number = normalize_tracking_number(number)
        carrier = str(tracking.get("slug") or context.carrier or "").strip().lower()
        if number not in result.tracking_numbers:
            result.tracking_numbers.append(number)
        info = {"carrier": carrier, "partner_status": tracking.get("tag"), "signed_by": tracking.get("signed_by")}
        result.shipment_info[number] = {key: value for key, value in info.items() if value}

        checkpoints = tracking.get("checkpoints")
        checkpoints = [] if checkpoints is None else checkpoints
        if not isinstance(checkpoints, list):
            raise ParseError("expected a list", f"{path}.checkpoints")
        # Countries a scan without one may belong to, when its state is one of theirs.
        home_countries = (_destination_country(tracking), tracking.get("origin_country_region"),
                          tracking.get("origin_country_iso3"))
        destination_zone = destination_zone_of(
            country=_destination_country(tracking),
            region=tracking.get("destination_state"),
            city=tracking.get("destination_city"),
            text=tracking.get("destination_raw_location"),
            # Read lazily: only when the destination fields tell no zone.
            last_scans=(_checkpoint_place(cp, home_countries) for cp in reversed(checkpoints) if isinstance(cp, dict)),
            default=context.default_timezone,
        )
        for index, checkpoint in enumerate(checkpoints):
            cp_path = f"{path}.checkpoints[{index}]"
            event = self._checkpoint_event(
                checkpoint, cp_path, number, carrier, destination_zone, home_countries, context, result)
            append_unique(result, seen, event)
        estimate = self._estimate_event(tracking, path, number, carrier, destination_zone, issued_at)
        if estimate:
            append_unique(result, seen, estimate)
        promise = tracking.get("order_promised_delivery_date")
        if promise:
            append_unique(
                result,
                seen,
                _prediction(
                    number,
                    carrier,
                    taxonomy.PLANNED,
                    "order_promised_delivery_date",
                    (promise, None),
                    destination_zone,
                    issued_at,
                    f"{path}.order_promised_delivery_date",
                    "Promised delivery date",
                ),
            )

    def _checkpoint_event(self, checkpoint, path, number, carrier, destination_zone, home_countries, context, result):
        if not isinstance(checkpoint, dict):
            raise ParseError("expected a checkpoint object", path)
        subtag, tag = checkpoint.get("subtag"), checkpoint.get("tag")
        milestone, reason, raw_code = self.resolve([subtag, tag], context)
        note_unmapped(result, [subtag, tag], self.default_status_map, context)
        raw_time = checkpoint.get("checkpoint_time")
        if not raw_time:
            raise ParseError("missing required field 'checkpoint_time'", f"{path}.checkpoint_time")
        country, region, city = _checkpoint_place(checkpoint, home_countries)
        try:
            if context.options.get("zoneless_times") == "utc":
                # Set on connectors whose account sends UTC without an offset (AfterShip's
                # SDK fixtures do), against the documented rule of the checkpoint's local time.
                occurred_at, assumed_utc = parse_partner_time(raw_time, default_zone="UTC")
            else:
                occurred_at, assumed_utc = parse_partner_time(
                    raw_time, country=country, region=region, city=city, default_zone=destination_zone
                )
        except ValueError as exc:
            raise ParseError(str(exc), f"{path}.checkpoint_time") from None
        latitude, longitude = _coordinates(checkpoint)
        return build_event(
            path,
            tracking_number=number,
            milestone=milestone,
            occurred_at=occurred_at,
            carrier=carrier,
            raw_code=raw_code,
            description=checkpoint.get("message") or checkpoint.get("subtag_message") or "",
            reason=reason,
            city=city,
            region=region,
            postcode=checkpoint.get("zip") or checkpoint.get("postal_code") or "",
            country=country or str(checkpoint.get("country_region") or checkpoint.get("country_name") or ""),
            latitude=latitude,
            longitude=longitude,
            time_assumed_utc=assumed_utc,
            extra={
                key: checkpoint[key]
                for key in ("tag", "subtag", "raw_tag", "slug", "location", "source")
                if checkpoint.get(key)
            },
        )

    def _estimate_event(self, tracking, path, number, carrier, destination_zone, issued_at):
        for name in _ESTIMATE_FIELDS:
            value = tracking.get(name)
            bounds = _estimate_bounds(value)
            if bounds:
                source = value.get("source") if isinstance(value, dict) else None
                return _prediction(
                    number,
                    carrier,
                    taxonomy.ESTIMATED,
                    name,
                    bounds,
                    destination_zone,
                    issued_at,
                    f"{path}.{name}",
                    source or "Estimated delivery",
                )
        return None


def _destination_country(tracking):
    return (tracking.get("destination_country_region") or tracking.get("destination_country_iso3")
            or tracking.get("courier_destination_country_iso3"))


def _checkpoint_place(checkpoint, home_countries):
    """``(alpha-2 country, state, city)`` of a checkpoint.

    The country comes as ``country_region`` (2024+), ``country_iso3`` or ``country_name``
    (v4 filled it with an ISO2 or ISO3 code, newer ones with a name). A scan with a state
    and no country (``"BROOKLYN, NY"``) is placed in the shipment's destination or origin
    country when that country has such a state, so that its local time is not read as UTC.
    """
    region = str(checkpoint.get("state") or "")
    city = str(checkpoint.get("city") or "")
    country = None
    for key in ("country_region", "country_iso3", "country_name"):
        country = country_code(checkpoint.get(key))
        if country:
            break
    return country or region_country(region, *home_countries) or "", region, city


def _estimate_bounds(value):
    """``(earliest, latest)`` of one AfterShip EDD field, whatever its shape, or None."""
    if isinstance(value, str):
        return (value, None) if value.strip() else None
    if not isinstance(value, dict):
        return None
    for single, low, high in (
        ("datetime", "datetime_min", "datetime_max"),
        ("estimated_delivery_date", "estimated_delivery_date_min", "estimated_delivery_date_max"),
    ):
        earliest = value.get(low) or value.get(single)
        latest = value.get(high) or value.get(single)
        if earliest or latest:
            return earliest or latest, latest
    return None


def _prediction(number, carrier, event_class, raw_code, bounds, zone, issued_at, path, description):
    try:
        occurred_at, start, end, assumed_utc = estimate_window(bounds[0], bounds[1], zone)
    except ValueError as exc:
        raise ParseError(str(exc), path) from None
    return CanonicalEvent(
        tracking_number=number,
        milestone="delivered",
        occurred_at=occurred_at,
        event_class=event_class,
        carrier=carrier,
        raw_code=raw_code,
        description=description,
        window_start=start,
        window_end=end,
        issued_at=issued_at,
        time_assumed_utc=assumed_utc,
    )






def _coordinates(checkpoint):
    coordinate = checkpoint.get("coordinate")
    if isinstance(coordinate, dict):
        return _float(coordinate.get("latitude")), _float(coordinate.get("longitude"))
    # v4 payloads sent ``coordinates: [latitude, longitude]``.
    coordinates = checkpoint.get("coordinates")
    if isinstance(coordinates, list) and len(coordinates) == 2:
        return _float(coordinates[0]), _float(coordinates[1])
    return None, None


def _float(value):
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _unix_time(value, path):
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ParseError(f"expected UNIX seconds, got {value!r}", path) from None


def _iso_time(value, path):
    if not value:
        return None
    try:
        parsed, _assumed = parse_partner_time(value)
    except ValueError as exc:
        raise ParseError(str(exc), path) from None
    return parsed


ADAPTER = AfterShipAdapter()


# -- partner descriptor

API_VERSION = "2025-01"
TRACKINGS_PATH = f"/tracking/{API_VERSION}/trackings"


def _poll_requests(numbers, options):
    # Commas separate the numbers; AfterShip numbers never contain one. ``limit`` asks
    # for one page holding the whole batch.
    params = {"tracking_numbers": ",".join(numbers), "limit": len(numbers)}
    return [polling.PollRequest("GET", TRACKINGS_PATH, params=params, numbers=numbers)]


def _example(now):
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return json.dumps({
        "event": "tracking_update", "event_id": "e3b1c4d6-0001-4a2b-9c7d-example00001", "is_tracking_first_tag": False,
        "ts": int(now.timestamp()),
        "msg": {"id": "kx1zhy0b9ey0tlv7k1mz3sgy", "tracking_number": "1Z999AA10123456784", "slug": "ups",
                "tag": "InTransit", "subtag": "InTransit_002", "order_id": "SO042",
                "checkpoints": [{"checkpoint_time": stamp, "tag": "InTransit", "subtag": "InTransit_002",
                                 "message": "Departed from facility", "city": "Louisville", "state": "KY",
                                 "country_region": "USA", "location": "Louisville, KY, USA"}]},
    }, separators=(",", ":")).encode()


DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="aftership", label="AfterShip", adapter=ADAPTER, sequence=20,
    signature_scheme="aftership",
    poll=partners.PollPlan(
        default_batch=50, max_batch=200, build=_poll_requests,
        auth=lambda api_key, header=None, scheme=None: {"as-api-key": api_key}),
    example=_example,
))
