from datetime import timedelta, timezone

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import canonical, taxonomy
from ..integration.events import CanonicalEvent

# The fields of an event that shipment state derivation reads.
STATE_INPUT_FIELDS = ("fingerprint", "milestone", "event_class", "occurred_at", "issued_at", "window_start",
                      "window_end", "reason")

SOURCES = [
    ("webhook", "Webhook"),
    ("poll", "Polling"),
    ("file", "File import"),
    ("manual", "Manual entry"),
    ("api", "API"),
    ("demo", "Demo data"),
]


class ShipmentEvent(models.Model):
    """One canonical tracking event of a shipment.

    Events are facts: once stored they are not edited by integrations, only added.
    ``fingerprint`` (see :attr:`integration.events.CanonicalEvent.fingerprint`) is unique
    per shipment, which makes every input path idempotent.
    """

    _name = "shipment.event"
    _description = "Shipment Event"
    _order = "occurred_at desc, id desc"
    _rec_name = "milestone"

    shipment_id = fields.Many2one("shipment.shipment", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="shipment_id.company_id", store=True, index=True)
    tracking_number = fields.Char(related="shipment_id.tracking_number")
    picking_id = fields.Many2one(related="shipment_id.picking_id", string="Delivery Order")
    milestone = fields.Selection(
        taxonomy.selection(include_unknown=True), required=True, index=True)
    milestone_icon = fields.Char(compute="_compute_milestone_icon")
    event_class = fields.Selection(
        list(taxonomy.EVENT_CLASS_LABELS.items()), string="Class", required=True, default=taxonomy.ACTUAL,
        help="Actual: it happened. Estimated: a prediction that may move (drives the ETA, "
             "never the status). Planned: a schedule or commitment. Requested: a constraint.")
    occurred_at = fields.Datetime(required=True, index=True, help="When it happened (or is predicted), in UTC.")
    utc_offset = fields.Integer(
        string="UTC Offset (min)", help="Offset of the partner's local time, to show the local clock.")
    local_time_display = fields.Char(string="Local Time", compute="_compute_local_time_display")
    received_at = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    window_start = fields.Datetime(string="Window Start")
    window_end = fields.Datetime(string="Window End")
    issued_at = fields.Datetime(help="When the partner issued this estimate.")
    city = fields.Char()
    region = fields.Char()
    postcode = fields.Char()
    country_code = fields.Char(help="ISO 3166 code as sent by the partner.")
    latitude = fields.Float(digits=(10, 7))
    longitude = fields.Float(digits=(10, 7))
    location_display = fields.Char(string="Location", compute="_compute_location_display")
    # Internal fields: portal users read their events through record rules, never these.
    raw_code = fields.Char(string="Partner Code", index="btree_not_null", groups="base.group_user")
    description = fields.Char()
    reason = fields.Selection(list(taxonomy.REASONS))
    source = fields.Selection(SOURCES, required=True, default="manual")
    connector_id = fields.Many2one(related="shipment_id.connector_id", store=True, groups="base.group_user")
    correlation_id = fields.Char(index="btree_not_null", groups="base.group_user")
    inbox_id = fields.Many2one("shipment.inbox", string="Inbox Message", index="btree_not_null",
                               ondelete="set null", groups="base.group_user")
    external_id = fields.Char(string="Partner Event ID", groups="base.group_user")
    signed_by = fields.Char()
    pod_url = fields.Char(string="Proof of Delivery URL")
    time_assumed_utc = fields.Boolean(
        help="The partner gave a time without zone and no zone could be resolved from the "
             "location: UTC was assumed.")
    fingerprint = fields.Char(required=True, readonly=True, groups="base.group_user")

    _sql_constraints = [
        ("fingerprint_shipment_unique", "unique(shipment_id, fingerprint)",
         "This event is already recorded on the shipment."),
    ]

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("milestone")
    def _compute_milestone_icon(self):
        for event in self:
            event.milestone_icon = taxonomy.icon(event.milestone)

    @api.depends("city", "region", "postcode", "country_code")
    def _compute_location_display(self):
        for event in self:
            place = " ".join(part for part in (event.postcode, event.city) if part)
            event.location_display = ", ".join(
                part for part in (place, event.region, event.country_code) if part) or False

    @api.depends("occurred_at", "utc_offset")
    def _compute_local_time_display(self):
        for event in self:
            if not event.occurred_at:
                event.local_time_display = False
                continue
            offset = timedelta(minutes=event.utc_offset or 0)
            local = event.occurred_at.replace(tzinfo=timezone.utc).astimezone(timezone(offset))
            event.local_time_display = local.strftime("%Y-%m-%d %H:%M UTC%z")

    # ------------------------------------------------------------------ #
    # CRUD
    # ------------------------------------------------------------------ #

    @api.model_create_multi
    def create(self, vals_list):
        # Records written directly (imports, demo data) get the same identity as events
        # coming through an adapter, so that a later partner resend is recognised.
        for vals in vals_list:
            if not vals.get("fingerprint"):
                vals["fingerprint"] = self._fingerprint_from_values(vals)
        return super().create(vals_list)

    @api.model
    def _fingerprint_from_values(self, vals):
        def utc(value):
            value = fields.Datetime.to_datetime(value)
            return value.replace(tzinfo=timezone.utc) if value else None

        shipment = self.env["shipment.shipment"].browse(vals["shipment_id"])
        return CanonicalEvent(
            tracking_number=shipment.tracking_number,
            milestone=vals.get("milestone") or taxonomy.UNKNOWN,
            occurred_at=utc(vals.get("occurred_at")),
            event_class=vals.get("event_class") or taxonomy.ACTUAL,
            raw_code=vals.get("raw_code") or "",
            city=vals.get("city") or "",
            window_start=utc(vals.get("window_start")),
            window_end=utc(vals.get("window_end")),
            issued_at=utc(vals.get("issued_at")),
        ).fingerprint

    # ------------------------------------------------------------------ #
    # BUSINESS METHODS
    # ------------------------------------------------------------------ #

    def _to_canonical(self):
        """This record as an :class:`integration.events.CanonicalEvent` (for status rules)."""
        self.ensure_one()

        def utc(value):
            return value.replace(tzinfo=timezone.utc) if value else None

        return CanonicalEvent(
            tracking_number=self.shipment_id.tracking_number,
            milestone=self.milestone,
            occurred_at=utc(self.occurred_at),
            event_class=self.event_class,
            utc_offset=self.utc_offset,
            raw_code=self.raw_code or "",
            description=self.description or "",
            reason=self.reason or None,
            city=self.city or "",
            window_start=utc(self.window_start),
            window_end=utc(self.window_end),
            issued_at=utc(self.issued_at),
            extra={"fingerprint": self.fingerprint},
        )

    @api.model
    def _values_from_canonical(self, event):
        def naive(value):
            return value.replace(tzinfo=None) if value else False

        return {
            "milestone": event.milestone,
            "event_class": event.event_class,
            "occurred_at": naive(event.occurred_at),
            "utc_offset": event.utc_offset or 0,
            "window_start": naive(event.window_start),
            "window_end": naive(event.window_end),
            "issued_at": naive(event.issued_at),
            "city": event.city or False,
            "region": event.region or False,
            "postcode": event.postcode or False,
            "country_code": event.country or False,
            "latitude": event.latitude or 0.0,
            "longitude": event.longitude or 0.0,
            "raw_code": event.raw_code or False,
            "description": event.description or False,
            "reason": event.reason or False,
            "external_id": event.external_id or False,
            "signed_by": event.signed_by or False,
            "pod_url": event.pod_url or False,
            "time_assumed_utc": event.time_assumed_utc,
            "fingerprint": event.fingerprint,
        }

    @api.model
    def _rows_from_canonical(self, canonical_events, shipments, source, correlation_id=None, extra_values=None,
                             seen=None):
        """Column values of the events to insert, one row per (shipment, fingerprint).

        :param dict shipments: tracking number → ``shipment.shipment``.
        :param set seen: (shipment id, fingerprint) keys already taken by earlier rows of
            the same insert; updated in place.
        :rtype: list[dict]
        """
        rows, seen = [], set() if seen is None else seen
        for event in canonical_events:
            shipment = shipments[event.tracking_number]
            key = (shipment.id, event.fingerprint)
            if key in seen:
                continue
            seen.add(key)
            vals = self._values_from_canonical(event)
            vals.update(shipment_id=shipment.id, company_id=shipment.company_id.id,
                        connector_id=shipment.connector_id.id or None, source=source,
                        correlation_id=correlation_id or None)
            vals.update(extra_values or {})
            rows.append(vals)
        return rows

    @api.model
    def _insert_rows(self, rows, chunk_size=1000):
        """Insert event rows whose (shipment, fingerprint) is not stored yet.

        ``INSERT … ON CONFLICT DO NOTHING`` on that key: a fact delivered twice, even by
        two workers at the same instant, is stored once. Rows go straight to the table
        (the inbox inserts thousands per batch); callers tell the ORM with
        :meth:`_notify_created`.

        :param list rows: dicts from :meth:`_rows_from_canonical`.
        :return: ``(event id, row)`` of each row actually inserted.
        """
        inserted = []
        if not rows:
            return inserted
        columns = list(dict.fromkeys(column for row in rows for column in row))
        # Each column travels as one array that PostgreSQL unnests: psycopg2 renders lists
        # in C, while a row as a tuple goes through its Python adapter, value by value.
        # Stamps are the transaction's clock, like now() in SQL.
        now, uid = self.env.cr.now(), self.env.uid
        for offset in range(0, len(rows), chunk_size):
            chunk = rows[offset:offset + chunk_size]
            returned = self.env.execute_query(SQL(
                """
                INSERT INTO shipment_event (%s, received_at, create_uid, create_date, write_uid, write_date)
                SELECT *, %s::timestamp, %s, %s::timestamp, %s, %s::timestamp FROM unnest(%s)
                ON CONFLICT (shipment_id, fingerprint) DO NOTHING
                RETURNING id, shipment_id, fingerprint
                """,
                SQL(", ").join(SQL.identifier(column) for column in columns),
                now, uid, now, uid, now,
                SQL(", ").join(
                    SQL("%s::%s[]", [_db_value(row.get(column)) for row in chunk],
                        SQL(self._fields[column].column_type[1]))
                    for column in columns),
            ))
            by_key = {(row["shipment_id"], row["fingerprint"]): row for row in chunk}
            inserted.extend((event_id, by_key[(shipment_id, fingerprint)]) for event_id, shipment_id, fingerprint
                            in returned)
        # Raw inserts bypass the ORM's cache: forget what it knew of the one2many.
        self.env["shipment.shipment"].browse({row["shipment_id"] for _id, row in inserted}).invalidate_recordset(
            ["event_ids"])
        return inserted

    @api.model
    def _stored_keys(self, shipment_ids):
        """``(shipment id, fingerprint)`` of the events stored for these shipments.

        Aggregators resend the whole history with every update: rows already known are
        left out before they are built, rendered and refused by the unique key.
        """
        if not shipment_ids:
            return set()
        self.flush_model(["shipment_id", "fingerprint"])
        return set(self.env.execute_query(SQL(
            "SELECT shipment_id, fingerprint FROM shipment_event WHERE shipment_id = ANY(%s)", list(shipment_ids))))

    @api.model
    def _canonical_rows(self, where):
        """Rows of :data:`canonical.EVENT_ROW_KEYS` for the events matching ``where`` (an
        ``SQL`` condition on ``shipment_event``), by shipment and occurrence time.

        Values are what the ORM would give (no coordinates read as 0, as a Float field
        does); record rules are not applied: callers decide visibility first.
        """
        self.flush_model([key for key in canonical.EVENT_ROW_KEYS if key != "id"])
        columns = SQL(", ").join(
            SQL("COALESCE(%s, 0) AS %s", SQL.identifier(key), SQL.identifier(key))
            if key in ("latitude", "longitude") else SQL.identifier(key)
            for key in canonical.EVENT_ROW_KEYS)
        return self.env.execute_query_dict(SQL(
            "SELECT %s FROM shipment_event WHERE %s ORDER BY shipment_id, occurred_at, id", columns, where))

    def _notify_created(self):
        """Tell the ORM these (raw-inserted) events exist, so that everything derived from
        them — shipment state, delivery order summary, SLA — is recomputed at the next flush,
        once per shipment however many events arrived."""
        self.modified(["shipment_id", *STATE_INPUT_FIELDS], create=True)
        # The insert wrote each row's company and connector from its shipment already:
        # recomputing the related copies cost every batch a pass over all its new events.
        for name in ("company_id", "connector_id"):
            self.env.remove_to_compute(self._fields[name], self)


def _db_value(value):
    # The ORM's "no value" is False; a column gets NULL.
    return None if value is False else value
