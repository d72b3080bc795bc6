import hashlib
import json
import logging
import os
import secrets as token_generator
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..integration import polling, secretbox, signatures
from ..integration.netguard import AddressPolicy, BlockedDestination
from ..integration.adapters import WEBHOOK_TYPES, AdapterContext, ParseError, get_adapter
from ..integration.transport import (
    CircuitBreaker,
    CircuitOpenError,
    RateLimitedError,
    Transport,
    TransportConfig,
    TransportConfigError,
    TransportError,
    redact_headers,
)
from .shipment_inbox import STATES as INBOX_STATES

_logger = logging.getLogger(__name__)

CONNECTOR_TYPES = [
    ("generic_json", "Generic JSON (native format)"),
    ("aftership", "AfterShip"),
    ("easypost", "EasyPost"),
    ("shippo", "Shippo"),
    ("seventeentrack", "17TRACK"),
    ("shipengine", "ShipEngine / ShipStation API"),
    ("edi_x12_214", "ANSI X12 EDI 214"),
    ("csv", "CSV file"),
    ("manual", "Manual entry"),
]
SIGNATURE_SCHEMES = [
    ("adapter", "Partner's own scheme"),
    ("standard_webhooks", "Standard Webhooks (webhook-id / -timestamp / -signature)"),
    ("hmac_sha256_hex", "HMAC-SHA256 of the body, hex"),
    ("hmac_sha256_base64", "HMAC-SHA256 of the body, base64"),
    ("timestamped_hmac", "Timestamped HMAC (t=…,v1=…)"),
    ("none", "None (only while not live)"),
]
WEBHOOK_ROUTE = "/shipment_visibility/webhook/"
OUTBOUND_ALLOWED_HOSTS_PARAM = "shipment_visibility.outbound_allowed_hosts"
ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"
# Secret columns: encrypted Fernet tokens, never exported, only for integration admins.
ENCRYPTED_FIELDS = ("webhook_secret_encrypted", "webhook_previous_secret_encrypted", "api_key_encrypted")

_SECRET_BOX = {}


def secret_box():
    """The process-wide :class:`~integration.secretbox.SecretBox` and its key source.

    Keys come from the server option ``shipment_visibility_key``, else the environment
    variable ``SHIPMENT_VISIBILITY_KEY``, else a key file in Odoo's data directory —
    never from the database the secrets live in.
    """
    config_value = tools.config.get(secretbox.CONFIG_OPTION)
    env_value = os.environ.get(secretbox.ENV_VAR)
    cache_key = (config_value, env_value, tools.config["data_dir"])
    if cache_key not in _SECRET_BOX:
        source = secretbox.load_key(config_value, os.environ, tools.config["data_dir"])
        _SECRET_BOX.clear()
        _SECRET_BOX[cache_key] = (secretbox.SecretBox(source.keys), source)
    return _SECRET_BOX[cache_key]


