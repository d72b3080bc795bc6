"""The example carrier's format and descriptor: all a partner needs, in its own addon.

Acme Parcels pushes ``{"parcel": "<number>", "scans": [{"at": "<ISO time>", "status":
"<code>", "place": "<city>, <country>"}]}``, signed with an HMAC-SHA256 of the body in
``X-Acme-Signature`` (hex).
"""

from odoo.addons.shipment_visibility.integration import partners
from odoo.addons.shipment_visibility.integration.adapters.base import (
    Adapter,
    ParseError,
    ParseResult,
    append_unique,
    build_event,
    load_json,
)
from odoo.addons.shipment_visibility.integration.timezones import parse_partner_time

STATUS_MAP = {
    "ACCEPTED": ("picked_up", None),
    "SORTED": ("arrived_at_facility", None),
    "ON_VAN": ("out_for_delivery", None),
    "HANDED_OVER": ("delivered", None),
    "NOBODY_HOME": ("delivery_attempted", "recipient_unavailable"),
}


class AcmeAdapter(Adapter):
    code = "acme_parcels"
    label = "Acme Parcels"
    default_status_map = STATUS_MAP

    def parse(self, body, context):
        data = load_json(body)
        if not isinstance(data, dict) or not isinstance(data.get("parcel"), str):
            raise ParseError("expected an object with a parcel number", "$.parcel")
        if not isinstance(data.get("scans"), list):
            raise ParseError("expected a list of scans", "$.scans")
        result = ParseResult(tracking_numbers=[data["parcel"]])
        seen = set()
        for index, scan in enumerate(data["scans"]):
            path = f"$.scans[{index}]"
            if not isinstance(scan, dict):
                raise ParseError("expected an object", path)
            city, _sep, country = str(scan.get("place") or "").rpartition(", ")
            try:
                occurred, assumed = parse_partner_time(scan.get("at"), country=country or None,
                                                       default_zone=context.default_timezone)
            except ValueError as exc:
                raise ParseError(str(exc), f"{path}.at") from None
            milestone, reason, raw_code = self.resolve([scan.get("status")], context)
            append_unique(result, seen, build_event(
                path, tracking_number=data["parcel"], milestone=milestone, occurred_at=occurred,
                raw_code=raw_code, reason=reason, city=city, country=country, carrier="acme",
                time_assumed_utc=assumed))
        return result


ADAPTER = AcmeAdapter()

DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="acme_parcels", label="Acme Parcels", adapter=ADAPTER, signature_scheme="hmac_sha256_hex",
    sequence=500))
