"""Anomalies in a shipment's timeline that no carrier reports as an exception (pure Python).

Each detector takes plain values and returns an :class:`Anomaly` (with the facts its
explanation needs) or None; the Odoo side opens it on the exceptions desk and words it.

* **stalled**: no scan for longer than the 95th percentile of the time parcels of this
  carrier usually stay after this milestone (the dwell statistics are learned nightly);
* **looping**: the parcel went back to a facility it had already left, or back to an
  earlier stage of the journey (arrived again after being out for delivery);
* **estimate churn**: the carrier changed its delivery estimate more than N times;
* **first scan missing**: the delivery order was done long ago and the carrier never
  scanned the parcel.
"""

from collections import namedtuple
from datetime import timedelta

Anomaly = namedtuple("Anomaly", "kind facts")
Scan = namedtuple("Scan", "milestone occurred_at place")

#: Stages of the journey: going back to a lower stage after a higher one is moving backwards.
STAGES = {
    "info_received": 0, "picked_up": 1, "departed_facility": 2, "in_transit": 2, "arrived_at_facility": 2,
    "customs_hold": 2, "customs_cleared": 2, "out_for_delivery": 3, "delivery_attempted": 3,
    "available_for_pickup": 3, "delivered": 4,
}
#: Milestones after which a parcel may legitimately go back (a failed attempt returns to the depot).
RETRY_MILESTONES = frozenset({"delivery_attempted", "available_for_pickup", "delayed", "exception"})


def stalled(now, last_scan, p95_hours, minimum_hours=12):
    """The parcel has not been scanned for longer than usual after its last milestone.

    :param Scan last_scan: the latest actual scan.
    :param float p95_hours: 95th percentile of the dwell after that milestone for the carrier.
    """
    if not last_scan or not p95_hours:
        return None
    limit = max(p95_hours, minimum_hours)
    waited = (now - last_scan.occurred_at).total_seconds() / 3600
    if waited <= limit:
        return None
    return Anomaly("stalled", {"milestone": last_scan.milestone, "hours": round(waited), "usual": round(limit),
                               "place": last_scan.place})


def looping(scans):
    """The parcel went back: to a facility it had left for another one, or to an earlier stage.

    :param scans: actual scans in time order.
    """
    visited = []
    highest = None
    for index, scan in enumerate(scans):
        stage = STAGES.get(scan.milestone)
        previous = scans[index - 1] if index else None
        if (stage is not None and highest is not None and stage < STAGES[highest]
                and not (previous and previous.milestone in RETRY_MILESTONES)):
            return Anomaly("looping", {"milestone": scan.milestone, "after": highest, "place": scan.place})
        if stage is not None and (highest is None or stage >= STAGES[highest]):
            highest = scan.milestone
        if scan.place and scan.milestone == "arrived_at_facility":
            if scan.place in visited[:-1]:
                return Anomaly("looping", {"place": scan.place, "left_for": visited[-1]})
            if not visited or visited[-1] != scan.place:
                visited.append(scan.place)
    return None


def estimate_churn(estimates, limit):
    """The carrier's delivery estimate moved more than ``limit`` times.

    :param estimates: estimated delivery dates (``date``), in the order they were issued.
    """
    changes = sum(1 for before, after in zip(estimates, estimates[1:], strict=False) if after != before)
    if not limit or changes <= limit:
        return None
    return Anomaly("estimate_churn", {"changes": changes, "limit": limit})


def first_scan_missing(now, handed_over_at, first_scan_at, limit_hours):
    """The delivery order was done more than ``limit_hours`` ago and no carrier scan came."""
    if first_scan_at or not handed_over_at or not limit_hours:
        return None
    if now - handed_over_at <= timedelta(hours=limit_hours):
        return None
    return Anomaly("first_scan_missing", {"hours": round((now - handed_over_at).total_seconds() / 3600)})
