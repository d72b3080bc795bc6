import functools
import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta

import psycopg2.errors
import psycopg2.extensions

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.modules.registry import Registry
from odoo.tools import SQL

from ..integration import partners, payload
from ..integration.adapters import get_adapter
from ..integration.errors import is_retryable
from ..integration.redaction import redact_headers
from ..integration.storable import error_text, storable_text

_logger = logging.getLogger(__name__)

STATES = [
    ("pending", "Pending"),
    ("processing", "Processing"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("dead", "Dead"),
    ("ignored", "Ignored"),
]
SOURCES = [
    ("webhook", "Webhook"),
    ("poll", "Polling"),
    ("file", "File import"),
    ("manual", "Manual entry"),
    ("api", "API"),
]
DEFAULT_BATCH_SIZE = 200
DEFAULT_LEASE_SECONDS = 120
DEFAULT_MAX_ATTEMPTS = 8
# Odoo calls a cron that reports remaining work up to 10 times in a row: 10 calls of this
# budget stay under the default 120 s real-time limit of a cron worker.
RUN_TIME_BUDGET_SECONDS = 8
# Marks a transaction that already asked for a processor wake-up after its commit.
WAKE_KEY = "shipment_visibility.wake_processor"
# Every state a message may move to, from each state. Claims and completions run as SQL
# for speed, through the same table (see ShipmentInbox._set_state).
TRANSITIONS = {
    # pending → pending: due now instead of after its back-off ("Process now")
    # pending → failed: a file part refused at intake, before any processing
    "pending": {"processing", "ignored", "pending", "failed"},
    "processing": {"done", "failed", "pending", "dead"},
    "done": {"pending"},
    "failed": {"pending", "ignored"},
    "dead": {"pending", "ignored"},
    "ignored": {"pending"},
}


def _storable_text(body):
    """The text of a raw body as stored, or UnicodeDecodeError.

    Not UTF-8, or holding a NUL byte (PostgreSQL cannot store it, and JSON never
    contains one unescaped): both refused the same way.
    """
    text = body.decode("utf-8")
    if "\x00" in text:
        position = body.index(b"\x00")
        raise UnicodeDecodeError("utf-8", body, position, position + 1, "NUL byte in the body")
    return text


def _storable_external_id(external_id):
    if not isinstance(external_id, (str, int)) or isinstance(external_id, bool):
        return None
    return storable_text(str(external_id)).strip()[:255] or None


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


def _wake_processor(cr, cron_id):
    """Trigger the inbox cron unless a pending wake-up already covers what ``cr`` just committed.

    A pending trigger covers it when it was created after the start of the cron's
    latest run (its newest ``ir.cron.progress`` row): Odoo deletes at the end of a run
    only the triggers that existed when the run started, so such a trigger survives and
    starts another run, which claims every message committed before it. It must also
    have been an immediate one, whose creator sent the NOTIFY that wakes a sleeping cron
    worker. Anything else (no trigger, or only ones the running job will delete) gets a
    trigger of its own.

    Runs right after the commit, on the same connection, so that it sees every trigger
    committed before the message was. The query runs in autocommit: as a transaction of
    its own it would cost a BEGIN and a ROLLBACK round trip more, on every accepted
    webhook, and the connection is left between transactions as the commit left it.
    """
    try:
        if _covering_trigger(cr, cron_id):
            return
        with Registry(cr.dbname).cursor() as wake_cr:
            api.Environment(wake_cr, SUPERUSER_ID, {})["ir.cron"].browse(cron_id)._trigger()
    except Exception:
        # The message is stored: the processor's schedule takes it if the wake-up fails.
        _logger.warning("could not wake the inbox processor", exc_info=True)


def _covering_trigger(cr, cron_id):
    connection = cr._cnx  # the cursor's psycopg2 connection: Odoo's Cursor has no autocommit switch
    # Between transactions, as after a commit; anywhere else the check joins the open one.
    standalone = connection.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    if standalone:
        connection.autocommit = True
    try:
        cr.execute(SQL(
            """
            SELECT 1
              FROM ir_cron_trigger pending
             WHERE pending.cron_id = %(cron)s
               AND pending.call_at <= now() at time zone 'utc'
               AND pending.call_at <= pending.create_date + interval '2 seconds'
               AND pending.create_date > COALESCE(
                   (SELECT progress.create_date FROM ir_cron_progress progress
                     WHERE progress.cron_id = %(cron)s ORDER BY progress.id DESC LIMIT 1),
                   '-infinity')
             LIMIT 1
            """, cron=cron_id))
        return bool(cr.fetchone())
    finally:
        if standalone:
            connection.autocommit = False


class ShipmentInbox(models.Model):
    """The inbound queue: every message from a partner, before and after processing.

    Webhook bodies, poll responses, file chunks and manual entries all become one row
    here first and are processed by :meth:`_cron_process_inbox`, which gives every
    input the same dedup, retries, dead-lettering, replay and audit.
    """

    _name = "shipment.inbox"
    _description = "Inbound Shipment Message"
    _order = "received_at desc, id desc"
    _rec_name = "display_label"
    _check_company_auto = True

    connector_id = fields.Many2one("shipment.connector", required=True, index=True, ondelete="restrict",
                                   check_company=True)
    company_id = fields.Many2one(related="connector_id.company_id", store=True, index=True)
    source = fields.Selection(SOURCES, required=True, default="webhook")
    received_at = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    external_id = fields.Char(string="Partner Message ID")
    body = fields.Text(groups="shipment_visibility.group_shipment_integration_admin")
    body_pretty = fields.Text(string="Payload", compute="_compute_body_pretty",
                              groups="shipment_visibility.group_shipment_integration_admin")
    body_sha256 = fields.Char(string="Body SHA-256", required=True)
    body_size = fields.Integer(string="Size (bytes)")
    headers = fields.Json(groups="shipment_visibility.group_shipment_integration_admin")
    headers_pretty = fields.Text(string="Received Headers", compute="_compute_body_pretty",
                                 groups="shipment_visibility.group_shipment_integration_admin")
    correlation_id = fields.Char(index=True)
    file_name = fields.Char(help="For file imports: the file and line the message came from.")
    state = fields.Selection(STATES, required=True, default="pending", index=True)
    attempts = fields.Integer(default=0)
    next_attempt_at = fields.Datetime(default=fields.Datetime.now)
    lease_until = fields.Datetime()
    processed_at = fields.Datetime()
    last_error = fields.Text()
    event_count = fields.Integer(string="New Events")
    shipment_ids = fields.Many2many("shipment.shipment", string="Shipments")
    target_shipment_id = fields.Many2one(
        "shipment.shipment", string="For Shipment", index="btree_not_null", ondelete="set null",
        check_company=True,
        help="Entries made by people name the shipment they mean: a carrier may reuse a tracking number.")
    has_unmatched = fields.Boolean(
        string="Unmatched", help="At least one of its shipments is not on a delivery order yet.",
        compute="_compute_has_unmatched", search="_search_has_unmatched")
    display_label = fields.Char(compute="_compute_display_label")

    @api.model_create_multi
    def create(self, vals_list):
        self._check_system_write()
        return super().create(vals_list)

    def write(self, vals):
        self._check_system_write()
        return super().write(vals)

    def _check_system_write(self):
        # A message is a record of what a partner sent and of what became of it: intake
        # (routes, polling, files) and the processor write it, as the system. People act
        # on it through the actions below, which check their access first; a direct write
        # could move a message to another company's connector, or fake its state.
        if not self.env.su:
            raise AccessError(_("Inbox messages are changed through their actions (Retry, Ignore, Replay) only."))

    def init(self):
        cr = self.env.cr
        # Dedup keys: the partner's message id when it has one, the body itself always.
        cr.execute("CREATE UNIQUE INDEX IF NOT EXISTS shipment_inbox_external_uniq "
                   "ON shipment_inbox (connector_id, external_id) WHERE external_id IS NOT NULL")
        cr.execute("CREATE UNIQUE INDEX IF NOT EXISTS shipment_inbox_body_uniq "
                   "ON shipment_inbox (connector_id, body_sha256)")
        # The processor's claim reads these in order and stops after a batch. Two partial
        # indexes: an ordered scan of each skips the entries of processed messages (dead
        # until vacuum) cheaply, where one index over both states led the planner to a
        # bitmap scan that visited every one of them on every claim.
        cr.execute("DROP INDEX IF EXISTS shipment_inbox_todo_idx")
        cr.execute("CREATE INDEX IF NOT EXISTS shipment_inbox_pending_idx "
                   "ON shipment_inbox (next_attempt_at, id) WHERE state = 'pending'")
        cr.execute("CREATE INDEX IF NOT EXISTS shipment_inbox_leased_idx "
                   "ON shipment_inbox (lease_until, id) WHERE state = 'processing'")

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("body", "headers")
    def _compute_body_pretty(self):
        for message in self:
            try:
                message.body_pretty = json.dumps(payload.loads(message.body or ""), indent=2, ensure_ascii=False)
            except payload.PayloadError:
                message.body_pretty = message.body
            message.headers_pretty = "\n".join(f"{k}: {v}" for k, v in (message.headers or {}).items())

    @api.depends("shipment_ids.picking_id")
    def _compute_has_unmatched(self):
        for message in self:
            message.has_unmatched = any(not s.picking_id for s in message.shipment_ids)

    def _search_has_unmatched(self, operator, value):
        positive = (operator == "=") == bool(value)
        return [("shipment_ids.picking_id", "=", False)] if positive else \
            ["!", ("shipment_ids.picking_id", "=", False)]

    @api.depends("connector_id", "source", "external_id")
    def _compute_display_label(self):
        for message in self:
            message.display_label = f"{message.connector_id.name or ''} #{message.id or ''} " \
                                    f"{message.external_id or message.file_name or ''}".strip()

    # ------------------------------------------------------------------ #
    # ENQUEUE
    # ------------------------------------------------------------------ #

    @api.model
    def _enqueue(self, connector, body, headers=None, source="webhook", external_id=None,
                 correlation_id=None, file_name=None, company_id=None):
        """Store one raw message, once.

        Runs as one ``INSERT … ON CONFLICT DO NOTHING`` so that concurrent redeliveries
        of the same message (same partner id, or same body) yield exactly one row.

        :param bytes body: the exact bytes received (must be UTF-8).
        :param int company_id: the connector's company, when the caller knows it already.
        :return: ``(message_id, created, correlation_id)``; ``created`` is False for a
            redelivery, whose original id and correlation id are returned.
        :raises UnicodeDecodeError: when the body is not UTF-8, or holds a NUL byte
            (PostgreSQL cannot store it, and JSON never contains one unescaped).
        """
        text = _storable_text(body)
        digest = hashlib.sha256(body).hexdigest()
        correlation_id = correlation_id or uuid.uuid4().hex
        external_id = _storable_external_id(external_id)
        # Quietly: a redelivery racing the processor's update of the original row is a
        # serialization failure, which Odoo answers by replaying the request.
        row = self._execute_quietly(SQL(
            """
            INSERT INTO shipment_inbox
                   (connector_id, company_id, source, received_at, external_id, body, body_sha256, body_size,
                    headers, correlation_id, file_name, state, attempts, next_attempt_at,
                    create_uid, create_date, write_uid, write_date)
            VALUES (%(connector)s, %(company)s, %(source)s, now() at time zone 'utc', %(external_id)s,
                    %(body)s, %(digest)s, %(size)s, %(headers)s, %(correlation)s, %(file_name)s,
                    'pending', 0, now() at time zone 'utc',
                    %(uid)s, now() at time zone 'utc', %(uid)s, now() at time zone 'utc')
            ON CONFLICT DO NOTHING
            RETURNING id
            """,
            connector=connector.id, company=company_id or connector.company_id.id, source=source,
            external_id=external_id,
            body=text, digest=digest, size=len(body), headers=json.dumps(self._stored_headers(connector, headers)),
            correlation=correlation_id, file_name=file_name, uid=self.env.uid or None,
        ))
        if row:
            return row[0][0], True, correlation_id
        existing = self.env.execute_query(SQL(
            """
            SELECT id, correlation_id FROM shipment_inbox
             WHERE connector_id = %(connector)s
               AND (body_sha256 = %(digest)s OR (external_id IS NOT NULL AND external_id = %(external_id)s))
             ORDER BY id LIMIT 1
            """,
            connector=connector.id, digest=digest, external_id=external_id,
        ))
        return existing[0][0], False, existing[0][1]

    @api.model
    def _stored_headers(self, connector, headers):
        """The headers kept with a message: the usual ones, and the partner's documented
        message-id and timestamp headers; every other value redacted."""
        descriptor = partners.find(connector.connector_type)
        keep = [*descriptor.kept_headers, descriptor.message_id_header or ""] if descriptor else []
        return redact_headers(headers or {}, keep=keep)

    @api.model
    def _enqueue_batch(self, connector, messages, source="file"):
        """Store many raw messages in one statement, each once: :meth:`_enqueue` for files.

        One ``INSERT … ON CONFLICT DO NOTHING`` for all, then one read of the messages
        that were already stored (same body, or same partner id, as a message stored
        before or earlier in the same batch).

        :param list messages: ``(body, external_id, file_name)`` tuples, ``body`` in bytes.
        :return: per message, in order, ``(message_id, created)``, or ``None`` for a body
            that cannot be stored (not UTF-8, or holding a NUL byte).
        :rtype: list
        """
        rows, results = [], [None] * len(messages)
        for index, (body, external_id, file_name) in enumerate(messages):
            try:
                text = _storable_text(body)
            except UnicodeDecodeError:
                continue
            rows.append((index, text, hashlib.sha256(body).hexdigest(), len(body),
                         _storable_external_id(external_id), file_name))
        if not rows:
            return results
        company_id = connector.company_id.id
        values = SQL(", ").join(
            SQL("(%s, %s, %s, now() at time zone 'utc', %s, %s, %s, %s, '{}', %s, %s, 'pending', 0, "
                "now() at time zone 'utc', %s, now() at time zone 'utc', %s, now() at time zone 'utc')",
                connector.id, company_id, source, external_id, text, digest, size, uuid.uuid4().hex, file_name,
                self.env.uid or None, self.env.uid or None)
            for _index, text, digest, size, external_id, file_name in rows
        )
        inserted = self.env.execute_query(SQL(
            """
            INSERT INTO shipment_inbox
                   (connector_id, company_id, source, received_at, external_id, body, body_sha256, body_size,
                    headers, correlation_id, file_name, state, attempts, next_attempt_at,
                    create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT DO NOTHING
            RETURNING id, body_sha256, external_id
            """, values))
        created = {(digest, external_id): message_id for message_id, digest, external_id in inserted}
        stored_before = []
        for index, _text, digest, _size, external_id, _file_name in rows:
            # Of messages alike in the batch, the first was inserted; the others conflicted.
            message_id = created.pop((digest, external_id), None)
            if message_id is not None:
                results[index] = (message_id, True)
            else:
                stored_before.append((index, digest, external_id))
        if stored_before:
            existing = self.env.execute_query(SQL(
                """
                SELECT id, body_sha256, external_id FROM shipment_inbox
                 WHERE connector_id = %s AND (body_sha256 = ANY(%s) OR external_id = ANY(%s))
                 ORDER BY id
                """, connector.id, [digest for _i, digest, _e in stored_before],
                [external_id for _i, _d, external_id in stored_before if external_id]))
            oldest_by_digest, oldest_by_external_id = {}, {}
            for row_id, row_digest, row_external_id in existing:  # oldest first
                oldest_by_digest.setdefault(row_digest, row_id)
                if row_external_id:
                    oldest_by_external_id.setdefault(row_external_id, row_id)
            for index, digest, external_id in stored_before:
                # As _enqueue: the oldest message with the same body or the same partner id.
                candidates = [oldest_by_digest.get(digest), oldest_by_external_id.get(external_id)]
                results[index] = (min(filter(None, candidates)), False)
        return results

    @api.model
    def _trigger_processor(self):
        """Wake the processor for the messages this transaction stores, once it commits.

        ``ir.cron._trigger`` costs a trigger row and, after the commit, a new connection to
        the ``postgres`` database for the NOTIFY that wakes cron workers: under load, more
        than the rest of an accepted webhook. A burst needs one wake-up, not one per
        message, so the check runs after the commit and skips the trigger when a pending
        one is sure to lead to a run that sees this message (see :func:`_wake_processor`).
        """
        # The cached xmlid lookup: env.ref() would also query that the cron exists.
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id("shipment_visibility.ir_cron_process_inbox")
        if self.env.registry.in_test_mode():
            # Test cursors never run post-commit hooks. Called from public routes and
            # crons: the cron record is system configuration.
            self.env["ir.cron"].sudo().browse(cron_id)._trigger()
            return
        postcommit = self.env.cr.postcommit
        if not postcommit.data.get(WAKE_KEY):
            postcommit.data[WAKE_KEY] = True
            postcommit.add(functools.partial(_wake_processor, self.env.cr, cron_id))

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
        started = time.monotonic()
        done = 0
        drained = False
        while time.monotonic() - started < RUN_TIME_BUDGET_SECONDS:
            claimed, raced = self._claim_or_race(batch_size)
            if raced and not _is_testing():
                # Every batch is committed before the next claim: nothing of ours is lost
                # by starting a new transaction, whose snapshot sees the other worker's claim.
                self.env.cr.rollback()
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
            self.env["ir.cron"]._notify_progress(done=done, remaining=1)
            if not _is_testing():
                self.env.cr.commit()
        # Odoo calls the cron again at once while work remains: only messages due now count,
        # not retries scheduled for later (a count of every pending row also cost a scan of
        # the queue per batch).
        self.env["ir.cron"]._notify_progress(done=done, remaining=0 if drained else self._count_due())
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
            try:
                with self.env.cr.savepoint():
                    messages.browse(list(parsed))._store_and_finish(parsed)
            except Exception as exc:  # any failure: redo it message by message
                _logger.info("inbox batch of %d messages stored one by one after %s", len(parsed),
                             exc.__class__.__name__)
                self.env.invalidate_all()
                for message in messages.browse(list(parsed)):
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
        # Business policies act on what the batch changed, after the events are stored.
        self.env["shipment.workflow"]._run(created_events.shipment_id)
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
            try:
                if connector not in contexts:
                    contexts[connector] = connector._adapter_context()
                adapter = get_adapter(connector.connector_type)
                context = contexts[connector].for_message(message.headers, message.received_at)
                parsed[message.id] = adapter.parse(message.body.encode("utf-8"), context)
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
        rows, seen, shipments_of = [], set(), {}
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

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def _check_actionable(self):
        """Access to act on these messages, and none of them held by a worker right now."""
        self.check_access("write")
        now = fields.Datetime.now()
        held = self.filtered(lambda m: m.state == "processing" and m.lease_until and m.lease_until > now)
        if held:
            raise UserError(_(
                "%(count)s message(s) are being processed by a worker right now (%(names)s): wait until "
                "the worker is done, or until its lease expires at %(until)s UTC.",
                count=len(held), names=", ".join(held[:5].mapped("display_label")),
                until=fields.Datetime.to_string(max(held.mapped("lease_until")))))

    def action_retry(self):
        """Queue again now (failed, dead or ignored messages), with a fresh attempt budget."""
        self._check_actionable()
        # Managers act on messages through these actions only: the state is not theirs to write.
        self.sudo()._set_state("pending", reset_attempts=True)
        self._trigger_processor()
        return True

    def action_ignore(self):
        self._check_actionable()
        self.sudo()._set_state("ignored")  # as in action_retry
        return True

    def action_replay(self):
        """Process done messages again, e.g. after a status mapping was fixed.

        Events already stored are recognised by their fingerprint; only what the new
        mapping yields differently is added.
        """
        return self.action_retry()

    def action_process_now(self):
        """Queue these messages at once and wake the processor; nothing is committed here.

        The processor runs in a cron worker of its own (right after this request
        commits), never inside the request of the person who pressed the button.
        """
        self._check_actionable()
        # As in action_retry; a pending message waiting for its back-off becomes due now.
        self.sudo()._set_state("pending", reset_attempts=True)
        self._trigger_processor()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Queued"),
                "message": _("%s message(s) queued: the processor takes them within seconds.", len(self)),
                "type": "info",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    @api.autovacuum
    def _gc_done_messages(self):
        """Keep processed payloads for a while for audit and replay, then drop them."""
        days = self._param("inbox_retention_days", 90)
        cutoff = fields.Datetime.now() - timedelta(days=days)
        old = self.search([("state", "in", ("done", "ignored")), ("received_at", "<", cutoff)], limit=10000)
        old.sudo().unlink()  # retention is the system's housekeeping, whoever triggers the vacuum
        return len(old)
