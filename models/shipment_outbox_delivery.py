import logging
import threading
import time
from datetime import timedelta

import psycopg2.errors
import requests

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import amqp, netguard, outbound
from ..integration.storable import storable_text
from .shipment_inbox import _is_testing, wake_after_commit

_logger = logging.getLogger(__name__)

STATES = [("pending", "Pending"), ("sending", "Sending"), ("delivered", "Delivered"), ("failed", "Failed")]
DEFAULT_BATCH_SIZE = 200
DEFAULT_LEASE_SECONDS = 120
RUN_TIME_BUDGET_SECONDS = 50
WAKE_KEY = "shipment_visibility.wake_dispatcher"

_SESSIONS = threading.local()


def _session(policy_text):
    """The guarded HTTP session of this thread for an outbound policy: keep-alive per worker."""
    sessions = getattr(_SESSIONS, "by_policy", None)
    if sessions is None:
        sessions = _SESSIONS.by_policy = {}
    if policy_text not in sessions:
        sessions[policy_text] = netguard.AddressPolicy.from_text(policy_text).session()
    return sessions[policy_text]


class ShipmentOutboxDelivery(models.Model):
    """One outbox message on its way to one subscription, with its attempts.

    The dispatcher cron claims due deliveries with ``FOR NO KEY UPDATE SKIP LOCKED`` and a
    lease (any number of workers), sends them, and records each attempt. Failures are
    retried on :data:`integration.outbound.RETRY_SCHEDULE` with jitter; a broker that is
    down keeps its messages pending until it is back.
    """

    _name = "shipment.outbox.delivery"
    _description = "Outgoing Message Delivery"
    _order = "id desc"

    outbox_id = fields.Many2one("shipment.outbox", string="Message", required=True, readonly=True, index=True,
                                ondelete="cascade")
    subscription_id = fields.Many2one("shipment.subscription", required=True, readonly=True, index=True,
                                      ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    shipment_id = fields.Many2one("shipment.shipment", readonly=True, index=True, ondelete="cascade")
    sequence = fields.Integer(readonly=True)
    event_type = fields.Selection(related="outbox_id.event_type", store=True)
    message_uid = fields.Char(related="outbox_id.message_uid")
    correlation_id = fields.Char(related="outbox_id.correlation_id")
    state = fields.Selection(STATES, required=True, default="pending", readonly=True, index=True)
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(readonly=True, index=True, default=fields.Datetime.now)
    lease_until = fields.Datetime(readonly=True)
    delivered_at = fields.Datetime(readonly=True)
    last_status_code = fields.Integer(string="Last HTTP Status", readonly=True)
    last_error = fields.Char(readonly=True)
    attempt_ids = fields.One2many("shipment.outbox.attempt", "delivery_id", string="Attempt Log")

    def init(self):
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS shipment_outbox_delivery_due_idx
                ON shipment_outbox_delivery (next_attempt_at, id) WHERE state = 'pending'
        """)
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS shipment_outbox_delivery_order_idx
                ON shipment_outbox_delivery (subscription_id, shipment_id, sequence)
             WHERE state IN ('pending', 'sending')
        """)

    # ------------------------------------------------------------------ #
    # FAN-OUT
    # ------------------------------------------------------------------ #

    @api.model
    def _fan_out(self, messages):
        """One pending delivery per (message, matching enabled subscription), in this transaction."""
        subscriptions = self.env["shipment.subscription"].sudo().search([("enabled", "=", True)])
        if not subscriptions or not messages:
            return 0
        types = {subscription.id: set(subscription.event_type_ids.mapped("code")) for subscription in subscriptions}
        rows = []
        for message in messages:
            customer = message.customer_id.commercial_partner_id
            for subscription in subscriptions:
                if subscription.company_id != message.company_id:
                    continue
                if types[subscription.id] and message.event_type not in types[subscription.id]:
                    continue
                if subscription.customer_id and subscription.customer_id.commercial_partner_id != customer:
                    continue
                rows.append((message.id, subscription.id, message.company_id.id, message.shipment_id.id,
                             message.sequence))
        if rows:
            self.env.execute_query(SQL(
                """
                INSERT INTO shipment_outbox_delivery
                       (outbox_id, subscription_id, company_id, shipment_id, sequence, event_type, state, attempts,
                        next_attempt_at, create_uid, create_date, write_uid, write_date)
                SELECT d.outbox_id, d.subscription_id, d.company_id, d.shipment_id, d.sequence, message.event_type,
                       'pending', 0, now() at time zone 'utc', %(uid)s, now() at time zone 'utc', %(uid)s,
                       now() at time zone 'utc'
                  FROM (VALUES %(rows)s) AS d(outbox_id, subscription_id, company_id, shipment_id, sequence)
                  JOIN shipment_outbox message ON message.id = d.outbox_id
                """, uid=self.env.uid, rows=SQL(", ").join(SQL("(%s, %s, %s, %s, %s)", *row) for row in rows)))
            self._trigger_dispatcher()
        return len(rows)

    @api.model
    def _trigger_dispatcher(self):
        """Wake the dispatcher once this transaction commits (never before: a consumer must
        not hear of a change that could still roll back)."""
        wake_after_commit(self.env, "shipment_visibility.ir_cron_dispatch_outbox", WAKE_KEY)

    # ------------------------------------------------------------------ #
    # DISPATCHER
    # ------------------------------------------------------------------ #

    @api.model
    def _param(self, key, default):
        return int(self.env["ir.config_parameter"].sudo().get_param(f"shipment_visibility.{key}", default))

    @api.model
    def _cron_dispatch(self, time_budget=RUN_TIME_BUDGET_SECONDS):
        """Deliver due messages in batches until none is due or the time budget is spent."""
        batch_size = self._param("outbox_batch_size", DEFAULT_BATCH_SIZE)
        started, done, drained = time.monotonic(), 0, False
        while time.monotonic() - started < time_budget:
            claimed = self._claim(batch_size)
            if not claimed:
                drained = True
                break
            claimed._deliver()
            done += len(claimed)
            self.env["ir.cron"]._notify_progress(done=done, remaining=1)
            if not _is_testing():
                self.env.cr.commit()
        self.env["ir.cron"]._notify_progress(done=done, remaining=0 if drained else self._count_due())
        return done

    @api.model
    def _count_due(self, cap=10000):
        self.flush_model()
        return self.env.execute_query(SQL(
            """
            SELECT count(*) FROM (SELECT 1 FROM shipment_outbox_delivery
             WHERE state = 'pending' AND next_attempt_at <= statement_timestamp() at time zone 'utc' LIMIT %s) due
            """, cap))[0][0]

    @api.model
    def _claim(self, limit):
        """Lease up to ``limit`` due deliveries of enabled subscriptions to this worker.

        Deliveries whose lease expired (their worker died) are due again. Under strict
        ordering a delivery waits while an earlier message of the same shipment is still
        on its way to the same subscription.
        """
        self.flush_model()
        # A subscription disabled in this transaction (410, five days of failure) is out.
        self.env["shipment.subscription"].flush_model(["enabled", "active", "strict_ordering"])
        lease = self._param("outbox_lease_seconds", DEFAULT_LEASE_SECONDS)
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(SQL(
                    """
                    WITH due AS (
                        SELECT delivery.id FROM shipment_outbox_delivery delivery
                          JOIN shipment_subscription subscription ON subscription.id = delivery.subscription_id
                         WHERE subscription.enabled AND subscription.active
                           AND ((delivery.state = 'pending'
                                 AND delivery.next_attempt_at <= statement_timestamp() at time zone 'utc')
                             OR (delivery.state = 'sending'
                                 AND delivery.lease_until < statement_timestamp() at time zone 'utc'))
                           AND NOT (COALESCE(subscription.strict_ordering, FALSE) AND EXISTS (
                               SELECT 1 FROM shipment_outbox_delivery earlier
                                WHERE earlier.subscription_id = delivery.subscription_id
                                  AND earlier.shipment_id = delivery.shipment_id
                                  AND earlier.sequence < delivery.sequence
                                  AND earlier.state IN ('pending', 'sending')))
                         ORDER BY delivery.next_attempt_at, delivery.id
                         LIMIT %(limit)s
                         FOR NO KEY UPDATE OF delivery SKIP LOCKED
                    )
                    UPDATE shipment_outbox_delivery delivery
                       SET state = 'sending',
                           lease_until = statement_timestamp() at time zone 'utc' + make_interval(secs => %(lease)s)
                      FROM due WHERE delivery.id = due.id
                    RETURNING delivery.id
                    """, limit=limit, lease=lease), log_exceptions=False)
                ids = [row[0] for row in self.env.cr.fetchall()]
        except psycopg2.errors.SerializationFailure:
            _logger.info("outbox claim lost a race to another worker")
            return self.browse()
        self.invalidate_model(["state", "lease_until"])
        claimed = self.browse(sorted(ids))
        if claimed and not _is_testing():
            # The lease is visible to other workers before the (slow) sending starts.
            self.env.cr.commit()
        return claimed

    def _deliver(self):
        """Send these claimed deliveries and record the outcome of each attempt."""
        deliveries = self.sudo()
        for subscription in deliveries.subscription_id:
            mine = deliveries.filtered(lambda d, s=subscription: d.subscription_id == s).sorted(
                lambda d: (d.shipment_id.id, d.sequence, d.id))
            if subscription.kind == "amqp":
                mine._publish(subscription)
            else:
                mine._post(subscription)

    def _post(self, subscription):
        secrets = subscription._signing_secrets()
        policy_text = self.env["ir.config_parameter"].sudo().get_param(
            "shipment_visibility.outbound_allowed_hosts", "")
        timeout = self._param("outbox_timeout_seconds", outbound.TIMEOUT_SECONDS)
        try:
            # Resolved and checked once per batch before any connection (each connection
            # checks its peer address again, against DNS rebinding).
            netguard.AddressPolicy.from_text(policy_text).check_url(subscription.url)
            refused = None
        except (netguard.BlockedDestination, ValueError) as exc:
            refused = outbound.Outcome(False, error=f"refused destination: {exc}")
        results = []
        for delivery in self:
            if refused:
                results.append((delivery, refused, 0, ""))
                continue
            # In sequence order: message n+1 of a shipment leaves only after n was answered.
            results.append((delivery, *_http_post(policy_text, subscription.url,
                                                  delivery.outbox_id.payload.encode("utf-8"),
                                                  delivery.outbox_id.message_uid, secrets, timeout)))
            if results[-1][1].gone:
                break
        self._record(subscription, results)
        # Deliveries not attempted after a 410: back to pending, for the day it is re-enabled.
        untried = self - self.browse([delivery.id for delivery, *_rest in results])
        if untried:
            untried._release()

    def _publish(self, subscription):
        url = subscription._broker_url()
        publisher = amqp.publisher_for(url, subscription.amqp_exchange or "shipment_visibility.events")
        batch = [(message.event_type, message.payload.encode("utf-8"), message.message_uid,
                  {"company_id": message.company_id.id, "carrier": message.carrier_id.name or "",
                   "shipment_id": message.shipment_id.id, "sequence": message.sequence},
                  message.correlation_id or None)
                 for message in (delivery.outbox_id for delivery in self)]
        started = time.monotonic()
        try:
            if subscription.strict_ordering:
                # Confirmed one by one: message n+1 is published only once n is safe.
                outcomes = []
                for message in batch:
                    outcomes += publisher.publish_many([message])
                    if outcomes[-1] is not None:
                        outcomes += [outcomes[-1]] * (len(batch) - len(outcomes))
                        break
            else:
                outcomes = publisher.publish_many(batch)
        except amqp.BrokerUnavailable as exc:
            outcomes = [exc] * len(batch)
        duration = (time.monotonic() - started) / max(len(batch), 1)
        results = []
        for delivery, outcome in zip(self, outcomes):
            if outcome is None:
                judged = outbound.Outcome(True)
            elif isinstance(outcome, amqp.BrokerUnavailable):
                judged = outbound.Outcome(False, error=str(outcome), retry_after=-1)
            else:
                judged = outbound.Outcome(False, error=str(outcome))
            results.append((delivery, judged, duration, ""))
        self._record(subscription, results)

    def _release(self):
        self.env.execute_query(SQL(
            "UPDATE shipment_outbox_delivery SET state = 'pending', lease_until = NULL WHERE id = ANY(%s)", self.ids))
        self.invalidate_recordset(["state", "lease_until"])

    def _record(self, subscription, results):
        """Store the attempts and move each delivery on: delivered, retried later or given up."""
        if not results:
            return
        now = fields.Datetime.now()
        attempts, updates = [], []
        for delivery, outcome, duration, excerpt in results:
            number = delivery.attempts + 1
            attempts.append(SQL("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", delivery.id, subscription.id,
                                subscription.company_id.id, number, now,
                                int(duration * 1000), outcome.status_code or None, outcome.success,
                                storable_text(excerpt)[:outbound.RESPONSE_EXCERPT_CHARS] or None,
                                storable_text(outcome.error)[:1000] or None))
            if outcome.success:
                updates.append((delivery.id, "delivered", number, None, now, outcome.status_code, None))
                continue
            if subscription.kind == "amqp" and outcome.retry_after == -1:
                delay = outbound.broker_retry_delay(subscription.consecutive_failures + 1)
            elif outcome.retry_after is not None:
                delay = outcome.retry_after
            else:
                delay = outbound.retry_delay(number)
            if delay is None or outcome.gone:
                state, next_at = ("pending", now) if outcome.gone else ("failed", None)
            else:
                state, next_at = "pending", now + timedelta(seconds=delay)
            updates.append((delivery.id, state, number, next_at, None, outcome.status_code, outcome.error[:255]))
            _logger.info("delivery %s of %s to subscription %s failed (attempt %d): %s [%s]", delivery.id,
                         delivery.outbox_id.message_uid, subscription.id, number, outcome.error,
                         delivery.outbox_id.correlation_id)
        self.env.execute_query(SQL(
            """
            INSERT INTO shipment_outbox_attempt (delivery_id, subscription_id, company_id, attempt, attempted_at,
                                                 duration_ms, status_code, success, response_excerpt, error)
            VALUES %s
            """, SQL(", ").join(attempts)))
        self.env.execute_query(SQL(
            """
            UPDATE shipment_outbox_delivery delivery
               SET state = u.state, attempts = u.attempts,
                   next_attempt_at = COALESCE(u.next_at, delivery.next_attempt_at),
                   delivered_at = u.delivered_at, last_status_code = u.status_code, last_error = u.error,
                   lease_until = NULL, write_date = now() at time zone 'utc'
              FROM (VALUES %s) AS u(id, state, attempts, next_at, delivered_at, status_code, error)
             WHERE delivery.id = u.id
            """, SQL(", ").join(SQL("(%s, %s, %s, %s::timestamp, %s::timestamp, %s::int, %s)", *row)
                                for row in updates)))
        self.invalidate_model()
        self.env["shipment.outbox.attempt"].invalidate_model()
        subscription._record_health([outcome for _delivery, outcome, *_rest in results], now)

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def _requeue(self):
        """Send these deliveries again from the start of the schedule (same webhook-id)."""
        self.env.execute_query(SQL(
            """
            UPDATE shipment_outbox_delivery SET state = 'pending', attempts = 0, lease_until = NULL,
                   next_attempt_at = now() at time zone 'utc', delivered_at = NULL
             WHERE id = ANY(%s) AND state != 'sending'
            """, self.ids))
        self.invalidate_recordset()
        self._trigger_dispatcher()

    def action_replay(self):
        self._requeue()
        return True

    @api.model
    def _send_once(self, subscription, body, message_id, event_type):
        """Send one message outside the outbox (the test button): its outcome, not recorded."""
        if subscription.kind == "amqp":
            try:
                amqp.publisher_for(subscription._broker_url(), subscription.amqp_exchange).publish(
                    event_type, body, message_id)
                return outbound.Outcome(True)
            except (amqp.BrokerUnavailable, amqp.PublishRefused) as exc:
                return outbound.Outcome(False, error=str(exc))
        policy_text = self.env["ir.config_parameter"].sudo().get_param(
            "shipment_visibility.outbound_allowed_hosts", "")
        outcome, _duration, _excerpt = _http_post(policy_text, subscription.url, body, message_id,
                                                  subscription._signing_secrets())
        return outcome


