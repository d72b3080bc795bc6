"""The REST API for consumers: canonical shipments and events under ``/api/shipment/v1``.

Callers are service accounts (see ``models/res_users_shipment_api.py``) presenting one
of their scoped keys as ``Authorization: Bearer <key>``. Every read runs as that account,
so the record rules draw its partition: a customer-bound account finds another
customer's shipment exactly as it finds a shipment that does not exist (404).
"""

import hashlib
import json
import logging
import math
import os
import re
import threading
import uuid

import psycopg2

from odoo import fields, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request
from odoo.tools import SQL

from odoo.addons.base.models.res_users import KEY_CRYPT_CONTEXT

from ..integration import api_contract as contract
from ..integration.api_contract import ApiProblem
from ..integration.events import EventError, normalize_tracking_number
from ..integration.ratelimit import SharedTokenBucket, TokenBucket, bucket_directory
from ..models.res_users_shipment_api import API_KEY_SCOPE, CONSUMER_GROUP

_logger = logging.getLogger(__name__)

PREFIX = contract.API_PREFIX
MAX_BODY_BYTES = 256 * 1024
DEFAULT_RATE_PER_MINUTE = 600
RATE_PARAMETER = "shipment_visibility.api_rate_limit_per_minute"
REGISTER_GROUP = "shipment_visibility.group_shipment_api_register"
EVENTS_GROUP = "shipment_visibility.group_shipment_api_events"
_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_BEARER = re.compile(r"^bearer\s+([\x21-\x7e]{1,200})$", re.IGNORECASE)
_COMPONENTS = contract.openapi_document()["components"]["schemas"]
_BUCKETS = {}
_BUCKETS_LOCK = threading.Lock()
# Keys already verified in this process: (database, SHA-256 of the key) -> (user id, key id).
# Verifying a key against its stored hash costs a key derivation (tens of milliseconds,
# by design); a key seen before is only checked to still exist, unexpired, for an active
# user: one indexed query, so that a revoked key stops at its next request all the same.
_VERIFIED_KEYS = {}
_VERIFIED_KEYS_MAX = 10000


def _rate_bucket(dbname, key_id, key_index, per_minute):
    """The bucket of one API key: ``per_minute`` calls, a minute's worth back to back.

    Shared by the worker processes of this host through a file (see
    :class:`integration.ratelimit.SharedTokenBucket`); the key's public index is part of
    the name, so that a key id reused by a new database never inherits an old count.
    """
    rate, burst = per_minute / 60.0, per_minute
    cache_key = (dbname, key_id)
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(cache_key)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            if isinstance(bucket, SharedTokenBucket):
                bucket.close()
            safe_db = re.sub(r"[^A-Za-z0-9_.-]", "_", dbname)
            safe_index = re.sub(r"[^A-Za-z0-9]", "_", key_index)
            try:
                bucket = SharedTokenBucket(
                    os.path.join(bucket_directory(), f"api-{safe_db}-{int(key_id)}-{safe_index}.bucket"),
                    rate, burst=burst)
            except OSError as exc:
                _logger.warning("API rate limit of key %s kept per worker process: %s", key_id, exc)
                bucket = TokenBucket(rate, burst=burst)
            _BUCKETS[cache_key] = bucket
        return bucket


class _Call:
    """What one request carries through the frame: controllers are shared by threads."""

    __slots__ = ("correlation_id", "rate_headers")

    def __init__(self, correlation_id):
        self.correlation_id = correlation_id
        self.rate_headers = []


