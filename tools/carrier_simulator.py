#!/usr/bin/env python3
"""Send real, signed carrier webhooks to a running Shipment Visibility.

An administrator creates a connector, copies its webhook URL and secret, then watches a
shipment move on the delivery order while this tool plays a carrier::

    python3 tools/carrier_simulator.py --url <webhook_url> --format aftership \\
        --secret <secret> --tracking 1Z999AA10123456784 --story delivered --interval 2

Each update of a *story* (``delivered``, ``exception``, ``return``) is a body in the
partner's own documented format (the shapes of ``tests/pure/fixtures``) that resends the
whole history so far, as aggregators do. Bodies are signed with
:func:`integration.signatures.sign` using the connector's scheme (``--scheme adapter``, the
default, is the partner's documented one; Standard Webhooks for ``generic_json``). The
tool prints the HTTP status and the message id of every request; ``--dry-run`` prints the
body and the headers instead of sending.

ShipEngine signs with an RSA key whose public half the connector must know::

    python3 tools/carrier_simulator.py --generate-key se.pem --key-id sim-1   # prints the JWKS
    python3 tools/carrier_simulator.py --url ... --format shipengine --private-key se.pem --key-id sim-1

The payload builders (:func:`build_updates`) and the signer (:class:`Signer`) are also used
by the benchmarks. Requires ``requests`` and ``cryptography``; the repository root is put
on ``sys.path`` to import ``integration``.
"""

import argparse
import json
import os
import secrets
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from integration import partners, signatures  # noqa: E402
from tools import shipengine_signing  # noqa: E402

#: Partners that push webhooks, as the registry describes them.
FORMATS = tuple(partners.codes("receives_webhooks"))
#: Values of the connector's ``signature_scheme`` field.
CONNECTOR_SCHEMES = (
    "adapter",
    "standard_webhooks",
    "hmac_sha256_hex",
    "hmac_sha256_base64",
    "timestamped_hmac",
    "none",
)
STORIES = {
    "delivered": (
        "info_received",
        "picked_up",
        "departed_facility",
        "arrived_at_facility",
        "out_for_delivery",
        "delivered",
    ),
    "exception": ("info_received", "picked_up", "departed_facility", "arrived_at_facility", "exception"),
    "return": (
        "info_received",
        "picked_up",
        "arrived_at_facility",
        "out_for_delivery",
        "delivery_attempted",
        "returning_to_sender",
        "returned_to_sender",
    ),
}
TERMINAL = frozenset({"delivered", "returned_to_sender", "cancelled"})
USER_AGENT = "shipment-visibility-carrier-simulator/1.0"
_ID_NAMESPACE = uuid.UUID("8f0b6a52-3c1e-4d8e-9a57-6f2d4b1c0e93")


@dataclass(frozen=True)
class Place:
    city: str
    state: str
    postcode: str
    country: str  # ISO 3166-1 alpha-2
    country3: str  # alpha-3 (AfterShip)
    zone: str
    facility: str

    def local(self, instant):
        """``instant`` (aware) in this place's local time."""
        return instant.astimezone(ZoneInfo(self.zone))


PLACES = {
    "origin": Place("Memphis", "TN", "38118", "US", "USA", "America/Chicago", "MEMPHIS TN SHIPPER"),
    "origin_hub": Place(
        "Indianapolis", "IN", "46241", "US", "USA", "America/Indiana/Indianapolis", "INDIANAPOLIS IN HUB"
    ),
    "destination_hub": Place("Denver", "CO", "80216", "US", "USA", "America/Denver", "DENVER CO DISTRIBUTION CENTER"),
    "destination": Place("Denver", "CO", "80202", "US", "USA", "America/Denver", "DENVER CO US"),
}

#: milestone → (where it happens, carrier text)
STEPS = {
    "info_received": ("origin", "Shipment information received, label created"),
    "picked_up": ("origin", "Picked up by the carrier"),
    "departed_facility": ("origin_hub", "Departed the sort facility"),
    "arrived_at_facility": ("destination_hub", "Arrived at the destination facility"),
    "out_for_delivery": ("destination", "Out for delivery"),
    "delivered": ("destination", "Delivered, front door"),
    "delivery_attempted": ("destination", "Delivery attempted, recipient not available"),
    "exception": ("destination_hub", "Package damaged in transit"),
    "returning_to_sender": ("destination_hub", "Returning package to the sender"),
    "returned_to_sender": ("origin", "Delivered back to the sender"),
}
#: The canonical reason the matching adapters derive (None: no reason).
REASONS = {"exception": "damaged"}

