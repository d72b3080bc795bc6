"""Derive a shipment's current state from its events.

:func:`derive` is a pure function of the *set* of events of one shipment: arrival
order, replays and duplicated deliveries make no difference, and a late-arriving older
scan never overrides a newer one. The Odoo side stores whatever it returns; re-deriving
after every batch is therefore always safe.
"""

import json
from dataclasses import dataclass, fields
from datetime import datetime, timezone

from . import taxonomy
from .events import CanonicalEvent, StatusFacts

# Unmapped events have no place in the life of a parcel: ranking them after every
# milestone keeps the order total without pretending to know what they mean.
_UNKNOWN_RANK = len(taxonomy.MILESTONE_CODES)
_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class StoredEvent(StatusFacts):
    """The fields of a stored event that state derivation reads, with its stored
    fingerprint (a recomputed one could differ: the carrier code an adapter saw is not
    stored). Datetimes are aware UTC.
    """

    record_id: int
    fingerprint: str
    milestone: str
    event_class: str
    occurred_at: datetime
    issued_at: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ShipmentState:
    """What a shipment's events say about it right now.

    :ivar status: milestone code of :attr:`last_event`, or ``taxonomy.PENDING``.
    :ivar last_event: the actual event that determined :attr:`status`.
    :ivar eta: expected delivery (aware UTC): the winning estimate's window end, else
        its ``occurred_at``.
    :ivar eta_window_start: start of the winning estimate's window, if it has one.
    :ivar eta_window_end: end of the winning estimate's window, if it has one.
    :ivar eta_event: the estimated or planned event that gave :attr:`eta`.
    :ivar shipped_at: first time the carrier is known to have held the goods.
    :ivar delivered_at: time of the delivery, only while the status is ``delivered``.
    :ivar has_open_exception: the status is one of ``taxonomy.EXCEPTION_MILESTONES``.
    :ivar exception_reason: reason of that exception (``None`` when none is open).
    :ivar exception_final: the open exception will not resolve by itself (lost, disposed).
    :ivar event_count: number of distinct events (by fingerprint), of every class.
    :ivar first_event_at: earliest ``occurred_at`` among them.
    :ivar last_event_at: latest ``occurred_at`` among them; estimates predict the
        future, so this may lie ahead of now.
    """

    status: str = taxonomy.PENDING
    last_event: CanonicalEvent | StoredEvent | None = None
    eta: datetime | None = None
    eta_window_start: datetime | None = None
    eta_window_end: datetime | None = None
    eta_event: CanonicalEvent | StoredEvent | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    has_open_exception: bool = False
    exception_reason: str | None = None
    exception_final: bool = False
    event_count: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None


def sort_key(event):
    """Total chronological order of events.

    By ``occurred_at``, then by milestone display rank (so that ``out_for_delivery``
    and ``delivered`` stamped with the same second still read in the right order),
    then by fingerprint, which makes the order total without depending on input order.

    :param CanonicalEvent event: any event.
    :rtype: tuple
    """
    return (
        event.occurred_at,
        taxonomy.DISPLAY_ORDER.get(event.milestone, _UNKNOWN_RANK),
        event.fingerprint,
    )


def dedupe(events):
    """One event per fingerprint.

    Copies of one fact may still differ in fields the fingerprint leaves out (a
    reworded description, another sender id, another offset for the same instant);
    the copy kept is the smallest by a key over every field, never the first seen, so
    the result does not depend on arrival order.

    :param events: iterable of :class:`~integration.events.CanonicalEvent`.
    :return: fingerprint → kept event.
    :rtype: dict[str, CanonicalEvent]
    """
    kept = {}
    keys = {}
    for event in events or ():
        fingerprint = event.fingerprint
        key = _copy_key(event)
        if fingerprint not in kept or key < keys[fingerprint]:
            kept[fingerprint] = event
            keys[fingerprint] = key
    return kept


def timeline(events):
    """Distinct events, newest first, for display.

    :param events: iterable of :class:`~integration.events.CanonicalEvent`.
    :rtype: list[CanonicalEvent]
    """
    return sorted(dedupe(events).values(), key=sort_key, reverse=True)


def derive(events):
    """Current state of a shipment from all its events.

    Only actual events of a real milestone drive the status; once a terminal milestone
    is reached the latest terminal event holds, whatever non-terminal scans follow.
    The ETA comes from the most recently issued ``estimated`` prediction of
    ``delivered``, else from the most recently issued ``planned`` one, and is kept
    after delivery as history.

    :param events: iterable of :class:`~integration.events.CanonicalEvent` of one
        shipment, in any order, duplicates allowed.
    :rtype: ShipmentState
    """
    return derive_unique(dedupe(events).values())


def derive_unique(events):
    """:func:`derive` for events already distinct by fingerprint, such as a shipment's
    stored events (unique per shipment in the database).

    Skips the deduplication, whose full-field comparison key is the costly part of
    :func:`derive` when a shipment's whole history is re-derived after every batch.

    :param events: :class:`~integration.events.CanonicalEvent` or :class:`StoredEvent`
        values with distinct fingerprints.
    :rtype: ShipmentState
    """
    distinct = sorted(events, key=sort_key)
    if not distinct:
        return ShipmentState()

    driving = [event for event in distinct if event.drives_status]
    terminal = [event for event in driving if event.milestone in taxonomy.TERMINAL]
    last_event = (terminal or driving or [None])[-1]
    status = last_event.milestone if last_event else taxonomy.PENDING

    eta_event = _eta_event(distinct)
    shipped = [
        event.occurred_at for event in distinct if event.is_actual and event.milestone in taxonomy.SHIPPED_MILESTONES
    ]
    open_exception = status in taxonomy.EXCEPTION_MILESTONES
    reason = last_event.reason if open_exception else None

    return ShipmentState(
        status=status,
        last_event=last_event,
        eta=(eta_event.window_end or eta_event.occurred_at) if eta_event else None,
        eta_window_start=eta_event.window_start if eta_event else None,
        eta_window_end=eta_event.window_end if eta_event else None,
        eta_event=eta_event,
        shipped_at=min(shipped) if shipped else None,
        delivered_at=last_event.occurred_at if status == "delivered" else None,
        has_open_exception=open_exception,
        exception_reason=reason,
        exception_final=reason in taxonomy.FINAL_REASONS,
        event_count=len(distinct),
        first_event_at=distinct[0].occurred_at,
        last_event_at=distinct[-1].occurred_at,
    )


def _eta_event(events):
    for event_class in (taxonomy.ESTIMATED, taxonomy.PLANNED):
        candidates = [e for e in events if e.event_class == event_class and e.milestone == "delivered"]
        if candidates:
            return max(candidates, key=_issue_key)
    return None


def _issue_key(event):
    # A prediction without an issue time cannot be shown to be the newest one, so it
    # loses to any dated prediction.
    issued = event.issued_at
    return (issued is not None, issued or _EPOCH, event.occurred_at, event.fingerprint)


def _copy_key(event):
    return tuple(_orderable(getattr(event, f.name)) for f in fields(event))


def _orderable(value):
    # Field types differ and may be None: compare a type tag and a string form, which
    # gives a total, reproducible order (the order itself carries no meaning).
    if isinstance(value, datetime):
        return ("datetime", value.isoformat())
    if isinstance(value, dict):
        try:
            return ("dict", json.dumps(value, sort_keys=True, default=repr))
        except (TypeError, ValueError):
            return ("dict", repr(value))
    return (type(value).__name__, repr(value))
