"""A fake of the partner tracking APIs, served on loopback for tests.

It answers like AfterShip, 17TRACK, EasyPost and a generic ``GET /track/{number}``
endpoint (our own ``shipment.tracking.updated`` body), with the field names of
``CARRIER_FORMATS.md``. Tests drive the real HTTP client against it, sockets and all::

    with FakePartner() as fake:
        fake.add_shipment("1Z999AA10123456784", events=[...])
        fake.script("/v2/trackers/trk_1", status(500), slow(2.0))
        ...  # call fake.base_url
        assert fake.requests_to("/v2/trackers/trk_1")[0].header("Authorization")

Every request is recorded (method, path, query, headers, body) before anything else,
so that tests can assert what the client sent even when it was refused. Scripted
behaviours are consumed one per request, per path, in order; once a path's script is
empty the fake answers normally. Only the standard library is used.
"""

import base64
import hmac
import json
import threading
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

AFTERSHIP_PREFIX = "/tracking/2025-01/trackings"
SEVENTEEN_REGISTER = "/track/v2.2/register"
SEVENTEEN_TRACKINFO = "/track/v2.2/gettrackinfo"
EASYPOST_PREFIX = "/v2/trackers/"
GENERIC_PREFIX = "/track/"

#: 17TRACK accepts at most this many numbers per call.
SEVENTEEN_BATCH_MAX = 40
SEVENTEEN_TOO_MANY = -18010014
SEVENTEEN_ALREADY_REGISTERED = -18019901
# Not in the reference; any distinct code works for the fake's "not registered".
SEVENTEEN_NOT_REGISTERED = -18019902


# ----------------------------------------------------------------------------- behaviours


@dataclass(frozen=True)
class Behaviour:
    """One scripted answer; build it with the functions below."""

    kind: str
    seconds: float = 0.0
    status: int = 200
    body: object = None
    retry_after: object = None
    rejected: tuple | None = None
    headers: tuple = ()


def slow(seconds):
    """Wait ``seconds`` before answering normally (to trigger client read timeouts)."""
    return Behaviour("slow", seconds=seconds)


def status(code, body=None, headers=None):
    """Answer HTTP ``code`` with a JSON ``body`` (a default error body when omitted)."""
    return Behaviour("status", status=code, body=body, headers=tuple((headers or {}).items()))


def rate_limit(retry_after, code=429):
    """Answer 429 (or 503) with ``Retry-After`` (seconds, or an HTTP-date string)."""
    return Behaviour("rate_limit", status=code, retry_after=retry_after)


def malformed_json():
    """Answer 200 ``application/json`` with a truncated, undecodable body."""
    return Behaviour("malformed_json")


def partial(rejected=None):
    """17TRACK / AfterShip: answer for only part of the batch.

    :param rejected: numbers to reject; by default every second number of the request.
    """
    return Behaviour("partial", rejected=tuple(rejected) if rejected is not None else None)


# ----------------------------------------------------------------------------- recorded requests


@dataclass
class RecordedRequest:
    """What the client sent, as received on the socket."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes = b""

    def header(self, name, default=None):
        """A header value by case-insensitive name."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default

    def json(self):
        """The body decoded as JSON."""
        return json.loads(self.body)


# ----------------------------------------------------------------------------- status vocabularies

