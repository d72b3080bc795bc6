import logging
import time
from collections import defaultdict
from datetime import timedelta

import psycopg2.errors

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import amqp, outbound, webhook_sender
from ..integration.storable import storable_text
from .shipment_inbox import _is_testing, wake_after_commit

_logger = logging.getLogger(__name__)

STATES = [("pending", "Pending"), ("sending", "Sending"), ("delivered", "Delivered"), ("failed", "Failed")]
# One batch is one claim, one read, one INSERT of attempts and one UPDATE: their cost is
# shared by the batch. RabbitMQ with confirms went from ~2,000/s at 200 to ~3,100-3,700/s
# at 500-1000 on the shared 2-core machine (BENCHMARKS.md); webhooks are bounded by
# outbox_batch_budget_seconds whatever the size.
DEFAULT_BATCH_SIZE = 500
DEFAULT_LEASE_SECONDS = 120
RUN_TIME_BUDGET_SECONDS = 50
WAKE_KEY = "shipment_visibility.wake_dispatcher"


# Under strict ordering, a delivery (``delivery`` of ``subscription``) waits while an
# earlier message of the same shipment is still on its way to the same subscription.
_WAITS_FOR_EARLIER = SQL("""(COALESCE(subscription.strict_ordering, FALSE) AND EXISTS (
    SELECT 1 FROM shipment_outbox_delivery earlier
     WHERE earlier.subscription_id = delivery.subscription_id
       AND earlier.shipment_id = delivery.shipment_id
       AND earlier.sequence < delivery.sequence
       AND earlier.state IN ('pending', 'sending')))""")


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
        # The claim's per-subscription scan: oldest due deliveries of one subscription.
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS shipment_outbox_delivery_subscription_due_idx
                ON shipment_outbox_delivery (subscription_id, next_attempt_at, id) WHERE state = 'pending'
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
        Cron = self.env["ir.cron"]
        # Each call delivers at least one batch, whatever is left of the cron pass.
        time_budget = Cron._shipment_time_left(time_budget)
        started, done, drained = time.monotonic(), 0, False
        while True:
            claimed = self._claim(batch_size)
            if not claimed:
                drained = True
                break
            claimed._deliver()
            done += len(claimed)
            Cron._notify_progress(done=done, remaining=1)
            if not _is_testing():
                self.env.cr.commit()
            if time.monotonic() - started >= time_budget:
                break
        Cron._shipment_notify_progress(done=done, remaining=0 if drained else self._count_due())
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
        on its way to the same subscription. Subscriptions share a batch in turns (see
        the query), oldest first within each.
        """
        self.flush_model()
        # A subscription disabled in this transaction (410, five days of failure) is out.
        self.env["shipment.subscription"].flush_model(["enabled", "active", "strict_ordering"])
        lease = self._param("outbox_lease_seconds", DEFAULT_LEASE_SECONDS)
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(SQL(
                    """
                    WITH candidate AS (
                        -- Each subscription's oldest due deliveries, numbered: the batch takes
                        -- the first of every subscription, then the second…, so that one
                        -- subscription's backlog (a slow or recovering consumer) never fills
                        -- a whole batch while the others' messages wait behind it.
                        SELECT pick.id, pick.rank, pick.next_attempt_at
                          FROM shipment_subscription subscription
                         CROSS JOIN LATERAL (
                            SELECT delivery.id, delivery.next_attempt_at,
                                   row_number() OVER (ORDER BY delivery.next_attempt_at, delivery.id) AS rank
                              FROM shipment_outbox_delivery delivery
                             WHERE delivery.subscription_id = subscription.id
                               AND delivery.state = 'pending'
                               AND delivery.next_attempt_at <= statement_timestamp() at time zone 'utc'
                               AND NOT %(waits_for_earlier)s
                             ORDER BY delivery.next_attempt_at, delivery.id
                             LIMIT %(limit)s
                         ) pick
                         WHERE subscription.enabled AND subscription.active
                        UNION ALL
                        -- Leases of a worker that died: due again, before anything else.
                        SELECT delivery.id, 0, delivery.next_attempt_at
                          FROM shipment_outbox_delivery delivery
                          JOIN shipment_subscription subscription ON subscription.id = delivery.subscription_id
                         WHERE subscription.enabled AND subscription.active
                           AND delivery.state = 'sending'
                           AND delivery.lease_until < statement_timestamp() at time zone 'utc'
                           AND NOT %(waits_for_earlier)s
                    ), due AS (
                        SELECT delivery.id FROM shipment_outbox_delivery delivery
                          JOIN candidate ON candidate.id = delivery.id
                         -- Checked again on the locked row: another worker may have claimed
                         -- it since this statement's snapshot.
                         WHERE delivery.state = 'pending'
                            OR (delivery.state = 'sending'
                                AND delivery.lease_until < statement_timestamp() at time zone 'utc')
                         ORDER BY candidate.rank, candidate.next_attempt_at, delivery.id
                         LIMIT %(limit)s
                         FOR NO KEY UPDATE OF delivery SKIP LOCKED
                    )
                    UPDATE shipment_outbox_delivery delivery
                       SET state = 'sending',
                           lease_until = statement_timestamp() at time zone 'utc' + make_interval(secs => %(lease)s)
                      FROM due WHERE delivery.id = due.id
                    RETURNING delivery.id
                    """, limit=limit, lease=lease, waits_for_earlier=_WAITS_FOR_EARLIER), log_exceptions=False)
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
        """Send these claimed deliveries and record the outcome of each attempt.

        What a send needs is read in one query, handed to pure code as plain values,
        and every outcome of the batch is written back in one statement per table.
        """
        if not self:
            return
        rows = self._batch_rows()
        # sudo: a destination's URL, secrets and broker address are for integration
        # administrators only, and the dispatcher may run as any user that woke it.
        subscriptions = self.env["shipment.subscription"].sudo().browse(sorted({row["subscription_id"]
                                                                               for row in rows}))
        by_subscription = defaultdict(list)
        for row in rows:
            by_subscription[row["subscription_id"]].append(row)
        results = []
        webhooks = subscriptions.filtered(lambda s: s.kind != "amqp")
        if webhooks:
            results += self._post(webhooks, by_subscription)
        for subscription in subscriptions - webhooks:
            results += self._publish(subscription, by_subscription[subscription.id])
        self._record(results)

    def _batch_rows(self):
        """What sending and recording need of each delivery, in one query instead of ORM reads."""
        self.flush_recordset()
        return self.env.execute_query_dict(SQL(
            """
            SELECT delivery.id, delivery.subscription_id, delivery.shipment_id, delivery.sequence,
                   delivery.attempts, message.payload, message.message_uid, message.correlation_id,
                   message.event_type, message.company_id, message.carrier_id
              FROM shipment_outbox_delivery delivery
              JOIN shipment_outbox message ON message.id = delivery.outbox_id
             WHERE delivery.id = ANY(%s)
             ORDER BY delivery.subscription_id, delivery.shipment_id, delivery.sequence, delivery.id
            """, self.ids))

    def _post(self, subscriptions, by_subscription):
        """Send the webhooks of a batch, several in flight, through the pure sender.

        :return: ``[(subscription, row, Outcome, seconds, excerpt)]`` of every attempt.
        """
        policy_text = self.env["ir.config_parameter"].sudo().get_param(
            "shipment_visibility.outbound_allowed_hosts", "")
        timeout = self._param("outbox_timeout_seconds", outbound.TIMEOUT_SECONDS)
        destinations, rows_by_id = [], {}
        for subscription in subscriptions:
            rows = by_subscription[subscription.id]
            rows_by_id.update((row["id"], row) for row in rows)
            lanes = defaultdict(list)
            for row in rows:
                # Strict ordering: one lane per shipment, in sequence order (rows are
                # sorted so), so that message n+1 leaves only after n was taken.
                key = row["shipment_id"] if subscription.strict_ordering else row["id"]
                lanes[key].append(webhook_sender.Message(row["id"], row["payload"].encode("utf-8"),
                                                         row["message_uid"]))
            destinations.append(webhook_sender.Destination(
                url=subscription.url, secrets=subscription._signing_secrets(), lanes=list(lanes.values()),
                policy_text=policy_text, timeout=timeout))
        webhook_sender.sender(self._param("outbox_concurrency", webhook_sender.DEFAULT_WORKERS)).send(
            destinations, budget=self._param("outbox_batch_budget_seconds",
                                             webhook_sender.DEFAULT_BATCH_BUDGET_SECONDS))
        results, untried = [], []
        for subscription, destination in zip(subscriptions, destinations):
            results += [(subscription, rows_by_id[attempt.key], attempt.outcome, attempt.seconds, attempt.excerpt)
                        for attempt in destination.attempts]
            untried += destination.untried
        if untried:
            # Not attempted (after a 410, behind a failed message of the same lane, past the
            # batch budget): back to pending as they were, no attempt counted.
            self.browse(untried)._release()
        return results

    def _publish(self, subscription, rows):
        url = subscription._broker_url()
        publisher = amqp.publisher_for(url, subscription.amqp_exchange or "shipment_visibility.events")
        # sudo: the carrier's name goes into the message headers whichever company or
        # user the dispatcher runs as.
        carriers = {carrier.id: carrier.name or "" for carrier in self.env["delivery.carrier"].sudo().browse(
            {row["carrier_id"] for row in rows if row["carrier_id"]})}
        batch = [(row["event_type"], row["payload"].encode("utf-8"), row["message_uid"],
                  {"company_id": row["company_id"], "carrier": carriers.get(row["carrier_id"], ""),
                   "shipment_id": row["shipment_id"], "sequence": row["sequence"]},
                  row["correlation_id"] or None)
                 for row in rows]
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
        for row, outcome in zip(rows, outcomes):
            if outcome is None:
                judged = outbound.Outcome(True)
            elif isinstance(outcome, amqp.BrokerUnavailable):
                judged = outbound.Outcome(False, error=str(outcome), retry_after=-1)
            else:
                judged = outbound.Outcome(False, error=str(outcome))
            results.append((subscription, row, judged, duration, ""))
        return results

    def _release(self):
        self.env.execute_query(SQL(
            "UPDATE shipment_outbox_delivery SET state = 'pending', lease_until = NULL WHERE id = ANY(%s)", self.ids))
        self.invalidate_recordset(["state", "lease_until"])

    def _record(self, results):
        """Store the attempts and move each delivery on: delivered, retried later or given up.

        :param results: ``[(subscription, row of _batch_rows, Outcome, seconds, excerpt)]``;
            one INSERT of the attempts and one UPDATE of the deliveries for the whole batch.
        """
        if not results:
            return
        now = fields.Datetime.now()
        attempts, updates, by_subscription = [], [], defaultdict(list)
        for subscription, row, outcome, duration, excerpt in results:
            number = row["attempts"] + 1
            by_subscription[subscription].append(outcome)
            attempts.append((row["id"], subscription.id, subscription.company_id.id, number, now,
                             int(duration * 1000), outcome.status_code or None, outcome.success,
                             storable_text(excerpt)[:outbound.RESPONSE_EXCERPT_CHARS] or None,
                             storable_text(outcome.error)[:1000] or None))
            if outcome.success:
                updates.append((row["id"], "delivered", number, None, now, outcome.status_code, None))
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
            updates.append((row["id"], state, number, next_at, None, outcome.status_code, outcome.error[:255]))
            _logger.info("delivery %s of %s to subscription %s failed (attempt %d): %s [%s]", row["id"],
                         row["message_uid"], subscription.id, number, outcome.error, row["correlation_id"])
        # The attempts and updates travel as arrays unnested by PostgreSQL: one statement
        # each however large the batch, and no per-row SQL to compose on our side.
        columns = list(zip(*attempts))
        self.env.execute_query(SQL(
            """
            INSERT INTO shipment_outbox_attempt (delivery_id, subscription_id, company_id, attempt, attempted_at,
                                                 duration_ms, status_code, success, response_excerpt, error)
            SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], %s::int[], %s::timestamp[], %s::int[], %s::int[],
                                 %s::bool[], %s::text[], %s::text[])
            """, *[list(column) for column in columns]))
        columns = list(zip(*updates))
        self.env.execute_query(SQL(
            """
            UPDATE shipment_outbox_delivery delivery
               SET state = u.state, attempts = u.attempts,
                   next_attempt_at = COALESCE(u.next_at, delivery.next_attempt_at),
                   delivered_at = u.delivered_at, last_status_code = u.status_code, last_error = u.error,
                   lease_until = NULL, write_date = now() at time zone 'utc'
              FROM unnest(%s::int[], %s::varchar[], %s::int[], %s::timestamp[], %s::timestamp[], %s::int[],
                          %s::varchar[]) AS u(id, state, attempts, next_at, delivered_at, status_code, error)
             WHERE delivery.id = u.id
            """, *[list(column) for column in columns]))
        self.invalidate_model()
        self.env["shipment.outbox.attempt"].invalidate_model()
        for subscription, outcomes in by_subscription.items():
            subscription._record_health(outcomes, now)

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
        outcome, _duration, _excerpt = webhook_sender.post(policy_text, subscription.url, body, message_id,
                                                           subscription._signing_secrets())
        return outcome

