"""Outgoing events: their envelope, how a webhook attempt is judged and when it is retried.

Consumers (a storefront, a data platform, a customer's ERP) receive our canonical
events as Standard Webhooks envelopes ``{"type", "timestamp", "data"}``; ``data`` holds
the canonical shipment (``schemas/shipment.v1``) and the event that caused the message
(``schemas/event.v1``). The same body goes to RabbitMQ. Nothing here imports Odoo.
"""

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

from . import signatures
from .canonical import SCHEMA_DIR, iso_utc, load_schema

OUTBOUND_SCHEMA_DIR = SCHEMA_DIR / "outbound"

SHIPMENT_CREATED = "shipment.created"
STATUS_CHANGED = "shipment.status_changed"
ETA_CHANGED = "shipment.eta_changed"
EVENT_RECORDED = "shipment.event_recorded"
EXCEPTION_OPENED = "shipment.exception_opened"
EXCEPTION_RESOLVED = "shipment.exception_resolved"
DELIVERED = "shipment.delivered"

#: Every event type with its label, in the order a consumer reads about them.
EVENT_TYPES = {
    SHIPMENT_CREATED: "Shipment created",
    STATUS_CHANGED: "Status changed",
    ETA_CHANGED: "ETA changed",
    EVENT_RECORDED: "Milestone recorded",
    EXCEPTION_OPENED: "Exception opened",
    EXCEPTION_RESOLVED: "Exception resolved",
    DELIVERED: "Delivered",
}

#: A message above this size is a bug of ours (a shipment document is a few KB).
MAX_PAYLOAD_BYTES = 20 * 1024

#: Delay before attempt n+1 after attempt n failed: immediately, 5 s, 5 min, 30 min,
#: 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. After the last one the message is given up.
RETRY_SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
#: A subscription failing without a single success for this long is disabled.
DISABLE_AFTER = timedelta(days=5)
#: Seconds a consumer may take to answer.
TIMEOUT_SECONDS = 15
#: A consumer may ask us to wait (Retry-After); never longer than this.
MAX_RETRY_AFTER_SECONDS = 24 * 3600
#: Characters of the consumer's answer kept in the attempt log.
RESPONSE_EXCERPT_CHARS = 500


def envelope(event_type, timestamp, data):
    """The Standard Webhooks envelope of one message, as compact JSON bytes.

    :raises ValueError: for an unknown type or a body over :data:`MAX_PAYLOAD_BYTES`.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    body = json.dumps({"type": event_type, "timestamp": iso_utc(timestamp), "data": data},
                      separators=(",", ":"), ensure_ascii=False, sort_keys=False).encode("utf-8")
    if len(body) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"{event_type} message of {len(body)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return body


def schema_file(event_type):
    return OUTBOUND_SCHEMA_DIR / f"{event_type}.v1.schema.json"


def outbound_schemas():
    """``{event type: schema}`` of every outgoing message type."""
    return {event_type: load_schema(schema_file(event_type)) for event_type in EVENT_TYPES}


def retry_delay(attempts, rng=random.random):
    """Seconds to wait after the ``attempts``-th failed attempt, or ``None`` to give up.

    Each delay moves by up to ±10 % so that the retries of a burst that failed together
    do not hit the consumer together again.
    """
    if attempts >= len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempts]
    return base * (0.9 + 0.2 * rng())


def broker_retry_delay(attempts, rng=random.random):
    """Seconds before a message waits for a broker that was unreachable: short, never giving up.

    Messages stay in the outbox while the broker is down; 1, 2, 4… up to 60 s with jitter.
    """
    # The exponent is capped before the power: a subscription counts every failed
    # message, so a broker down under load reaches thousands of failures, and 2.0 ** 1024
    # overflows a float.
    return min(60.0, 2.0 ** min(max(attempts - 1, 0), 6)) * (0.8 + 0.4 * rng())


def parse_retry_after(value, now=None):
    """Seconds a ``Retry-After`` header asks for (delay-seconds or HTTP date), capped.

    :return: seconds, or ``None`` when the header is absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, min(float(seconds), MAX_RETRY_AFTER_SECONDS))


@dataclass(frozen=True)
class Outcome:
    """How one delivery attempt ended.

    :ivar success: the consumer took it (2xx).
    :ivar gone: the consumer said 410 Gone: the subscription must stop.
    :ivar retry_after: seconds the consumer asked us to wait (429/503), else ``None``.
    :ivar error: what went wrong, for the attempt log.
    """

    success: bool
    status_code: int = 0
    gone: bool = False
    retry_after: float = None
    error: str = ""


def judge_response(status_code, headers):
    """The :class:`Outcome` of an HTTP answer. Only 2xx is a success; redirects are not followed."""
    if 200 <= status_code < 300:
        return Outcome(True, status_code)
    if status_code == 410:
        return Outcome(False, status_code, gone=True, error="410 Gone: the consumer removed this endpoint")
    if status_code in (429, 503):
        return Outcome(False, status_code, retry_after=parse_retry_after(headers.get("Retry-After")),
                       error=f"{status_code}: the consumer asked to slow down")
    if 300 <= status_code < 400:
        return Outcome(False, status_code, error=f"{status_code} redirect to {headers.get('Location', '?')!s:.200} "
                                                 f"not followed: update the subscription URL")
    return Outcome(False, status_code, error=f"HTTP {status_code}")


def signed_headers(body, message_id, secrets, timestamp=None):
    """Standard Webhooks headers for ``body``, signed with every secret in ``secrets``.

    During a rotation both the new and the previous secret sign, space-separated in
    ``webhook-signature``, so that a consumer still holding the old one verifies too.
    """
    # One timestamp for every signature: each signs the same "id.timestamp.body".
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {}
    signatures_ = []
    for secret in secrets:
        signed = signatures.sign(signatures.STANDARD_WEBHOOKS, body, secret, timestamp=timestamp,
                                 message_id=message_id)
        headers.update(signed)
        signatures_.append(signed["webhook-signature"])
    headers["webhook-signature"] = " ".join(signatures_)
    headers["Content-Type"] = "application/json"
    return headers


def schema_paths():
    return sorted(Path(OUTBOUND_SCHEMA_DIR).glob("*.json"))
