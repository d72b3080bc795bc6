import logging
import uuid
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..integration import netguard, outbound, signatures
from .shipment_connector_secrets import ADMIN_GROUP, secret_box

_logger = logging.getLogger(__name__)

#: Encrypted columns: plain SQL, out of reach of read/search_read/export (see connector secrets).
CIPHER_COLUMNS = ("secret_cipher", "previous_secret_cipher", "amqp_url_cipher")
DEFAULT_EXCHANGE = "shipment_visibility.events"


class ShipmentSubscription(models.Model):
    """A consumer of our events: a signed webhook endpoint or a RabbitMQ exchange.

    Managed by integration administrators. Its filters (event types, company, customer)
    decide which outbox messages it gets; its health says how delivery goes.
    """

    _name = "shipment.subscription"
    _description = "Event Subscription"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "name, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    kind = fields.Selection([("webhook", "Signed webhook"), ("amqp", "RabbitMQ (AMQP 0-9-1)")], required=True,
                            default="webhook", tracking=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    customer_id = fields.Many2one(
        "res.partner", string="Only for Customer", tracking=True,
        help="A customer's own system receives only that customer's shipments.")
    event_type_ids = fields.Many2many(
        "shipment.outbox.event.type", string="Event Types", help="Empty: every type.")
    user_id = fields.Many2one("res.users", string="Owner", default=lambda self: self.env.user,
                              help="Told (activity and e-mail) when the subscription is disabled.")
    enabled = fields.Boolean(default=True, tracking=True, copy=False)
    disabled_reason = fields.Char(readonly=True, copy=False, tracking=True)
    disabled_at = fields.Datetime(readonly=True, copy=False)
    strict_ordering = fields.Boolean(
        default=False,
        help="Message n+1 of a shipment waits until message n is delivered (or given up). Slower: "
             "one failing shipment holds back its own later messages.")

    # Webhook
    url = fields.Char(string="Endpoint URL", tracking=True)
    secret = fields.Char(
        compute="_compute_write_only", inverse="_inverse_secret", groups=ADMIN_GROUP,
        help="Write-only whsec_ secret; use Rotate to generate one.")
    has_secret = fields.Boolean(compute="_compute_has_secret")
    secret_set_at = fields.Datetime(readonly=True, copy=False)
    previous_secret_expires_at = fields.Datetime(
        string="Previous Secret Signs Until", readonly=True, copy=False,
        help="During a rotation messages carry two signatures, with the new and the previous secret.")
    rotation_hours = fields.Integer(string="Rotation Window (hours)", default=24)

    # AMQP
    amqp_url = fields.Char(
        string="Broker URL", compute="_compute_write_only", inverse="_inverse_amqp_url", groups=ADMIN_GROUP,
        help="Write-only, e.g. amqp://user:password@broker:5672/%2F (amqps:// for TLS).")
    amqp_exchange = fields.Char(string="Exchange", default=DEFAULT_EXCHANGE,
                                help="Durable topic exchange; the routing key is the event type.")

    # Health
    last_success_at = fields.Datetime(readonly=True, copy=False)
    last_failure_at = fields.Datetime(readonly=True, copy=False)
    failing_since = fields.Datetime(readonly=True, copy=False,
                                    help="First failure since the last success.")
    consecutive_failures = fields.Integer(readonly=True, copy=False)
    last_error = fields.Char(readonly=True, copy=False)
    delivery_ids = fields.One2many("shipment.outbox.delivery", "subscription_id", string="Deliveries")
    pending_count = fields.Integer(compute="_compute_counts")
    failed_count = fields.Integer(compute="_compute_counts")
    delivered_count = fields.Integer(compute="_compute_counts")

    def init(self):
        for column in CIPHER_COLUMNS:
            self.env.cr.execute(SQL("ALTER TABLE shipment_subscription ADD COLUMN IF NOT EXISTS %s varchar",
                                    SQL.identifier(column)))

    # ------------------------------------------------------------------ #
    # COMPUTE / CONSTRAINTS
    # ------------------------------------------------------------------ #

    def _compute_write_only(self):
        for subscription in self:
            subscription.secret = False
            subscription.amqp_url = False

    def _compute_has_secret(self):
        ciphers = self._ciphers()
        for subscription in self:
            subscription.has_secret = bool(ciphers.get(subscription.id, {}).get("secret_cipher"))

    def _compute_counts(self):
        counts = self._delivery_counts()
        for subscription in self:
            mine = counts.get(subscription.id, {})
            subscription.pending_count = mine.get("pending", 0) + mine.get("sending", 0)
            subscription.failed_count = mine.get("failed", 0)
            subscription.delivered_count = mine.get("delivered", 0)

    def _delivery_counts(self):
        """Backlog and failures per subscription, in one query (operator views, metrics).

        :return: subscription id → {state: count, ``oldest_pending_at``: datetime or None,
            ``retrying``: pending deliveries that failed at least once}.
        """
        ids = [subscription_id for subscription_id in (self.ids or self.search([]).ids)
               if isinstance(subscription_id, int)]
        if not ids:
            return {}
        self.env["shipment.outbox.delivery"].flush_model()
        rows = self.env.execute_query(SQL(
            """
            SELECT subscription_id, state, count(*), min(create_date), count(*) FILTER (WHERE attempts > 0)
              FROM shipment_outbox_delivery WHERE subscription_id = ANY(%s)
             GROUP BY subscription_id, state
            """, ids))
        result = {subscription_id: {"oldest_pending_at": None, "retrying": 0} for subscription_id in ids}
        for subscription_id, state, count, oldest, retried in rows:
            result[subscription_id][state] = count
            if state in ("pending", "sending"):
                current = result[subscription_id]["oldest_pending_at"]
                result[subscription_id]["oldest_pending_at"] = min(filter(None, (current, oldest)))
                result[subscription_id]["retrying"] += retried
        return result

    @api.constrains("kind", "url")
    def _check_url(self):
        policy = self.env["shipment.connector"]._outbound_policy()
        for subscription in self.filtered(lambda s: s.kind == "webhook"):
            if not subscription.url:
                raise ValidationError(_("A webhook subscription needs an endpoint URL."))
            try:
                policy.check_url(subscription.url)
            except netguard.BlockedDestination as exc:
                raise ValidationError(_("%(url)s cannot be called: %(reason)s", url=subscription.url,
                                        reason=str(exc))) from None

    # ------------------------------------------------------------------ #
    # SECRETS
    # ------------------------------------------------------------------ #

    def _ciphers(self):
        ids = [subscription_id for subscription_id in self.ids if isinstance(subscription_id, int)]
        if not ids:
            return {}
        rows = self.env.execute_query(SQL(
            "SELECT id, %s FROM shipment_subscription WHERE id = ANY(%s)",
            SQL(", ").join(SQL.identifier(column) for column in CIPHER_COLUMNS), ids))
        return {row[0]: dict(zip(CIPHER_COLUMNS, row[1:])) for row in rows}

    def _write_ciphers(self, values):
        self.env.execute_query(SQL(
            "UPDATE shipment_subscription SET %s WHERE id = ANY(%s)",
            SQL(", ").join(SQL("%s = %s", SQL.identifier(column), token or None) for column, token in values.items()),
            self.ids))
        self.invalidate_recordset(["has_secret"])

    def _inverse_secret(self):
        for subscription in self:
            if subscription.secret:
                subscription._set_secret(subscription.secret)

    def _set_secret(self, secret):
        """Store a new secret; the previous one keeps signing during the rotation window."""
        self.ensure_one()
        if not secret.startswith("whsec_") or signatures._whsec_key(secret) is None:
            raise UserError(_("A subscription secret is whsec_ followed by base64 (use Rotate to generate one)."))
        box, _source = secret_box()
        current = self._ciphers().get(self.id, {}).get("secret_cipher")
        now = fields.Datetime.now()
        tokens = {"secret_cipher": box.encrypt(secret)}
        values = {"secret_set_at": now, "previous_secret_expires_at": False}
        if current:
            tokens["previous_secret_cipher"] = current
            values["previous_secret_expires_at"] = now + timedelta(hours=self.rotation_hours)
        self._write_ciphers(tokens)
        self.write(values)
        self._message_log(body=_("Signing secret replaced; the previous one also signs until %s.",
                                 fields.Datetime.to_string(values["previous_secret_expires_at"]))
                          if current else _("Signing secret set."))

    def _inverse_amqp_url(self):
        box, _source = secret_box()
        for subscription in self:
            if subscription.amqp_url:
                subscription._write_ciphers({"amqp_url_cipher": box.encrypt(subscription.amqp_url)})

    def _signing_secrets(self, now=None):
        """Decrypted secrets that sign now: the current one, then the previous within its window."""
        self.ensure_one()
        box, _source = secret_box()
        stored = self._ciphers().get(self.id, {})
        secrets = [box.decrypt(stored["secret_cipher"])] if stored.get("secret_cipher") else []
        now = now or fields.Datetime.now()
        if stored.get("previous_secret_cipher") and self.previous_secret_expires_at \
                and self.previous_secret_expires_at > now:
            secrets.append(box.decrypt(stored["previous_secret_cipher"]))
        return secrets

    def _broker_url(self):
        self.ensure_one()
        token = self._ciphers().get(self.id, {}).get("amqp_url_cipher")
        return secret_box()[0].decrypt(token) if token else None

    def action_rotate_secret(self):
        """Generate a new secret, show it once; the previous one keeps signing a while."""
        self.ensure_one()
        secret = signatures.generate_webhook_secret()
        self._set_secret(secret)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("New signing secret (shown once)"), "message": secret, "sticky": True,
                       "type": "warning"},
        }

    # ------------------------------------------------------------------ #
    # STATE
    # ------------------------------------------------------------------ #

    def _disable(self, reason):
        """Stop delivering to these subscriptions and tell their owners (activity and e-mail)."""
        for subscription in self.filtered("enabled"):
            subscription.write({"enabled": False, "disabled_reason": reason[:255],
                                "disabled_at": fields.Datetime.now()})
            _logger.warning("subscription %s disabled: %s", subscription.id, reason)
            owner = subscription.user_id
            if owner:
                summary = _("Event subscription %s disabled", subscription.name)
                subscription.activity_schedule("mail.mail_activity_data_warning", user_id=owner.id,
                                               summary=summary, note=reason)
                subscription.message_post(body=_("%(summary)s: %(reason)s", summary=summary, reason=reason),
                                          partner_ids=owner.partner_id.ids, subtype_xmlid="mail.mt_comment",
                                          message_type="comment")

    def _record_health(self, outcomes, now):
        """Connector-style health after a round of attempts; disables on 410 or 5 days of failure."""
        self.ensure_one()
        failures = [outcome for outcome in outcomes if not outcome.success]
        values = {}
        if len(failures) < len(outcomes):
            values.update(last_success_at=now, failing_since=False, consecutive_failures=0)
        if failures and not outcomes[-1].success:
            values.update(last_failure_at=now, last_error=failures[-1].error[:255],
                          consecutive_failures=values.get("consecutive_failures", self.consecutive_failures)
                          + len(failures), failing_since=self.failing_since or now)
        if values:
            self.write(values)
        if any(outcome.gone for outcome in failures):
            self._disable(_("The endpoint answered 410 Gone: it no longer accepts messages."))
        elif self.failing_since and now - self.failing_since >= outbound.DISABLE_AFTER:
            self._disable(_("Every delivery failed for %(days)s days (since %(since)s); last error: %(error)s",
                            days=outbound.DISABLE_AFTER.days, since=fields.Datetime.to_string(self.failing_since),
                            error=self.last_error or ""))

    def action_enable(self):
        self.write({"enabled": True, "disabled_reason": False, "disabled_at": False, "failing_since": False,
                    "consecutive_failures": 0})
        self.env["shipment.outbox.delivery"]._trigger_dispatcher()
        return True

    def action_disable(self):
        self._disable(_("Disabled by %s.", self.env.user.name))
        return True

    def action_send_test(self):
        """Send a ``shipment.created`` message about a sample shipment now and report the outcome."""
        self.ensure_one()
        shipment = self.env["shipment.shipment"].search([("company_id", "=", self.company_id.id),
                                                         ("shadow", "=", False)], limit=1)
        if not shipment:
            raise UserError(_("Record a shipment first: the test message carries a real one."))
        outcome, _message_id = self._send_test(shipment)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": _("Test message delivered") if outcome.success else _("Test message failed"),
                       "message": outcome.error or _("HTTP %s", outcome.status_code),
                       "type": "success" if outcome.success else "danger"},
        }

    def _send_test(self, shipment):
        """Send a ``shipment.created`` message about ``shipment`` now, outside the outbox.

        :return: ``(Outcome, message id)``; nothing is recorded or retried.
        """
        self.ensure_one()
        document = shipment._canonical_documents()[shipment.id]
        body = outbound.envelope(outbound.SHIPMENT_CREATED, fields.Datetime.now(),
                                 {"sequence": 1, "shipment": document, "event": None})
        message_id = f"msg_test_{uuid.uuid4().hex}"
        outcome = self.env["shipment.outbox.delivery"]._send_once(self, body, message_id, outbound.SHIPMENT_CREATED)
        return outcome, message_id

    def action_view_deliveries(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "name": _("Deliveries"), "res_model": "shipment.outbox.delivery",
                "view_mode": "list,form", "domain": [("subscription_id", "=", self.id)]}
