"""The inbox processor: claims due messages, parses them, stores their events, and moves
each message through the states of ``TRANSITIONS``."""

import json
import random
import time
from collections import defaultdict
from datetime import timedelta

import psycopg2.errors

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..integration import correlation
from ..integration.adapters import get_adapter
from ..integration.errors import is_retryable
from ..integration.storable import error_text, storable_text
from .shipment_inbox import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    RUN_TIME_BUDGET_SECONDS,
    TRANSITIONS,
    _is_testing,
)

# Lines about a message end with its correlation id while the processor works on it.
_logger = correlation.get_logger(__name__)


class ShipmentInbox(models.Model):
    _inherit = "shipment.inbox"

    # ------------------------------------------------------------------ #
    # PROCESSOR
    # ------------------------------------------------------------------ #

    @api.model
    def _param(self, key, default):
        # Tuning knobs are system parameters so that operators change them without code.
        return int(self.env["ir.config_parameter"].sudo().get_param(f"shipment_visibility.{key}", default))

    @api.model
    def _cron_process_inbox(self):
        """Process pending messages in batches until none is left or the time budget is spent.

        Any number of cron workers may run this at once: each claims its own rows. A batch
        that fails in a way no message could be blamed for (a bug in a policy, a value
        the database refuses while finishing) never stops the run: its messages are
        failed or rescheduled, and the next batch goes on.
        """
        batch_size = self._param("inbox_batch_size", DEFAULT_BATCH_SIZE)
        Cron = self.env["ir.cron"]
        # Each call works at least one batch, whatever is left of the cron pass: it always
        # progresses.
        budget = Cron._shipment_time_left(RUN_TIME_BUDGET_SECONDS)
        started = time.monotonic()
        done = 0
        drained = False
        while True:
            claimed, raced = self._claim_or_race(batch_size)
            if raced and not _is_testing():
                # Every batch is committed before the next claim: nothing of ours is lost
                # by starting a new transaction, whose snapshot sees the other worker's claim.
                self.env.cr.rollback()
                if time.monotonic() - started >= budget:
                    break
                time.sleep(random.uniform(0.01, 0.05))
                continue
            if not claimed:
                drained = True
                break
            try:
                with self.env.cr.savepoint():
                    claimed._process_batch()
            except Exception as exc:  # a crash of the batch itself: sorted out per message below
                _logger.exception("inbox batch of %d messages crashed; failing them one by one [%s]",
                                  len(claimed), ",".join(claimed.mapped("correlation_id"))[:300])
                self.env.invalidate_all()
                claimed._fail_unfinished(exc)
            done += len(claimed)
            # Committed with each batch: should the worker die, Odoo sees partial progress.
            Cron._notify_progress(done=done, remaining=1)
            if not _is_testing():
                self.env.cr.commit()
            if time.monotonic() - started >= budget:
                break
        # Odoo calls the cron again at once while work remains: only messages due now count,
        # not retries scheduled for later (a count of every pending row also cost a scan of
        # the queue per batch).
        Cron._shipment_notify_progress(done=done, remaining=0 if drained else self._count_due())
        return done

    @api.model
    def _count_due(self, cap=10000):
        """Messages waiting to be claimed now (counted up to ``cap``)."""
        self.flush_model(["state", "next_attempt_at"])
        return self.env.execute_query(SQL(
            """
            SELECT count(*) FROM (
                SELECT 1 FROM shipment_inbox
                 WHERE state = 'pending' AND next_attempt_at <= statement_timestamp() at time zone 'utc'
                 LIMIT %s) due
            """, cap))[0][0]

    @api.model
    def _claim(self, limit):
        """Lease up to ``limit`` due messages to this worker.

        ``FOR NO KEY UPDATE SKIP LOCKED`` lets concurrent workers take disjoint rows; the
        lease is committed at once, so a worker killed mid-batch only delays its messages
        until the lease expires and another worker takes them over. A message whose
        lease expired after its last allowed attempt goes to ``dead`` instead: whatever
        kills the worker processing it would kill the next one too.
        """
        return self._claim_or_race(limit)[0]

    @api.model
    def _claim_or_race(self, limit):
        """:meth:`_claim`, telling a lost race apart from an empty queue.

        In PostgreSQL's repeatable read, a row another worker claimed after this
        transaction's snapshot cannot be locked here (a serialization failure): the
        claim gives up quietly, and the caller may start a new transaction and claim again.

        :return: ``(claimed messages, raced)``.
        """
        try:
            with self.env.cr.savepoint(flush=False):
                claimed = self._claim_once(limit)
        except psycopg2.errors.SerializationFailure:
            self.env.invalidate_all()
            _logger.info("inbox claim lost a race to another worker; claiming again in a new transaction")
            return self.browse(), True
        if claimed and not _is_testing():
            self.env.cr.commit()
        return claimed, False

    def _claim_once(self, limit):
        lease = self._param("inbox_lease_seconds", DEFAULT_LEASE_SECONDS)
        max_attempts = self._param("inbox_max_attempts", DEFAULT_MAX_ATTEMPTS)
        # The queries below name no field: pending ORM writes (a retry or a replay in this
        # transaction) must reach the table before they pick the due rows. Due-ness is
        # judged on the statement's clock, not on now() (the transaction start), which can
        # lie before a next_attempt_at written by this same transaction.
        self.flush_model()
        # A claim that loses a race (see _claim_or_race) is expected: Odoo must not log
        # its refused query as an error.
        exhausted = self._execute_quietly(SQL(
            """
            WITH exhausted AS (
                SELECT id FROM shipment_inbox
                 WHERE state = 'processing' AND lease_until < statement_timestamp() at time zone 'utc'
                   AND attempts >= %(max)s
                 ORDER BY lease_until, id
                 LIMIT %(limit)s
                 FOR NO KEY UPDATE SKIP LOCKED
            )
            UPDATE shipment_inbox message
               SET state = 'dead', lease_until = NULL, processed_at = now() at time zone 'utc',
                   last_error = %(error)s || COALESCE(E'\\n' || message.last_error, '')
              FROM exhausted
             WHERE message.id = exhausted.id
            RETURNING message.id
            """,
            limit=limit, max=max_attempts,
            error=f"Its lease expired after attempt {max_attempts}: the worker processing it stopped "
                  f"each time (killed, out of memory or over its time limit).",
        ))
        if exhausted:
            _logger.warning("inbox messages %s dead: every worker processing them stopped", [r[0] for r in exhausted])
            self.browse([row[0] for row in exhausted])._notify_dead_letters()
        rows = self._execute_quietly(SQL(
            """
            WITH expired AS (
                SELECT id FROM shipment_inbox
                 WHERE state = 'processing' AND lease_until < statement_timestamp() at time zone 'utc'
                 ORDER BY lease_until, id
                 LIMIT %(limit)s
                 FOR NO KEY UPDATE SKIP LOCKED
            ), pending AS (
                SELECT id FROM shipment_inbox
                 WHERE state = 'pending' AND next_attempt_at <= statement_timestamp() at time zone 'utc'
                 ORDER BY next_attempt_at, id
                 LIMIT %(limit)s
                 FOR NO KEY UPDATE SKIP LOCKED
            ), due AS (
                -- Messages a killed worker held come first: they waited longest.
                SELECT id FROM (SELECT id, 0 AS rank FROM expired UNION ALL SELECT id, 1 FROM pending) candidates
                 ORDER BY rank, id
                 LIMIT %(limit)s
            )
            UPDATE shipment_inbox message
               SET state = 'processing', attempts = message.attempts + 1,
                   lease_until = statement_timestamp() at time zone 'utc' + make_interval(secs => %(lease)s)
              FROM due
             WHERE message.id = due.id
            RETURNING message.id
            """,
            limit=limit, lease=lease,
        ))
        self.invalidate_model(["state", "attempts", "lease_until", "last_error", "processed_at"])
        return self.browse(sorted(row[0] for row in rows))

    def _execute_quietly(self, query):
        cr = self.env.cr
        cr.execute(query, log_exceptions=False)
        return cr.fetchall() if cr.description else []

    def _process_now(self):
        """Process these pending messages in this transaction (an entry made by a person,
        who waits for the result): claimed like any batch, then processed by the same code."""
        rows = self.env.execute_query(SQL(
            """
            UPDATE shipment_inbox SET state = 'processing', attempts = attempts + 1,
                   lease_until = statement_timestamp() at time zone 'utc' + make_interval(secs => %s)
             WHERE id = ANY(%s) AND state = 'pending'
            RETURNING id
            """, self._param("inbox_lease_seconds", DEFAULT_LEASE_SECONDS), self.ids))
        self.invalidate_recordset(["state", "attempts", "lease_until"])
        claimed = self.browse([row[0] for row in rows])
        claimed._process_batch()
        return claimed

    def _process_batch(self):
        """Parse every claimed message, store the batch in one go, then act on it once.

        Parsing is pure Python and fails message by message. Storing and finishing (the
        derived state of the shipments, the business policies) take one savepoint for
        the whole batch: shipments matched per connector in one query, events in one
        ``INSERT``, messages marked done in one ``UPDATE``. When that savepoint fails (two
        workers creating the same new shipment, a value PostgreSQL refuses, a policy
        that breaks on one shipment), the batch is stored and finished again message by
        message, each in its own savepoint, so that a bad message only fails itself.
        """
        max_attempts = self._param("inbox_max_attempts", DEFAULT_MAX_ATTEMPTS)
        # The processor acts for the system on behalf of every company's connectors. Field
        # tracking would log a chatter line for every ETA an aggregator resends; the
        # timeline already shows each estimate, and policies post what matters.
        messages = self.sudo().with_context(mail_notrack=True)
        parsed, dead = messages._parse_all(max_attempts)
        if parsed:
            batch = messages.browse(list(parsed))
            try:
                with self.env.cr.savepoint(), correlation.bind(*batch.mapped("correlation_id")):
                    batch._store_and_finish(parsed)
            except Exception as exc:  # any failure: redo it message by message
                _logger.info("inbox batch of %d messages stored one by one after %s", len(parsed),
                             exc.__class__.__name__)
                self.env.invalidate_all()
                for message in batch:
                    with correlation.bind(message.correlation_id):
                        try:
                            with self.env.cr.savepoint():
                                message._store_and_finish(parsed)
                        except Exception as message_exc:  # sorted out by _handle_failure
                            self.env.invalidate_all()
                            dead |= message._handle_failure(message_exc, max_attempts)
        if dead:
            dead._notify_dead_letters()

    def _store_and_finish(self, parsed):
        """Store these messages' events, then derive the touched shipments' state and run
        the business policies on them, once."""
        created_events = self._store_parsed(parsed)
        # The recompute runs in the environment that flushes: it must be the untracked one.
        created_events._notify_created()
        self.env.flush_all()
        # Consumers hear of the new milestones in the transaction that stores them.
        self.env["shipment.outbox"]._emit_after_batch(created_events, "events")
        # Business policies act on what the batch changed, after the events are stored,
        # each shipment under the correlation ids of the messages that changed it.
        self.env["shipment.workflow"].with_context(
            shipment_correlation=created_events._correlation_by_shipment())._run(created_events.shipment_id)
        self.env.flush_all()
        self.env["shipment.outbox"]._emit_after_batch(created_events, "state")

    def _parse_all(self, max_attempts):
        """Run each message through its connector's adapter (pure Python, no database).

        :return: ``(parsed, dead)``: message id → adapter result for the messages that
            parsed, and the messages dead-lettered on the way.
        """
        contexts, parsed, dead = {}, {}, self.browse()
        for message in self:
            connector = message.connector_id
            with correlation.bind(message.correlation_id):
                try:
                    if connector not in contexts:
                        contexts[connector] = connector._adapter_context()
                    adapter = get_adapter(connector.connector_type)
                    context = contexts[connector].for_message(message.headers, message.received_at)
                    parsed[message.id] = adapter.parse(message.body.encode("utf-8"), context)
                    _logger.debug("inbox message %s parsed: %d events", message.id, len(parsed[message.id].events))
                except Exception as exc:  # sorted out by _handle_failure
                    dead |= message._handle_failure(exc, max_attempts)
        return parsed, dead

    def _handle_failure(self, exc, max_attempts):
        """Fail, retry or dead-letter this message after ``exc``.

        A failure of the content (see :func:`integration.errors.is_retryable`) fails at
        once with its reason and path: every retry would meet it again. A failure of the
        moment is retried with backoff until the last attempt, then dead-lettered.

        :return: the message if it went to ``dead``, else an empty recordset.
        """
        self.ensure_one()
        error = error_text(exc)
        if not is_retryable(exc):
            self._set_state("failed", error)
            return self.browse()
        error = f"{exc.__class__.__name__}: {error}"
        _logger.warning("inbox message %s failed (attempt %s): %s [%s]", self.id, self.attempts,
                        exc.__class__.__name__, self.correlation_id)
        if self.attempts >= max_attempts:
            self._set_state("dead", error)
            return self
        self._schedule_retry(error)
        return self.browse()

    def _fail_unfinished(self, exc):
        """Last resort after a batch crashed outside any message's savepoint.

        Each message of the batch still ``processing`` is failed (content) or
        rescheduled (moment) on its own, with the crash as its error. Runs in plain SQL,
        which needs nothing of the ORM state the crash may have left behind.
        """
        max_attempts = self._param("inbox_max_attempts", DEFAULT_MAX_ATTEMPTS)
        unfinished = self.browse([row[0] for row in self.env.execute_query(SQL(
            "SELECT id FROM shipment_inbox WHERE id = ANY(%s) AND state = 'processing'", self.ids))])
        dead = self.browse()
        for message in unfinished.sudo():  # the processor acts for every company, as in _process_batch
            dead |= message._handle_failure(exc, max_attempts)
        if dead:
            dead._notify_dead_letters()

    def _store_parsed(self, parsed):
        """Store the parsed events of these messages and mark them done.

        :param dict parsed: message id → adapter result (see :meth:`_parse_all`).
        :return: the created ``shipment.event`` records.
        """
        Shipment = self.env["shipment.shipment"]
        Event = self.env["shipment.event"]
        shipments = {}  # (connector id, tracking number) → shipment
        for connector in self.connector_id:
            numbers = []
            for message in self.filtered(lambda m, connector=connector: m.connector_id == connector):
                result = parsed[message.id]
                numbers += [event.tracking_number for event in result.events]
                numbers += list(result.tracking_numbers)
            if numbers:
                found = Shipment._find_or_create_for_events(numbers, connector=connector)
                shipments.update(((connector.id, number), shipment) for number, shipment in found.items())
        rows, shipments_of = [], {}
        seen = Event._stored_keys({shipment.id for shipment in shipments.values()})
        for message in self:
            result = parsed[message.id]
            numbers = dict.fromkeys([event.tracking_number for event in result.events] + list(result.tracking_numbers))
            mine = {number: shipments[message.connector_id.id, number] for number in numbers}
            target = message.target_shipment_id
            if target and target.tracking_number in mine:
                mine[target.tracking_number] = target
            shipments_of[message.id] = Shipment.browse([shipment.id for shipment in mine.values()])
            rows += Event._rows_from_canonical(
                result.events, mine, message.source, correlation_id=message.correlation_id,
                extra_values={"inbox_id": message.id}, seen=seen)
            shipments_of[message.id]._apply_partner_facts(result.shipment_info)
        inserted = Event._insert_rows(rows)
        created_per_message = defaultdict(int)
        for _event_id, row in inserted:
            created_per_message[row["inbox_id"]] += 1
        self._mark_done(created_per_message, shipments_of)
        return Event.browse([event_id for event_id, _row in inserted])

    def _mark_done(self, created_per_message, shipments_of):
        """Set these messages ``done`` with their event counts and shipments.

        :param dict created_per_message: message id → number of new events.
        :param dict shipments_of: message id → ``shipment.shipment`` records it touched.
        """
        self._set_state("done", counts={message_id: created_per_message.get(message_id, 0)
                                        for message_id in self.ids})
        relation = self._fields["shipment_ids"]
        self.env.execute_query(SQL(
            "DELETE FROM %s WHERE %s = ANY(%s)",
            SQL.identifier(relation.relation), SQL.identifier(relation.column1), self.ids))
        pairs = [(message_id, shipment_id) for message_id in self.ids for shipment_id in shipments_of[message_id].ids]
        if pairs:
            self.env.execute_query(SQL(
                "INSERT INTO %s (%s, %s) VALUES %s ON CONFLICT DO NOTHING",
                SQL.identifier(relation.relation), SQL.identifier(relation.column1),
                SQL.identifier(relation.column2),
                SQL(", ").join(SQL("(%s, %s)", message_id, shipment_id) for message_id, shipment_id in pairs)))
        self.invalidate_recordset(["shipment_ids"])

    # ------------------------------------------------------------------ #
    # STATE CHANGES
    # ------------------------------------------------------------------ #

    def _set_state(self, target, error=None, counts=None, next_attempt_at=None, reset_attempts=False):
        """Move these messages to ``target``: the one way any message changes state.

        Only the transitions of :data:`TRANSITIONS` happen; one SQL statement applies them,
        guarded by the current state in the database, so a message another worker moved
        meanwhile is left alone. The error text is made storable here, whatever it holds.
        Claims are the one other writer of ``state`` (:meth:`_claim_once`), from
        ``pending`` (or an expired ``processing`` lease) to ``processing``.

        :param str target: the new state.
        :param str error: ``last_error`` to store (``failed``, ``dead``, a retry); cleared
            by ``done`` and by re-queuing.
        :param dict counts: for ``done``: message id → number of new events.
        :param datetime next_attempt_at: for ``pending``: when to try again (default now).
        :param bool reset_attempts: for ``pending`` by hand: a fresh attempt budget.
        :return: the messages that moved.
        """
        allowed_from = sorted(state for state, targets in TRANSITIONS.items() if target in targets)
        if target not in TRANSITIONS or not self:
            return self.browse()
        values = {
            "state": SQL("%s", target),
            "lease_until": SQL("NULL"),
            "write_uid": SQL("%s", self.env.uid),
            "write_date": SQL("now() at time zone 'utc'"),
        }
        if target in ("done", "failed", "dead", "ignored"):
            values["processed_at"] = SQL("now() at time zone 'utc'")
        if target == "done":
            values["last_error"] = SQL("NULL")
            values["event_count"] = SQL("COALESCE((%s::jsonb ->> message.id::text)::int, 0)",
                                        json.dumps({str(k): v for k, v in (counts or {}).items()}))
        elif target == "pending":
            values["next_attempt_at"] = SQL("%s", next_attempt_at) if next_attempt_at else \
                SQL("now() at time zone 'utc'")
            values["last_error"] = SQL("%s", storable_text(error, 2000)) if error else SQL("NULL")
            if reset_attempts:
                values["attempts"] = SQL("0")
        elif error is not None:
            values["last_error"] = SQL("%s", storable_text(error, 2000))
        self.flush_recordset()
        rows = self.env.execute_query(SQL(
            "UPDATE shipment_inbox message SET %s WHERE message.id = ANY(%s) AND message.state = ANY(%s) "
            "RETURNING message.id",
            SQL(", ").join(SQL("%s = %s", SQL.identifier(name), value) for name, value in values.items()),
            self.ids, allowed_from))
        self.invalidate_recordset(["state", "lease_until", "processed_at", "last_error", "event_count",
                                   "next_attempt_at", "attempts", "write_uid", "write_date"])
        moved = self.browse([row[0] for row in rows])
        if len(moved) < len(self):
            _logger.info("inbox messages %s not moved to %s: no longer in %s", (self - moved).ids, target,
                         "/".join(allowed_from))
        return moved

    def _schedule_retry(self, error):
        """Back off exponentially with jitter, so a partner outage does not become a retry storm."""
        for message in self:
            delay = min(30 * 2 ** max(message.attempts - 1, 0), 6 * 3600) * random.uniform(0.8, 1.2)
            message._set_state("pending", error, next_attempt_at=fields.Datetime.now() + timedelta(seconds=delay))

    def _notify_dead_letters(self):
        """One open activity per connector and integration administrator, not one per message."""
        admins = self.env.ref("shipment_visibility.group_shipment_integration_admin").users.filtered(
            lambda user: not user._is_superuser() and user.active and not user.share)
        activity_type = self.env.ref("mail.mail_activity_data_warning")
        summary = _("Dead inbox messages")
        for connector in self.connector_id.sudo():  # activities for admins, scheduled by the system
            existing = connector.activity_ids.filtered(
                lambda a: a.activity_type_id == activity_type and a.summary == summary)
            for admin in admins - existing.user_id:
                connector.activity_schedule(
                    "mail.mail_activity_data_warning", user_id=admin.id, summary=summary,
                    note=_("Messages of %s failed every retry. Open Integration > Inbox, fix the cause "
                           "and replay them.", connector.name))