# Canonical milestone → each partner's own vocabulary, so that one shipment description
# renders in every format (see CARRIER_FORMATS.md §11.3).
_AFTERSHIP = {
    "info_received": "InfoReceived_001",
    "picked_up": "InTransit_002",
    "in_transit": "InTransit_001",
    "arrived_at_facility": "InTransit_003",
    "departed_facility": "InTransit_007",
    "customs_hold": "InTransit_006",
    "customs_cleared": "InTransit_005",
    "out_for_delivery": "OutForDelivery_001",
    "delivery_attempted": "AttemptFail_001",
    "available_for_pickup": "AvailableForPickup_001",
    "delivered": "Delivered_001",
    "delayed": "Exception_005",
    "exception": "Exception_001",
    "returning_to_sender": "Exception_010",
    "returned_to_sender": "Exception_011",
    "cancelled": "Exception_020",
}
_EASYPOST = {
    "info_received": ("pre_transit", "label_created"),
    "picked_up": ("in_transit", "received_at_origin_facility"),
    "in_transit": ("in_transit", "in_transit"),
    "arrived_at_facility": ("in_transit", "arrived_at_facility"),
    "departed_facility": ("in_transit", "departed_facility"),
    "customs_hold": ("in_transit", "status_update"),
    "customs_cleared": ("in_transit", "status_update"),
    "out_for_delivery": ("out_for_delivery", "out_for_delivery"),
    "delivery_attempted": ("in_transit", "delivery_exception"),
    "available_for_pickup": ("available_for_pickup", "arrived_at_pickup_location"),
    "delivered": ("delivered", "arrived_at_destination"),
    "delayed": ("in_transit", "delayed"),
    "exception": ("failure", "failure"),
    "returning_to_sender": ("return_to_sender", "return"),
    "returned_to_sender": ("return_to_sender", "return"),
    "cancelled": ("cancelled", "cancelled"),
}
_SEVENTEEN = {
    "info_received": ("InfoReceived", "InfoReceived", "InfoReceived"),
    "picked_up": ("InTransit", "InTransit_PickedUp", "PickedUp"),
    "in_transit": ("InTransit", "InTransit_Other", ""),
    "arrived_at_facility": ("InTransit", "InTransit_Arrival", "Arrival"),
    "departed_facility": ("InTransit", "InTransit_Departure", "Departure"),
    "customs_hold": ("InTransit", "InTransit_CustomsProcessing", ""),
    "customs_cleared": ("InTransit", "InTransit_CustomsReleased", ""),
    "out_for_delivery": ("OutForDelivery", "OutForDelivery_Other", "OutForDelivery"),
    "delivery_attempted": ("DeliveryFailure", "DeliveryFailure_Other", ""),
    "available_for_pickup": ("AvailableForPickup", "AvailableForPickup_Other", "AvailableForPickup"),
    "delivered": ("Delivered", "Delivered_Other", "Delivered"),
    "delayed": ("Exception", "Exception_Delayed", ""),
    "exception": ("Exception", "Exception_Other", ""),
    "returning_to_sender": ("Exception", "Exception_Returning", "Returning"),
    "returned_to_sender": ("Exception", "Exception_Returned", "Returned"),
    "cancelled": ("Exception", "Exception_Cancel", ""),
}
# AfterShip speaks ISO alpha-3; shipments are described with alpha-2.
_ALPHA3 = {"US": "USA", "CA": "CAN", "MX": "MEX", "DE": "DEU", "FR": "FRA", "GB": "GBR", "NL": "NLD", "CN": "CHN"}


# ----------------------------------------------------------------------------- the fake


@dataclass
class FakeShipment:
    """One shipment known to the fake, rendered in each partner's format.

    ``events`` are dicts with ``status`` (canonical milestone), ``at`` (aware datetime:
    the carrier's local time), and optional ``city``, ``state``, ``zip``, ``country``
    (alpha-2), ``message``.
    """

    tracking_number: str
    carrier: str = "ups"
    events: list = field(default_factory=list)
    estimated_delivery: str = ""
    signed_by: str = ""
    tracker_id: str = ""
    aftership_id: str = ""

    @property
    def latest(self):
        return max(self.events, key=lambda e: e["at"]) if self.events else None