class ShipmentApiController(http.Controller):

    # ------------------------------------------------------------------ routes: reads

    @http.route(f"{PREFIX}/openapi.json", type="http", auth="none", methods=["GET"], csrf=False,
                save_session=False, readonly=True)
    def openapi(self, **_kwargs):
        """The contract is public: it holds no data, and clients generate code from it."""
        document = contract.openapi_document(request.httprequest.host_url.rstrip("/"))
        body = json.dumps(document, indent=1).encode()
        return request.make_response(body, headers=[("Content-Type", "application/json"),
                                                    ("Cache-Control", "public, max-age=300")])

    @http.route(f"{PREFIX}/shipments", type="http", auth="public", methods=["GET"], csrf=False,
                save_session=False, readonly=True)
    def list_shipments(self, **_kwargs):
        return self._handle(self._list_shipments)

    @http.route(f"{PREFIX}/shipments", type="http", auth="public", methods=["POST"], csrf=False,
                save_session=False, readonly=False)
    def register_shipment(self, **_kwargs):
        return self._handle(self._register_shipment, group=REGISTER_GROUP)

    @http.route(f"{PREFIX}/shipments/<string:shipment_id>", type="http", auth="public", methods=["GET"],
                csrf=False, save_session=False, readonly=True)
    def get_shipment(self, shipment_id, **_kwargs):
        return self._handle(self._get_shipment, shipment_id)

    @http.route(f"{PREFIX}/shipments/<string:shipment_id>/events", type="http", auth="public", methods=["GET"],
                csrf=False, save_session=False, readonly=True)
    def shipment_events(self, shipment_id, **_kwargs):
        return self._handle(self._shipment_events, shipment_id)

    @http.route(f"{PREFIX}/lookup", type="http", auth="public", methods=["GET"], csrf=False,
                save_session=False, readonly=True)
    def lookup(self, **_kwargs):
        return self._handle(self._lookup)

    @http.route(f"{PREFIX}/exceptions", type="http", auth="public", methods=["GET"], csrf=False,
                save_session=False, readonly=True)
    def exceptions(self, **_kwargs):
        return self._handle(self._exceptions)

    @http.route(f"{PREFIX}/events", type="http", auth="public", methods=["POST"], csrf=False,
                save_session=False, readonly=False)
    def push_events(self, **_kwargs):
        return self._handle(self._push_events, group=EVENTS_GROUP)

    # ------------------------------------------------------------------ the frame of every call

    def _handle(self, handler, *args, group=None):
        """Authenticate, rate-limit, check the scope, run ``handler``; every error as a problem."""
        httprequest = request.httprequest
        given = httprequest.headers.get("X-Correlation-ID", "")
        call = _Call(given if _CORRELATION.match(given) else uuid.uuid4().hex)
        try:
            self._authenticate(call)
            if group and not request.env.user.has_group(group):
                raise ApiProblem("forbidden", "This service account may not do this: ask for the scope "
                                              f"{group.split('.')[-1].removeprefix('group_shipment_api_')}.")
            return handler(call, *args)
        except ApiProblem as problem:
            return self._problem(call, problem)
        except (AccessError, MissingError):
            # Whatever the rules hide is, to this account, not there.
            return self._problem(call, ApiProblem("not-found", "No such resource."))
        except (psycopg2.InterfaceError, psycopg2.OperationalError) as exc:
            if isinstance(exc, psycopg2.errors.TransactionRollbackError):
                raise  # Odoo replays the request on serialization failures.
            request.env.cr.rollback()
            _logger.warning("API: database unavailable (%s) [%s]", exc.__class__.__name__, call.correlation_id)
            return self._problem(call, ApiProblem("unavailable", "Database unavailable, retry later.",
                                            headers={"Retry-After": "30"}))

    def _authenticate(self, call):
        header = request.httprequest.headers.get("Authorization", "")
        match = _BEARER.match(header.strip())
        if not match:
            raise ApiProblem("unauthorized", "Send a service account's key as 'Authorization: Bearer <key>'.",
                             headers={"WWW-Authenticate": 'Bearer realm="shipment-api"'})
        key = match.group(1)
        uid, key_id = self._verify_key(key)
        # The key's check joined its user, active and a service account: no second read of it.
        user = request.env["res.users"].sudo().browse(uid) if uid else None
        if not user or not user.has_group(CONSUMER_GROUP):
            raise ApiProblem("unauthorized", "Unknown, expired or revoked key.",
                             headers={"WWW-Authenticate": 'Bearer realm="shipment-api", error="invalid_token"'})
        request.update_env(user=user.id)
        self._rate_limit(call, key_id, key[:8])

    @staticmethod
    def _verify_key(key):
        """``(user id, key id)`` of a valid key of the API's scope held by an active service
        account, else ``(None, None)``: a person's key (even a global one) does not open this
        API."""
        env = request.env
        cache_key = (env.cr.dbname, hashlib.sha256(key.encode()).hexdigest())
        cached = _VERIFIED_KEYS.get(cache_key)
        if cached:
            uid, key_id = cached
            still_valid = env.execute_query(SQL(
                """
                SELECT 1 FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id
                 WHERE k.id = %s AND k.user_id = %s AND u.active AND u.is_shipment_api_account
                   AND (k.scope IS NULL OR k.scope = %s)
                   AND (k.expiration_date IS NULL OR k.expiration_date >= now() at time zone 'utc')
                """, key_id, uid, API_KEY_SCOPE))
            if still_valid:
                return uid, key_id
            _VERIFIED_KEYS.pop(cache_key, None)
        # Odoo's own check decides; then the key's row is named for the cache and the limiter.
        uid = env["res.users.apikeys"]._check_credentials(scope=API_KEY_SCOPE, key=key)
        if not uid:
            return None, None
        rows = env.execute_query(SQL(
            """
            SELECT k.id, k.key FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id
             WHERE k.user_id = %s AND k.index = %s AND u.is_shipment_api_account ORDER BY k.id
            """, uid, key[:8]))
        key_id = rows[0][0] if len(rows) == 1 else next(
            (row_id for row_id, hashed in rows if KEY_CRYPT_CONTEXT.verify(key, hashed)), None)
        if key_id is None:
            return None, None
        if len(_VERIFIED_KEYS) >= _VERIFIED_KEYS_MAX:
            _VERIFIED_KEYS.clear()
        _VERIFIED_KEYS[cache_key] = (uid, key_id)
        return uid, key_id

    def _rate_limit(self, call, key_id, key_index):
        per_minute = int(request.env["ir.config_parameter"].sudo().get_param(RATE_PARAMETER,
                                                                             DEFAULT_RATE_PER_MINUTE) or 0)
        if per_minute <= 0:
            return
        bucket = _rate_bucket(request.env.cr.dbname, key_id, key_index, per_minute)
        wait = bucket.acquire(blocking=False)
        remaining = max(0, math.floor(bucket.tokens))
        reset = math.ceil(max(0.0, 1 - bucket.tokens) / bucket.rate) if remaining == 0 else 0
        call.rate_headers = [("RateLimit-Limit", str(per_minute)), ("RateLimit-Remaining", str(remaining)),
                              ("RateLimit-Reset", str(reset))]
        if wait > 0:
            raise ApiProblem("rate-limited", f"More than {per_minute} requests a minute with this key.",
                             headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def _problem(self, call, problem):
        body = json.dumps(problem.document(request.httprequest.path)).encode()
        headers = [("Content-Type", contract.PROBLEM_MEDIA_TYPE), ("Cache-Control", "no-store"),
                   ("X-Correlation-ID", call.correlation_id), *call.rate_headers, *problem.headers.items()]
        return request.make_response(body, headers=headers, status=problem.status)

    def _answer(self, call, payload, status=200, extra_headers=()):
        """A JSON answer; reads carry an ETag and honour ``If-None-Match`` (304)."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = [("Content-Type", "application/json"), ("X-Correlation-ID", call.correlation_id),
                   ("Vary", "Authorization"), *call.rate_headers, *extra_headers]
        if request.httprequest.method == "GET" and status == 200:
            tag = contract.etag(body)
            headers += [("ETag", tag), ("Cache-Control", "private, no-cache")]
            if contract.etag_matches(request.httprequest.headers.get("If-None-Match"), tag):
                return request.make_response(b"", headers=[h for h in headers if h[0] != "Content-Type"],
                                             status=304)
        else:
            headers.append(("Cache-Control", "no-store"))
        return request.make_response(body, headers=headers, status=status)

    def _args(self, allowed):
        args = request.httprequest.args
        for name in args:
            if name not in allowed:
                raise contract.parameter_problem(name, "unknown parameter")
            if len(args.getlist(name)) > 1:
                raise contract.parameter_problem(name, "given more than once")
        return {name: args.get(name) for name in args}

    @staticmethod
    def _cursor_secret():
        # Signing with the database's own secret: cursors of one database mean nothing in another.
        return request.env["ir.config_parameter"].sudo().get_param("database.secret")

    # ------------------------------------------------------------------ shipments

    def _documents(self, shipments, fields_wanted=None):
        # The account's rules chose these shipments; the carrier, order and customer
        # names are part of what it may see of them, even without rights on those models.
        documents = shipments.sudo()._canonical_documents()
        result = []
        for shipment in shipments:
            document = documents[shipment.id]
            result.append({name: document[name] for name in fields_wanted} if fields_wanted else document)
        return result

    def _shipment_domain(self, filters):
        domain = []
        if "status" in filters:
            domain.append(("status", "in", filters["status"]))
        if "carrier" in filters:
            domain.append(("carrier_id", "in", self._carrier_ids(filters["carrier"])))
        if "tracking_number" in filters:
            domain.append(("tracking_number", "=", self._tracking_number("tracking_number",
                                                                         filters["tracking_number"])))
        # Delivery and sale orders are not the account's to read: they are searched as
        # the system only to name the shipments, which the account's rules then filter.
        if "order_reference" in filters:
            pickings = request.env["stock.picking"].sudo().search(
                ["|", ("name", "=", filters["order_reference"]), ("sale_id.name", "=", filters["order_reference"])])
            domain.append(("picking_id", "in", pickings.ids))
        if "customer_reference" in filters:
            pickings = request.env["stock.picking"].sudo().search(
                [("sale_id.client_order_ref", "=", filters["customer_reference"])])
            domain.append(("picking_id", "in", pickings.ids))
        if "exception" in filters:
            domain.append(("exception_state", "!=" if filters["exception"] else "=", "none"))
        if "updated_since" in filters:
            domain.append(("write_date", ">=", filters["updated_since"]))
        return domain

    @staticmethod
    def _carrier_ids(value):
        if value.isdigit():
            return [int(value)] if int(value) <= 2**31 - 1 else []
        # Carrier names are public knowledge (they are on every delivery slip).
        return request.env["delivery.carrier"].sudo().with_context(active_test=False).search(
            [("name", "=ilike", value)]).ids

    @staticmethod
    def _tracking_number(name, value):
        try:
            return normalize_tracking_number(value)
        except EventError:
            raise contract.parameter_problem(name, "not a tracking number") from None

    def _list_shipments(self, call):
        filters, limit, cursor, fields_wanted = contract.parse_shipment_query(self._args(contract.LIST_PARAMETERS))
        domain = self._shipment_domain(filters)
        secret = self._cursor_secret()
        if cursor is not None:
            domain.append(("id", ">", contract.read_cursor(secret, cursor, filters)))
        # Ascending ids: a shipment created while a client pages lands after its cursor,
        # so no page repeats or skips one.
        shipments = request.env["shipment.shipment"].search(domain, order="id", limit=limit + 1)
        page = shipments[:limit]
        next_cursor = contract.make_cursor(secret, page[-1].id, filters) if len(shipments) > limit else None
        return self._answer(call, {"data": self._documents(page, fields_wanted), "next_cursor": next_cursor})

    def _visible_shipment(self, raw_id):
        shipment_id = contract.parse_id("shipment_id", raw_id)
        shipment = request.env["shipment.shipment"].search([("id", "=", shipment_id)])
        if not shipment:
            raise ApiProblem("not-found", f"No shipment {shipment_id}.")
        return shipment

    def _get_shipment(self, call, raw_id):
        args = self._args({"fields"})
        fields_wanted = contract.parse_fields(args.get("fields"))
        shipment = self._visible_shipment(raw_id)
        return self._answer(call, self._documents(shipment, fields_wanted)[0])

    def _shipment_events(self, call, raw_id):
        self._args(set())
        shipment_id = contract.parse_id("shipment_id", raw_id)
        events = request.env["shipment.shipment"]._visible_event_documents(shipment_id)
        if events is None:
            raise ApiProblem("not-found", f"No shipment {shipment_id}.")
        events.sort(key=lambda event: (event["occurred_at"] or "", event["id"]))
        return self._answer(call, {"data": events})

    def _lookup(self, call):
        args = self._args({"carrier", "tracking_number"})
        for name in ("carrier", "tracking_number"):
            if name not in args:
                raise contract.parameter_problem(name, "required")
        carrier = contract.parse_text("carrier", args["carrier"])
        number = self._tracking_number("tracking_number", contract.parse_text("tracking_number",
                                                                              args["tracking_number"]))
        # Carriers recycle tracking numbers: the newest shipment is the one meant.
        shipments = request.env["shipment.shipment"].search(
            [("carrier_id", "in", self._carrier_ids(carrier)), ("tracking_number", "=", number)],
            order="create_date desc, id desc", limit=contract.MAX_LIMIT)
        if not shipments:
            raise ApiProblem("not-found", f"No shipment {number} at carrier {carrier}.")
        others = [{"id": other.id, "href": f"{PREFIX}/shipments/{other.id}"} for other in shipments[1:]]
        return self._answer(call, {"data": self._documents(shipments[:1])[0], "others": others})

    def _exceptions(self, call):
        args = self._args({"limit", "cursor"})
        limit = contract.parse_limit(args.get("limit"))
        filters = {"_exceptions": True}
        domain = [("state", "in", ("open", "acknowledged"))]
        secret = self._cursor_secret()
        if args.get("cursor") is not None:
            domain.append(("id", ">", contract.read_cursor(secret, args["cursor"], filters)))
        records = request.env["shipment.exception"].search(domain, order="id", limit=limit + 1)
        page = records[:limit]
        now = fields.Datetime.now()
        data = []
        # Read as the system: the desk's own fields (assignee, notes) are not asked for.
        for record in page.sudo():
            data.append({
                "id": record.id, "shipment_id": record.shipment_id.id,
                "tracking_number": record.shipment_id.tracking_number, "kind": record.kind,
                "state": record.state, "reason": record.reason,
                "opened_at": contract.canonical.iso_utc(record.opened_at),
                "age_seconds": max(0, int((now - record.opened_at).total_seconds())),
                "href": f"{PREFIX}/shipments/{record.shipment_id.id}",
            })
        next_cursor = contract.make_cursor(secret, page[-1].id, filters) if len(records) > limit else None
        return self._answer(call, {"data": data, "next_cursor": next_cursor})

    # ------------------------------------------------------------------ writes

    def _json_body(self):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            raise ApiProblem("payload-too-large", f"Bodies are limited to {MAX_BODY_BYTES} bytes.")
        mimetype = httprequest.mimetype or ""
        if mimetype != "application/json":
            raise ApiProblem("unsupported-media-type", "Send the body as application/json.")
        body = httprequest.get_data(cache=True)
        if len(body) > MAX_BODY_BYTES:
            raise ApiProblem("payload-too-large", f"Bodies are limited to {MAX_BODY_BYTES} bytes.")
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            raise ApiProblem("malformed-body", "The body is not JSON (UTF-8).") from None
        if nul := contract.nul_characters(document):
            raise ApiProblem("validation-failed", "Text cannot hold NUL characters.",
                             [{"detail": "holds a NUL character", "pointer": pointer} for pointer in nul[:20]])
        return body, document

    def _validate(self, schema_name, document):
        errors = contract.validation_errors(self._schema(schema_name), document)
        if errors:
            raise ApiProblem("validation-failed", f"{len(errors)} error(s), the first at "
                                                  f"'{errors[0]['pointer'] or '/'}': {errors[0]['detail']}",
                             errors=errors)

    @staticmethod
    def _schema(name):
        schema = dict(_COMPONENTS[name])
        # Resolve the component references of the OpenAPI document within one schema.
        schema["$defs"] = dict(_COMPONENTS)
        return json.loads(json.dumps(schema).replace('"#/components/schemas/', '"#/$defs/'))

    def _register_shipment(self, call):
        self._args(set())
        env = request.env
        idempotency_key = contract.check_idempotency_key(request.httprequest.headers.get("Idempotency-Key"))
        body, document = self._json_body()
        fingerprint = contract.request_fingerprint("POST", request.httprequest.path, body)
        Idempotency = env["shipment.api.idempotency"].sudo()
        route = "POST /shipments"
        if idempotency_key:
            # Requests with one key wait for each other: the second sees the first's answer.
            env.cr.execute(SQL("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                               f"shipment-api:{env.uid}:{idempotency_key}"))
            stored = Idempotency._lookup(env.uid, route, idempotency_key)
            if stored:
                request_sha256, status, response = stored
                if request_sha256 != fingerprint:
                    raise ApiProblem("idempotency-key-reused",
                                     "This Idempotency-Key was used with another request body.",
                                     [{"detail": "used with another request body", "parameter": "Idempotency-Key"}])
                return self._answer(call, json.loads(response), status=status,
                                    extra_headers=[("Idempotent-Replayed", "true")])
        self._validate("RegisterShipment", document)
        status, payload, headers = self._create_shipment(document)
        if idempotency_key:
            Idempotency._store(env.uid, route, idempotency_key, fingerprint, status, json.dumps(payload))
        return self._answer(call, payload, status=status, extra_headers=headers)

    def _create_shipment(self, document):
        env = request.env
        user = env.user
        company = env.company
        try:
            number = normalize_tracking_number(document["tracking_number"])
        except EventError:
            raise ApiProblem("validation-failed", "Not a tracking number.",
                             [{"detail": "not a tracking number", "pointer": "/tracking_number"}]) from None
        # Carriers, delivery orders and the new shipment are the system's: what the account
        # may name and see is checked here, and the result against its rules below.
        carrier = env["delivery.carrier"].sudo()
        if document.get("carrier_id"):
            carrier = carrier.browse(int(document["carrier_id"])).exists()  # JSON may say 7.0
            if not carrier or (carrier.company_id and carrier.company_id != company):
                raise ApiProblem("validation-failed", "Unknown carrier.",
                                 [{"detail": "unknown carrier", "pointer": "/carrier_id"}])
        bound = user.shipment_api_partner_id
        picking = env["stock.picking"].sudo()
        if document.get("order_reference"):
            reference = document["order_reference"].strip()
            candidates = picking.search([("company_id", "=", company.id), ("picking_type_code", "=", "outgoing"),
                                         "|", ("name", "=", reference), ("sale_id.name", "=", reference)],
                                        order="id desc")
            if bound:
                candidates = candidates.filtered(
                    lambda p: bound in (p.partner_id.commercial_partner_id, p.sale_id.partner_id.commercial_partner_id))
            picking = candidates[:1]
        if not carrier and picking.carrier_id:
            carrier = picking.carrier_id
        Shipment = env["shipment.shipment"].sudo().with_context(active_test=False)
        existing = Shipment.search([("company_id", "=", company.id), ("tracking_number", "=", number),
                                    ("carrier_id", "=", carrier.id or False), ("shadow", "=", False)], limit=1)
        if existing:
            visible = env["shipment.shipment"].search([("id", "=", existing.id)])
            detail = (f"Tracking number {number} is already followed as shipment {existing.id}." if visible
                      else f"Tracking number {number} is already followed at this carrier.")
            raise ApiProblem("conflict", detail)
        values = {"tracking_number": number, "company_id": company.id, "carrier_id": carrier.id or False,
                  "picking_id": picking.id or False,
                  "connector_id": env["shipment.connector"].sudo()._find_for_carrier(carrier, company).id or False}
        if bound and not picking:
            values["partner_id"] = bound.id
        shipment = Shipment.create(values)
        visible = env["shipment.shipment"].search([("id", "=", shipment.id)])
        return 201, self._documents(visible)[0], [("Location", f"{PREFIX}/shipments/{shipment.id}")]

    def _push_events(self, call):
        self._args(set())
        env = request.env
        body, document = self._json_body()
        self._validate("TrackingUpdated", document)
        try:
            number = normalize_tracking_number(document["data"]["tracking_number"])
        except EventError:
            raise ApiProblem("validation-failed", "Not a tracking number.",
                             [{"detail": "not a tracking number", "pointer": "/data/tracking_number"}]) from None
        if env.user.shipment_api_partner_id and not env["shipment.shipment"].search_count(
                [("tracking_number", "=", number)], limit=1):
            # A customer's system reports on its own shipments only; unknown and
            # another customer's look the same.
            raise ApiProblem("validation-failed", "None of your shipments has this tracking number.",
                             [{"detail": "not one of your shipments", "pointer": "/data/tracking_number"}])
        company = env.company
        # The inbox and the connector of entries made by people and systems are the
        # system's: the account only hands its message over, like a partner's webhook.
        connector = env["shipment.connector"]._manual_entry_connector(company)
        Inbox = env["shipment.inbox"].sudo()
        try:
            message_id, created, correlation_id = Inbox._enqueue(
                connector, body, {"User-Agent": f"Shipment API account {env.uid}"}, source="api",
                correlation_id=call.correlation_id, company_id=company.id)
        except UnicodeError:
            raise ApiProblem("malformed-body", "The body must be UTF-8 JSON without NUL characters.") from None
        if created:
            Inbox._trigger_processor()
        return self._answer(call, {"status": "accepted" if created else "duplicate", "message_id": message_id,
                             "correlation_id": correlation_id}, status=202 if created else 200)
