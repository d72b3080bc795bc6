"""Classify why a shipment has a problem into the fixed reason vocabulary.

Adapters give a reason when the partner's code carries one (AfterShip ``Exception_007``
is an address issue). Many problem events only say it in words; this module reads the
raw code and the carrier's text so that the exceptions desk can group by reason anyway.
"""

import re

from . import taxonomy

# Order matters: the first matching rule wins, the most specific rules come first.
_RULES = (
    ("lost", r"\blost\b|cannot be located|missing parcel"),
    ("disposed", r"dispos|destroy"),
    ("damaged", r"damag|broken|crushed"),
    ("refused", r"refus|rejected by (the )?(recipient|consignee|customer)"),
    ("customs_documents", r"customs|clearance|import documents|invoice required|paperwork"),
    ("payment_due", r"payment|duty|duties|cod\b|cash on delivery|fees? due"),
    ("address_issue", r"address|wrong street|unknown recipient|moved|undeliverable as addressed"),
    ("business_closed", r"business closed|closed on arrival|office closed|store closed"),
    ("recipient_unavailable", r"not (at )?home|no one|nobody|unavailable|not available|absent|notice left|"
                              r"missed delivery|carded"),
    ("weather", r"weather|storm|snow|flood|hurricane|natural disaster"),
    ("misrouted", r"mis-?sort|mis-?rout|wrong (hub|facility|route)"),
    ("held_by_carrier", r"held|on hold|hold at"),
    ("not_collected", r"not collected|unclaimed|not picked up by"),
    ("partial_delivery", r"partial"),
    ("carrier_delay", r"delay|late (flight|arrival|truck)|missed connection|capacity"),
)
_COMPILED = tuple((reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in _RULES)


def classify(reason=None, raw_code="", description=""):
    """The reason of a problem event, from the fixed vocabulary.

    :param reason: the reason the adapter already resolved, kept when valid.
    :param str raw_code: the partner's code (some codes are words, e.g. ``WEATHER_DELAY``).
    :param str description: the carrier's text.
    :return: a code of :data:`integration.taxonomy.REASONS`; ``other`` when nothing matches.
    :rtype: str
    """
    if reason in taxonomy.REASON_CODES:
        return reason
    text = f"{(raw_code or '').replace('_', ' ')} {description or ''}"
    for code, pattern in _COMPILED:
        if pattern.search(text):
            return code
    return "other"
