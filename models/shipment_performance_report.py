from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..integration import taxonomy
from .shipment_shipment import STATUS_SELECTION

# Indexes the dashboard and the report need on other models' tables, created in init().
# Periods select shipments through the delivery order's validation date or, without
# one, through the first scan; per-shipment event figures read only actual events.
REPORT_INDEXES = {
    "stock_picking_date_done_shipment_report_index": SQL(
        "ON stock_picking (date_done) WHERE date_done IS NOT NULL"),
    "shipment_shipment_shipped_at_report_index": SQL(
        "ON shipment_shipment (shipped_at) WHERE shipped_at IS NOT NULL"),
    "shipment_event_actual_report_index": SQL(
        "ON shipment_event (shipment_id) INCLUDE (occurred_at, received_at, milestone, reason) "
        "WHERE event_class = 'actual'"),
}
MAX_PERIOD_DAYS = 366


class ShipmentPerformanceReport(models.Model):
    """Partner performance: one row per shipment with its SLA figures (a SQL view).

    *Date* is when the shipment left: the validation of its delivery order, else its
    first carrier scan; shipments with neither have not left and are not reported.
    Transit runs from the first scan to delivery; a delivery is on time when it happens
    before the deadline of the shipment's SLA policy (first scan + transit time), or,
    without such a policy, before the promised date. The ``*_pct`` measures are 100 or
    0 per shipment, and empty where they do not apply, so their average is the rate: on
    time among delivered shipments with a deadline, exceptions among all shipments,
    proof of delivery among delivered shipments whose proof is due.
    """

    _name = "shipment.performance.report"
    _description = "Shipment Partner Performance"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "shipment_id"

    shipment_id = fields.Many2one("shipment.shipment", string="Shipment", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    carrier_id = fields.Many2one("delivery.carrier", string="Carrier", readonly=True)
    connector_id = fields.Many2one("shipment.connector", string="Connector", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    country_id = fields.Many2one("res.country", string="Destination Country", readonly=True)
    picking_id = fields.Many2one("stock.picking", string="Delivery Order", readonly=True)
    sla_policy_id = fields.Many2one("shipment.sla.policy", string="SLA Policy", readonly=True)
    status = fields.Selection(STATUS_SELECTION, readonly=True)
    date = fields.Datetime(
        string="Dispatch Date", readonly=True,
        help="Validation of the delivery order, else the first carrier scan.")
    handed_over_at = fields.Datetime(string="Delivery Order Done", readonly=True)
    shipped_at = fields.Datetime(string="First Scan", readonly=True)
    delivered_at = fields.Datetime(string="Delivered", readonly=True)
    promised_date = fields.Datetime(readonly=True)
    sla_deadline = fields.Datetime(
        string="SLA Deadline", readonly=True,
        help="First scan + the policy's transit time, else the promised date.")
    is_delivered = fields.Boolean(string="Delivered Shipment", readonly=True)
    on_time = fields.Boolean(
        string="SLA Met", readonly=True,
        help="Delivered by the SLA deadline: the same rule as the shipment's SLA field (not its promise).")
    has_exception = fields.Boolean(
        readonly=True, help="At least one exception event (delay, failed attempt, customs hold…).")
    exception_reason = fields.Selection(
        list(taxonomy.REASONS), readonly=True, help="Reason of the first exception event.")
    pod_complete = fields.Boolean(string="Proof of Delivery", readonly=True)
    transit_hours = fields.Float(string="Transit Time (h)", readonly=True, aggregator="avg")
    first_scan_latency_hours = fields.Float(
        string="First Scan Latency (h)", readonly=True, aggregator="avg",
        help="From the validation of the delivery order to the first carrier scan.")
    event_latency_hours = fields.Float(
        string="Event Latency (h)", readonly=True, aggregator="avg",
        help="Average delay between an actual event and its reception.")
    event_count = fields.Integer(string="Actual Events", readonly=True, aggregator="sum")
    on_time_pct = fields.Float(string="SLA Met (%)", readonly=True, aggregator="avg")
    exception_pct = fields.Float(string="Exceptions (%)", readonly=True, aggregator="avg")
    pod_complete_pct = fields.Float(string="POD Complete (%)", readonly=True, aggregator="avg")

    # ------------------------------------------------------------------ #
    # SQL
    # ------------------------------------------------------------------ #

    @api.model
    def _search(self, *args, **kwargs):
        # Every list, pivot, graph and count of the report goes through here.
        self._disable_jit()
        return super()._search(*args, **kwargs)

    @api.model
    def _disable_jit(self):
        """Turn PostgreSQL's JIT compiler off for the rest of this (reading) transaction.

        The view's per-shipment lateral subqueries have a high cost estimate, so JIT
        kicks in and spends seconds compiling and optimizing a query that runs in
        a few hundred milliseconds without it (measured by benchmarks/bench_dashboard.py).
        """
        self.env.cr.execute(SQL("SET LOCAL jit = off"))

    def init(self):
        for name, definition in REPORT_INDEXES.items():
            self.env.cr.execute(SQL("CREATE INDEX IF NOT EXISTS %s %s", SQL.identifier(name), definition))
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL(
            "CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._shipment_figures_sql()))

    @api.model
    def _shipment_figures_sql(self):
        """One row of figures per dispatched shipment.

        The dispatch date comes from a ``UNION ALL`` of the shipments with a validated
        delivery order and of the others with a first scan: a condition on ``date``
        reaches each branch, where the indexes on ``stock_picking.date_done`` and
        ``shipment_shipment.shipped_at`` answer it, so a period costs the shipments
        in it, however long the history. Nothing is recomputed per row: the SLA policy
        and deadline are the shipment's stored fields (kept when a policy changes, see
        ``shipment.sla.policy``), and the event figures come from
        ``shipment.event.rollup``, kept by triggers, rather than from the events of the
        period (a year of them is a million rows, 1.6 s).
        """
        return SQL(
            """
            SELECT s.id AS id,
                   s.id AS shipment_id,
                   s.company_id,
                   s.carrier_id,
                   s.connector_id,
                   s.partner_id,
                   partner.country_id,
                   s.picking_id,
                   s.sla_policy_id,
                   s.status,
                   dated.date,
                   picking.date_done AS handed_over_at,
                   s.shipped_at,
                   s.delivered_at,
                   s.promised_date,
                   s.sla_deadline,
                   s.delivered_at IS NOT NULL AS is_delivered,
                   COALESCE(s.delivered_at <= s.sla_deadline, FALSE) AS on_time,
                   ev.exception_reason IS NOT NULL AS has_exception,
                   ev.exception_reason,
                   pod.pod_complete,
                   EXTRACT(EPOCH FROM s.delivered_at - s.shipped_at) / 3600.0 AS transit_hours,
                   EXTRACT(EPOCH FROM s.shipped_at - picking.date_done) / 3600.0 AS first_scan_latency_hours,
                   ev.latency_seconds / NULLIF(ev.event_count, 0) / 3600.0 AS event_latency_hours,
                   ev.event_count,
                   CASE WHEN s.delivered_at IS NOT NULL AND s.sla_deadline IS NOT NULL
                        THEN CASE WHEN s.delivered_at <= s.sla_deadline THEN 100.0 ELSE 0.0 END
                   END AS on_time_pct,
                   CASE WHEN ev.exception_reason IS NOT NULL THEN 100.0 ELSE 0.0 END AS exception_pct,
                   CASE WHEN pod.pod_complete THEN 100.0 WHEN pod.pod_due THEN 0.0 END AS pod_complete_pct
              FROM (SELECT picking.date_done AS date, s.id AS shipment_id
                      FROM stock_picking picking
                      JOIN shipment_shipment s ON s.picking_id = picking.id
                     WHERE picking.date_done IS NOT NULL
                     UNION ALL
                    SELECT s.shipped_at, s.id
                      FROM shipment_shipment s
                      LEFT JOIN stock_picking picking ON picking.id = s.picking_id
                     WHERE picking.date_done IS NULL AND s.shipped_at IS NOT NULL
                   ) dated
              JOIN shipment_shipment s ON s.id = dated.shipment_id
              LEFT JOIN stock_picking picking ON picking.id = s.picking_id
              LEFT JOIN res_partner partner ON partner.id = s.partner_id
              LEFT JOIN shipment_sla_policy pol ON pol.id = s.sla_policy_id
              LEFT JOIN shipment_event_rollup rollup ON rollup.shipment_id = s.id
             CROSS JOIN LATERAL (
                   SELECT COALESCE(rollup.actual_count, 0) AS event_count,
                          CASE WHEN rollup.latency_count > 0 THEN rollup.latency_seconds END AS latency_seconds,
                          CASE WHEN rollup.first_exception_milestone IS NOT NULL
                               THEN COALESCE(rollup.first_exception_reason, 'other')
                          END AS exception_reason
                   ) ev
             CROSS JOIN LATERAL (
                   SELECT s.delivered_at IS NOT NULL
                          AND (COALESCE(s.pod_signed_by, '') <> '' OR COALESCE(s.pod_url, '') <> ''
                               OR s.pod_attachment_id IS NOT NULL) AS pod_complete,
                          s.delivered_at IS NOT NULL
                          AND (COALESCE(pol.pod_hours, 0) = 0
                               OR s.delivered_at + pol.pod_hours * INTERVAL '1 hour'
                                  <= (now() AT TIME ZONE 'UTC')) AS pod_due
                   ) pod
             WHERE s.active AND s.shadow IS NOT TRUE
            """)

    # ------------------------------------------------------------------ #
    # DASHBOARD
    # ------------------------------------------------------------------ #

    @api.model
    def get_dashboard_data(self, date_from=None, date_to=None, company_ids=None, carrier_ids=None):
        """KPIs of the partner performance dashboard, in one query.

        :param str date_from: first day of the period (``YYYY-MM-DD``, the user's time
            zone); default 30 days before ``date_to``.
        :param str date_to: last day of the period, included; default today.
        :param list company_ids: companies to include, among the active ones; empty: all
            active companies.
        :param list carrier_ids: delivery carriers to include; empty: all.
        :return: dict with ``filters`` (what was applied and what can be chosen),
            ``kpis`` (totals), ``carriers`` (one row per carrier and connector),
            ``exceptions`` (shipments per reason of their first exception) and ``days``.
        """
        self.check_access("read")
        tz = self._dashboard_timezone()
        day_to = _parse_day(date_to) or datetime.now(tz).date()
        day_from = _parse_day(date_from) or day_to - timedelta(days=29)
        if day_from > day_to:
            day_from, day_to = day_to, day_from
        day_from = max(day_from, day_to - timedelta(days=MAX_PERIOD_DAYS - 1))
        allowed = self.env.companies
        companies = allowed.filtered(lambda c: c.id in company_ids) if company_ids else allowed
        # Delivery methods are readable by sales and inventory users only; shipment users
        # who are neither still need their names to filter on and to label the rows.
        Carrier = self.env["delivery.carrier"].sudo()
        carriers = Carrier.browse(carrier_ids or []).exists()

        rows = self._dashboard_rows(
            _utc_naive(day_from, tz), _utc_naive(day_to + timedelta(days=1), tz), tz.key,
            companies.ids, carriers.ids if carrier_ids else None)
        groups, reasons, days = rows
        groups = groups or []
        total = next((group for group in groups if group["grouping"]), None) or _empty_group()
        return {
            "filters": {
                "date_from": day_from.isoformat(),
                "date_to": day_to.isoformat(),
                "company_ids": companies.ids,
                "carrier_ids": carriers.ids if carrier_ids else [],
                "companies": [{"id": company.id, "name": company.name} for company in allowed],
                "carriers": [{"id": carrier.id, "name": carrier.name} for carrier in
                             Carrier.search([("company_id", "in", [False, *allowed.ids])], order="name")],
            },
            "kpis": _kpis(total),
            "carriers": self._carrier_rows([group for group in groups if not group["grouping"]]),
            "exceptions": self._exception_rows(reasons or [], total["shipments"]),
            "days": _day_rows(days or [], day_from, day_to),
        }

    @api.model
    def _dashboard_timezone(self):
        try:
            return ZoneInfo(self.env.context.get("tz") or self.env.user.tz or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @api.model
    def _dashboard_sql(self, start, stop, tz_name, company_ids, carrier_ids=None):
        """The dashboard query: the report's rows dispatched in [start, stop) (naive UTC).

        The period reaches the index range scans of the view (see
        :meth:`_shipment_figures_sql`); totals, per-partner rows, exception reasons
        and days are then aggregated from the same materialized rows.
        """
        carrier_filter = SQL("carrier_id = ANY(%s)", carrier_ids) if carrier_ids is not None else SQL("TRUE")
        return SQL(
            """
            WITH figures AS MATERIALIZED (
                SELECT date, carrier_id, connector_id, is_delivered, on_time_pct, transit_hours, has_exception,
                       exception_reason, first_scan_latency_hours, event_count, event_latency_hours,
                       pod_complete_pct
                  FROM %(view)s
                 WHERE date >= %(start)s AND date < %(stop)s
                   AND company_id = ANY(%(companies)s) AND %(carriers)s
            )
            SELECT
                (SELECT jsonb_agg(to_jsonb(grouped)) FROM (
                    SELECT GROUPING(carrier_id, connector_id) = 3 AS grouping,
                           carrier_id,
                           connector_id,
                           count(*) AS shipments,
                           count(*) FILTER (WHERE is_delivered) AS delivered,
                           count(on_time_pct) AS on_time_base,
                           count(*) FILTER (WHERE on_time_pct = 100) AS on_time_count,
                           avg(transit_hours) AS avg_transit_hours,
                           percentile_cont(0.9) WITHIN GROUP (ORDER BY transit_hours) AS p90_transit_hours,
                           count(*) FILTER (WHERE has_exception) AS exception_count,
                           avg(first_scan_latency_hours) AS first_scan_latency_hours,
                           count(first_scan_latency_hours) AS first_scan_count,
                           sum(event_count) AS event_count,
                           sum(event_latency_hours * event_count) / NULLIF(sum(event_count), 0)
                               AS event_latency_hours,
                           count(pod_complete_pct) AS pod_base,
                           count(*) FILTER (WHERE pod_complete_pct = 100) AS pod_complete_count
                      FROM figures
                     GROUP BY GROUPING SETS ((), (carrier_id, connector_id))
                ) grouped),
                (SELECT jsonb_agg(to_jsonb(by_reason) ORDER BY by_reason.shipments DESC, by_reason.reason) FROM (
                    SELECT exception_reason AS reason, count(*) AS shipments
                      FROM figures WHERE has_exception GROUP BY exception_reason
                ) by_reason),
                (SELECT jsonb_agg(to_jsonb(by_day) ORDER BY by_day.day) FROM (
                    SELECT ((date AT TIME ZONE 'UTC') AT TIME ZONE %(tz)s)::date AS day,
                           count(*) AS shipments,
                           count(on_time_pct) AS on_time_base,
                           count(*) FILTER (WHERE on_time_pct = 100) AS on_time_count,
                           count(*) FILTER (WHERE has_exception) AS exception_count
                      FROM figures GROUP BY 1
                ) by_day)
            """,
            view=SQL.identifier(self._table), start=start, stop=stop, companies=company_ids,
            carriers=carrier_filter, tz=tz_name,
        )

    @api.model
    def _dashboard_rows(self, start, stop, tz_name, company_ids, carrier_ids=None):
        self.env.flush_all()
        self._disable_jit()
        # A year is a hundred thousand rows to sort for the percentile: with the default
        # 4 MB the sort spilled to disk (measured by benchmarks/bench_dashboard.py).
        self.env.cr.execute(SQL("SET LOCAL work_mem = '64MB'"))
        return self.env.execute_query(self._dashboard_sql(start, stop, tz_name, company_ids, carrier_ids))[0]

    @api.model
    def _carrier_rows(self, groups):
        # Names only, see get_dashboard_data.
        carriers = self.env["delivery.carrier"].sudo().browse(g["carrier_id"] for g in groups if g["carrier_id"])
        connectors = self.env["shipment.connector"].browse(g["connector_id"] for g in groups if g["connector_id"])
        names = {("carrier", c.id): c.display_name for c in carriers}
        names.update({("connector", c.id): c.display_name for c in connectors})
        rows = []
        for group in groups:
            rows.append(dict(
                _kpis(group),
                carrier_id=group["carrier_id"],
                carrier_name=names.get(("carrier", group["carrier_id"])) or self.env._("No carrier"),
                connector_id=group["connector_id"],
                connector_name=names.get(("connector", group["connector_id"])) or self.env._("No connector"),
            ))
        return sorted(rows, key=lambda row: (-row["shipments"], row["carrier_name"], row["connector_name"]))

    @api.model
    def _exception_rows(self, reasons, shipments):
        labels = dict(self._fields["exception_reason"]._description_selection(self.env))
        return [{
            "reason": row["reason"],
            "label": labels.get(row["reason"], row["reason"]),
            "shipments": row["shipments"],
            "rate": _percent(row["shipments"], shipments),
        } for row in reasons]


def _parse_day(value):
    if not value:
        return None
    if isinstance(value, date):
        return value if not isinstance(value, datetime) else value.date()
    return date.fromisoformat(str(value)[:10])


def _utc_naive(day, tz):
    """Midnight of ``day`` in ``tz``, as a naive UTC datetime (how Odoo stores them)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _percent(part, whole):
    return 100.0 * part / whole if whole else None


def _empty_group():
    return {
        "shipments": 0, "delivered": 0, "on_time_base": 0, "on_time_count": 0,
        "avg_transit_hours": None, "p90_transit_hours": None, "exception_count": 0,
        "first_scan_latency_hours": None, "first_scan_count": 0, "event_count": 0,
        "event_latency_hours": None, "pod_base": 0, "pod_complete_count": 0,
    }


def _kpis(group):
    """The KPIs of one group of the dashboard query; rates in percent, ``None`` when undefined."""
    return {
        "shipments": group["shipments"],
        "delivered": group["delivered"],
        "on_time_count": group["on_time_count"],
        "on_time_base": group["on_time_base"],
        "on_time_rate": _percent(group["on_time_count"], group["on_time_base"]),
        "avg_transit_hours": group["avg_transit_hours"],
        "p90_transit_hours": group["p90_transit_hours"],
        "exception_count": group["exception_count"],
        "exception_rate": _percent(group["exception_count"], group["shipments"]),
        "first_scan_latency_hours": group["first_scan_latency_hours"],
        "first_scan_count": group["first_scan_count"],
        "event_latency_hours": group["event_latency_hours"],
        "event_count": group["event_count"] or 0,
        "pod_complete_count": group["pod_complete_count"],
        "pod_base": group["pod_base"],
        "pod_completeness": _percent(group["pod_complete_count"], group["pod_base"]),
    }


def _day_rows(rows, day_from, day_to):
    """One row per day of the period, days without shipment included."""
    by_day = {row["day"]: row for row in rows}
    result = []
    day = day_from
    while day <= day_to:
        row = by_day.get(day.isoformat(), {})
        result.append({
            "day": day.isoformat(),
            "shipments": row.get("shipments", 0),
            "on_time_rate": _percent(row.get("on_time_count", 0), row.get("on_time_base", 0)),
            "exception_count": row.get("exception_count", 0),
        })
        day += timedelta(days=1)
    return result
