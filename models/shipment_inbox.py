import functools
import hashlib
import json
import threading
import uuid
from datetime import timedelta

import psycopg2.errors
import psycopg2.extensions

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.modules.registry import Registry
from odoo.tools import SQL

from ..integration import correlation, partners, payload
from ..integration.redaction import redact_headers
from ..integration.storable import storable_text

# Lines about a message end with its correlation id while the processor works on it.
_logger = correlation.get_logger(__name__)

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


def wake_after_commit(env, cron_xmlid, wake_key):
    """Have the cron ``cron_xmlid`` run once this transaction commits, at most one wake-up
    per transaction (``wake_key`` marks it), and only when no pending trigger already
    covers what the transaction stored (see :func:`_wake_processor`)."""
    # The cached xmlid lookup: env.ref() would also query that the cron exists.
    cron_id = env["ir.model.data"]._xmlid_to_res_id(cron_xmlid)
    if env.registry.in_test_mode():
        # Test cursors never run post-commit hooks. Called from public routes and
        # crons: the cron record is system configuration.
        env["ir.cron"].sudo().browse(cron_id)._trigger()
        return
    postcommit = env.cr.postcommit
    if not postcommit.data.get(wake_key):
        postcommit.data[wake_key] = True
        postcommit.add(functools.partial(_wake_processor, env.cr, cron_id))


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
                 correlation_id=None, file_name=None, company_id=None, connector_type=None):
        """Store one raw message, once.

        Runs as one ``INSERT … ON CONFLICT DO NOTHING`` so that concurrent redeliveries
        of the same message (same partner id, or same body) yield exactly one row.

        :param bytes body: the exact bytes received (must be UTF-8).
        :param int company_id: the connector's company, when the caller knows it already.
        :param str connector_type: the connector's type, likewise (the webhook route has
            both cached: reading them here fetched the whole connector on every request).
        :return: ``(message_id, created, correlation_id)``; ``created`` is False for a
            redelivery, whose original id and correlation id are returned.
        :raises UnicodeDecodeError: when the body is not UTF-8, or holds a NUL byte
            (PostgreSQL cannot store it, and JSON never contains one unescaped).
        """
        text = _storable_text(body)
        digest = hashlib.sha256(body).hexdigest()
        correlation_id = correlation_id or uuid.uuid4().hex
        external_id = _storable_external_id(external_id)
        stored_headers = self._stored_headers(connector_type or connector.connector_type, headers)
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
            body=text, digest=digest, size=len(body), headers=json.dumps(stored_headers),
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
    def _stored_headers(self, connector_type, headers):
        """The headers kept with a message: the usual ones, and the partner's documented
        message-id and timestamp headers; every other value redacted."""
        descriptor = partners.find(connector_type)
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
        wake_after_commit(self.env, "shipment_visibility.ir_cron_process_inbox", WAKE_KEY)

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