# Partner codes per milestone, from the reference mapping tables. A milestone missing from
# a table cannot be said in that format and is left out of its stories.
AFTERSHIP_CODES = {  # (tag, subtag, subtag_message)
    "info_received": ("InfoReceived", "InfoReceived_001", "Info Received"),
    "picked_up": ("InTransit", "InTransit_002", "Acceptance scan"),
    "departed_facility": ("InTransit", "InTransit_007", "Departure Scan"),
    "arrived_at_facility": ("InTransit", "InTransit_003", "Arrival scan"),
    "out_for_delivery": ("OutForDelivery", "OutForDelivery_001", "Out for Delivery"),
    "delivered": ("Delivered", "Delivered_001", "Delivered"),
    "delivery_attempted": ("AttemptFail", "AttemptFail_001", "Failed Attempt"),
    "exception": ("Exception", "Exception_012", "Shipment damage"),
    "returning_to_sender": ("Exception", "Exception_010", "Returning to sender"),
    "returned_to_sender": ("Exception", "Exception_011", "Returned to sender"),
}
EASYPOST_CODES = {  # (status, status_detail)
    "info_received": ("pre_transit", "label_created"),
    "picked_up": ("in_transit", "received_at_origin_facility"),
    "departed_facility": ("in_transit", "departed_facility"),
    "arrived_at_facility": ("in_transit", "arrived_at_facility"),
    "out_for_delivery": ("out_for_delivery", "out_for_delivery"),
    "delivered": ("delivered", "arrived_at_destination"),
    "delivery_attempted": ("in_transit", "delivery_exception"),
    "exception": ("failure", "damaged"),
    "returning_to_sender": ("return_to_sender", "return"),
    # A delivered scan on a return tracker (is_return) is "back at the sender".
    "returned_to_sender": ("delivered", "arrived_at_destination"),
}
SHIPPO_CODES = {  # (status, substatus code, action_required)
    "info_received": ("PRE_TRANSIT", "information_received", False),
    "picked_up": ("TRANSIT", "package_accepted", False),
    "departed_facility": ("TRANSIT", "package_departed", False),
    "arrived_at_facility": ("TRANSIT", "package_arrived", False),
    "out_for_delivery": ("TRANSIT", "out_for_delivery", False),
    "delivered": ("DELIVERED", "delivered", False),
    "delivery_attempted": ("TRANSIT", "delivery_attempted", True),
    "exception": ("TRANSIT", "package_damaged", True),
    "returning_to_sender": ("RETURNED", "return_to_sender", False),
    # RETURNED does not tell "back at the sender" apart: Shippo cannot say it.
}
SEVENTEENTRACK_CODES = {  # (main status, sub_status, stage)
    "info_received": ("InfoReceived", "InfoReceived", "InfoReceived"),
    "picked_up": ("InTransit", "InTransit_PickedUp", "PickedUp"),
    "departed_facility": ("InTransit", "InTransit_Departure", "Departure"),
    "arrived_at_facility": ("InTransit", "InTransit_Arrival", "Arrival"),
    "out_for_delivery": ("OutForDelivery", "OutForDelivery_Other", "OutForDelivery"),
    "delivered": ("Delivered", "Delivered_Other", "Delivered"),
    "delivery_attempted": ("DeliveryFailure", "DeliveryFailure_Other", ""),
    "exception": ("Exception", "Exception_Damage", ""),
    "returning_to_sender": ("Exception", "Exception_Returning", "Returning"),
    "returned_to_sender": ("Exception", "Exception_Returned", "Returned"),
}
SEVENTEENTRACK_STAGES = (
    "InfoReceived",
    "PickedUp",
    "Departure",
    "Arrival",
    "AvailableForPickup",
    "OutForDelivery",
    "Delivered",
    "Returning",
    "Returned",
)
SHIPENGINE_CODES = {  # (status_code, status_detail_code, carrier event code)
    "info_received": ("AC", "ELEC_ADVICE_RECD_BY_CARRIER", "MP"),
    "picked_up": ("AC", "PICKED_UP", "PU"),
    "departed_facility": ("IT", "HUB_SCAN_OUT", "DP"),
    "arrived_at_facility": ("IT", "HUB_SCAN_IN", "AR"),
    "out_for_delivery": ("IT", "OUT_FOR_DELIVERY", "OT"),
    "delivered": ("DE", "DELIVERED", "KB"),
    "delivery_attempted": ("AT", "ATTEMPTED_DELIVERY", "NA"),
    "exception": ("EX", "PARCEL_DAMAGED", "DM"),
    "returning_to_sender": ("EX", "RETURN_TO_SENDER", "RS"),
    "returned_to_sender": ("EX", "UNDELIVERABLE_RETURNED_TO_SENDER", "RD"),
}
SHIPENGINE_STATUS_TEXT = {
    "AC": "Accepted",
    "IT": "In Transit",
    "DE": "Delivered",
    "EX": "Exception",
    "AT": "Delivery Attempt",
}
GENERIC_RAW_CODES = {
    "info_received": "IR",
    "picked_up": "PU",
    "departed_facility": "DEP",
    "arrived_at_facility": "ARR",
    "out_for_delivery": "OFD",
    "delivered": "DLV",
    "delivery_attempted": "ATT",
    "exception": "DMG",
    "returning_to_sender": "RTS",
    "returned_to_sender": "RTD",
}
CODE_TABLES = {
    "aftership": AFTERSHIP_CODES,
    "easypost": EASYPOST_CODES,
    "shippo": SHIPPO_CODES,
    "seventeentrack": SEVENTEENTRACK_CODES,
    "shipengine": SHIPENGINE_CODES,
    "generic_json": GENERIC_RAW_CODES,
}
DEFAULT_CARRIERS = {
    "aftership": "ups",
    "easypost": "UPS",
    "shippo": "ups",
    "seventeentrack": "100002",
    "shipengine": "ups",
    "generic_json": "ups",
}


