"""The canonical shipment and event documents that leave Odoo.

One shape for every consumer: the REST API answers with it and the outbox publishes it,
so a consumer that reads a shipment from the API and receives one in a webhook parses
the same thing. Builders take plain values (the Odoo layer gathers them) and are checked
against ``schemas/shipment.v1.schema.json`` and ``schemas/event.v1.schema.json``.

What never leaves: connectors, secrets, raw partner payloads and codes, internal notes,
the customer's name and address (a consumer bound to a customer already knows them).
"""

import json
from datetime import date, datetime, timezone
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SHIPMENT_SCHEMA_FILE = SCHEMA_DIR / "shipment.v1.schema.json"
EVENT_SCHEMA_FILE = SCHEMA_DIR / "event.v1.schema.json"

#: Fields a shipment row handed to :func:`shipment_document` must carry.
SHIPMENT_ROW_KEYS = (
    "id", "tracking_number", "carrier_id", "carrier_name", "status", "exception_state",
    "exception_reason", "eta", "eta_window_start", "eta_window_end", "promised_date",
    "shipped_at", "delivered_at", "last_event_at", "delivery_order", "sale_order",
    "customer_reference", "customer_id", "company_id", "company_name", "pod_signed_by",
    "pod_url", "pod_document", "tracking_url", "created_at", "updated_at",
)

#: Fields an event row handed to :func:`event_document` must carry.
EVENT_ROW_KEYS = (
    "id", "shipment_id", "milestone", "event_class", "occurred_at", "utc_offset",
    "received_at", "window_start", "window_end", "issued_at", "city", "region", "postcode",
    "country_code", "latitude", "longitude", "description", "reason", "source", "signed_by",
    "pod_url",
)


def iso_utc(value):
    """``2026-12-07T10:15:00Z`` for a naive-UTC or aware datetime; ``None`` stays ``None``."""
    if value is None or value is False:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.replace(microsecond=0).isoformat() + "Z"
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat() + "Z"
    raise TypeError(f"not a datetime: {value!r}")


def _text(value):
    return value or None


def shipment_document(row):
    """The canonical shipment (schema ``shipment.v1``) of one row of :data:`SHIPMENT_ROW_KEYS`."""
    eta_window = None
    if row["eta_window_start"] or row["eta_window_end"]:
        eta_window = {"start": iso_utc(row["eta_window_start"]), "end": iso_utc(row["eta_window_end"])}
    pod = None
    if row["pod_signed_by"] or row["pod_url"] or row["pod_document"]:
        pod = {"signed_by": _text(row["pod_signed_by"]), "url": _text(row["pod_url"]),
               "has_document": bool(row["pod_document"])}
    exception = None
    if row["exception_state"] and row["exception_state"] != "none":
        exception = {"state": row["exception_state"], "reason": _text(row["exception_reason"])}
    return {
        "id": row["id"],
        "tracking_number": row["tracking_number"],
        "carrier": {"id": row["carrier_id"], "name": row["carrier_name"]} if row["carrier_id"] else None,
        "status": row["status"],
        "exception": exception,
        "eta": iso_utc(row["eta"]),
        "eta_window": eta_window,
        "promised_date": iso_utc(row["promised_date"]),
        "shipped_at": iso_utc(row["shipped_at"]),
        "delivered_at": iso_utc(row["delivered_at"]),
        "last_event_at": iso_utc(row["last_event_at"]),
        "delivery_order": _text(row["delivery_order"]),
        "sale_order": _text(row["sale_order"]),
        "customer_reference": _text(row["customer_reference"]),
        "customer_id": row["customer_id"] or None,
        "company": {"id": row["company_id"], "name": row["company_name"]},
        "proof_of_delivery": pod,
        "tracking_url": _text(row["tracking_url"]),
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
    }


def event_document(row):
    """The canonical event (schema ``event.v1``) of one row of :data:`EVENT_ROW_KEYS`."""
    location = {
        "city": _text(row["city"]), "region": _text(row["region"]), "postcode": _text(row["postcode"]),
        "country_code": _text(row["country_code"]),
        "latitude": row["latitude"] if row["latitude"] or row["longitude"] else None,
        "longitude": row["longitude"] if row["latitude"] or row["longitude"] else None,
    }
    window = None
    if row["window_start"] or row["window_end"]:
        window = {"start": iso_utc(row["window_start"]), "end": iso_utc(row["window_end"])}
    return {
        "id": row["id"],
        "shipment_id": row["shipment_id"],
        "milestone": row["milestone"],
        "event_class": row["event_class"],
        "occurred_at": iso_utc(row["occurred_at"]),
        "utc_offset_minutes": row["utc_offset"] or 0,
        "received_at": iso_utc(row["received_at"]),
        "window": window,
        "issued_at": iso_utc(row["issued_at"]),
        "location": location if any(v is not None for v in location.values()) else None,
        "description": _text(row["description"]),
        "reason": _text(row["reason"]),
        "source": row["source"],
        "signed_by": _text(row["signed_by"]),
        "pod_url": _text(row["pod_url"]),
    }


def load_schema(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def schema_registry():
    """Every schema of ``schemas/`` by its ``$id``, for validators resolving ``$ref`` between them."""
    schemas = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = load_schema(path)
        schemas[schema["$id"]] = schema
    return schemas
