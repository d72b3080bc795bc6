"""The canonical event: what every partner format is normalised into.

A :class:`CanonicalEvent` is an immutable value. Its :attr:`~CanonicalEvent.fingerprint`
identifies the *fact* it reports, so that the full histories aggregators resend with
every update, duplicated deliveries and replays all collapse onto the same rows.
"""

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import cached_property

from . import taxonomy
from .storable import storable_json, storable_text

_SPACES = re.compile(r"\s+")


class EventError(ValueError):
    """A canonical event cannot be built from the given values."""


#: Longest tracking number accepted: real ones (containers, bills of lading, parcel
#: numbers) stay under 40 characters; indexes cannot hold a few thousand.
MAX_TRACKING_NUMBER = 100
#: Longest partner status code accepted (indexed, and shown in mappings).
MAX_RAW_CODE = 255


def normalize_tracking_number(value):
    """Trim, upper-case and drop inner whitespace: ``' 1z 999 aa1 '`` → ``'1Z999AA1'``.

    :raises EventError: when nothing is left, or far too much.
    """
    # Escaped first, then upper-cased: normalising a normalised number changes nothing,
    # so the ORM's own normalisation of a stored number never makes two numbers one.
    normalized = storable_text(_SPACES.sub("", value or "")).upper()
    if not normalized:
        raise EventError("empty tracking number")
    if len(normalized) > MAX_TRACKING_NUMBER:
        raise EventError(f"tracking number longer than {MAX_TRACKING_NUMBER} characters ({len(normalized)})")
    return normalized


def split_tracking_refs(value):
    """Odoo writes several tracking refs comma-separated on a delivery order.

    :return: normalised, de-duplicated refs in their original order.
    :rtype: list[str]
    """
    refs = []
    for part in (value or "").split(","):
        normalized = _SPACES.sub("", part).upper()
        if normalized and normalized not in refs:
            refs.append(normalized)
    return refs


def to_utc(value):
    """Convert an aware datetime to UTC, refusing naive ones (their zone is unknown)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise EventError("naive datetime: resolve its time zone before building the event")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise EventError(f"date out of range: {value.isoformat()}") from None


def offset_minutes(value):
    """UTC offset of an aware datetime, in minutes (to show the partner's local time)."""
    return int(value.utcoffset() / timedelta(minutes=1))


class StatusFacts:
    """What status rules ask of any event, canonical or read back from storage."""

    __slots__ = ()

    @property
    def is_actual(self):
        return self.event_class == taxonomy.ACTUAL

    @property
    def drives_status(self):
        """Only actual events of a real milestone move a shipment's status."""
        return self.is_actual and taxonomy.is_milestone(self.milestone)


@dataclass(frozen=True)
class CanonicalEvent(StatusFacts):
    """One normalised tracking event.

    ``milestone`` is a canonical milestone code, or ``taxonomy.UNKNOWN`` when the
    partner code is not mapped (the raw code is kept for the admin to map).
    ``occurred_at`` is always an aware UTC datetime; ``utc_offset`` keeps the minutes
    east of UTC of the partner's local time. Estimates carry the window they predict
    and ``issued_at``, when the partner issued that prediction.
    """

    tracking_number: str
    milestone: str
    occurred_at: datetime
    event_class: str = taxonomy.ACTUAL
    carrier: str = ""
    utc_offset: int | None = None
    raw_code: str = ""
    description: str = ""
    reason: str | None = None
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""
    latitude: float | None = None
    longitude: float | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    issued_at: datetime | None = None
    external_id: str = ""
    signed_by: str = ""
    pod_url: str = ""
    # True when the time had no zone and none could be resolved (UTC assumed).
    time_assumed_utc: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    #: Partner-provided text: stored as given, except NUL and lone surrogates (escaped).
    TEXT_FIELDS = ("tracking_number", "carrier", "raw_code", "description", "city", "region", "postcode",
                   "country", "external_id", "signed_by", "pod_url")

    def __post_init__(self):
        set_ = object.__setattr__
        for name in self.TEXT_FIELDS:
            value = getattr(self, name)
            if value.__class__ is str and value.isascii() and "\x00" not in value:
                continue  # nearly every field: nothing to escape, no call to pay for
            if value is not None and not isinstance(value, str):
                raise EventError(f"{name} must be text, not {type(value).__name__}")
            set_(self, name, storable_text(value))
        set_(self, "extra", storable_json(self.extra or {}))
        set_(self, "tracking_number", normalize_tracking_number(self.tracking_number))
        if self.milestone != taxonomy.UNKNOWN and not taxonomy.is_milestone(self.milestone):
            raise EventError(f"unknown milestone {self.milestone!r}")
        if self.event_class not in taxonomy.EVENT_CLASSES:
            raise EventError(f"unknown event class {self.event_class!r}")
        if self.reason is not None and self.reason not in taxonomy.REASON_CODES:
            raise EventError(f"unknown reason {self.reason!r}")
        if not isinstance(self.occurred_at, datetime):
            raise EventError("occurred_at must be a datetime")
        if self.utc_offset is None and self.occurred_at.tzinfo is not None:
            set_(self, "utc_offset", offset_minutes(self.occurred_at))
        set_(self, "occurred_at", to_utc(self.occurred_at))
        set_(self, "window_start", to_utc(self.window_start))
        set_(self, "window_end", to_utc(self.window_end))
        set_(self, "issued_at", to_utc(self.issued_at))
        set_(self, "carrier", (self.carrier or "").strip().lower())
        set_(self, "raw_code", (self.raw_code or "").strip())
        if len(self.raw_code) > MAX_RAW_CODE:
            raise EventError(f"partner status code longer than {MAX_RAW_CODE} characters ({len(self.raw_code)})")

    @cached_property
    def fingerprint(self):
        """Stable identity of the reported fact (hex SHA-256).

        Built from the normalised tracking number, carrier, milestone, class, UTC time,
        raw code and city; estimates add their window and issue time, so a revised
        estimate is a new fact while a resent one is not. Descriptions, coordinates
        and the sender's event id are left out on purpose: aggregators reword and
        re-identify the same scan between deliveries.
        """
        parts = [
            self.tracking_number,
            self.carrier,
            self.milestone,
            self.event_class,
            _iso(self.occurred_at),
            self.raw_code.upper(),
            self.city.strip().casefold(),
        ]
        if not self.is_actual:
            parts += [_iso(self.window_start), _iso(self.window_end), _iso(self.issued_at)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def with_values(self, **values):
        """A copy with some fields replaced (the event itself stays immutable)."""
        return replace(self, **values)


def _iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""