@dataclass(frozen=True)
class Scan:
    """One carrier scan of a story."""

    milestone: str
    occurred_at: datetime  # aware UTC
    place: Place
    description: str


@dataclass(frozen=True)
class Update:
    """One webhook of a story: the body to send and what it should turn into.

    :ivar int index: 1-based position in the story.
    :ivar str milestone: the newest milestone this update reports.
    :ivar bytes body: the exact bytes to send.
    :ivar str message_id: the sender's message id (Standard Webhooks ``webhook-id``).
    :ivar tuple expected: ``(milestone, reason)`` of every actual event in the body, oldest first.
    """

    index: int
    milestone: str
    body: bytes
    message_id: str
    expected: tuple


# --------------------------------------------------------------------------- #
# Stories
# --------------------------------------------------------------------------- #


def story_milestones(fmt, story):
    """Milestones of ``story`` that ``fmt`` can express, in order.

    :raises ValueError: for an unknown format or story.
    """
    if fmt not in CODE_TABLES:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if story not in STORIES:
        raise ValueError(f"unknown story {story!r}; choose one of {', '.join(STORIES)}")
    return tuple(milestone for milestone in STORIES[story] if milestone in CODE_TABLES[fmt])


def story_scans(milestones, now, spacing=timedelta(hours=3)):
    """The scans of a story, ``spacing`` apart, the newest one a minute before ``now``."""
    newest = _utc(now).replace(microsecond=0) - timedelta(minutes=1)
    start = newest - spacing * (len(milestones) - 1)
    scans = []
    for index, milestone in enumerate(milestones):
        where, text = STEPS[milestone]
        scans.append(Scan(milestone, start + spacing * index, PLACES[where], text))
    return scans


def build_updates(
    fmt,
    tracking,
    story="delivered",
    *,
    now=None,
    spacing=timedelta(hours=3),
    carrier=None,
    reference=None,
    nonce="",
):
    """Every webhook of a story, each resending the history so far.

    :param str fmt: one of :data:`FORMATS`.
    :param str tracking: the tracking number, sent as given.
    :param str story: one of :data:`STORIES`.
    :param datetime now: the clock (tests pin it); scan times and ids derive from it.
    :param timedelta spacing: time between two scans.
    :param str carrier: partner carrier code (default per format).
    :param str reference: our delivery order reference, for formats that carry one.
    :param str nonce: mixed into message ids, so that replaying a story gives new ids.
    :rtype: list[Update]
    """
    now = _utc(now or datetime.now(timezone.utc))
    milestones = story_milestones(fmt, story)
    scans = story_scans(milestones, now, spacing)
    context = _Context(
        fmt=fmt,
        tracking=tracking,
        carrier=str(carrier or DEFAULT_CARRIERS[fmt]),
        reference=reference or "",
        seed=f"{fmt}:{tracking}:{story}:{now.isoformat()}:{nonce}",
        eta=_eta_date(scans, spacing),
        first_seen=scans[0].occurred_at - timedelta(minutes=5),
        is_return=story == "return",
    )
    builder = _BUILDERS[fmt]
    updates = []
    for index in range(1, len(scans) + 1):
        history = scans[:index]
        # The partner sends each update a little after its newest scan.
        sent_at = history[-1].occurred_at + timedelta(seconds=30)
        payload = builder(context, history, sent_at)
        updates.append(
            Update(
                index=index,
                milestone=history[-1].milestone,
                body=encode(payload),
                message_id=f"msg_{context.id('message', index).hex}",
                expected=tuple((scan.milestone, REASONS.get(scan.milestone)) for scan in history),
            )
        )
    return updates


