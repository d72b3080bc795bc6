"""What a customer is shown of a shipment: progress steps and the date to expect.

Pure rules, shared by the portal, the public tracking page and the e-mails, so that the
three always agree. Texts are not here: the Odoo layer translates codes into the
customer's language.
"""

import hmac
import ipaddress
import re
from collections import namedtuple
from datetime import datetime, timezone

from . import taxonomy

# The main milestones of the progress bar, in order.
STEPS = ("ordered", "shipped", "in_transit", "out_for_delivery", "delivered")

# The step each milestone proves reached. Problem milestones prove nothing by themselves:
# the bar stays at the furthest step that an actual event proved.
_STEP_OF = {
    "info_received": 0,
    "picked_up": 1,
    "in_transit": 2,
    "arrived_at_facility": 2,
    "departed_facility": 2,
    "customs_hold": 2,
    "customs_cleared": 2,
    "out_for_delivery": 3,
    "delivery_attempted": 3,
    "available_for_pickup": 3,
    "delivered": 4,
}

# How the current status colours the bar and the headline.
TONE_OK, TONE_ATTENTION, TONE_PROBLEM, TONE_DONE, TONE_STOPPED = "ok", "attention", "problem", "done", "stopped"
_TONES = {
    "delivered": TONE_DONE,
    "delivery_attempted": TONE_ATTENTION,
    "available_for_pickup": TONE_ATTENTION,
    "customs_hold": TONE_ATTENTION,
    "delayed": TONE_ATTENTION,
    "exception": TONE_PROBLEM,
    "returning_to_sender": TONE_STOPPED,
    "returned_to_sender": TONE_STOPPED,
    "cancelled": TONE_STOPPED,
}

Progress = namedtuple("Progress", "step tone")


def progress(status, milestones_seen=()):
    """Where the progress bar stands.

    :param str status: the shipment's derived status (a milestone or ``pending``).
    :param milestones_seen: milestones of the shipment's *actual* events.
    :return: :class:`Progress` with ``step`` the index in :data:`STEPS` of the furthest
        step reached (0 before any carrier scan) and ``tone`` one of the ``TONE_*``.
    """
    reached = [_STEP_OF[m] for m in milestones_seen if m in _STEP_OF]
    if status in _STEP_OF:
        reached.append(_STEP_OF[status])
    elif status in taxonomy.SHIPPED_MILESTONES:
        # A problem or a return: the carrier has the parcel, so it shipped at least.
        reached.append(1)
    step = max(reached, default=0)
    return Progress(step, _TONES.get(status, TONE_OK))


# --------------------------------------------------------------------------- history summary

#: What the customer pages need of a whole history: the milestones of its actual events
#: (for :func:`progress`) and how many events a customer sees.
HistorySummary = namedtuple("HistorySummary", "milestones shown_count")


def shown_to_customer(milestone, event_class, described):
    """Whether a customer sees an event in the timeline.

    Actual events only (estimates are the expected date, not history); unmapped partner
    codes only when the carrier said something in words. The Odoo layer says the same in
    SQL to read the shown events themselves.
    """
    return event_class == taxonomy.ACTUAL and (milestone != taxonomy.UNKNOWN or bool(described))


def history_summary(events):
    """Summarise a whole history once, when it changes, so that a customer page reads
    only the events it shows, however long the history.

    :param events: ``(milestone, event_class, described)`` of every stored event.
    :rtype: :class:`HistorySummary` (milestones sorted)
    """
    milestones, shown = set(), 0
    for milestone, event_class, described in events:
        if event_class == taxonomy.ACTUAL:
            milestones.add(milestone)
            shown += shown_to_customer(milestone, event_class, described)
    return HistorySummary(tuple(sorted(milestones)), shown)


# --------------------------------------------------------------------------- expected delivery

#: One candidate for "Expected delivery", in order of preference. ``end`` equals
#: ``start`` for a single date. Datetimes are UTC (aware or naive UTC).
Candidate = namedtuple("Candidate", "source start end")
#: The line to show: ``kind`` is ``delivered``, ``expected`` or ``none``; ``source``
#: says where the date comes from (``delivered``, ``carrier``, ``promised``, ``predicted``…).
Expectation = namedtuple("Expectation", "kind source start end")

NOTHING = Expectation("none", None, None, None)


def _utc(value):
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _local_date(value, tz):
    return _utc(value).astimezone(tz).date()


def expected_delivery(now, status, delivered_at, candidates, tz=timezone.utc):
    """The single "Expected delivery" line of a shipment.

    Once delivered, the delivered time. Otherwise the first candidate whose date is not
    in the past for the customer (compared as calendar days in ``tz``, since carriers
    promise days, not minutes): the caller lists them in order of preference. A return
    or a cancellation expects nothing.

    :param datetime now: the current time (UTC).
    :param str status: the shipment's derived status.
    :param datetime delivered_at: when it was delivered, if it was.
    :param candidates: :class:`Candidate` values, best first; empty ones are skipped.
    :param tz: the customer's time zone (a ``tzinfo``).
    :rtype: Expectation
    """
    if status == "delivered" and delivered_at:
        when = _utc(delivered_at)
        return Expectation("delivered", "delivered", when, when)
    if status in taxonomy.TERMINAL or status == "returning_to_sender":
        return NOTHING
    today = _local_date(now, tz)
    for candidate in candidates:
        start = _utc(candidate.start) if candidate.start else None
        end = _utc(candidate.end) if candidate.end else start
        start = start or end
        if not end:
            continue
        if _local_date(end, tz) < today:
            continue  # a date in the past is never "expected"
        if _local_date(start, tz) < today:
            start = datetime.combine(today, datetime.min.time(), tz).astimezone(timezone.utc)
        return Expectation("expected", candidate.source, start, end)
    return NOTHING


# --------------------------------------------------------------------------- lookups

_SPACES = re.compile(r"[\s\-.]+")


def normalize_email(value):
    """Lower-case, trimmed e-mail address; empty when missing."""
    return (value or "").strip().lower()


def normalize_postcode(value):
    """Upper-case postcode without spaces, dashes or dots (``sw1a 1aa`` = ``SW1A1AA``)."""
    return _SPACES.sub("", (value or "").strip().upper())


def normalize_reference(value):
    """An order reference as typed by a customer: trimmed, upper-case, no inner spaces."""
    return re.sub(r"\s+", "", (value or "").strip().upper())


def verifier_matches(given, emails=(), postcodes=()):
    """Does what the customer typed match one of the e-mails or postcodes on file?

    Every comparison runs, in constant time, whatever matched first, so the time of an
    answer says nothing about which value was close.

    :param str given: what the customer typed (an e-mail or a postcode).
    :rtype: bool
    """
    as_email = normalize_email(given).encode()
    as_postcode = normalize_postcode(given).encode()
    matched = False
    for known in emails:
        known = normalize_email(known).encode()
        matched |= bool(known) & hmac.compare_digest(as_email, known)
    for known in postcodes:
        known = normalize_postcode(known).encode()
        matched |= bool(known) & hmac.compare_digest(as_postcode, known)
    return matched and bool(given and given.strip())


def client_key(address):
    """The rate-limit key of a client address: the address, or its /64 for IPv6.

    One IPv6 host usually owns a whole /64, so counting single addresses would let it
    try 2**64 times. An unparsable address (a proxy misconfiguration) counts as one key.
    """
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "invalid"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
