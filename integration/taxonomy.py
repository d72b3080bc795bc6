"""Canonical shipment milestones, event classes and exception reasons.

The vocabulary follows the reference taxonomy of 16 milestones (info received to
cancelled), each event being *actual*, *estimated*, *planned* or *requested* (the DCSA
notion of event classifier). ``unknown`` is not a milestone: it marks an event whose
partner code is not mapped yet; it is kept as history and never drives status.
"""

from collections import namedtuple

Milestone = namedtuple("Milestone", "code label icon terminal exception")

# Display order is the order of this tuple: roughly the life of a parcel.
MILESTONES = (
    Milestone("info_received", "Information received", "fa-file-text-o", False, False),
    Milestone("picked_up", "Picked up", "fa-dropbox", False, False),
    Milestone("in_transit", "In transit", "fa-truck", False, False),
    Milestone("arrived_at_facility", "Arrived at facility", "fa-sign-in", False, False),
    Milestone("departed_facility", "Departed facility", "fa-sign-out", False, False),
    Milestone("customs_hold", "Customs hold", "fa-university", False, True),
    Milestone("customs_cleared", "Customs cleared", "fa-check-square-o", False, False),
    Milestone("out_for_delivery", "Out for delivery", "fa-road", False, False),
    Milestone("delivery_attempted", "Delivery attempted", "fa-bell-slash", False, True),
    Milestone("available_for_pickup", "Available for pickup", "fa-map-marker", False, False),
    Milestone("delivered", "Delivered", "fa-check-circle", True, False),
    Milestone("delayed", "Delayed", "fa-clock-o", False, True),
    Milestone("exception", "Exception", "fa-exclamation-triangle", False, True),
    Milestone("returning_to_sender", "Returning to sender", "fa-undo", False, False),
    Milestone("returned_to_sender", "Returned to sender", "fa-reply", True, False),
    Milestone("cancelled", "Cancelled", "fa-ban", True, False),
)

UNKNOWN = "unknown"
UNKNOWN_LABEL = "Unmapped partner status"
UNKNOWN_ICON = "fa-question-circle"

# Shipment status before any actual event arrived (not a milestone).
PENDING = "pending"
PENDING_LABEL = "Awaiting first scan"

BY_CODE = {m.code: m for m in MILESTONES}
MILESTONE_CODES = tuple(m.code for m in MILESTONES)
TERMINAL = frozenset(m.code for m in MILESTONES if m.terminal)
EXCEPTION_MILESTONES = frozenset(m.code for m in MILESTONES if m.exception)
DISPLAY_ORDER = {code: rank for rank, code in enumerate(MILESTONE_CODES)}
# The carrier holds the goods from any of these on: the first one dates "shipped".
SHIPPED_MILESTONES = frozenset(MILESTONE_CODES) - {"info_received", "cancelled"}

EVENT_CLASSES = ("actual", "estimated", "planned", "requested")
ACTUAL = "actual"
ESTIMATED = "estimated"
PLANNED = "planned"
REQUESTED = "requested"
EVENT_CLASS_LABELS = {
    ACTUAL: "Actual",
    ESTIMATED: "Estimated",
    PLANNED: "Planned",
    REQUESTED: "Requested",
}

# Why something went wrong: a fixed vocabulary shared by every partner format.
REASONS = (
    ("recipient_unavailable", "Recipient unavailable"),
    ("business_closed", "Business closed"),
    ("address_issue", "Address issue"),
    ("refused", "Refused by recipient"),
    ("customs_documents", "Customs documents"),
    ("payment_due", "Payment due"),
    ("weather", "Weather"),
    ("carrier_delay", "Carrier delay"),
    ("misrouted", "Misrouted"),
    ("damaged", "Damaged"),
    ("lost", "Lost"),
    ("disposed", "Disposed"),
    ("held_by_carrier", "Held by carrier"),
    ("not_collected", "Not collected"),
    ("partial_delivery", "Partial delivery"),
    ("other", "Other"),
)
REASON_CODES = frozenset(code for code, _label in REASONS)
# An exception for one of these reasons will not resolve by itself.
FINAL_REASONS = frozenset({"lost", "disposed"})


def is_milestone(code):
    """True for one of the 16 canonical milestones (not ``unknown``, not ``None``)."""
    return code in BY_CODE


def label(code):
    """Human label of a milestone code, ``pending`` or ``unknown``."""
    if code in BY_CODE:
        return BY_CODE[code].label
    if code == PENDING:
        return PENDING_LABEL
    return UNKNOWN_LABEL


def icon(code):
    """Font Awesome icon class for a milestone code."""
    return BY_CODE[code].icon if code in BY_CODE else UNKNOWN_ICON


def selection(include_pending=False, include_unknown=False):
    """(code, label) pairs in display order, for Odoo selection fields."""
    pairs = [(m.code, m.label) for m in MILESTONES]
    if include_pending:
        pairs.insert(0, (PENDING, PENDING_LABEL))
    if include_unknown:
        pairs.append((UNKNOWN, UNKNOWN_LABEL))
    return pairs