def _http_post(policy_text, url, body, message_id, secrets, timeout=outbound.TIMEOUT_SECONDS):
    """POST one signed message; never raises.

    :return: ``(Outcome, seconds, response excerpt)``.
    """
    started = time.monotonic()
    try:
        if not secrets:
            raise ValueError("the subscription has no signing secret: rotate it to generate one")
        headers = outbound.signed_headers(body, message_id, secrets)
        response = _session(policy_text).post(url, data=body, headers=headers, timeout=timeout)
        excerpt = response.text[:outbound.RESPONSE_EXCERPT_CHARS] if response.content else ""
        return outbound.judge_response(response.status_code, response.headers), time.monotonic() - started, excerpt
    except netguard.BlockedDestination as exc:
        error = f"refused destination ({exc.reason}): {exc}"
    except requests.Timeout:
        error = f"no answer within {timeout} s"
    except requests.RequestException as exc:
        cause = exc
        while cause.__context__ is not None and not isinstance(cause, netguard.BlockedDestination):
            cause = cause.__context__
        if isinstance(cause, netguard.BlockedDestination):
            error = f"refused destination ({cause.reason}): {cause}"
        else:
            error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
    except ValueError as exc:
        error = str(exc)
    return outbound.Outcome(False, error=error), time.monotonic() - started, ""
