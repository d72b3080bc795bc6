import ipaddress
import json
import secrets as token_generator
from datetime import datetime, timezone
from typing import NamedTuple

from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..integration import signatures
from .shipment_connector_secrets import ADMIN_GROUP, secret_box

WEBHOOK_ROUTE = "/shipment_visibility/webhook/"
SIGNATURE_SCHEMES = [
    ("adapter", "Partner's own scheme"),
    ("standard_webhooks", "Standard Webhooks (webhook-id / -timestamp / -signature)"),
    ("hmac_sha256_hex", "HMAC-SHA256 of the body, hex"),
    ("hmac_sha256_base64", "HMAC-SHA256 of the body, base64"),
    ("timestamped_hmac", "Timestamped HMAC (t=…,v1=…)"),
    ("none", "None (only while not live)"),
]
# What the webhook route reads of a connector before it stores a message.
WEBHOOK_ROUTE_FIELDS = [
    "connector_type", "company_id", "max_body_bytes", "signature_scheme", "signature_header",
    "timestamp_tolerance", "rate_limit_per_minute", "ip_allowlist", "jwks", "webhook_previous_secret_expires_at",
]
# Writing any of these changes what the route accepts: its cached view must go.
WEBHOOK_ROUTE_INPUTS = {*WEBHOOK_ROUTE_FIELDS, "active"}


class WebhookRoute(NamedTuple):
    """What the webhook route checks of one connector, cached per token in each worker.

    Secrets stay encrypted here; they are decrypted (and the previous one's window
    checked) on each call.
    """

    connector_id: int
    company_id: int
    connector_type: str
    scheme: str
    signature_header: str | None
    tolerance: int
    max_body_bytes: int
    rate_limit_per_minute: int
    networks: tuple
    jwks_text: str | None
    secret: str | None
    previous_secret: str | None
    previous_secret_expires_at: datetime | None

    def secrets(self, now):
        """Decrypted secrets accepted at ``now`` (naive UTC): the current one, then the
        previous one within its window."""
        box, _source = secret_box()
        candidates = [box.decrypt(self.secret)] if self.secret else []
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            candidates.append(box.decrypt(self.previous_secret))
        return candidates

    def jwks(self):
        return json.loads(self.jwks_text) if self.jwks_text else None


class UnknownWebhookToken(LookupError):
    """No active webhook connector has this token (not cached: any string can be sent)."""


