import logging
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import transit

_logger = logging.getLogger(__name__)

LEVELS = [
    ("lane", "Lane (regions)"),
    ("country", "Countries"),
    ("destination", "Destination country"),
    ("carrier", "Carrier"),
]
# Shipments on their way longer than this are lost rather than slow: counting them as
# censored would stretch every lane's tail forever.
CENSOR_MAX_DAYS = 90
# History the model learns from.
HISTORY_DAYS = 400
# Per process: (database, company) → (stamp, distributions, calendars). Predicting after
# each event must not re-read hundreds of lanes and every holiday: one query tells
# whether any of them changed (see ShipmentTransitLane._prediction_inputs).
_INPUTS_CACHE = {}


#: Where a shipment ``s`` goes from and to, for lanes: ``origin`` is the first actual scan
#: with a country (its ``country_code``, ``postcode``), the destination the customer's
#: address (``country.code``, ``partner.zip``).
SHIPMENT_PLACES = SQL("""
    LEFT JOIN res_partner partner ON partner.id = s.partner_id
    LEFT JOIN res_country country ON country.id = partner.country_id
    LEFT JOIN LATERAL (
          SELECT e.country_code, e.postcode
            FROM shipment_event e
           WHERE e.shipment_id = s.id AND e.event_class = 'actual' AND e.country_code IS NOT NULL
           ORDER BY e.occurred_at, e.id
           LIMIT 1) origin ON TRUE
""")

