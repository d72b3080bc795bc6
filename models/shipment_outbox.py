import json
import logging
import uuid
from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import canonical, outbound

_logger = logging.getLogger(__name__)

EVENT_TYPE_SELECTION = list(outbound.EVENT_TYPES.items())
DEFAULT_RETENTION_DAYS = 14


class ShipmentOutbox(models.Model):
    """One business event to publish, written in the transaction of the change that caused it.

    A row exists if and only if its change committed: consumers never hear of a change
    that was rolled back, and never miss one that was kept. Each row is fanned out at
    once into one ``shipment.outbox.delivery`` per matching subscription, which the
    dispatcher works off after the commit. ``sequence`` numbers the messages of one
    shipment from 1 without gaps, for consumers (and subscriptions) that need order.
    """

    _name = "shipment.outbox"
    _description = "Outgoing Shipment Message"
    _order = "id desc"
    _rec_name = "event_type"

    message_uid = fields.Char(
        string="Message ID", required=True, readonly=True, index=True, copy=False,
        help="The webhook-id and AMQP message_id: the same on every retry and replay, so that "
             "consumers can drop what they already have.")
    event_type = fields.Selection(EVENT_TYPE_SELECTION, required=True, readonly=True, index=True)
    shipment_id = fields.Many2one("shipment.shipment", required=True, readonly=True, index=True,
                                  ondelete="cascade")
    sequence = fields.Integer(readonly=True, help="Position among this shipment's messages, from 1.")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    customer_id = fields.Many2one("res.partner", string="Customer", readonly=True, index="btree_not_null")
    carrier_id = fields.Many2one("delivery.carrier", readonly=True)
    event_id = fields.Many2one("shipment.event", string="Tracking Event", readonly=True, ondelete="set null")
    correlation_id = fields.Char(readonly=True, index="btree_not_null")
    payload = fields.Text(readonly=True, help="The exact body sent: a Standard Webhooks envelope.")
    payload_size = fields.Integer(readonly=True)
    delivery_ids = fields.One2many("shipment.outbox.delivery", "outbox_id", string="Deliveries")
    delivery_state = fields.Selection(
        [("none", "No subscriber"), ("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")],
        compute="_compute_delivery_state")

    def _compute_delivery_state(self):
        for message in self:
            states = set(message.delivery_ids.mapped("state"))
            if not states:
                message.delivery_state = "none"
            elif "failed" in states:
                message.delivery_state = "failed"
            elif states - {"delivered"}:
                message.delivery_state = "pending"
            else:
                message.delivery_state = "delivered"

    def _document(self):
        self.ensure_one()
        return json.loads(self.payload)

    # ------------------------------------------------------------------ #
    # EMISSION
    # ------------------------------------------------------------------ #

    @api.model
    def _emit(self, messages, set_baseline=False):
        """Write outbox rows (and their deliveries) for ``messages`` in this transaction.

        :param list messages: dicts with ``event_type``, ``shipment`` (record),
            ``document`` (its canonical document), ``event`` (``shipment.event`` or
            empty), ``extra`` (further ``data`` keys), ``correlation_id``.
        :param bool set_baseline: the messages tell the shipments' present status and
            ETA: remember them as what consumers know, the reference of the next
            ``status_changed`` and ``eta_changed``.
        :return: the created ``shipment.outbox`` records.
        """
        messages = [message for message in messages if not message["shipment"].shadow]
        if not messages:
            return self.browse()
        sequences = self._allocate_sequences([message["shipment"].id for message in messages],
                                             set_baseline=set_baseline)
        now = fields.Datetime.now()
        event_documents = self._event_documents(
            self.env["shipment.event"].union(*[message["event"] for message in messages if message.get("event")]))
        values = []
        for message in messages:
            shipment, event = message["shipment"], message.get("event")
            sequence = next(sequences[shipment.id])
            data = {"sequence": sequence, "shipment": message["document"],
                    "event": event_documents.get(event.id) if event else None}
            data.update(message.get("extra") or {})
            body = outbound.envelope(message["event_type"], now, data)
            values.append({
                "message_uid": f"msg_{uuid.uuid4().hex}",
                "event_type": message["event_type"],
                "shipment_id": shipment.id,
                "sequence": sequence,
                "company_id": shipment.company_id.id,
                "customer_id": message["document"]["customer_id"] or False,
                "carrier_id": shipment.carrier_id.id,
                "event_id": event.id if event else False,
                "correlation_id": message.get("correlation_id") or (event.correlation_id if event else False),
                "payload": body.decode("utf-8"),
                "payload_size": len(body),
            })
        rows = self._insert(values)
        self.env["shipment.outbox.delivery"].sudo()._fan_out(rows)
        return rows

    @api.model
    def _insert(self, values):
        """Write these rows in one ``INSERT``: the processor emits hundreds per batch, and
        the ORM's create (defaults, access checks, per-field conversion) cost more than the
        rest of the emission. Every column is set here; no field of this model is computed
        from another, so nothing is left to recompute."""
        columns = ("message_uid", "event_type", "shipment_id", "sequence", "company_id", "customer_id",
                   "carrier_id", "event_id", "correlation_id", "payload", "payload_size")
        # One array per column, unnested by PostgreSQL: psycopg2 renders lists in C, and
        # composing a value object per cell cost as much as the insert.
        rows = self.env.execute_query(SQL(
            """
            INSERT INTO shipment_outbox (%s, create_uid, create_date, write_uid, write_date)
            SELECT *, %s, now() at time zone 'utc', %s, now() at time zone 'utc' FROM unnest(%s)
            RETURNING id
            """,
            SQL(", ").join(SQL.identifier(column) for column in columns),
            self.env.uid, self.env.uid,
            SQL(", ").join(
                SQL("%s::%s[]", [value[column] or None for value in values], SQL(self._fields[column].column_type[1]))
                for column in columns)))
        self.env["shipment.shipment"].browse({value["shipment_id"] for value in values}).invalidate_recordset(
            ["outbox_ids"])
        # The system writes the outbox for whoever made the change.
        return self.sudo().browse([row[0] for row in rows])

    @api.model
    def _allocate_sequences(self, shipment_ids, set_baseline=False):
        """Reserve the next sequence numbers of each shipment, one row lock per shipment
        (its ``shipment.outbox.position``).

        With ``set_baseline``, the same statement records the shipments' status and ETA as
        what consumers now know.

        :return: shipment id → iterator over its reserved numbers, in order.
        """
        counts = defaultdict(int)
        for shipment_id in shipment_ids:
            counts[shipment_id] += 1
        self.env["shipment.shipment"].flush_model(["status", "eta"])
        rows = self.env.execute_query(SQL(
            """
            INSERT INTO shipment_outbox_position AS position (shipment_id, sequence, published_status, published_eta)
            SELECT wanted.id, wanted.n, CASE WHEN %(baseline)s THEN s.status END,
                   CASE WHEN %(baseline)s THEN s.eta END
              FROM unnest(%(ids)s::int[], %(counts)s::int[]) AS wanted(id, n)
              JOIN shipment_shipment s ON s.id = wanted.id
            ON CONFLICT (shipment_id) DO UPDATE
               SET sequence = COALESCE(position.sequence, 0) + EXCLUDED.sequence,
                   published_status = CASE WHEN %(baseline)s THEN EXCLUDED.published_status
                                           ELSE position.published_status END,
                   published_eta = CASE WHEN %(baseline)s THEN EXCLUDED.published_eta
                                        ELSE position.published_eta END
            RETURNING shipment_id, sequence
            """, baseline=set_baseline, ids=list(counts), counts=list(counts.values())))
        self.env["shipment.outbox.position"].invalidate_model()
        return {shipment_id: iter(range(last - counts[shipment_id] + 1, last + 1)) for shipment_id, last in rows}

    @api.model
    def _event_documents(self, events):
        if not events:
            return {}
        return {row["id"]: canonical.event_document(row)
                for row in self.env["shipment.event"]._canonical_rows(SQL("id = ANY(%s)", events.ids))}

    @api.model
    def _emit_created(self, shipments):
        """``shipment.created`` for new shipments; what they say now is what consumers know."""
        # Whoever created the shipment (a delivery order, the processor), the system announces it.
        shipments = shipments.sudo().filtered(lambda s: not s.shadow)
        if not shipments:
            return self.browse()
        documents = shipments._canonical_documents()
        return self._emit([{"event_type": outbound.SHIPMENT_CREATED, "shipment": shipment,
                            "document": documents[shipment.id]} for shipment in shipments], set_baseline=True)

    @api.model
    def _emit_events_recorded(self, events):
        """``shipment.event_recorded`` for each new actual milestone (estimates move the ETA)."""
        events = events.sudo().filtered(lambda e: e.event_class == "actual" and not e.shipment_id.shadow)
        if not events:
            return self.browse()
        events = events.sorted(lambda e: (e.shipment_id.id, e.occurred_at, e.id))
        documents = events.shipment_id._canonical_documents()
        return self._emit([{"event_type": outbound.EVENT_RECORDED, "shipment": event.shipment_id,
                            "document": documents[event.shipment_id.id], "event": event} for event in events])

    @api.model
    def _emit_state_changes(self, shipments, correlation_id=None, correlations=None):
        """``status_changed``, ``eta_changed`` and ``delivered`` for what changed since the
        last messages about these shipments (compared with what was last published).

        :param dict correlations: shipment id → correlation id of the message that changed
            it, where shipments of one call were changed by different messages.
        """
        shipments = shipments.sudo().exists().filtered(lambda s: not s.shadow)
        if not shipments:
            return self.browse()
        self.env.flush_all()
        rows = self.env.execute_query(SQL(
            """
            SELECT s.id, s.status, s.eta, p.published_status, p.published_eta
              FROM shipment_shipment s LEFT JOIN shipment_outbox_position p ON p.shipment_id = s.id
             WHERE s.id = ANY(%s)
               AND (p.published_status IS DISTINCT FROM s.status OR p.published_eta IS DISTINCT FROM s.eta)
            """, shipments.ids))
        if not rows:
            return self.browse()
        changed = shipments.browse([row[0] for row in rows])
        documents = changed._canonical_documents()
        messages = []
        for shipment_id, status, eta, published_status, published_eta in rows:
            shipment = changed.browse(shipment_id)
            common = {"shipment": shipment, "document": documents[shipment_id], "event": shipment.last_event_id,
                      "correlation_id": (correlations or {}).get(shipment_id) or correlation_id}
            if status != published_status:
                messages.append(dict(common, event_type=outbound.STATUS_CHANGED,
                                     extra={"previous_status": published_status or "pending"}))
            if eta != published_eta:
                messages.append(dict(common, event_type=outbound.ETA_CHANGED,
                                     extra={"previous_eta": canonical.iso_utc(published_eta)}))
            if status == "delivered" and published_status != "delivered":
                messages.append(dict(common, event_type=outbound.DELIVERED))
        return self._emit(messages, set_baseline=True)

    @api.model
    def _emit_exceptions(self, exceptions, event_type):
        exceptions = exceptions.sudo().filtered(lambda e: not e.shipment_id.shadow)
        if not exceptions:
            return self.browse()
        documents = exceptions.shipment_id._canonical_documents()
        return self._emit([{
            "event_type": event_type, "shipment": exception.shipment_id,
            "document": documents[exception.shipment_id.id], "event": exception.event_id,
            "extra": {"exception": {
                "id": exception.id, "kind": exception.kind, "reason": exception.reason, "state": exception.state,
                "opened_at": canonical.iso_utc(exception.opened_at),
                "resolved_at": canonical.iso_utc(exception.resolved_at)}},
        } for exception in exceptions])

    @api.model
    def _emit_after_batch(self, created_events, stage):
        """Hook of the inbox processor: ``events`` once they are stored (before the business
        policies react), ``state`` once the policies ran (the proof of delivery is attached)."""
        if stage == "events":
            return self._emit_events_recorded(created_events)
        correlations = {}
        for event in created_events.sudo():
            correlations.setdefault(event.shipment_id.id, event.correlation_id)
        # One pass for the whole batch: each message had its own correlation id, and a
        # call per id cost a query round of its own for every shipment of the batch.
        return self._emit_state_changes(created_events.sudo().shipment_id, correlations=correlations)

    # ------------------------------------------------------------------ #
    # RETENTION
    # ------------------------------------------------------------------ #

    @api.autovacuum
    def _gc_delivered_messages(self):
        """Delete messages every subscription received, older than the retention period.

        Undelivered and failed ones stay (an operator may replay them); the period is the
        system parameter ``shipment_visibility.outbox_retention_days``.
        """
        days = int(self.env["ir.config_parameter"].sudo().get_param(
            "shipment_visibility.outbox_retention_days", DEFAULT_RETENTION_DAYS))
        deleted = self.env.execute_query(SQL(
            """
            DELETE FROM shipment_outbox message
             WHERE message.create_date < now() at time zone 'utc' - make_interval(days => %s)
               AND NOT EXISTS (SELECT 1 FROM shipment_outbox_delivery delivery
                                WHERE delivery.outbox_id = message.id AND delivery.state != 'delivered')
            RETURNING message.id
            """, days))
        self.invalidate_model()
        if deleted:
            _logger.info("outbox retention: %d delivered messages older than %d days deleted", len(deleted), days)
        return len(deleted)
