import logging
import os
from datetime import timedelta

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..integration import secretbox, signatures

_logger = logging.getLogger(__name__)

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"
#: Columns holding encrypted secrets (Fernet tokens). They are plain SQL columns, not
#: ORM fields: no read, search_read, read_group, export or copy can return them, whoever
#: asks. Only the methods of this file read or write them.
CIPHER_COLUMNS = ("webhook_secret_cipher", "webhook_previous_secret_cipher", "api_key_cipher")
# Their names as ORM fields in versions 18.0.1.0.x, copied over once (see init).
_FORMER_COLUMNS = {"webhook_secret_encrypted": "webhook_secret_cipher",
                   "webhook_previous_secret_encrypted": "webhook_previous_secret_cipher",
                   "api_key_encrypted": "api_key_cipher"}

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


#: Set through the form or the API, never read back (see _compute_write_only_secrets).
WRITE_ONLY_FIELDS = {"webhook_secret", "api_key"}

class ShipmentConnector(models.Model):
    """Secrets of a connector: write-only in the interface, encrypted at rest."""

    _inherit = "shipment.connector"

    webhook_secret = fields.Char(
        compute="_compute_write_only_secrets", inverse="_inverse_webhook_secret", groups=ADMIN_GROUP,
        help="Write-only: the value is encrypted at rest and never shown again.")
    webhook_secret_set_at = fields.Datetime(string="Secret Set On", copy=False, readonly=True, groups=ADMIN_GROUP)
    webhook_previous_secret_expires_at = fields.Datetime(
        string="Previous Secret Valid Until", copy=False, readonly=True, groups=ADMIN_GROUP)
    has_webhook_secret = fields.Boolean(compute="_compute_has_secrets")
    api_key = fields.Char(
        string="API Key", compute="_compute_write_only_secrets", inverse="_inverse_api_key", groups=ADMIN_GROUP,
        help="Write-only: the value is encrypted at rest and never shown again.")
    api_key_set_at = fields.Datetime(string="API Key Set On", copy=False, readonly=True, groups=ADMIN_GROUP)
    has_api_key = fields.Boolean(compute="_compute_has_secrets")
    key_source = fields.Char(string="Encryption Key Source", compute="_compute_key_source", groups=ADMIN_GROUP)
    secret_rotation_hours = fields.Integer(
        string="Previous Secret Valid (hours)", default=24,
        help="After the secret is replaced, the previous one stays valid this long so "
             "that the partner can switch without losing messages.")

    def init(self):
        super().init()
        cr = self.env.cr
        for column in CIPHER_COLUMNS:
            cr.execute(SQL("ALTER TABLE shipment_connector ADD COLUMN IF NOT EXISTS %s varchar",
                           SQL.identifier(column)))
        cr.execute("SELECT column_name FROM information_schema.columns "
                   "WHERE table_name = 'shipment_connector' AND column_name = ANY(%s)", [list(_FORMER_COLUMNS)])
        for (former,) in cr.fetchall():
            cr.execute(SQL("UPDATE shipment_connector SET %s = %s WHERE %s IS NULL AND %s IS NOT NULL",
                           SQL.identifier(_FORMER_COLUMNS[former]), SQL.identifier(former),
                           SQL.identifier(_FORMER_COLUMNS[former]), SQL.identifier(former)))

    @api.model_create_multi
    def create(self, vals_list):
        connectors = super().create(vals_list)
        # The plaintext handed to create() stays in the cache after its inverse encrypted
        # it: drop it, so that nothing read later in this transaction (an export) sees it.
        connectors.invalidate_recordset(WRITE_ONLY_FIELDS)
        return connectors

    def write(self, vals):
        result = super().write(vals)
        if WRITE_ONLY_FIELDS & set(vals):
            self.invalidate_recordset(WRITE_ONLY_FIELDS)  # as in create()
        return result

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    def _compute_write_only_secrets(self):
        # Reading a secret never returns it: the form shows only whether one is set.
        for connector in self:
            connector.webhook_secret = False
            connector.api_key = False

    @api.depends("webhook_secret_set_at", "api_key_set_at")
    def _compute_has_secrets(self):
        # Whether a secret is set is no secret: users see whether a connector is configured.
        ciphers = self._ciphers()
        for connector in self:
            stored = ciphers.get(connector.id, {})
            connector.has_webhook_secret = bool(stored.get("webhook_secret_cipher"))
            connector.has_api_key = bool(stored.get("api_key_cipher"))

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

    # ------------------------------------------------------------------ #
    # CIPHER COLUMNS
    # ------------------------------------------------------------------ #

    def _ciphers(self):
        """The encrypted secrets of these connectors: id → {column: Fernet token}."""
        ids = [connector_id for connector_id in self.ids if isinstance(connector_id, int)]
        if not ids:
            return {}
        rows = self.env.execute_query(SQL(
            "SELECT id, %s FROM shipment_connector WHERE id = ANY(%s)",
            SQL(", ").join(SQL.identifier(column) for column in CIPHER_COLUMNS), ids))
        return {row[0]: dict(zip(CIPHER_COLUMNS, row[1:])) for row in rows}

    def _write_ciphers(self, values):
        """Store encrypted secrets (column → token or None) on these connectors.

        The webhook route caches what it checks per token: every worker drops that cache.
        """
        if not values or not self.ids:
            return
        self.env.execute_query(SQL(
            "UPDATE shipment_connector SET %s WHERE id = ANY(%s)",
            SQL(", ").join(SQL("%s = %s", SQL.identifier(column), token or None) for column, token in values.items()),
            self.ids))
        self.invalidate_recordset(["has_webhook_secret", "has_api_key"])
        self.env.registry.clear_cache()

    # ------------------------------------------------------------------ #
    # SECRETS
    # ------------------------------------------------------------------ #

    def _inverse_webhook_secret(self):
        now = fields.Datetime.now()
        box, _source = secret_box()
        ciphers = self._ciphers()
        for connector in self:
            secret = connector.webhook_secret
            if not secret:
                connector.action_clear_webhook_secret()
                continue
            current = ciphers.get(connector.id, {}).get("webhook_secret_cipher")
            tokens = {"webhook_secret_cipher": box.encrypt(secret)}
            values = {"webhook_secret_set_at": now}
            if current:
                # The partner switches secrets at its own pace: keep the old one valid a while.
                tokens["webhook_previous_secret_cipher"] = current
                values["webhook_previous_secret_expires_at"] = now + timedelta(hours=connector.secret_rotation_hours)
                note = _("Webhook secret replaced; the previous one is accepted until %s.",
                         fields.Datetime.to_string(values["webhook_previous_secret_expires_at"]))
            else:
                note = _("Webhook secret set.")
            connector._write_ciphers(tokens)
            connector.write(values)
            connector._message_log(body=note)
        self._check_live_requires_verification()

    def _inverse_api_key(self):
        now = fields.Datetime.now()
        box, _source = secret_box()
        for connector in self:
            connector._write_ciphers({"api_key_cipher": box.encrypt(connector.api_key) if connector.api_key else None})
            connector.write({"api_key_set_at": now if connector.api_key else False})
            connector._message_log(body=_("API key %s.", _("set") if connector.api_key else _("cleared")))

    def action_clear_webhook_secret(self):
        self._write_ciphers({"webhook_secret_cipher": None, "webhook_previous_secret_cipher": None})
        self.write({"webhook_secret_set_at": False, "webhook_previous_secret_expires_at": False})
        for connector in self:
            connector._message_log(body=_("Webhook secret cleared."))
        self._check_live_requires_verification()

    def action_clear_api_key(self):
        self._write_ciphers({"api_key_cipher": None})
        self.write({"api_key_set_at": False})
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

    def _webhook_secrets(self):
        """Decrypted secrets accepted now: the current one, then the previous within its window."""
        self.ensure_one()
        return self._route_view().secrets(fields.Datetime.now())

    def _api_key(self):
        self.ensure_one()
        token = self._ciphers().get(self.id, {}).get("api_key_cipher")
        return secret_box()[0].decrypt(token) if token else None

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
        connectors = self.sudo().with_context(active_test=False).search([])
        for connector_id, stored in connectors._ciphers().items():
            values = {column: box.rotate(token) for column, token in stored.items() if token}
            if values:
                connectors.browse(connector_id)._write_ciphers(values)
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