# What the webhook route reads of a connector before it stores a message.
WEBHOOK_ROUTE_FIELDS = [
    "connector_type", "company_id", "max_body_bytes", "signature_scheme", "signature_header",
    "timestamp_tolerance", "rate_limit_per_minute", "ip_allowlist", "jwks", "webhook_secret_encrypted",
    "webhook_previous_secret_encrypted", "webhook_previous_secret_expires_at",
]
# Writing any of these changes what the route accepts: its cached view must go.
WEBHOOK_ROUTE_INPUTS = {*WEBHOOK_ROUTE_FIELDS, "webhook_token", "active"}


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
    """One connection to a partner (carrier, aggregator, 3PL, forwarder or broker).

    The ``connector_type`` selects the pure adapter of ``integration.adapters`` that
    reads the partner's format; the connector holds everything specific to one partner
    account: carriers covered, webhook token and signature settings, encrypted secrets,
    limits, mode, and the status mappings that override the type's defaults.
    """

    _name = "shipment.connector"
    _description = "Shipment Connector"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "sequence, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    connector_type = fields.Selection(
        CONNECTOR_TYPES, string="Type", required=True, default="generic_json", tracking=True,
        help="Partner format this connector speaks; it decides how messages are parsed.")
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company)
    carrier_ids = fields.Many2many(
        "delivery.carrier", string="Carriers", check_company=True,
        help="Delivery methods whose shipments this connector tracks. A delivery order "
             "with one of them gets its shipments attached to this connector.")
    mode = fields.Selection(
        [("live", "Live"), ("shadow", "Shadow")], required=True, default="shadow", tracking=True,
        help="Shadow: messages are ingested and normalized but no business action runs and "
             "nothing is sent to customers, so a partner can be compared before cut-over.")
    shipment_ids = fields.One2many("shipment.shipment", "connector_id")
    shipment_count = fields.Integer(compute="_compute_shipment_count")
    note = fields.Html(string="Notes", help="Partner contacts, onboarding notes.")
    status_map_ids = fields.One2many("shipment.status.map", "connector_id", string="Status Mappings")
    default_timezone = fields.Char(
        help="IANA time zone (e.g. Europe/Berlin) for partner times without zone when the "
             "event location does not tell.")
    options = fields.Json(
        groups=ADMIN_GROUP,
        help="Adapter settings, e.g. for generic JSON: {\"paths\": {...}, \"schema\": {...}}.")
    options_text = fields.Text(
        string="Adapter Options (JSON)", compute="_compute_options_text", inverse="_inverse_options_text",
        groups=ADMIN_GROUP)

    # Webhook reception
    webhook_token = fields.Char(
        copy=False, readonly=True, index=True, groups=ADMIN_GROUP,
        default=lambda self: token_generator.token_urlsafe(32))
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
    secret_rotation_hours = fields.Integer(
        string="Previous Secret Valid (hours)", default=24,
        help="After the secret is replaced, the previous one stays valid this long so "
             "that the partner can switch without losing messages.")

    # Secrets: write-only fields backed by encrypted columns
    webhook_secret = fields.Char(
        compute="_compute_write_only_secrets", inverse="_inverse_webhook_secret", groups=ADMIN_GROUP,
        help="Write-only: the value is encrypted at rest and never shown again.")
    webhook_secret_encrypted = fields.Char(copy=False, groups=ADMIN_GROUP, exportable=False)
    webhook_secret_set_at = fields.Datetime(string="Secret Set On", copy=False, readonly=True, groups=ADMIN_GROUP)
    webhook_previous_secret_encrypted = fields.Char(copy=False, groups=ADMIN_GROUP, exportable=False)
    webhook_previous_secret_expires_at = fields.Datetime(
        string="Previous Secret Valid Until", copy=False, readonly=True, groups=ADMIN_GROUP)
    has_webhook_secret = fields.Boolean(compute="_compute_has_secrets")
    api_key = fields.Char(
        string="API Key", compute="_compute_write_only_secrets", inverse="_inverse_api_key", groups=ADMIN_GROUP,
        help="Write-only: the value is encrypted at rest and never shown again.")
    api_key_encrypted = fields.Char(copy=False, groups=ADMIN_GROUP, exportable=False)
    api_key_set_at = fields.Datetime(string="API Key Set On", copy=False, readonly=True, groups=ADMIN_GROUP)
    has_api_key = fields.Boolean(compute="_compute_has_secrets")
    key_source = fields.Char(string="Encryption Key Source", compute="_compute_key_source", groups=ADMIN_GROUP)
    api_base_url = fields.Char(string="API Base URL")
    poll_interval_minutes = fields.Integer(default=60)

    # Operations
    inbox_ids = fields.One2many("shipment.inbox", "connector_id")
    rejection_ids = fields.One2many("shipment.webhook.rejection", "connector_id", string="Rejections")
    inbox_pending_count = fields.Integer(string="Pending", compute="_compute_inbox_counts")
    inbox_processing_count = fields.Integer(string="Processing", compute="_compute_inbox_counts")
    inbox_done_count = fields.Integer(string="Done", compute="_compute_inbox_counts")
    inbox_failed_count = fields.Integer(string="Failed", compute="_compute_inbox_counts")
    inbox_dead_count = fields.Integer(string="Dead", compute="_compute_inbox_counts")
    inbox_ignored_count = fields.Integer(string="Ignored", compute="_compute_inbox_counts")
    last_message_at = fields.Datetime(compute="_compute_inbox_counts", string="Last Message Received")
    unmapped_code_count = fields.Integer(compute="_compute_unmapped_code_count")
    example_request = fields.Text(compute="_compute_example_request", groups=ADMIN_GROUP)

    _sql_constraints = [
        ("name_company_unique", "unique(name, company_id)",
         "A connector with this name already exists in this company."),
        ("webhook_token_unique", "unique(webhook_token)", "Webhook tokens must be unique."),
        ("max_body_positive", "CHECK(max_body_bytes > 0)", "The maximum body size must be positive."),
    ]

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("shipment_ids")
    def _compute_shipment_count(self):
        counts = dict(self.env["shipment.shipment"]._read_group(
            [("connector_id", "in", self.ids)], ["connector_id"], ["__count"]))
        for connector in self:
            connector.shipment_count = counts.get(connector, 0)

    @api.depends("webhook_token")
    def _compute_webhook_url(self):
        # The public base URL is a system parameter that integration admins may not read.
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for connector in self:
            connector.webhook_url = f"{base_url}{WEBHOOK_ROUTE}{connector.webhook_token}" \
                if connector.webhook_token else False

    def _compute_write_only_secrets(self):
        # Reading a secret never returns it: the form shows only whether one is set.
        for connector in self:
            connector.webhook_secret = False
            connector.api_key = False

    @api.depends("webhook_secret_set_at", "api_key_set_at")
    def _compute_has_secrets(self):
        # Integration admins are the only readers of the encrypted columns; the flags are
        # not secret and users see whether a connector is configured.
        for connector, raw in zip(self, self.sudo()):
            connector.has_webhook_secret = bool(raw.webhook_secret_encrypted)
            connector.has_api_key = bool(raw.api_key_encrypted)

    def _compute_key_source(self):
        try:
            _box, source = secret_box()
            label = {
                secretbox.SOURCE_CONFIG: _("server option %s", secretbox.CONFIG_OPTION),
                secretbox.SOURCE_ENVIRONMENT: _("environment variable %s", secretbox.ENV_VAR),
                secretbox.SOURCE_KEY_FILE: _("key file %s", source.path),
            }[source.source]
            text = _("%(origin)s (key %(fingerprint)s)", origin=label,
                     fingerprint=secretbox.fingerprint(source.keys[0]))
        except secretbox.SecretBoxError as exc:
            text = _("No usable key: %s", exc)
        for connector in self:
            connector.key_source = text

    def _compute_options_text(self):
        for connector in self:
            connector.options_text = json.dumps(connector.options, indent=2, sort_keys=True) \
                if connector.options else False

    def _inverse_options_text(self):
        for connector in self:
            text = (connector.options_text or "").strip()
            try:
                connector.options = json.loads(text) if text else False
            except ValueError as exc:
                raise ValidationError(_("Adapter options must be valid JSON: %s", exc)) from None

    def _compute_inbox_counts(self):
        rows = self.env["shipment.inbox"]._read_group(
            [("connector_id", "in", self.ids)], ["connector_id", "state"], ["__count", "received_at:max"])
        counts, last = {}, {}
        for connector, state, count, received in rows:
            counts[connector.id, state] = count
            last[connector.id] = max(filter(None, [last.get(connector.id), received]), default=False)
        for connector in self:
            for state, _label in INBOX_STATES:
                connector[f"inbox_{state}_count"] = counts.get((connector.id, state), 0)
            connector.last_message_at = last.get(connector.id, False)

    def _compute_unmapped_code_count(self):
        rows = self.env["shipment.event"]._read_group(
            [("connector_id", "in", self.ids), ("milestone", "=", "unknown")],
            ["connector_id"], ["raw_code:count_distinct"])
        counts = dict(rows)
        for connector in self:
            connector.unmapped_code_count = counts.get(connector, 0)

    @api.depends("signature_scheme", "signature_header", "connector_type", "webhook_token")
    def _compute_example_request(self):
        for connector in self:
            connector.example_request = connector._example_request()

    # ------------------------------------------------------------------ #
    # CONSTRAINTS
    # ------------------------------------------------------------------ #

    @api.model_create_multi
    def create(self, vals_list):
        connectors = super().create(vals_list)
        connectors._check_live_requires_verification()
        return connectors

    def write(self, vals):
        result = super().write(vals)
        if WEBHOOK_ROUTE_INPUTS & set(vals):
            self.env.registry.clear_cache()
        if {"mode", "signature_scheme", "webhook_secret", "webhook_secret_encrypted", "jwks", "active",
                "connector_type"} & set(vals):
            self._check_live_requires_verification()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()  # the route's cached view of these connectors
        return result

    def _check_live_requires_verification(self):
        # Not an @api.constrains: the write-only secret is stored by its inverse, after
        # constraints of the same create() have run. Read as system: the encrypted columns
        # and the key set are integration-admin fields, whoever saves the connector.
        for connector in self.sudo():
            if connector.mode != "live" or not connector._receives_webhooks():
                continue
            if connector.signature_scheme == "none":
                raise ValidationError(_(
                    "Connector %s cannot be live without signature verification: choose a "
                    "signature scheme first.", connector.name))
            if connector._effective_scheme() == "shipengine":
                if not connector.jwks:
                    raise ValidationError(_("Connector %s needs ShipEngine's public key set (JWKS) "
                                            "before it can be live.", connector.name))
            elif not connector.webhook_secret_encrypted:
                raise ValidationError(_("Connector %s needs a webhook secret before it can be live.",
                                        connector.name))

    @api.constrains("ip_allowlist")
    def _check_ip_allowlist(self):
        import ipaddress

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
    # SECRETS
    # ------------------------------------------------------------------ #

    def _inverse_webhook_secret(self):
        now = fields.Datetime.now()
        box, _source = secret_box()
        for connector in self:
            secret = connector.webhook_secret
            if not secret:
                connector.action_clear_webhook_secret()
                continue
            values = {"webhook_secret_encrypted": box.encrypt(secret), "webhook_secret_set_at": now}
            if connector.webhook_secret_encrypted:
                # The partner switches secrets at its own pace: keep the old one valid a while.
                values.update(
                    webhook_previous_secret_encrypted=connector.webhook_secret_encrypted,
                    webhook_previous_secret_expires_at=now + timedelta(hours=connector.secret_rotation_hours),
                )
                note = _("Webhook secret replaced; the previous one is accepted until %s.",
                         fields.Datetime.to_string(values["webhook_previous_secret_expires_at"]))
            else:
                note = _("Webhook secret set.")
            connector.write(values)
            connector._message_log(body=note)

    def _inverse_api_key(self):
        now = fields.Datetime.now()
        box, _source = secret_box()
        for connector in self:
            connector.write({
                "api_key_encrypted": box.encrypt(connector.api_key) if connector.api_key else False,
                "api_key_set_at": now if connector.api_key else False,
            })
            connector._message_log(body=_("API key %s.", _("set") if connector.api_key else _("cleared")))

    def action_clear_webhook_secret(self):
        self.write({"webhook_secret_encrypted": False, "webhook_secret_set_at": False,
                    "webhook_previous_secret_encrypted": False, "webhook_previous_secret_expires_at": False})
        for connector in self:
            connector._message_log(body=_("Webhook secret cleared."))

    def action_clear_api_key(self):
        self.write({"api_key_encrypted": False, "api_key_set_at": False})
        for connector in self:
            connector._message_log(body=_("API key cleared."))

    def action_generate_webhook_secret(self):
        """Generate a Standard Webhooks secret and show it once, to hand to the partner."""
        self.ensure_one()
        secret = signatures.generate_webhook_secret()
        self.webhook_secret = secret
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("New webhook secret (shown once)"),
                "message": secret,
                "sticky": True,
                "type": "warning",
            },
        }

    def action_regenerate_webhook_token(self):
        for connector in self:
            connector.webhook_token = token_generator.token_urlsafe(32)
            connector._message_log(body=_("Webhook URL regenerated: the previous URL no longer works."))

    def _webhook_secrets(self):
        """Decrypted secrets accepted now: the current one, then the previous within its window."""
        self.ensure_one()
        return self._route_view().secrets(fields.Datetime.now())

    def _api_key(self):
        self.ensure_one()
        raw = self.sudo()  # the encrypted column is readable by integration admins only
        return secret_box()[0].decrypt(raw.api_key_encrypted) if raw.api_key_encrypted else None

    @api.model
    def _rotate_encryption_key(self):
        """Re-encrypt every stored secret under the current key.

        Run after putting a new key first in ``shipment_visibility_key`` (or
        ``SHIPMENT_VISIBILITY_KEY``) with the old one after it; the old key can be
        removed once this returns.

        :return: number of secrets re-encrypted.
        """
        box, _source = secret_box()
        count = 0
        # Every company's connectors: the key is per server, not per company.
        for connector in self.sudo().with_context(active_test=False).search([]):
            values = {}
            for name in ENCRYPTED_FIELDS:
                token = connector[name]
                if token:
                    values[name] = box.rotate(token)
            if values:
                connector.write(values)
                count += len(values)
        _logger.info("re-encrypted %d connector secrets under key %s", count, box.fingerprint)
        return count

    def action_rotate_encryption_key(self):
        if not self.env.user.has_group(ADMIN_GROUP):
            raise UserError(_("Only integration administrators can re-encrypt secrets."))
        count = self._rotate_encryption_key()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Secrets re-encrypted"),
                       "message": _("%s secret(s) now use the current key.", count), "type": "success"},
        }

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_view_shipments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "shipment_visibility.action_shipment_shipment")
        action["domain"] = [("connector_id", "=", self.id)]
        action["context"] = {"default_connector_id": self.id}
        return action

    def action_view_inbox(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("shipment_visibility.action_shipment_inbox")
        action["domain"] = [("connector_id", "=", self.id)]
        state = self.env.context.get("inbox_state")
        if state in dict(INBOX_STATES):
            action["domain"] = [*action["domain"], ("state", "=", state)]
        return action

    def action_view_unmapped_codes(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("shipment_visibility.action_shipment_event")
        action["domain"] = [("connector_id", "=", self.id), ("milestone", "=", "unknown")]
        action["context"] = {"group_by": ["raw_code"]}
        return action

    # ------------------------------------------------------------------ #
    # BUSINESS METHODS
    # ------------------------------------------------------------------ #

    @api.model
    def _find_for_carrier(self, carrier, company):
        """The active connector tracking ``carrier`` in ``company``, live ones first.

        :param carrier: a ``delivery.carrier`` record (may be empty).
        :param company: a ``res.company`` record.
        :return: a ``shipment.connector`` record or an empty recordset.
        """
        if not carrier:
            return self.browse()
        connectors = self.search([
            ("carrier_ids", "in", carrier.ids),
            ("company_id", "=", company.id),
        ])
        return connectors.sorted(lambda c: (c.mode != "live", c.sequence, c.id))[:1]

    def _adapter_context(self):
        """The :class:`~integration.adapters.AdapterContext` of this connector's messages."""
        self.ensure_one()
        raw = self.sudo()  # options are integration-admin data; the processor runs as system
        return AdapterContext(
            # No connector-level carrier code: it would enter event fingerprints and change
            # whenever the connector's carriers are edited, turning resends into new events.
            carrier="",
            status_map=self.env["shipment.status.map"].sudo()._mapping_for(self),
            options=raw.options or {},
            default_timezone=self.default_timezone or None,
        )

    def _receives_webhooks(self):
        return self.connector_type in WEBHOOK_TYPES

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
        # every worker (see write and unlink). Runs as the system: the route has no user,
        # and the secrets are readable by integration administrators only.
        connector = self.sudo().search_fetch(
            [("webhook_token", "=", token), ("connector_type", "in", list(WEBHOOK_TYPES))],
            WEBHOOK_ROUTE_FIELDS, limit=1)
        if not connector:
            raise UnknownWebhookToken(token)
        return connector._route_view()

    def _route_view(self):
        """This connector as the webhook route sees it.

        :rtype: WebhookRoute
        """
        self.ensure_one()
        connector = self.sudo()  # integration-admin fields (secrets, key set, allowlist)
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
            secret=connector.webhook_secret_encrypted or None,
            previous_secret=connector.webhook_previous_secret_encrypted or None,
            previous_secret_expires_at=connector.webhook_previous_secret_expires_at or None,
        )

    def _effective_scheme(self):
        """The signature scheme code of :mod:`integration.signatures` this connector checks."""
        self.ensure_one()
        if self.signature_scheme != "adapter":
            return self.signature_scheme
        return signatures.PARTNER_SCHEMES.get(self.connector_type, "standard_webhooks")

    def _allowed_networks(self):
        # The allowlist is integration-admin configuration, checked by the public route.
        return [part.strip() for part in (self.sudo().ip_allowlist or "").split(",") if part.strip()]

    def _example_request(self):
        """A curl command with a correctly signed sample body, for the partner's engineers."""
        self.ensure_one()
        raw = self.sudo()
        if not raw.webhook_token or self.signature_scheme == "none":
            return False
        scheme = self._effective_scheme()
        if scheme == "shipengine":
            return _("ShipEngine signs with its own RSA key: no example can be signed here.")
        secrets = self._webhook_secrets()
        if not secrets:
            return _("Set a webhook secret to see a signed example request.")
        body = json.dumps({
            "type": "shipment.tracking.updated",
            "timestamp": fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "data": {"carrier": "example", "tracking_number": "EXAMPLE123", "events": [{
                "id": "evt-example-1", "code": "picked_up", "class": "actual",
                "occurred_at": fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "location": {"city": "Amsterdam", "country": "NL"}}]},
        }, separators=(",", ":")).encode()
        headers = signatures.sign(scheme, body, secrets[0], header=self.signature_header or None,
                                  message_id="msg-example-1")
        lines = [f"curl -X POST '{raw.webhook_url}' \\", "  -H 'Content-Type: application/json' \\"]
        lines += [f"  -H '{name}: {value}' \\" for name, value in headers.items()]
        lines.append(f"  --data-raw '{body.decode()}'")
        return "\n".join(lines)

    # ------------------------------------------------------------------ #
    # POLLING AND FILES
    # ------------------------------------------------------------------ #
    # Partners with only a REST API are polled (_cron_poll_connectors), partners that
    # exchange files are imported (file wizard, _cron_watch_inbound_folders). Both only
    # store inbox messages: parsing and business work happen in the inbox processor,
    # exactly as for webhooks.

    _FILE_TYPES = ("edi_x12_214", "csv")
    #: Adapter option keys that describe files; edited on their own as ``file_options``.
    _FILE_OPTION_KEYS = ("columns", "date_format", "timezone", "delimiter", "encoding")
    # A cron run stays well under Odoo's default 120 s real-time limit for cron workers.
    _POLL_RUN_BUDGET_SECONDS = 60
    # Even the last connector of a long run gets time for a few calls.
    _POLL_MIN_SHARE_SECONDS = 10
    # Shipments per savepoint and commit, when the partner's batch is smaller (EasyPost).
    _POLL_MIN_UNIT = 25
    _FILE_PROGRESS_EVERY = 500
    # A 50 MB X12 file (160,000 shipments) imports in about 45 s, with splitting holding
    # about twice the file's size: bigger files come closer to Odoo's default 120 s
    # real-time limit of a worker, which would kill an upload mid-import (the folder
    # watcher commits as it goes and resumes).
    _MAX_FILE_MEGABYTES = 50
    # A file changed more recently than this may still be being written.
    _INBOUND_SETTLE_SECONDS = 10

    support_polling = fields.Boolean(
        compute="_compute_support_polling_files", store=True,
        help="The partner of this connector type offers a REST tracking API we can poll.")
    support_files = fields.Boolean(
        compute="_compute_support_polling_files", store=True,
        help="This connector type reads partner files (X12 214, CSV).")
    poll_enabled = fields.Boolean(
        string="Poll Partner API", tracking=True,
        help="Ask the partner's API about open shipments every polling interval.")
    poll_batch_size = fields.Integer(
        string="Numbers per Call",
        help="Tracking numbers asked in one call; 0 uses the partner's default (AfterShip 50, "
             "17TRACK 40). EasyPost reads one tracker per call; generic REST batches only "
             "with a batch URL template.")
    poll_max_age_days = fields.Integer(
        string="Stop Polling After (days)", default=30,
        help="Shipments created longer ago than this without a final status are marked "
             "'No longer updated' and not polled any more.")
    last_poll_at = fields.Datetime(string="Last Poll", readonly=True, copy=False)
    last_poll_error = fields.Text(
        string="Last Poll or Import Error", readonly=True, copy=False,
        help="What went wrong the last time the partner's API or the inbound folder was read.")
    poll_url_template = fields.Char(
        string="URL Template", default=polling.GENERIC_URL_TEMPLATE,
        help="Generic REST: path of one shipment below the API base URL; {number} is the "
             "tracking number, an optional leading {base} stands for the base URL.")
    poll_batch_url_template = fields.Char(
        string="Batch URL Template",
        help="Generic REST: path asking several shipments at once, with {numbers} "
             "(comma-separated), e.g. {base}/track?numbers={numbers}.")
    poll_batch_items_path = fields.Char(
        string="Batch Items Path",
        help="Generic REST batch answers: dot path of the list of shipments (e.g. data.items); "
             "each item is stored as its own message and read with the adapter options.")
    poll_auth_header = fields.Char(
        string="Auth Header", default="Authorization",
        help="Generic REST: header carrying the API key.")
    poll_auth_scheme = fields.Selection(
        [("bearer", "Bearer token"), ("basic", "Basic (API key is user:password)"), ("raw", "Key as is")],
        string="Auth Scheme", default="bearer")
    rate_per_second = fields.Float(
        string="Calls per Second", default=5.0,
        help="Client-side limit of calls to the partner's API during one poll run; 0: no limit.")
    http_timeout_seconds = fields.Integer(
        string="HTTP Timeout (s)", default=30,
        help="Longest wait to connect to the partner and for each part of its answer.")
    http_max_retries = fields.Integer(
        string="HTTP Retries", default=2,
        help="Extra attempts of a failed call, for calls that are safe to repeat only.")
    breaker_state = fields.Selection(
        [(CircuitBreaker.CLOSED, "Closed"), (CircuitBreaker.OPEN, "Open"),
         (CircuitBreaker.HALF_OPEN, "Half-open")],
        string="Circuit Breaker", default=CircuitBreaker.CLOSED, required=True, readonly=True, copy=False,
        help="Closed: calls go through. Open: the partner failed repeatedly and is left alone "
             "until the next retry. Half-open: one trial call decides.")
    breaker_failure_count = fields.Integer(string="Consecutive Failures", readonly=True, copy=False)
    breaker_opened_at = fields.Datetime(string="Breaker Opened", readonly=True, copy=False)
    breaker_next_attempt_at = fields.Datetime(string="Next Retry", readonly=True, copy=False)
    breaker_threshold = fields.Integer(
        string="Failures Before Opening", default=5,
        help="Consecutive failed calls (timeouts, network errors, 5xx) that open the breaker.")
    breaker_cooldown_seconds = fields.Integer(
        string="Breaker Cool-down (s)", default=300,
        help="How long an open breaker leaves the partner alone before one trial call.")
    inbound_folder = fields.Char(
        groups=ADMIN_GROUP,
        help="Server directory watched for partner files, inside the directory set by the "
             "system parameter shipment_visibility.inbound_root. Imported files are moved to "
             "its done/ sub-folder, unreadable ones to failed/.")
    file_options = fields.Json(
        compute="_compute_file_options", inverse="_inverse_file_options", groups=ADMIN_GROUP,
        help="How files are read: CSV columns, date_format, timezone, delimiter, encoding. "
             "Kept in the adapter options, so that each message is parsed as it was split.")
    file_options_text = fields.Text(
        string="File Options (JSON)", compute="_compute_file_options_text",
        inverse="_inverse_file_options_text", groups=ADMIN_GROUP)

    @api.depends("connector_type")
    def _compute_support_polling_files(self):
        for connector in self:
            connector.support_polling = connector.connector_type in polling.POLL_TYPES
            connector.support_files = connector.connector_type in self._FILE_TYPES

    @api.depends("options")
    def _compute_file_options(self):
        for connector in self:
            options = connector.options if isinstance(connector.options, dict) else {}
            connector.file_options = {key: options[key] for key in self._FILE_OPTION_KEYS if key in options} or False

    def _inverse_file_options(self):
        for connector in self:
            values = connector.file_options or {}
            if not isinstance(values, dict) or set(values) - set(self._FILE_OPTION_KEYS):
                raise ValidationError(_("File options accept only these keys: %s", ", ".join(self._FILE_OPTION_KEYS)))
            options = connector.options if isinstance(connector.options, dict) else {}
            kept = {k: v for k, v in options.items() if k not in self._FILE_OPTION_KEYS}
            connector.options = {**kept, **values} or False

    @api.depends("file_options")
    def _compute_file_options_text(self):
        for connector in self:
            connector.file_options_text = json.dumps(connector.file_options, indent=2, sort_keys=True) \
                if connector.file_options else False

    def _inverse_file_options_text(self):
        for connector in self:
            text = (connector.file_options_text or "").strip()
            try:
                connector.file_options = json.loads(text) if text else False
            except ValueError as exc:
                raise ValidationError(_("File options must be valid JSON: %s", exc)) from None

    @api.constrains("poll_batch_size", "poll_max_age_days", "poll_interval_minutes", "rate_per_second",
                    "http_timeout_seconds", "http_max_retries", "breaker_threshold", "breaker_cooldown_seconds")
    def _check_polling_settings(self):
        for connector in self:
            if min(connector.poll_batch_size, connector.http_max_retries) < 0 or connector.rate_per_second < 0:
                raise ValidationError(_("Batch size, retries and call rate cannot be negative."))
            if min(connector.poll_max_age_days, connector.poll_interval_minutes, connector.http_timeout_seconds,
                   connector.breaker_threshold, connector.breaker_cooldown_seconds) < 1:
                raise ValidationError(_("Maximum age, polling interval, timeout, breaker threshold and "
                                        "cool-down must be at least 1."))

    @api.model
    def _outbound_policy(self):
        """Where this server may send requests (see :mod:`integration.netguard`).

        Public https addresses, plus the hosts an administrator allowed in the settings
        (system parameter ``shipment_visibility.outbound_allowed_hosts``), e.g. a
        partner's server on the company network.
        """
        # A system setting, read for whoever triggers a call (a poll, a test send).
        text = self.env["ir.config_parameter"].sudo().get_param(OUTBOUND_ALLOWED_HOSTS_PARAM, "")
        try:
            return AddressPolicy.from_text(text)
        except ValueError as exc:
            _logger.warning("ignoring the outbound allowlist, it is invalid: %s", exc)
            return AddressPolicy()

    @api.constrains("api_base_url", "poll_url_template", "poll_batch_url_template")
    def _check_outbound_urls(self):
        policy = self._outbound_policy()
        for connector in self:
            if connector.api_base_url:
                try:
                    policy.check_url(connector.api_base_url.strip())
                except BlockedDestination as exc:
                    raise ValidationError(_("API base URL refused: %s", exc)) from None
            for template in (connector.poll_url_template, connector.poll_batch_url_template):
                # Templates are paths below the base URL ({base} stands for it): an absolute
                # URL here would send the API key to a host nobody checked.
                if template and "://" in template.replace("{base}", ""):
                    raise ValidationError(_(
                        "URL template %s must be a path below the API base URL (start it with / or {base}), "
                        "not a URL of its own.", template))

    @api.constrains("inbound_folder")
    def _check_inbound_folder(self):
        for connector in self:
            if connector.inbound_folder:
                connector._inbound_path()

    # -- actions

    def action_poll_now(self):
        """Poll the partner at once (the shipments due), then queue the processor."""
        # Only those who may change the connector may make it call the partner.
        self.check_access("write")
        totals = {"requests": 0, "messages": 0, "polled": 0}
        errors = []
        for connector in self:
            result = connector._poll_once()
            for key in totals:
                totals[key] += result[key]
            if result["error"]:
                errors.append(f"{connector.name}: {result['error']}")
        message = _("%(polled)s shipment(s) polled in %(requests)s call(s); %(messages)s new message(s).", **totals)
        if errors:
            message = "\n".join([message, *errors])
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Poll finished"), "message": message, "sticky": bool(errors),
                       "type": "warning" if errors else "success",
                       "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }

    def action_reset_breaker(self):
        """Close the breaker by hand, e.g. once the partner confirmed its outage is over."""
        self.check_access("write")
        self.write({"breaker_state": CircuitBreaker.CLOSED, "breaker_failure_count": 0,
                    "breaker_opened_at": False, "breaker_next_attempt_at": False})
        for connector in self:
            connector.message_post(body=_("Circuit breaker reset by %s: the partner API is called again.",
                                          self.env.user.name), subtype_xmlid="mail.mt_note")
            connector._breaker_activities().action_feedback(feedback=_("Breaker reset by hand."))
        return True

    # -- transport and circuit breaker

    def _transport(self):
        """The HTTP client of this connector, with its circuit breaker restored from the record.

        Every breaker transition is written back at once (with a note and activities when it
        opens), so the state survives the run and shows on the form.

        Note: self.ensure_one()

        :rtype: integration.transport.Transport
        :raises UserError: when the connector cannot be polled or lacks its base URL.
        """
        self.ensure_one()
        if not self.support_polling:
            raise UserError(_("Connector %s cannot be polled: its partner has no tracking API.", self.name))
        if not self.api_base_url:
            raise UserError(_("Connector %s needs its API base URL before it can be polled.", self.name))
        params = self.env["ir.config_parameter"].sudo()  # tuning knobs are system settings
        try:
            auth = polling.auth_headers(self.connector_type, self._api_key(), header=self.poll_auth_header,
                                        scheme=self.poll_auth_scheme)
            config = TransportConfig(
                base_url=self.api_base_url.strip(),
                # One setting for both waits, so that the session sends a single number.
                connect_timeout=self.http_timeout_seconds,
                read_timeout=self.http_timeout_seconds,
                max_retries=self.http_max_retries,
                backoff_base=float(params.get_param("shipment_visibility.http_backoff_seconds", 0.5)),
                retry_after_max=float(params.get_param("shipment_visibility.http_retry_after_max_seconds", 30)),
                rate_per_second=self.rate_per_second,
                breaker_threshold=self.breaker_threshold,
                breaker_cooldown=self.breaker_cooldown_seconds,
                headers=dict(polling.DEFAULT_HEADERS),
                auth_headers=auth,
                address_policy=self._outbound_policy(),
            )
        except TransportConfigError as exc:
            raise UserError(_("Connector %(name)s cannot be polled: %(reason)s", name=self.name, reason=exc)) \
                from None
        opened_at = self._to_epoch(self.breaker_opened_at)
        if self.breaker_state == CircuitBreaker.OPEN and opened_at is None:
            opened_at = time.time()
        breaker = CircuitBreaker(
            self.breaker_threshold, self.breaker_cooldown_seconds, state=self.breaker_state,
            failure_count=self.breaker_failure_count, opened_at=opened_at, on_change=self._on_breaker_change)
        return Transport(config, session=polling.PollSession(), breaker=breaker)

    def _save_breaker(self, breaker):
        """Write the breaker's state on the record when it changed."""
        self.ensure_one()
        next_attempt = breaker.next_attempt_at
        values = {
            "breaker_state": breaker.state,
            "breaker_failure_count": breaker.failure_count,
            "breaker_opened_at": self._from_epoch(breaker.opened_at),
            "breaker_next_attempt_at": self._from_epoch(next_attempt),
        }
        changed = {name: value for name, value in values.items() if self[name] != value}
        if changed:
            self.write(changed)

    def _on_breaker_change(self, breaker, old_state, new_state):
        """Breaker transition: persist it; tell the integration administrators when it opens."""
        self._save_breaker(breaker)
        if new_state == CircuitBreaker.OPEN:
            self.message_post(subtype_xmlid="mail.mt_note", body=_(
                "Circuit breaker opened after %(count)s consecutive failures: the partner API is left "
                "alone until %(when)s UTC, then one trial call decides.",
                count=breaker.failure_count, when=fields.Datetime.to_string(self.breaker_next_attempt_at)))
            self._schedule_breaker_activities()
        elif new_state == CircuitBreaker.CLOSED and old_state != CircuitBreaker.CLOSED:
            self.message_post(subtype_xmlid="mail.mt_note",
                              body=_("Circuit breaker closed: the partner API answers again."))
            self._breaker_activities().action_feedback(feedback=_("The partner API answers again."))

    def _breaker_activities(self):
        return self.env["mail.activity"].search([
            ("res_model", "=", self._name), ("res_id", "in", self.ids),
            ("activity_type_id", "=", self.env.ref("mail.mail_activity_data_warning").id),
            ("summary", "=", _("Partner API unreachable")),
        ])

    def _schedule_breaker_activities(self):
        """One open activity per integration administrator, not one per opening."""
        self.ensure_one()
        admins = self.env.ref(ADMIN_GROUP).users.filtered(
            lambda user: not user._is_superuser() and user.active and not user.share)
        missing = admins - self._breaker_activities().user_id
        # Created directly: the connector is a mail.thread without the activity mixin.
        self.env["mail.activity"].create([{
            "res_model_id": self.env["ir.model"]._get_id(self._name),
            "res_id": self.id,
            "activity_type_id": self.env.ref("mail.mail_activity_data_warning").id,
            "summary": _("Partner API unreachable"),
            "note": _("Polling %(name)s failed %(count)s times in a row; the circuit breaker is open. "
                      "Check the partner's status and the connector settings, then use Reset Breaker "
                      "or wait for the next trial call.", name=self.name, count=self.breaker_failure_count),
            "user_id": admin.id,
        } for admin in missing])

    # -- polling

    @api.model
    def _cron_poll_connectors(self):
        """Poll every due connector, fairly, within one run's time budget.

        A connector is due when polling is enabled and its breaker is not open (or its
        cool-down is over). Connectors polled longest ago go first and each gets a share of
        the budget, so a partner that is down costs at most its share and never stalls
        the others.

        :return: number of shipments polled.
        """
        now = fields.Datetime.now()
        connectors = self.search([("poll_enabled", "=", True), ("support_polling", "=", True)],
                                 order="last_poll_at asc nulls first, id")
        connectors = connectors.filtered(lambda c: c._poll_is_due(now))
        todo = {connector: connector._poll_due_shipments(now, count=True) for connector in connectors}
        progress = {"done": 0, "remaining": sum(todo.values())}
        Cron = self.env["ir.cron"]

        def report(count):
            progress["done"] += count
            progress["remaining"] = max(progress["remaining"] - count, 0)
            Cron._notify_progress(done=progress["done"], remaining=progress["remaining"])
            if not self._is_testing_run():
                self.env.cr.commit()

        started = time.monotonic()
        for index, connector in enumerate(connectors):
            left = self._POLL_RUN_BUDGET_SECONDS - (time.monotonic() - started)
            if left <= 0:
                break
            share = max(left / (len(connectors) - index), self._POLL_MIN_SHARE_SECONDS)
            try:
                result = connector._poll_once(deadline=time.monotonic() + share, progress=report)
            except Exception:
                # A bug met with one partner's data must not stop the other connectors.
                _logger.exception("polling connector %s failed", connector.id)
                result = {"polled": 0, "error": True, "left": todo[connector]}
            if result["error"]:
                # Shipments a failing partner could not answer are no work for this run.
                progress["remaining"] = max(progress["remaining"] - result["left"], 0)
        Cron._notify_progress(done=progress["done"], remaining=progress["remaining"])
        return progress["done"]

    def _poll_is_due(self, now):
        self.ensure_one()
        if self.breaker_state != CircuitBreaker.OPEN:
            return True
        return not self.breaker_next_attempt_at or self.breaker_next_attempt_at <= now

    def _poll_due_shipments(self, now, count=False):
        """Open shipments of this connector not polled within the interval, oldest poll first."""
        self.ensure_one()
        domain = [
            ("connector_id", "=", self.id),
            ("is_terminal", "=", False),
            ("polling_stopped", "=", False),
            ("create_date", ">=", now - timedelta(days=self.poll_max_age_days)),
            "|", ("last_polled_at", "=", False),
            ("last_polled_at", "<=", now - timedelta(minutes=self.poll_interval_minutes)),
        ]
        Shipment = self.env["shipment.shipment"]
        if count:
            return Shipment.search_count(domain)
        return Shipment.search(domain, order="last_polled_at asc nulls first, id")

    def _poll_stop_old_shipments(self, now):
        """Mark open shipments older than the maximum age as no longer updated."""
        self.ensure_one()
        old = self.env["shipment.shipment"].search([
            ("connector_id", "=", self.id),
            ("is_terminal", "=", False),
            ("polling_stopped", "=", False),
            ("create_date", "<", now - timedelta(days=self.poll_max_age_days)),
        ])
        old.write({"polling_stopped": True})
        return len(old)

    def _poll_once(self, deadline=None, progress=None):
        """Poll the partner once about this connector's due shipments.

        Shipments go in units of the partner's batch size; each unit's answers are
        stored as inbox messages and its shipments stamped as polled in one savepoint,
        then ``progress(count)`` is called (the cron commits there). The run stops at
        ``deadline`` (monotonic seconds), when the breaker refuses calls, when the
        partner asks to slow down longer than we wait, or on an answer that says our
        request is wrong; a failing unit does not undo the previous ones.

        Note: self.ensure_one()

        :return: dict with ``polled`` (shipments answered), ``requests`` (calls made),
            ``messages`` (new inbox messages), ``stopped`` (shipments past the maximum
            age), ``left`` (due shipments not polled) and ``error`` (text or False).
        """
        self.ensure_one()
        now = fields.Datetime.now()
        result = {"polled": 0, "requests": 0, "messages": 0, "left": 0, "error": False,
                  "stopped": self._poll_stop_old_shipments(now)}
        shipments = self._poll_due_shipments(now)
        result["left"] = len(shipments)
        if not shipments:
            self.write({"last_poll_at": now})
            return result
        try:
            transport = self._transport()
        except UserError as exc:
            result["error"] = str(exc)
            self.write({"last_poll_at": now, "last_poll_error": result["error"]})
            return result
        # A unit is what one savepoint (and one commit in the cron) covers: whole batches,
        # at least a few calls' worth when the partner answers one shipment per call.
        size = polling.batch_size(self.connector_type, self.poll_batch_size)
        unit = size * -(-self._POLL_MIN_UNIT // size)
        errors = []
        with transport:
            for start in range(0, len(shipments), unit):
                if deadline is not None and time.monotonic() > deadline:
                    break
                group = shipments[start:start + unit]
                with self.env.cr.savepoint():
                    polled, error, stop = self._poll_unit(transport, group, result)
                result["polled"] += len(polled)
                result["left"] -= len(polled)
                if error:
                    errors.append(error)
                if progress is not None:
                    progress(len(polled))
                if stop:
                    break
            self._save_breaker(transport.breaker)
        result["error"] = errors[-1] if errors else False
        self.write({"last_poll_at": now, "last_poll_error": result["error"]})
        if result["messages"]:
            self.env["shipment.inbox"]._trigger_processor()
        return result

    def _poll_unit(self, transport, shipments, result):
        """Send the calls for ``shipments`` and store the answers.

        :return: ``(polled shipments, error text or None, stop the run?)``.
        """
        by_number = {}
        for shipment in shipments:
            # Two carriers may reuse a number: one call answers for both shipments.
            by_number.setdefault(shipment.tracking_number, []).append(shipment.id)
        tracker_ids = self._easypost_tracker_ids(shipments) if self.connector_type == polling.EASYPOST else None
        options = {"url_template": self.poll_url_template, "batch_url_template": self.poll_batch_url_template}
        polled = self.env["shipment.shipment"]
        error, stop = None, False
        try:
            batches = polling.plan(self.connector_type, list(by_number), batch=self.poll_batch_size,
                                   options=options, tracker_ids=tracker_ids)
        except TransportConfigError as exc:
            return polled, str(exc), True
        for batch in batches:
            try:
                answered = True
                for request in batch.requests:
                    response = transport.request(request.method, request.path, params=request.params,
                                                 json=request.json, idempotent=request.idempotent)
                    result["requests"] += 1
                    if request.purpose == polling.QUERY:
                        created, problem = self._store_poll_answer(request, response)
                        result["messages"] += created
                        if problem:
                            error, answered = problem, False
            except CircuitOpenError as exc:
                next_try = self._from_epoch(exc.next_attempt_at)
                error = _("Circuit breaker open: partner left alone until %s.",
                          f"{fields.Datetime.to_string(next_try)} UTC" if next_try else _("the next trial"))
                stop = True
            except TransportError as exc:
                # Timeouts, network errors and 5xx are counted by the breaker, which stops
                # the run once it opens; throttling and refusals of our request stop it now.
                error = str(exc)
                stop = isinstance(exc, RateLimitedError) or not exc.retryable
                _logger.warning("polling connector %s: %s", self.id, error)
            else:
                if answered:
                    polled |= polled.browse([i for number in batch.numbers for i in by_number[number]])
            if stop:
                break
        polled.write({"last_polled_at": fields.Datetime.now()})
        return polled, error, stop

    def _store_poll_answer(self, request, response):
        """Store one answer as inbox message(s).

        A generic batch answer is split into one message per shipment; an answer that is
        not the JSON the partner documents is kept as a failed message, for the record.

        :return: ``(number of new messages, problem text or None)``.
        """
        Inbox = self.env["shipment.inbox"]
        headers = redact_headers({
            "Content-Type": response.headers.get("Content-Type", ""),
            "X-Poll-Request": request.label,
            "X-Poll-Status": str(response.status_code),
        })
        body = response.content
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            problem = _("%(call)s answered malformed JSON (%(reason)s)", call=request.label,
                        reason=exc.__class__.__name__)
            try:
                message_id, created, _correlation = Inbox._enqueue(self, body, headers, source="poll")
            except UnicodeDecodeError:
                return 0, problem
            if created:
                Inbox.browse(message_id)._set_state("failed", problem)
            return int(created), problem
        bodies = [body]
        if self.connector_type == polling.GENERIC and (self.poll_batch_items_path or self.poll_batch_url_template):
            try:
                items = polling.split_items(data, self.poll_batch_items_path)
            except ValueError as exc:
                return 0, _("%(call)s: %(reason)s", call=request.label, reason=exc)
            bodies = [json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode() for item in items]
        created_count = 0
        for item in bodies:
            _message_id, created, _correlation = Inbox._enqueue(self, item, headers, source="poll")
            created_count += created
        return created_count, None

    def _easypost_tracker_ids(self, shipments):
        """EasyPost tracker ids of ``shipments``, read back from the partner's stored answers.

        A tracker answer (polled or pushed) names its ``trk_…`` id; the latest message
        about one shipment only is the reference. Shipments without one get their tracker
        created, which returns the existing tracker when there is one.

        :return: dict tracking number → tracker id.
        """
        field = self.env["shipment.inbox"]._fields["shipment_ids"]
        rel, message_col, shipment_col = (SQL.identifier(name) for name in
                                          (field.relation, field.column1, field.column2))
        pattern = r'"id"\s*:\s*"(trk_[A-Za-z0-9_]+)"'
        rows = self.env.execute_query(SQL(
            """
            SELECT DISTINCT ON (rel.%(shipment_col)s) rel.%(shipment_col)s, substring(message.body from %(pattern)s)
              FROM %(rel)s rel
              JOIN shipment_inbox message ON message.id = rel.%(message_col)s
             WHERE message.connector_id = %(connector)s
               AND rel.%(shipment_col)s IN %(ids)s
               AND message.body ~ %(pattern)s
               AND (SELECT count(*) FROM %(rel)s other WHERE other.%(message_col)s = message.id) = 1
             ORDER BY rel.%(shipment_col)s, message.id DESC
            """,
            rel=rel, message_col=message_col, shipment_col=shipment_col, pattern=pattern,
            connector=self.id, ids=tuple(shipments.ids),
        ))
        numbers = dict(zip(shipments.ids, shipments.mapped("tracking_number")))
        return {numbers[shipment_id]: tracker_id for shipment_id, tracker_id in rows if tracker_id}

    # -- files

    def _import_file(self, file_name, data, progress=None):
        """Store each shipment of a partner file as one inbox message.

        The adapter cuts the file (one X12 transaction set, or one tracking number's CSV
        rows, per part). A part that cannot be read is stored as a failed message naming
        its line; the others are imported. Parts already stored (same body, or same X12
        control numbers) count as duplicates, so importing a file twice adds nothing.

        Note: self.ensure_one()

        :param str file_name: shown on the messages, with the line of each part.
        :param bytes data: the whole file.
        :param progress: called as ``progress(done, total)`` every few hundred parts.
        :return: dict with ``imported``, ``failed``, ``duplicates`` and ``message_ids``.
        :raises UserError: when the file as a whole cannot be read, or is too big.
        """
        self.ensure_one()
        if not self.support_files:
            raise UserError(_("Connector %s does not read files.", self.name))
        # Read as system: the limit is server sizing, set by system administrators.
        limit = float(self.env["ir.config_parameter"].sudo().get_param(
            "shipment_visibility.max_file_megabytes", self._MAX_FILE_MEGABYTES))
        if len(data) > limit * 1_000_000:
            raise UserError(_("%(file)s is %(size).1f MB, more than the %(limit)s MB a file import may take "
                              "(system parameter shipment_visibility.max_file_megabytes): ask the partner to "
                              "split it.", file=file_name, size=len(data) / 1_000_000, limit=limit))
        adapter = get_adapter(self.connector_type)
        try:
            chunks = adapter.split(data, self._adapter_context().options)
        except ParseError as exc:
            raise UserError(_("%(file)s cannot be imported: %(reason)s", file=file_name, reason=exc)) from None
        Inbox = self.env["shipment.inbox"]
        digest = hashlib.sha256(data).hexdigest()
        counts = {"imported": 0, "failed": 0, "duplicates": 0, "message_ids": []}
        for start in range(0, len(chunks), self._FILE_PROGRESS_EVERY):
            batch = chunks[start : start + self._FILE_PROGRESS_EVERY]
            # A part with no bytes of its own (an unreadable CSV record) still needs a body
            # that is the same each time this file is imported, for dedup.
            stored = Inbox._enqueue_batch(self, [
                (chunk.body or f"unreadable part of file sha256:{digest}, line {chunk.line}\n".encode(),
                 chunk.external_id, f"{file_name}, line {chunk.line}"[:255])
                for chunk in batch
            ])
            for chunk, result in zip(batch, stored):
                if result is None:
                    _logger.warning("file %s line %s of connector %s is not UTF-8: not stored",
                                    file_name, chunk.line, self.id)
                    counts["failed"] += 1
                    continue
                message_id, created = result
                counts["message_ids"].append(message_id)
                if not created:
                    counts["duplicates"] += 1
                elif chunk.error is not None:
                    Inbox.browse(message_id)._set_state("failed", self._file_error(chunk))
                    counts["failed"] += 1
                else:
                    counts["imported"] += 1
            if progress is not None and start + len(batch) < len(chunks):
                progress(start + len(batch), len(chunks))
        if counts["imported"]:
            Inbox._trigger_processor()
        _logger.info("file %s of connector %s: %d imported, %d failed, %d duplicates", file_name, self.id,
                     counts["imported"], counts["failed"], counts["duplicates"])
        return counts

    @api.model
    def _inbound_root(self):
        """The directory every inbound folder must sit in (a system setting, not a connector's)."""
        # Read as system: only system administrators may change where the server reads files.
        configured = self.env["ir.config_parameter"].sudo().get_param("shipment_visibility.inbound_root")
        return Path(configured or Path(tools.config["data_dir"]) / "shipment_inbound").resolve()

    def _inbound_path(self):
        """The connector's inbound folder, resolved, checked to be inside the inbound root.

        :raises ValidationError: for a folder outside the root.
        """
        self.ensure_one()
        root = self._inbound_root()
        # The column is integration-admin data; the watcher cron and the check read it.
        folder = Path(self.sudo().inbound_folder or "").expanduser()
        path = (folder if folder.is_absolute() else root / folder).resolve()
        if path != root and root not in path.parents:
            raise ValidationError(_("The inbound folder %(folder)s must be inside %(root)s (system parameter "
                                    "shipment_visibility.inbound_root).", folder=str(folder), root=str(root)))
        return path

    @api.model
    def _cron_watch_inbound_folders(self):
        """Import the files waiting in every file connector's inbound folder.

        Files are taken oldest first; a file still being written (changed in the last
        few seconds, hidden, or named ``*.tmp``/``*.part``) waits for the next run. Each
        imported file moves to ``done/``, an unreadable one to ``failed/`` with a
        ``.error.txt`` note beside it.

        :return: number of files handled.
        """
        # Every company's connectors: the folders are server configuration.
        connectors = self.search([("support_files", "=", True), ("inbound_folder", "!=", False)])
        waiting = []
        for connector in connectors:
            try:
                waiting += [(connector, path) for path in connector._inbound_files()]
            except (OSError, ValidationError) as exc:
                _logger.warning("inbound folder of connector %s cannot be read: %s", connector.id, exc)
                connector.write({"last_poll_error": _("Inbound folder cannot be read: %s", exc)})
        Cron = self.env["ir.cron"]
        started = time.monotonic()
        done = 0
        for connector, path in waiting:
            if time.monotonic() - started > self._POLL_RUN_BUDGET_SECONDS:
                break

            def progress(parts_done, parts_total, path=path):
                _logger.info("importing %s: %d/%d parts stored", path.name, parts_done, parts_total)
                # The file stays in place until it is complete: a crash re-imports it and
                # dedup skips the parts already committed.
                if not self._is_testing_run():
                    self.env.cr.commit()

            connector._import_inbound_file(path, progress)
            done += 1
            Cron._notify_progress(done=done, remaining=len(waiting) - done)
            if not self._is_testing_run():
                self.env.cr.commit()
        return done

    def _inbound_files(self):
        """Files ready in the inbound folder, oldest first."""
        self.ensure_one()
        folder = self._inbound_path()
        if not folder.is_dir():
            raise OSError(f"{folder} is not a directory")
        settled = time.time() - self._INBOUND_SETTLE_SECONDS
        ready = []
        for entry in folder.iterdir():
            if entry.name.startswith(".") or entry.suffix.lower() in (".tmp", ".part", ".partial"):
                continue
            if entry.is_file() and not entry.is_symlink() and entry.stat().st_mtime <= settled:
                ready.append(entry)
        return sorted(ready, key=lambda entry: (entry.stat().st_mtime, entry.name))

    def _import_inbound_file(self, path, progress=None):
        """Import one file of the inbound folder, then move it to ``done/`` or ``failed/``.

        :return: the counts of :meth:`_import_file`, or None when the file failed.
        """
        self.ensure_one()
        try:
            counts = self._import_file(path.name, path.read_bytes(), progress=progress)
        except (UserError, OSError) as exc:
            _logger.warning("inbound file %s of connector %s not imported: %s", path.name, self.id, exc)
            self._move_inbound(path, "failed", reason=str(exc))
            return None
        self._move_inbound(path, "done")
        return counts

    def _move_inbound(self, path, folder_name, reason=None):
        target_dir = path.parent / folder_name
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            # The same name again (a partner resending): keep both, the newer one stamped.
            stamp = fields.Datetime.now().strftime("%Y%m%dT%H%M%S")
            target = target_dir / f"{path.stem}.{stamp}.{os.getpid()}{path.suffix}"
        shutil.move(str(path), str(target))
        if reason:
            target.with_name(f"{target.name}.error.txt").write_text(reason + "\n", encoding="utf-8")
        return target

    # -- small utilities

    @staticmethod
    def _is_testing_run():
        # Commits per batch only outside tests, whose transaction is rolled back at the end.
        return getattr(threading.current_thread(), "testing", False)

    @staticmethod
    def _to_epoch(value):
        """Epoch seconds of a naive UTC datetime (as Odoo stores them), None for none."""
        return value.replace(tzinfo=timezone.utc).timestamp() if value else None

    @staticmethod
    def _from_epoch(value):
        """Naive UTC datetime, to the second, of epoch seconds; False for none."""
        if value is None:
            return False
        return datetime.fromtimestamp(int(value), timezone.utc).replace(tzinfo=None)

    @staticmethod
    def _file_error(chunk):
        """A part's error as stored on its failed message: always naming the line."""
        text = str(chunk.error)
        return text if text.startswith("line ") else f"line {chunk.line}: {text}"