class ShipmentTransitLane(models.Model):
    """The transit-time distribution learned for one group of shipments (a lane).

    Rebuilt for a whole company by :meth:`_refresh` (nightly cron, or the "Refresh"
    button): every shipment picked up in the last ``HISTORY_DAYS`` days counts in the
    groups of each level of :data:`integration.transit.LEVELS` — delivered ones with
    their transit time in business days of their carrier, those still on their way as
    censored at the business days they have already spent. Shadow shipments only
    repeat what a live connector said and never count.
    """

    _name = "shipment.transit.lane"
    _description = "Shipment Transit-Time Lane"
    _order = "company_id, carrier_id, level, lane_key"
    _rec_name = "lane_key"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    carrier_id = fields.Many2one("delivery.carrier", string="Carrier", index=True, readonly=True,
                                 ondelete="cascade")
    level = fields.Selection(LEVELS, required=True, readonly=True)
    lane_key = fields.Char(
        string="Lane", readonly=True,
        help="Origin > destination: country and postcode prefix (e.g. US-38>US-10), countries (US>US) "
             "or destination only (>US); empty for the carrier as a whole.")
    delivered_count = fields.Integer(string="Deliveries", readonly=True)
    censored_count = fields.Integer(
        string="Still in Transit", readonly=True,
        help="Shipments not delivered yet when the lane was learned: they count as taking at least "
             "the business days already spent (censored observations).")
    p10_days = fields.Integer(string="10% (business days)", readonly=True)
    p50_days = fields.Integer(string="Median (business days)", readonly=True)
    p90_days = fields.Integer(string="90% (business days)", readonly=True)
    distribution = fields.Text(readonly=True, help="Steps of the survival function, as JSON.")
    refreshed_at = fields.Datetime(readonly=True)

    def init(self):
        self.env.cr.execute(SQL(
            "CREATE INDEX IF NOT EXISTS shipment_transit_lane_lookup_idx "
            "ON shipment_transit_lane (company_id, carrier_id, level, lane_key)"))

    # ------------------------------------------------------------------ #
    # REFRESH
    # ------------------------------------------------------------------ #

    @api.model
    def _cron_refresh(self):
        """Nightly: relearn lanes and dwell times, re-predict open shipments, look for stalled ones."""
        for company in self.env["res.company"].sudo().search([]):  # the cron learns for every company
            self.sudo()._refresh(company)
            self.env["shipment.dwell.stat"].sudo()._refresh(company)
            self.env["shipment.shipment"].sudo()._refresh_open_predictions(company)
            self.env["shipment.workflow"].sudo()._cron_anomalies(company)

    @api.model
    def _refresh(self, company, today=None):
        """Relearn the lanes of ``company`` from its history.

        :param date today: the day in-transit shipments are censored at (tests, backtests).
        :return: number of lanes written.
        """
        started = time.monotonic()
        today = today or fields.Date.context_today(self)
        rows = self._history_rows(company, today)
        carriers = self.env["delivery.carrier"].browse({row[1] for row in rows if row[1]})
        calendars = carriers._shipment_calendars(company)
        groups = {}
        for _id, carrier_id, shipped, delivered, o_country, o_post, d_country, d_post in rows:
            calendar = calendars.get(carrier_id or False) or calendars[False]
            pickup = shipped.date()
            if delivered and delivered.date() <= today:
                observation = (calendar.days_between(pickup, delivered.date()), True)
            else:
                # Still on its way as of ``today`` (a backtest's cut-off sees later deliveries as such).
                elapsed = calendar.days_between(pickup, today)
                if elapsed < 1 or (today - pickup).days > CENSOR_MAX_DAYS:
                    continue
                observation = (elapsed - 1, False)  # not delivered by yesterday: T > elapsed - 1
            for level, key in transit.lane_keys(o_country, o_post, d_country, d_post).items():
                if key is not None:
                    groups.setdefault((carrier_id or None, level, key), []).append(observation)
        self.search([("company_id", "=", company.id)]).sudo().unlink()  # lanes are the system's to rewrite
        values = []
        for (carrier_id, level, key), observations in groups.items():
            distribution = transit.learn(observations)
            if not distribution.delivered:
                continue
            values.append((carrier_id, level, key, distribution.delivered, distribution.censored,
                           distribution.quantile(0.1), distribution.quantile(0.5), distribution.quantile(0.9),
                           distribution.to_json()))
        self._insert(company, values)
        _logger.info("transit lanes of %s: %d lanes from %d shipments in %.2fs", company.name, len(values),
                     len(rows), time.monotonic() - started)
        return len(values)

    @api.model
    def _history_rows(self, company, today):
        """Shipments to learn from: picked up recently, delivered or still on their way.

        The origin is where the carrier first scanned the parcel (the first actual event
        with a country); the destination is the customer's address.
        """
        self.env.flush_all()
        return self.env.execute_query(SQL(
            """
            SELECT s.id, s.carrier_id, s.shipped_at, s.delivered_at,
                   origin.country_code, origin.postcode, country.code, partner.zip
              FROM shipment_shipment s
              %(places)s
             WHERE s.company_id = %(company)s AND s.active AND s.shadow IS NOT TRUE
               AND s.shipped_at >= %(since)s AND s.shipped_at < %(until)s
               AND (s.delivered_at IS NOT NULL OR NOT s.is_terminal)
            """, places=SHIPMENT_PLACES, company=company.id, since=today - timedelta(days=HISTORY_DAYS),
            until=today + timedelta(days=1)))

    @api.model
    def _insert(self, company, values):
        """Write the lanes in one statement: a company has thousands, the ORM would take seconds."""
        if not values:
            return
        columns = list(zip(*values, strict=True))
        self.env.cr.execute(SQL(
            """
            INSERT INTO shipment_transit_lane
                   (company_id, carrier_id, level, lane_key, delivered_count, censored_count,
                    p10_days, p50_days, p90_days, distribution, refreshed_at,
                    create_uid, write_uid, create_date, write_date)
            SELECT %(company)s, carrier_id, level, lane_key, delivered, censored, p10, p50, p90, dist,
                   now() AT TIME ZONE 'UTC', %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
              FROM unnest(%(carriers)s::int[], %(levels)s::varchar[], %(keys)s::varchar[], %(delivered)s::int[],
                          %(censored)s::int[], %(p10)s::int[], %(p50)s::int[], %(p90)s::int[], %(dists)s::text[])
                   AS t(carrier_id, level, lane_key, delivered, censored, p10, p50, p90, dist)
            """, company=company.id, uid=self.env.uid, carriers=list(columns[0]), levels=list(columns[1]),
            keys=list(columns[2]), delivered=list(columns[3]), censored=list(columns[4]), p10=list(columns[5]),
            p50=list(columns[6]), p90=list(columns[7]), dists=list(columns[8])))
        self.invalidate_model()

    # ------------------------------------------------------------------ #
    # LOOKUP
    # ------------------------------------------------------------------ #

    @api.model
    def _prediction_stamp_query(self, company):
        """SQL of one value that changes whenever the lanes or calendars of ``company`` do.

        Lane ids (a refresh rewrites them all, with new ids), holidays and the carriers'
        working days; pending writes are flushed first.
        """
        for model in ("shipment.transit.lane", "shipment.holiday", "delivery.carrier"):
            self.env[model].flush_model()
        return SQL(
            """
            md5(concat_ws('|',
                (SELECT count(*) || ':' || COALESCE(max(id), 0) FROM shipment_transit_lane
                  WHERE company_id = %(company)s),
                (SELECT string_agg(h.id || ':' || h.date || ':' || COALESCE(
                            (SELECT string_agg(r.carrier_id::text, ',' ORDER BY r.carrier_id)
                               FROM shipment_holiday_carrier_rel r WHERE r.holiday_id = h.id), ''),
                            ';' ORDER BY h.id)
                   FROM shipment_holiday h WHERE h.company_id = %(company)s),
                (SELECT string_agg(c.id || ':' || COALESCE(c.shipment_working_days, ''), ';' ORDER BY c.id)
                   FROM delivery_carrier c)))
            """, company=company.id)

    @api.model
    def _prediction_inputs(self, company, stamp=None):
        """The learned distributions and the carriers' calendars of ``company``, cached in the process.

        The cache is keyed by the value of :meth:`_prediction_stamp_query`, read in one
        query (or given by a caller that read it with other stamps).

        :return: (dict (carrier id or None, level, lane key) → Distribution,
            dict carrier id → BusinessCalendar)
        """
        if stamp is None:
            stamp = self.env.execute_query(SQL("SELECT %s", self._prediction_stamp_query(company)))[0][0]
        key = (self.env.cr.dbname, company.id)
        cached = _INPUTS_CACHE.get(key)
        if cached and cached[0] == stamp:
            return cached[1], cached[2]
        rows = self.env.execute_query(SQL(
            "SELECT carrier_id, level, lane_key, distribution FROM shipment_transit_lane WHERE company_id = %s",
            company.id))
        distributions = {(carrier_id, level, lane_key or ""): transit.Distribution.from_json(text, level)
                         for carrier_id, level, lane_key, text in rows}
        carriers = self.env["delivery.carrier"].sudo().with_context(active_test=False).search([])  # calendars only
        calendars = carriers._shipment_calendars(company)
        _INPUTS_CACHE[key] = (stamp, distributions, calendars)
        return distributions, calendars

    @api.model
    def _distributions(self, company_id, carrier_ids):
        """The learned distributions of these carriers, in one query.

        :return: dict (carrier id or None, level, lane key) → :class:`integration.transit.Distribution`.
        """
        rows = self.env.execute_query(SQL(
            """
            SELECT carrier_id, level, lane_key, distribution
              FROM shipment_transit_lane
             WHERE company_id = %s AND (carrier_id = ANY(%s) OR carrier_id IS NULL)
            """, company_id, [carrier_id for carrier_id in carrier_ids if carrier_id]))
        return {(carrier_id, level, key or ""): transit.Distribution.from_json(text, level)
                for carrier_id, level, key, text in rows}