class ShipmentConnector(models.Model):
    """Webhook reception: the connector's URL, how senders prove who they are, limits."""

    _inherit = "shipment.connector"

    webhook_token = fields.Char(copy=False, readonly=True, index=True, groups=ADMIN_GROUP)
    webhook_url = fields.Char(compute="_compute_webhook_url", groups=ADMIN_GROUP)
    signature_scheme = fields.Selection(
        SIGNATURE_SCHEMES, required=True, default="adapter", tracking=True,
        help="How senders prove they know the webhook secret. 'Partner's own scheme' uses "
             "the documented scheme of the connector type (Standard Webhooks for generic JSON).")
    signature_header = fields.Char(
        help="Header carrying the signature for the HMAC schemes (default X-Signature, "
             "'Signature' for timestamped HMAC).")
    timestamp_tolerance = fields.Integer(
        string="Timestamp Tolerance (s)", default=300,
        help="Signed timestamps further than this in the past or the future are refused.")
    max_body_bytes = fields.Integer(string="Maximum Body Size (bytes)", default=1024 * 1024)
    rate_limit_per_minute = fields.Integer(
        default=600, help="Webhooks accepted per minute; a sixth of it may come back to back. Shared by the "
             "workers of one server (with several servers, each applies it); 0 disables the limit.")
    ip_allowlist = fields.Char(
        string="Allowed Source Networks", groups=ADMIN_GROUP,
        help="Comma-separated CIDR networks, checked in addition to the signature, never "
             "instead of it. Empty: any source.")
    jwks = fields.Text(
        string="Public Key Set (JWKS)", groups=ADMIN_GROUP,
        help="ShipEngine: the JSON Web Key Set its signatures are checked against.")
    rejection_ids = fields.One2many("shipment.webhook.rejection", "connector_id", string="Rejections")
    example_request = fields.Text(compute="_compute_example_request", groups=ADMIN_GROUP)

    _sql_constraints = [
        ("webhook_token_unique", "unique(webhook_token)", "Webhook tokens must be unique."),
        ("max_body_positive", "CHECK(max_body_bytes > 0)", "The maximum body size must be positive."),
    ]

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("webhook_token")
    def _compute_webhook_url(self):
        # The public base URL is a system parameter that integration admins may not read.
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for connector in self:
            connector.webhook_url = f"{base_url}{WEBHOOK_ROUTE}{connector.webhook_token}" \
                if connector.webhook_token else False

    @api.depends("signature_scheme", "signature_header", "connector_type", "webhook_token")
    def _compute_example_request(self):
        for connector in self:
            connector.example_request = connector._example_request()

    # ------------------------------------------------------------------ #
    # CONSTRAINTS AND CRUD
    # ------------------------------------------------------------------ #

    @api.model_create_multi
    def create(self, vals_list):
        connectors = super().create(vals_list)
        # The token is set after the INSERT, by id: Odoo logs a refused INSERT with all
        # its values, and the token is what makes the URL secret.
        for connector in connectors:
            if connector.support_webhook:
                connector._set_webhook_token()
        connectors._check_live_requires_verification()
        return connectors

    def write(self, vals):
        result = super().write(vals)
        if WEBHOOK_ROUTE_INPUTS & set(vals):
            self.env.registry.clear_cache()
        if "connector_type" in vals:
            for connector in self.sudo():  # the token column is integration-admin data
                if connector.support_webhook and not connector.webhook_token:
                    connector._set_webhook_token()
        if {"mode", "signature_scheme", "jwks", "active", "connector_type", "poll_enabled"} & set(vals):
            self._check_live_requires_verification()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()  # the route's cached view of these connectors
        return result

    def _set_webhook_token(self):
        self.ensure_one()
        self.env.execute_query(SQL("UPDATE shipment_connector SET webhook_token = %s WHERE id = %s",
                                   token_generator.token_urlsafe(32), self.id))
        self.invalidate_recordset(["webhook_token", "webhook_url", "example_request"])
        self.env.registry.clear_cache()

    def _check_live_requires_verification(self):
        # Not an @api.constrains: the write-only secret is stored by its inverse, after
        # constraints of the same create() have run. Read as system: the key set is
        # integration-admin configuration, whoever saves the connector.
        for connector in self.sudo():
            if connector.mode != "live" or not connector.support_webhook:
                continue
            if connector.signature_scheme == "none":
                raise ValidationError(_(
                    "Connector %s cannot be live without signature verification: choose a "
                    "signature scheme first.", connector.name))
            if connector.poll_enabled and connector.support_polling:
                # A connector that only polls needs no webhook secret: without one, every
                # webhook sent to it is refused (counted as "No secret configured").
                continue
            if connector._effective_scheme() == signatures.SHIPENGINE:
                if not connector.jwks:
                    raise ValidationError(_("Connector %s needs ShipEngine's public key set (JWKS) "
                                            "before it can be live.", connector.name))
            elif not connector.has_webhook_secret:
                raise ValidationError(_("Connector %s needs a webhook secret before it can be live.",
                                        connector.name))

    @api.constrains("ip_allowlist")
    def _check_ip_allowlist(self):
        for connector in self:
            for cidr in connector._allowed_networks():
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise ValidationError(_("“%s” is not a network (use CIDR, e.g. 52.4.41.98/32).", cidr)) \
                        from None

    @api.constrains("jwks")
    def _check_jwks(self):
        for connector in self:
            if not connector.jwks:
                continue
            try:
                keys = json.loads(connector.jwks).get("keys")
            except (ValueError, AttributeError):
                keys = None
            if not isinstance(keys, list) or not keys:
                raise ValidationError(_("The public key set must be a JSON object with a non-empty 'keys' list."))

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_regenerate_webhook_token(self):
        for connector in self:
            connector._set_webhook_token()
            connector._message_log(body=_("Webhook URL regenerated: the previous URL no longer works."))

    # ------------------------------------------------------------------ #
    # THE ROUTE'S VIEW
    # ------------------------------------------------------------------ #

    @api.model
    def _webhook_route(self, token):
        """What the route checks for webhooks sent to ``token``, or None for no connector.

        :rtype: WebhookRoute | None
        """
        try:
            return self._webhook_route_cached(token)
        except UnknownWebhookToken:
            return None

    @api.model
    @tools.ormcache("token")
    def _webhook_route_cached(self, token):
        # Cached in each worker, like Odoo's own configuration lookups: the route then
        # needs no query to know a connector. Writes to what it reads clear the cache of
        # every worker (see write, unlink and the secrets' cipher columns). Runs as the
        # system: the route has no user, and its settings are integration-admin data.
        connector = self.sudo().search_fetch(
            [("webhook_token", "=", token), ("support_webhook", "=", True)], WEBHOOK_ROUTE_FIELDS, limit=1)
        if not connector:
            raise UnknownWebhookToken(token)
        return connector._route_view()

    def _route_view(self):
        """This connector as the webhook route sees it.

        :rtype: WebhookRoute
        """
        self.ensure_one()
        connector = self.sudo()  # integration-admin fields (secrets, key set, allowlist)
        ciphers = connector._ciphers().get(connector.id, {})
        return WebhookRoute(
            connector_id=connector.id,
            company_id=connector.company_id.id,
            connector_type=connector.connector_type,
            scheme=connector._effective_scheme(),
            signature_header=connector.signature_header or None,
            tolerance=connector.timestamp_tolerance or 300,
            max_body_bytes=connector.max_body_bytes,
            rate_limit_per_minute=connector.rate_limit_per_minute,
            networks=tuple(connector._allowed_networks()),
            jwks_text=connector.jwks or None,
            secret=ciphers.get("webhook_secret_cipher") or None,
            previous_secret=ciphers.get("webhook_previous_secret_cipher") or None,
            previous_secret_expires_at=connector.webhook_previous_secret_expires_at or None,
        )

    def _effective_scheme(self):
        """The signature scheme code of :mod:`integration.signatures` this connector checks."""
        self.ensure_one()
        if self.signature_scheme != "adapter":
            return self.signature_scheme
        return self._descriptor().signature_scheme or signatures.STANDARD_WEBHOOKS

    def _allowed_networks(self):
        # The allowlist is integration-admin configuration, checked by the public route.
        return [part.strip() for part in (self.sudo().ip_allowlist or "").split(",") if part.strip()]

    def _example_request(self):
        """A curl command with a correctly signed sample body in the partner's own format,
        for the partner's engineers."""
        self.ensure_one()
        raw = self.sudo()
        if not raw.webhook_token or self.signature_scheme == "none" or not self.support_webhook:
            return False
        scheme = self._effective_scheme()
        if scheme == signatures.SHIPENGINE:
            return _("ShipEngine signs with its own RSA key: no example can be signed here.")
        example = self._descriptor().example
        if example is None:
            return _("This partner publishes no sample message to sign here.")
        secrets = self._webhook_secrets()
        if not secrets:
            return _("Set a webhook secret to see a signed example request.")
        body = example(fields.Datetime.now().replace(microsecond=0, tzinfo=timezone.utc))
        headers = signatures.sign(scheme, body, secrets[0], header=self.signature_header or None,
                                  message_id="msg-example-1")
        lines = [f"curl -X POST '{raw.webhook_url}' \\", "  -H 'Content-Type: application/json' \\"]
        lines += [f"  -H '{name}: {value}' \\" for name, value in headers.items()]
        lines.append(f"  --data-raw '{body.decode()}'")
        return "\n".join(lines)