def encode(payload):
    """Compact UTF-8 JSON, as partners send it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class _Context:
    fmt: str
    tracking: str
    carrier: str
    reference: str
    seed: str
    eta: str
    first_seen: datetime
    is_return: bool

    def id(self, *parts):
        return uuid.uuid5(_ID_NAMESPACE, ":".join([self.seed, *map(str, parts)]))


def _utc(value):
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _eta_date(scans, spacing):
    destination = PLACES["destination"]
    return destination.local(scans[-1].occurred_at + spacing + timedelta(days=1)).date().isoformat()


def _z(instant, millis=False):
    text = _utc(instant).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000Z" if millis else "Z")


def _offset(instant, place):
    return place.local(instant).isoformat(timespec="seconds")


def _wall(instant, place):
    return place.local(instant).strftime("%Y-%m-%dT%H:%M:%S")


def _terminal(history):
    return history[-1].milestone in TERMINAL


# --------------------------------------------------------------------------- #
# Partner formats
# --------------------------------------------------------------------------- #


def _aftership(ctx, history, sent_at):
    origin, destination = PLACES["origin"], PLACES["destination"]
    tag, subtag, subtag_message = AFTERSHIP_CODES[history[-1].milestone]
    previous_tag = AFTERSHIP_CODES[history[-2].milestone][0] if len(history) > 1 else None
    checkpoints = []
    for scan in history:
        c_tag, c_subtag, c_message = AFTERSHIP_CODES[scan.milestone]
        checkpoints.append(
            {
                "slug": ctx.carrier,
                "created_at": _utc(scan.occurred_at + timedelta(seconds=20)).isoformat(),
                "checkpoint_time": _offset(scan.occurred_at, scan.place),
                "city": scan.place.city,
                "state": scan.place.state,
                "zip": scan.place.postcode,
                "country_region": scan.place.country3,
                "country_region_name": "United States",
                "location": scan.place.facility,
                "message": scan.description,
                "tag": c_tag,
                "subtag": c_subtag,
                "subtag_message": c_message,
                "raw_tag": SHIPENGINE_CODES[scan.milestone][2],
                "source": "carrier",
            }
        )
    returning = any(scan.milestone in ("returning_to_sender", "returned_to_sender") for scan in history)
    estimate = None
    if not _terminal(history):
        estimate = {"estimated_delivery_date": ctx.eta, "estimated_delivery_date_min": None,
                    "estimated_delivery_date_max": None}
    msg = {
        "id": ctx.id("tracking").hex,
        "tracking_number": ctx.tracking,
        "slug": ctx.carrier,
        "active": not _terminal(history),
        "tag": tag,
        "subtag": subtag,
        "subtag_message": subtag_message,
        "created_at": _utc(ctx.first_seen).isoformat(),
        "updated_at": _utc(sent_at).isoformat(),
        "order_number": ctx.reference or None,
        "origin_country_region": origin.country3,
        "origin_state": origin.state,
        "origin_city": origin.city,
        "origin_postal_code": origin.postcode,
        "destination_country_region": destination.country3,
        "destination_state": destination.state,
        "destination_city": destination.city,
        "destination_postal_code": destination.postcode,
        "signed_by": "J SMITH" if history[-1].milestone == "delivered" else None,
        "return_to_sender": returning,
        "courier_estimated_delivery_date": estimate,
        "aftership_estimated_delivery_date": None,
        "latest_estimated_delivery": None,
        "order_promised_delivery_date": None,
        "checkpoints": checkpoints,
    }
    return {
        "event": "tracking_update",
        "event_id": str(ctx.id("event", len(history))),
        "is_tracking_first_tag": tag != previous_tag,
        "msg": msg,
        "ts": int(sent_at.timestamp()),
    }


def _easypost_location(place):
    return {
        "object": "TrackingLocation",
        "city": place.city.upper(),
        "state": place.state,
        "country": place.country,
        "zip": place.postcode,
    }


def _easypost(ctx, history, sent_at):
    origin, destination = PLACES["origin"], PLACES["destination"]
    back_home = history[-1].milestone == "returned_to_sender"
    details = []
    for scan in history:
        status, status_detail = EASYPOST_CODES[scan.milestone]
        details.append(
            {
                "object": "TrackingDetail",
                "message": scan.description,
                "description": "",
                "status": status,
                "status_detail": status_detail,
                "datetime": _z(scan.occurred_at),
                "source": ctx.carrier,
                "carrier_code": SHIPENGINE_CODES[scan.milestone][2],
                "tracking_location": _easypost_location(scan.place),
            }
        )
    status, status_detail = EASYPOST_CODES[history[-1].milestone]
    previous = EASYPOST_CODES[history[-2].milestone][0] if len(history) > 1 else None
    eta = None if _terminal(history) else ctx.eta
    tracker = {
        "id": f"trk_{ctx.id('tracker').hex}",
        "object": "Tracker",
        "mode": "test",
        "tracking_code": ctx.tracking,
        "status": status,
        "status_detail": status_detail,
        "created_at": _z(ctx.first_seen),
        "updated_at": _z(sent_at),
        "signed_by": "J SMITH" if history[-1].milestone == "delivered" else None,
        "weight": 24.0,
        "est_delivery_date": f"{eta}T00:00:00Z" if eta else None,
        "shipment_id": None,
        "carrier": ctx.carrier,
        "tracking_details": details,
        "carrier_detail": {
            "object": "CarrierDetail",
            "service": "Ground",
            "container_type": None,
            "est_delivery_date_local": eta,
            "est_delivery_time_local": None,
            "origin_location": f"{origin.city.upper()} {origin.state}, {origin.postcode}",
            "origin_tracking_location": _easypost_location(origin),
            "destination_location": f"{destination.city.upper()} {destination.state}, {destination.postcode}",
            "destination_tracking_location": _easypost_location(destination),
            "guaranteed_delivery_date": None,
            "alternate_identifier": None,
            "initial_delivery_attempt": None,
        },
        "finalized": _terminal(history),
        # A return tracker: its delivered scan is the parcel back at the sender.
        "is_return": back_home,
        "public_url": f"https://track.easypost.com/{ctx.id('public').hex}",
        "fees": [],
    }
    return {
        "description": "tracker.updated" if len(history) > 1 else "tracker.created",
        "mode": "test",
        "previous_attributes": {"status": previous} if previous and previous != status else {},
        "created_at": _z(sent_at, millis=True),
        "pending_urls": [],
        "completed_urls": [],
        "updated_at": _z(sent_at, millis=True),
        "id": f"evt_{ctx.id('event', len(history)).hex}",
        "user_id": f"user_{ctx.id('user').hex}",
        "status": "pending",
        "object": "Event",
        "result": tracker,
    }


def _shippo_status(ctx, scan, index):
    status, code, action_required = SHIPPO_CODES[scan.milestone]
    stored = _z(scan.occurred_at + timedelta(seconds=40), millis=True)
    return {
        "object_created": stored,
        "object_updated": stored,
        "object_id": ctx.id("status", index).hex,
        "status": status,
        "status_details": scan.description,
        "status_date": _z(scan.occurred_at),
        "substatus": {"code": code, "text": scan.description, "action_required": action_required},
        "location": {
            "city": scan.place.city,
            "state": scan.place.state,
            "zip": scan.place.postcode,
            "country": scan.place.country,
        },
    }


def _shippo(ctx, history, sent_at):
    origin, destination = PLACES["origin"], PLACES["destination"]
    statuses = [_shippo_status(ctx, scan, index) for index, scan in enumerate(history)]
    eta = None if _terminal(history) else f"{ctx.eta}T00:00:00Z"
    track = {
        "messages": [],
        "carrier": ctx.carrier,
        "tracking_number": ctx.tracking,
        "address_from": {"city": origin.city, "state": origin.state, "zip": origin.postcode, "country": origin.country},
        "address_to": {
            "city": destination.city,
            "state": destination.state,
            "zip": destination.postcode,
            "country": destination.country,
        },
        "eta": eta,
        "original_eta": eta,
        "servicelevel": {"token": f"{ctx.carrier}_ground", "name": "Ground"},
        "metadata": ctx.reference or None,
        "transaction": None,
        "tracking_status": statuses[-1],
        "tracking_history": statuses,
    }
    return {"event": "track_updated", "test": True, "data": track}


def _seventeen_address(place):
    return {
        "country": place.country,
        "state": place.state,
        "city": place.city,
        "street": None,
        "postal_code": place.postcode,
        "coordinates": {"longitude": None, "latitude": None},
    }


def _seventeen_event(scan):
    _status, sub_status, stage = SEVENTEENTRACK_CODES[scan.milestone]
    return {
        "time_iso": _offset(scan.occurred_at, scan.place),
        "time_utc": _z(scan.occurred_at),
        "description": scan.description,
        "location": scan.place.facility,
        "stage": stage,
        "sub_status": sub_status,
        "address": _seventeen_address(scan.place),
    }


def _seventeentrack(ctx, history, sent_at):
    status, sub_status, _stage = SEVENTEENTRACK_CODES[history[-1].milestone]
    events = [_seventeen_event(scan) for scan in reversed(history)]  # newest first
    reached = {}
    for scan in history:
        stage = SEVENTEENTRACK_CODES[scan.milestone][2]
        if stage:
            reached.setdefault(stage, scan)
    milestone = [
        {
            "key_stage": stage,
            "time_iso": _offset(reached[stage].occurred_at, reached[stage].place) if stage in reached else None,
            "time_utc": _z(reached[stage].occurred_at) if stage in reached else None,
        }
        for stage in SEVENTEENTRACK_STAGES
    ]
    days = (history[-1].occurred_at - history[0].occurred_at).days
    eta = None
    if not _terminal(history):
        eta = {"source": "Official", "from": f"{ctx.eta}T00:00:00", "to": f"{ctx.eta}T00:00:00"}
    track_info = {
        "shipping_info": {
            "shipper_address": _seventeen_address(PLACES["origin"]),
            "recipient_address": _seventeen_address(PLACES["destination"]),
        },
        "latest_status": {"status": status, "sub_status": sub_status, "sub_status_descr": None},
        "latest_event": events[0],
        "time_metrics": {
            "days_after_order": days,
            "days_of_transit": days,
            "days_of_transit_done": days,
            "days_after_last_update": 0,
            "estimated_delivery_date": eta,
        },
        "milestone": milestone,
        "misc_info": {
            "risk_factor": 0,
            "service_type": "Ground",
            "weight_raw": "1.5",
            "weight_kg": "0.680",
            "pieces": "1",
            "dimensions": None,
            "customer_number": None,
            "reference_number": ctx.reference or None,
            "local_number": ctx.tracking,
            "local_provider": "UPS",
            "local_key": int(ctx.carrier) if ctx.carrier.isdigit() else None,
        },
        "tracking": {
            "providers_hash": ctx.id("providers", len(history)).int % 2**31,
            "providers": [
                {
                    "provider": {
                        "key": int(ctx.carrier) if ctx.carrier.isdigit() else ctx.carrier,
                        "name": "UPS",
                        "alias": "UPS",
                        "tel": None,
                        "homepage": "https://www.ups.com",
                        "country": "US",
                    },
                    "service_type": "Ground",
                    "latest_sync_status": "Success",
                    "latest_sync_time": _z(sent_at),
                    "events_hash": ctx.id("events", len(history)).int % 2**31,
                    "events": events,
                }
            ],
        },
    }
    return {
        "event": "TRACKING_UPDATED",
        "data": {
            "number": ctx.tracking,
            "carrier": int(ctx.carrier) if ctx.carrier.isdigit() else ctx.carrier,
            "param": None,
            "tag": ctx.reference or None,
            "track_info": track_info,
        },
    }


def _shipengine_event(ctx, scan):
    status_code, detail_code, event_code = SHIPENGINE_CODES[scan.milestone]
    delivered = scan.milestone == "delivered"
    return {
        "occurred_at": _z(scan.occurred_at),
        "carrier_occurred_at": _wall(scan.occurred_at, scan.place),
        "description": scan.description,
        "city_locality": scan.place.city.upper(),
        "state_province": scan.place.state,
        "postal_code": scan.place.postcode,
        "country_code": scan.place.country,
        "company_name": "",
        "signer": "J SMITH" if delivered else "",
        "event_code": event_code,
        "carrier_detail_code": None,
        "status_code": status_code,
        "status_detail_code": detail_code,
        "status_description": SHIPENGINE_STATUS_TEXT[status_code],
        "status_detail_description": scan.description,
        "carrier_status_code": event_code,
        "carrier_status_description": scan.description.upper(),
        "latitude": None,
        "longitude": None,
        "proof_of_delivery_url": f"https://example.com/pod/{ctx.tracking}.png" if delivered else None,
    }


def _shipengine(ctx, history, sent_at):
    latest = history[-1]
    status_code, detail_code, event_code = SHIPENGINE_CODES[latest.milestone]
    delivered = latest.milestone == "delivered"
    return {
        "resource_url": f"https://api.shipengine.com/v1/tracking?carrier_code={ctx.carrier}"
        f"&tracking_number={ctx.tracking}",
        "resource_type": "API_TRACK",
        "data": {
            "tracking_number": ctx.tracking,
            "tracking_url": f"https://www.ups.com/track?tracknum={ctx.tracking}",
            "status_code": status_code,
            "status_detail_code": detail_code,
            "status_description": SHIPENGINE_STATUS_TEXT[status_code],
            "status_detail_description": latest.description,
            "carrier_code": ctx.carrier,
            "carrier_id": 4,
            "carrier_status_code": event_code,
            "carrier_detail_code": None,
            "carrier_status_description": latest.description.upper(),
            "ship_date": _wall(history[0].occurred_at, history[0].place)[:10] + "T00:00:00",
            "estimated_delivery_date": None if _terminal(history) else f"{ctx.eta}T00:00:00",
            "actual_delivery_date": _wall(latest.occurred_at, latest.place) if delivered else None,
            "exception_description": latest.description if status_code == "EX" else None,
            # ShipEngine lists events newest first, in no guaranteed order.
            "events": [_shipengine_event(ctx, scan) for scan in reversed(history)],
        },
    }


def _generic_json(ctx, history, sent_at):
    events = []
    for index, scan in enumerate(history):
        event = {
            "id": f"evt_{ctx.id('scan', index).hex[:20]}",
            "code": scan.milestone,
            "class": "actual",
            "occurred_at": _offset(scan.occurred_at, scan.place),
            "location": {
                "city": scan.place.city,
                "region": scan.place.state,
                "postcode": scan.place.postcode,
                "country": scan.place.country,
            },
            "description": scan.description,
            "raw_code": GENERIC_RAW_CODES[scan.milestone],
        }
        if scan.milestone in REASONS:
            event["reason"] = REASONS[scan.milestone]
        events.append(event)
    if not _terminal(history):
        destination = PLACES["destination"]
        zone = ZoneInfo(destination.zone)
        day = datetime.fromisoformat(ctx.eta)
        start = day.replace(hour=8, tzinfo=zone)
        end = day.replace(hour=18, tzinfo=zone)
        events.append(
            {
                "id": f"eta_{ctx.id('eta', len(history)).hex[:20]}",
                "code": "delivered",
                "class": "estimated",
                "occurred_at": end.isoformat(timespec="seconds"),
                "window": {"from": start.isoformat(timespec="seconds"), "to": end.isoformat(timespec="seconds")},
                "description": "Estimated delivery window",
            }
        )
    return {
        "type": "shipment.tracking.updated",
        "timestamp": _z(sent_at),
        "data": {
            "carrier": ctx.carrier,
            "tracking_number": ctx.tracking,
            "reference": ctx.reference or None,
            "events": events,
        },
    }


_BUILDERS = {
    "aftership": _aftership,
    "easypost": _easypost,
    "shippo": _shippo,
    "seventeentrack": _seventeentrack,
    "shipengine": _shipengine,
    "generic_json": _generic_json,
}


# --------------------------------------------------------------------------- #
# Signing and sending
# --------------------------------------------------------------------------- #


def resolve_scheme(fmt, scheme):
    """The :mod:`integration.signatures` scheme for a connector's ``signature_scheme``.

    ``adapter`` is the partner's documented scheme (Standard Webhooks for generic JSON);
    ``none`` gives ``None`` (nothing signed).
    """
    if scheme == "none":
        return None
    if scheme == "adapter":
        return partners.get(fmt).signature_scheme or signatures.STANDARD_WEBHOOKS
    if scheme not in signatures.SCHEMES:
        raise ValueError(f"unknown signature scheme {scheme!r}")
    return scheme


@dataclass(frozen=True)
class Signer:
    """Headers for one update, signed at send time (timestamps must be fresh).

    :ivar scheme: an :mod:`integration.signatures` scheme, or ``None`` to send unsigned.
    """

    scheme: str | None
    secret: str | bytes | None = None
    header: str | None = None
    private_key_pem: bytes | None = None
    key_id: str | None = None

    def headers(self, update, now=None):
        """Content type, user agent and the scheme's signature headers for ``update``.

        :param Update update: what is sent.
        :param now: signing time (unix seconds or datetime); the clock by default.
        :rtype: dict
        """
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if self.scheme is None:
            return headers
        if self.scheme == signatures.SHIPENGINE:
            headers.update(shipengine_signing.sign(update.body, self.private_key_pem, self.key_id, now,
                                                   header=self.header or None))
            return headers
        headers.update(
            signatures.sign(
                self.scheme,
                update.body,
                self.secret,
                header=self.header or None,
                timestamp=now,
                message_id=update.message_id if self.scheme == signatures.STANDARD_WEBHOOKS else None,
            )
        )
        return headers


@dataclass(frozen=True)
class Result:
    update: Update
    status: int | None
    answer: dict
    elapsed_ms: float
    error: str = ""

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300


def post(session, url, update, signer, timeout=10.0):
    """Sign ``update`` now and POST it; never raises for HTTP or network failures.

    :rtype: Result
    """
    import requests  # the payload builders and the tests need no HTTP client

    headers = signer.headers(update)
    started = time.perf_counter()
    try:
        response = session.post(url, data=update.body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return Result(update, None, {}, (time.perf_counter() - started) * 1000, error=str(exc))
    elapsed = (time.perf_counter() - started) * 1000
    try:
        answer = response.json()
    except ValueError:
        answer = {"text": response.text[:200]}
    return Result(update, response.status_code, answer if isinstance(answer, dict) else {"json": answer}, elapsed)


def describe(result, total):
    """One line per request: step, milestone, status, message id or error."""
    head = f"{result.update.index:>2}/{total} {result.update.milestone:<20}"
    if result.status is None:
        return f"{head} FAILED {result.error}"
    answer = result.answer
    if "message_id" in answer or "status" in answer:
        detail = f"{answer.get('status', '')} message_id={answer.get('message_id')}"
        if answer.get("correlation_id"):
            detail += f" correlation_id={answer['correlation_id']}"
    else:
        detail = f"{answer.get('error', '')} {answer.get('message', answer.get('text', ''))}".strip()
    return f"{head} {result.status} {detail} ({result.elapsed_ms:.0f} ms)"


def run_story(url, updates, signer, *, interval=2.0, duplicate=False, out=print, session=None):
    """Send every update in order, ``interval`` seconds apart; print one line each.

    :param bool duplicate: resend each body right away, as a partner redelivering would.
    :return: the results, redeliveries included.
    :rtype: list[Result]
    """
    import requests

    own = session is None
    session = session or requests.Session()
    results = []
    try:
        for position, update in enumerate(updates):
            if position and interval:
                time.sleep(interval)
            sends = 2 if duplicate else 1
            for _ in range(sends):
                result = post(session, url, update, signer)
                results.append(result)
                out(describe(result, len(updates)))
    finally:
        if own:
            session.close()
    return results


# --------------------------------------------------------------------------- #
# Command line
# --------------------------------------------------------------------------- #


def _generate_key(path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return pem


def _parser():
    parser = argparse.ArgumentParser(
        description="Send real signed carrier webhooks to a Shipment Visibility connector.",
        epilog="The secret can also come from the environment variable SV_WEBHOOK_SECRET.",
    )
    parser.add_argument("--url", help="the connector's webhook URL")
    parser.add_argument("--format", choices=FORMATS, help="partner format of the bodies")
    parser.add_argument("--secret", default=os.environ.get("SV_WEBHOOK_SECRET"), help="the webhook secret")
    parser.add_argument(
        "--scheme", choices=CONNECTOR_SCHEMES, default="adapter", help="the connector's signature scheme"
    )
    parser.add_argument("--header", help="signature header, when the connector overrides the default")
    parser.add_argument("--tracking", help="tracking number (default: a new random one)")
    parser.add_argument("--story", choices=sorted(STORIES), default="delivered")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between updates (default 2)")
    parser.add_argument("--hours-between-scans", type=float, default=3.0, help="carrier time between two scans")
    parser.add_argument("--carrier", help="partner carrier code (default per format)")
    parser.add_argument("--reference", help="delivery order reference, for formats that carry one")
    parser.add_argument("--duplicate", action="store_true", help="send every body twice (redelivery)")
    parser.add_argument("--dry-run", action="store_true", help="print bodies and headers, send nothing")
    parser.add_argument("--private-key", help="ShipEngine: PEM file of the RSA signing key")
    parser.add_argument("--key-id", default="simulator-1", help="ShipEngine: kid of that key in the JWKS")
    parser.add_argument("--generate-key", metavar="PEM", help="ShipEngine: write a new RSA key and print its JWKS")
    parser.add_argument("--print-jwks", action="store_true", help="ShipEngine: print the JWKS of --private-key")
    return parser


def main(argv=None, out=print):
    parser = _parser()
    args = parser.parse_args(argv)

    if args.generate_key or args.print_jwks:
        if args.generate_key:
            pem = _generate_key(args.generate_key)
        elif args.private_key:
            pem = Path(args.private_key).read_bytes()
        else:
            parser.error("--print-jwks needs --private-key")
        out(json.dumps({"keys": [shipengine_signing.public_jwk(pem, args.key_id)]}, indent=2))
        return 0

    if not args.format:
        parser.error("--format is required")
    if not args.url and not args.dry_run:
        parser.error("--url is required (or --dry-run)")
    scheme = resolve_scheme(args.format, args.scheme)
    pem = None
    if scheme == signatures.SHIPENGINE:
        if not args.private_key:
            parser.error("ShipEngine signs with an RSA key: give --private-key (see --generate-key)")
        pem = Path(args.private_key).read_bytes()
    elif scheme is not None and not args.secret:
        parser.error(f"the {scheme} scheme needs --secret (or SV_WEBHOOK_SECRET)")
    signer = Signer(scheme, args.secret, args.header, pem, args.key_id)

    tracking = args.tracking or f"1Z{secrets.token_hex(8).upper()}"
    updates = build_updates(
        args.format,
        tracking,
        args.story,
        spacing=timedelta(hours=args.hours_between_scans),
        carrier=args.carrier,
        reference=args.reference,
        nonce=secrets.token_hex(4),
    )
    skipped = [m for m in STORIES[args.story] if m not in story_milestones(args.format, args.story)]
    out(
        f"{args.format} story '{args.story}' for {tracking}: {len(updates)} updates, "
        f"signature {scheme or 'none'}" + (f" ({args.format} cannot say: {', '.join(skipped)})" if skipped else "")
    )
    if args.dry_run:
        for update in updates:
            out(f"--- {update.index}/{len(updates)} {update.milestone}")
            for name, value in signer.headers(update).items():
                out(f"{name}: {value}")
            out("")
            out(update.body.decode("utf-8"))
        return 0
    results = run_story(args.url, updates, signer, interval=args.interval, duplicate=args.duplicate, out=out)
    failed = [result for result in results if not result.ok]
    if failed:
        out(f"{len(failed)} of {len(results)} requests were not accepted")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
