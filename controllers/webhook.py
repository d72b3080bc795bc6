import logging
import math
import re
import uuid

import psycopg2

from odoo import fields, http
from odoo.http import request

from ..integration import secretbox, signatures
from ..integration.adapters import get_adapter
from ..integration.rejections import REJECTION_REASONS

_logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1024 * 1024
# Werkzeug refuses to buffer more than this whatever the connector allows.
HARD_MAX_BODY = 16 * 1024 * 1024
_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Tokens are ``secrets.token_urlsafe`` values; anything else (a NUL byte, which PostgreSQL
# refuses in a query, or a megabyte of path) cannot be one and is not looked up.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_UNAUTHORIZED = {"error": "unauthorized", "message": "Unknown webhook or invalid signature."}
_TIMESTAMP_REASONS = {"stale_timestamp", "future_timestamp"}
_COUNTED_REASONS = {code for code, _label in REJECTION_REASONS}

def _is_json(mimetype):
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


class ShipmentWebhookController(http.Controller):
    """Receives partner webhooks: verify, store, answer — nothing else in the request.

    Checks run in this order, before any parsing: size (413), content type (415),
    connector token and signature (401, one answer for both), signed timestamp (401 with
    its reason), source network (403), rate limit (429). An accepted message is stored
    in ``shipment.inbox`` and answered 202; the processor does the rest.
    """

    _webhook_url = "/shipment_visibility/webhook/<string:token>"

    @http.route(_webhook_url, type="http", auth="none", methods=["POST"], csrf=False, save_session=False,
                readonly=False, max_content_length=HARD_MAX_BODY)
    def receive(self, token, **_kwargs):
        httprequest = request.httprequest
        given = httprequest.headers.get("X-Correlation-ID", "")
        correlation_id = given if _CORRELATION.match(given) else uuid.uuid4().hex
        if httprequest.method != "POST":
            # Odoo routes OPTIONS to every handler. Partners only POST, server to server:
            # a preflight gets the allowed method and nothing else, and is no rejection.
            status = 204 if httprequest.method == "OPTIONS" else 405
            return request.make_response(b"", headers=[("Allow", "POST"), ("Cache-Control", "no-store"),
                                                       ("X-Correlation-ID", correlation_id)], status=status)
        if not request.db:
            # Served without a database: Odoo could not open it (PostgreSQL restarting, a
            # failover). Reached only when the module is loaded server-wide (``--load``);
            # otherwise Odoo answers 404, which some partners take as final.
            _logger.warning("webhook: no database to store into, asking sender to retry [%s]", correlation_id)
            return self._answer(503, {"error": "unavailable", "message": "Database unavailable, retry later."},
                                correlation_id, extra_headers=[("Retry-After", "30")])
        try:
            return self._receive(token, httprequest, correlation_id)
        except (psycopg2.InterfaceError, psycopg2.OperationalError) as exc:
            if isinstance(exc, psycopg2.errors.TransactionRollbackError):
                raise  # Odoo replays the request on serialization failures.
            request.env.cr.rollback()
            _logger.warning("webhook: database unavailable (%s), asking sender to retry [%s]",
                            exc.__class__.__name__, correlation_id)
            return self._answer(503, {"error": "unavailable", "message": "Database unavailable, retry later."},
                                correlation_id, extra_headers=[("Retry-After", "30")])
        except secretbox.SecretBoxError as exc:
            # Our encryption key is missing or wrong: nothing can be verified, so nothing is
            # stored, and the sender keeps the message until an administrator fixes the key.
            request.env.cr.rollback()
            _logger.error("webhook: connector secrets cannot be decrypted (%s) [%s]", exc, correlation_id)
            return self._answer(503, {"error": "unavailable", "message": "Cannot verify webhooks now, retry later."},
                                correlation_id, extra_headers=[("Retry-After", "300")])

    def _receive(self, token, httprequest, correlation_id):
        # The route is public: the connector is found by its unguessable token, and nothing
        # else is readable before the signature is verified.
        Connector = request.env["shipment.connector"]
        route = Connector._webhook_route(token) if token and _TOKEN.match(token) else None
        # Rejections are counted on the connector, as the system (see _count).
        connector = Connector.sudo().browse(route.connector_id if route else ())

        limit = route.max_body_bytes if route else DEFAULT_MAX_BODY
        if (httprequest.content_length or 0) > limit:
            return self._reject(connector, 413, "body_too_large",
                                f"Body larger than {limit} bytes.", correlation_id)
        if not _is_json(httprequest.mimetype or ""):
            return self._reject(connector, 415, "unsupported_media_type",
                                "Send the body as application/json.", correlation_id)
        body = httprequest.get_data(cache=True)
        if len(body) > limit:  # chunked uploads carry no Content-Length
            return self._reject(connector, 413, "body_too_large",
                                f"Body larger than {limit} bytes.", correlation_id)
        if not route:
            _logger.info("webhook rejected: unknown token [%s]", correlation_id)
            return self._answer(401, _UNAUTHORIZED, correlation_id)

        headers = dict(httprequest.headers.items())
        try:
            verified = signatures.verify(
                route.scheme, body, headers, route.secrets(fields.Datetime.now()), header=route.signature_header,
                tolerance=route.tolerance, jwks=route.jwks())
        except signatures.SignatureError as exc:
            if exc.reason in _TIMESTAMP_REASONS:
                # Timestamps are judged after the signature holds: this sender has the
                # secret, its clock (or a replay) is the problem, and it may know why.
                return self._reject(connector, 401, exc.reason, "Signed timestamp outside the tolerance.",
                                    correlation_id)
            # Whatever else was wrong, an unverified caller gets the answer of an unknown
            # token: it must not learn that this token exists.
            self._count(connector, exc.reason if exc.reason in _COUNTED_REASONS else "bad_signature",
                        correlation_id)
            return self._answer(401, _UNAUTHORIZED, correlation_id)

        if route.networks and not signatures.ip_allowed(httprequest.remote_addr, route.networks):
            return self._reject(connector, 403, "source_not_allowed", "Source address not allowed.",
                                correlation_id)
        if route.rate_limit_per_minute > 0:
            # One bucket in the database for every worker and server; the bucket is the
            # system's bookkeeping, read and written for a public route.
            wait = request.env["shipment.webhook.rate"].sudo()._take(route.connector_id,
                                                                      route.rate_limit_per_minute)
            if wait > 0:
                return self._reject(connector, 429, "rate_limited", "Too many requests.", correlation_id,
                                    extra_headers=[("Retry-After", str(max(1, math.ceil(wait))))])

        external_id = verified.message_id or self._body_message_id(route, body, headers, correlation_id)
        try:
            message_id, created, original_correlation = request.env["shipment.inbox"].sudo()._enqueue(
                connector, body, headers, source="webhook", external_id=external_id,
                correlation_id=correlation_id, company_id=route.company_id, connector_type=route.connector_type)
        except UnicodeError:
            return self._reject(connector, 400, "bad_encoding", "The body must be UTF-8 encoded JSON without NUL "
                                "characters.", correlation_id)
        if not created:
            return self._answer(200, {"status": "duplicate", "message_id": message_id,
                                      "correlation_id": original_correlation}, correlation_id)
        request.env["shipment.inbox"]._trigger_processor()
        return self._answer(202, {"status": "accepted", "message_id": message_id,
                                  "correlation_id": correlation_id}, correlation_id)

    # ------------------------------------------------------------------ #

    @staticmethod
    def _body_message_id(route, body, headers, correlation_id):
        """The partner's message id, when its format puts it in the body (dedup key).

        Never fails the request: without an id the body's hash still deduplicates, and
        the processor reports whatever is wrong with the body on the message itself.
        """
        try:
            return get_adapter(route.connector_type).external_id(body, headers)
        except Exception as exc:  # the message is stored anyway; the processor will judge it
            _logger.info("webhook: no message id read from the body (%s) [%s]", exc.__class__.__name__,
                         correlation_id)
            return None

    def _count(self, connector, reason, correlation_id):
        if connector:
            request.env["shipment.webhook.rejection"].sudo()._count(connector, reason)
        # Never the body, the headers or the secret: only who and why.
        _logger.info("webhook rejected: connector=%s reason=%s [%s]", connector.id or "-", reason, correlation_id)

    def _reject(self, connector, status, reason, message, correlation_id, extra_headers=None):
        self._count(connector, reason, correlation_id)
        return self._answer(status, {"error": reason, "message": message}, correlation_id, extra_headers)

    @staticmethod
    def _answer(status, payload, correlation_id, extra_headers=None):
        headers = [("X-Correlation-ID", correlation_id), ("Cache-Control", "no-store")]
        return request.make_json_response(payload, headers=headers + list(extra_headers or []), status=status)