class FakePartner:
    """Loopback HTTP server impersonating the partners; use it as a context manager.

    :param str aftership_key: expected ``as-api-key``.
    :param str seventeentrack_token: expected ``17token``.
    :param str easypost_key: EasyPost API key, sent as basic-auth user name.
    :param tuple generic_credentials: basic-auth (user, password) of ``/track/{number}``.
    """

    def __init__(
        self,
        *,
        aftership_key="as-test-key-0001",
        seventeentrack_token="17-test-token-0001",
        easypost_key="EZTK-test-key-0001",
        generic_credentials=("partner", "generic-test-secret"),
    ):
        self.aftership_key = aftership_key
        self.seventeentrack_token = seventeentrack_token
        self.easypost_key = easypost_key
        self.generic_credentials = generic_credentials
        self.shipments = {}
        self.registered = set()
        self._requests = []
        self._scripts = defaultdict(deque)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # -- life cycle

    def start(self):
        """Listen on an ephemeral loopback port and serve from a background thread."""
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.partner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-partner", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        """Stop serving; scripted delays still running are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base_url(self):
        """``http://127.0.0.1:<port>`` of the running server."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test set-up

    def add_shipment(self, tracking_number, **values):
        """Make a shipment known to every route; returns the :class:`FakeShipment`."""
        shipment = FakeShipment(tracking_number, **values)
        shipment.tracker_id = shipment.tracker_id or f"trk_{uuid.uuid5(uuid.NAMESPACE_OID, tracking_number).hex}"
        shipment.aftership_id = shipment.aftership_id or uuid.uuid5(uuid.NAMESPACE_URL, tracking_number).hex
        with self._lock:
            self.shipments[tracking_number] = shipment
        return shipment

    def script(self, path, *behaviours):
        """Queue behaviours for the next requests to ``path`` (query string excluded)."""
        with self._lock:
            self._scripts[path].extend(behaviours)

    def pending_script(self, path):
        """Behaviours not consumed yet for ``path``."""
        with self._lock:
            return list(self._scripts[path])

    # -- assertions

    @property
    def requests(self):
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path):
        """Requests received for one path (query string excluded)."""
        return [r for r in self.requests if r.path == path]

    # -- used by the handler

    def _record(self, request):
        with self._lock:
            self._requests.append(request)

    def _next_behaviour(self, path):
        with self._lock:
            queue = self._scripts.get(path)
            return queue.popleft() if queue else None

    def _sleep(self, seconds):
        self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, as real APIs do, so pooling is exercised.
    protocol_version = "HTTP/1.1"
    server_version = "FakePartner/1.0"

    def log_message(self, format, *args):
        """Keep test output quiet."""

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    def _serve(self):
        partner = self.server.partner
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        partner._record(request)
        try:
            self._dispatch(partner, request)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (read timeout): nobody is left to answer.
            self.close_connection = True

    def _dispatch(self, partner, request):
        route = _route(request)
        if route is None:
            return self._json(404, {"error": {"code": "NOT_FOUND", "message": f"no route {request.path}"}})
        handler, authorized = route
        if not authorized(partner, request):
            return self._json(401, _unauthorized_body(request.path), {"WWW-Authenticate": 'Basic realm="fake"'})
        behaviour = partner._next_behaviour(request.path)
        if behaviour is not None:
            if behaviour.kind == "slow":
                partner._sleep(behaviour.seconds)
            elif behaviour.kind == "status":
                body = behaviour.body or {"message": f"scripted HTTP {behaviour.status}"}
                return self._json(behaviour.status, body, dict(behaviour.headers))
            elif behaviour.kind == "rate_limit":
                headers = {"Retry-After": str(behaviour.retry_after)}
                return self._json(behaviour.status, {"message": "Too many requests"}, headers)
            elif behaviour.kind == "malformed_json":
                return self._raw(200, b'{"meta": {"code": 200}, "data": {"trackings": [', "application/json")
        try:
            code, payload = handler(partner, request, behaviour)
        except ValueError as exc:
            code, payload = 400, {"message": f"bad request: {exc}"}
        return self._json(code, payload)

    def _json(self, code, payload, headers=None):
        return self._raw(code, json.dumps(payload).encode(), "application/json", headers)

    def _raw(self, code, data, content_type, headers=None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


# ----------------------------------------------------------------------------- routing and auth


def _route(request):
    """``(handler, auth check)`` for a request, or ``None`` when nothing serves it."""
    method, path = request.method, request.path
    if method == "GET" and path == AFTERSHIP_PREFIX:
        return _aftership_list, _aftership_auth
    if method == "POST" and path == SEVENTEEN_REGISTER:
        return _seventeen_register, _seventeen_auth
    if method == "POST" and path == SEVENTEEN_TRACKINFO:
        return _seventeen_trackinfo, _seventeen_auth
    if method == "GET" and path.startswith(EASYPOST_PREFIX) and len(path) > len(EASYPOST_PREFIX):
        return _easypost_tracker, _easypost_auth
    if method == "GET" and path.startswith(GENERIC_PREFIX) and "/" not in path[len(GENERIC_PREFIX) :]:
        return _generic_track, _generic_auth
    return None


def _same(given, expected):
    return given is not None and hmac.compare_digest(str(given).encode(), str(expected).encode())


def _basic(request):
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _aftership_auth(partner, request):
    return _same(request.header("as-api-key"), partner.aftership_key)


def _seventeen_auth(partner, request):
    return _same(request.header("17token"), partner.seventeentrack_token)


def _easypost_auth(partner, request):
    creds = _basic(request)
    return creds is not None and _same(creds[0], partner.easypost_key)


def _generic_auth(partner, request):
    creds = _basic(request)
    user, password = partner.generic_credentials
    return creds is not None and _same(creds[0], user) and _same(creds[1], password)


def _unauthorized_body(path):
    if path.startswith(AFTERSHIP_PREFIX):
        return {"meta": {"code": 401, "message": "Invalid API key.", "type": "Unauthorized"}, "data": {}}
    if path.startswith("/track/v2.2/"):
        return {"code": 401, "data": {"errors": [{"code": 401, "message": "Invalid 17token."}]}}
    return {"error": {"code": "UNAUTHORIZED", "message": "Invalid credentials.", "errors": []}}


# ----------------------------------------------------------------------------- route handlers


def _rejected_numbers(numbers, behaviour):
    if behaviour is None or behaviour.kind != "partial":
        return set()
    if behaviour.rejected is not None:
        return set(behaviour.rejected)
    return set(numbers[1::2])


def _aftership_list(partner, request, behaviour):
    wanted = [n for value in request.query.get("tracking_numbers", []) for n in value.split(",") if n]
    dropped = _rejected_numbers(wanted, behaviour)
    with partner._lock:
        found = [partner.shipments[n] for n in wanted if n in partner.shipments and n not in dropped]
    trackings = [_aftership_tracking(s) for s in found]
    return 200, {
        "meta": {"code": 200, "message": "OK", "type": "OK"},
        "data": {
            "pagination": {"total": len(trackings), "next_cursor": None, "has_next_page": False},
            "trackings": trackings,
        },
    }


def _aftership_tracking(shipment):
    checkpoints = []
    for event in sorted(shipment.events, key=lambda e: e["at"]):
        subtag = _AFTERSHIP[event["status"]]
        country = event.get("country", "")
        checkpoints.append(
            {
                # AfterShip gives the carrier's local time without offset.
                "checkpoint_time": event["at"].strftime("%Y-%m-%dT%H:%M:%S"),
                "created_at": _utc(event["at"]),
                "slug": shipment.carrier,
                "city": event.get("city", ""),
                "state": event.get("state", ""),
                "zip": event.get("zip", ""),
                "country_region": _ALPHA3.get(country, country),
                "message": event.get("message", event["status"]),
                "tag": subtag.split("_")[0],
                "subtag": subtag,
                "subtag_message": event.get("message", event["status"]),
                "raw_tag": event.get("raw_tag", ""),
            }
        )
    latest = shipment.latest
    subtag = _AFTERSHIP[latest["status"]] if latest else "Pending_001"
    return {
        "id": shipment.aftership_id,
        "tracking_number": shipment.tracking_number,
        "slug": shipment.carrier,
        "active": bool(latest) and latest["status"] not in ("delivered", "returned_to_sender", "cancelled"),
        "tag": subtag.split("_")[0],
        "subtag": subtag,
        "signed_by": shipment.signed_by or None,
        "courier_estimated_delivery_date": {
            "estimated_delivery_date": shipment.estimated_delivery or None,
            "estimated_delivery_date_min": None,
            "estimated_delivery_date_max": None,
        },
        "checkpoints": checkpoints,
    }


def _seventeen_numbers(request):
    items = request.json()
    if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("number") for i in items):
        raise ValueError("expected a JSON array of {number, carrier}")
    return [str(i["number"]) for i in items], {str(i["number"]): i.get("carrier") for i in items}


def _seventeen_too_many(numbers):
    return {
        "code": SEVENTEEN_TOO_MANY,
        "data": {
            "errors": [
                {"code": SEVENTEEN_TOO_MANY, "message": f"{len(numbers)} numbers sent, at most {SEVENTEEN_BATCH_MAX}."}
            ]
        },
    }


def _seventeen_register(partner, request, behaviour):
    numbers, carriers = _seventeen_numbers(request)
    if len(numbers) > SEVENTEEN_BATCH_MAX:
        return 200, _seventeen_too_many(numbers)
    refused = _rejected_numbers(numbers, behaviour)
    accepted, rejected = [], []
    with partner._lock:
        for number in numbers:
            if number in refused or number in partner.registered:
                rejected.append(_seventeen_reject(number, SEVENTEEN_ALREADY_REGISTERED, "already registered"))
            else:
                partner.registered.add(number)
                accepted.append({"number": number, "carrier": carriers[number] or 0, "origin": 1})
    return 200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}


def _seventeen_trackinfo(partner, request, behaviour):
    numbers, _carriers = _seventeen_numbers(request)
    if len(numbers) > SEVENTEEN_BATCH_MAX:
        return 200, _seventeen_too_many(numbers)
    refused = _rejected_numbers(numbers, behaviour)
    accepted, rejected = [], []
    with partner._lock:
        for number in numbers:
            shipment = partner.shipments.get(number)
            if number in refused or shipment is None or number not in partner.registered:
                rejected.append(_seventeen_reject(number, SEVENTEEN_NOT_REGISTERED, "not registered"))
            else:
                accepted.append(_seventeen_accepted(shipment))
    return 200, {"code": 0, "data": {"accepted": accepted, "rejected": rejected}}


def _seventeen_reject(number, code, message):
    return {"number": number, "error": {"code": code, "message": message}}


def _seventeen_accepted(shipment):
    events = []
    # 17TRACK lists events newest first.
    for event in sorted(shipment.events, key=lambda e: e["at"], reverse=True):
        _status, sub_status, stage = _SEVENTEEN[event["status"]]
        events.append(
            {
                "time_iso": event["at"].isoformat(),
                "time_utc": _utc(event["at"]),
                "description": event.get("message", event["status"]),
                "location": ", ".join(p for p in (event.get("city"), event.get("state")) if p),
                "stage": stage,
                "sub_status": sub_status,
                "address": {
                    "country": event.get("country", ""),
                    "state": event.get("state", ""),
                    "city": event.get("city", ""),
                    "postal_code": event.get("zip", ""),
                },
            }
        )
    latest = shipment.latest
    status_, sub_status, _stage = _SEVENTEEN[latest["status"]] if latest else ("NotFound", "NotFound_Other", "")
    return {
        "number": shipment.tracking_number,
        "carrier": 0,
        "tag": "",
        "track_info": {
            "latest_status": {"status": status_, "sub_status": sub_status, "sub_status_descr": None},
            "latest_event": events[0] if events else None,
            "time_metrics": {
                "estimated_delivery_date": {
                    "source": "Official" if shipment.estimated_delivery else None,
                    "from": shipment.estimated_delivery or None,
                    "to": shipment.estimated_delivery or None,
                }
            },
            "tracking": {
                "providers_hash": 0,
                "providers": [
                    {
                        "provider": {"key": 0, "name": shipment.carrier.upper(), "alias": shipment.carrier},
                        "latest_sync_status": "Success",
                        "events": events,
                    }
                ],
            },
        },
    }


def _easypost_tracker(partner, request, behaviour):
    tracker_id = unquote(request.path[len(EASYPOST_PREFIX) :])
    with partner._lock:
        shipment = next((s for s in partner.shipments.values() if s.tracker_id == tracker_id), None)
    if shipment is None:
        message = "The requested resource could not be found."
        return 404, {"error": {"code": "NOT_FOUND", "message": message, "errors": []}}
    details = []
    for event in sorted(shipment.events, key=lambda e: e["at"]):
        status_, detail = _EASYPOST[event["status"]]
        details.append(
            {
                "object": "TrackingDetail",
                "message": event.get("message", event["status"]),
                "description": event.get("message", ""),
                "status": status_,
                "status_detail": detail,
                "datetime": _utc(event["at"]),
                "source": shipment.carrier.upper(),
                "carrier_code": event.get("raw_tag", ""),
                "tracking_location": {
                    "object": "TrackingLocation",
                    "city": event.get("city") or None,
                    "state": event.get("state") or None,
                    "country": event.get("country") or None,
                    "zip": event.get("zip") or None,
                },
            }
        )
    latest = shipment.latest
    status_, detail = _EASYPOST[latest["status"]] if latest else ("unknown", "unknown")
    stamp = _utc(latest["at"]) if latest else _utc(datetime(2025, 1, 1, tzinfo=timezone.utc))
    return 200, {
        "id": shipment.tracker_id,
        "object": "Tracker",
        "mode": "test",
        "tracking_code": shipment.tracking_number,
        "carrier": shipment.carrier.upper(),
        "status": status_,
        "status_detail": detail,
        "created_at": stamp,
        "updated_at": stamp,
        "signed_by": shipment.signed_by or None,
        "est_delivery_date": f"{shipment.estimated_delivery}T00:00:00Z" if shipment.estimated_delivery else None,
        "tracking_details": details,
        "carrier_detail": {
            "object": "CarrierDetail",
            "est_delivery_date_local": shipment.estimated_delivery or None,
            "est_delivery_time_local": None,
        },
        "finalized": status_ in ("delivered", "cancelled"),
        "is_return": bool(latest) and latest["status"] == "returned_to_sender",
        "public_url": f"https://track.easypost.com/{shipment.tracker_id}",
    }


def _generic_track(partner, request, behaviour):
    number = unquote(request.path[len(GENERIC_PREFIX) :])
    with partner._lock:
        shipment = partner.shipments.get(number)
    if shipment is None:
        return 404, {"message": f"unknown tracking number {number}"}
    events = [
        {
            "id": f"{shipment.tracking_number}-{index}",
            "code": event["status"],
            "class": "actual",
            "occurred_at": event["at"].isoformat(),
            "location": {
                "city": event.get("city", ""),
                "region": event.get("state", ""),
                "postcode": event.get("zip", ""),
                "country": event.get("country", ""),
            },
            "description": event.get("message", ""),
            "raw_code": event.get("raw_tag", ""),
        }
        for index, event in enumerate(sorted(shipment.events, key=lambda e: e["at"]))
    ]
    return 200, {
        "type": "shipment.tracking.updated",
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "data": {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number, "events": events},
    }


def _utc(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
