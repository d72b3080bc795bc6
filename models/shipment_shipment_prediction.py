from collections import defaultdict
from datetime import datetime, time, timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import customer_view, transit
from .shipment_sla_policy import match_rule
from .shipment_transit_lane import SHIPMENT_PLACES

PREDICTION_SOURCES = [
    ("lane", "Lane history"),
    ("country", "Country-to-country history"),
    ("destination", "Destination history"),
    ("carrier", "Carrier history"),
    ("policy", "SLA policy"),
]
# Refreshing every open shipment at night goes by batches of this size.
REFRESH_BATCH = 2000
#: Columns of a shipment a prediction is made from.
PREDICTION_READ = ["company_id", "carrier_id", "connector_id", "shipped_at", "promised_date", "is_terminal", "eta"]
#: The fields a prediction writes (by SQL, see ShipmentShipment._write_predictions).
PREDICTION_FIELDS = [
    "predicted_delivery", "predicted_window_start", "predicted_window_end", "late_probability",
    "prediction_at_risk", "prediction_source", "predicted_at", "predicted_at_pickup", "carrier_eta_at_pickup",
    "predicted_window_start_at_pickup", "predicted_window_end_at_pickup", "trending_late_in_advance",
]
#: What a delivered, returned or cancelled shipment no longer shows (the "at pickup" fields stay).
FINISHED_CLEARED = ["predicted_delivery", "predicted_window_start", "predicted_window_end", "late_probability",
                    "prediction_at_risk", "prediction_source"]


class ShipmentShipment(models.Model):
    """Predicted delivery learned from the company's own history, and the two ways of being on time.

    *Promise* (``sla_state``) compares delivery with the date promised to the customer;
    *SLA* (``sla_result``) compares it with the deadline of the shipment's SLA policy
    (first scan + transit time), as the partner performance report and the dashboard do.
    """

    _inherit = "shipment.shipment"

    sla_state = fields.Selection(
        [("no_promise", "No promise"), ("on_track", "On track"), ("at_risk", "At risk"),
         ("on_time", "Promise kept"), ("late", "Promise broken")],
        string="Promise", help="Delivery against the date promised to the customer (the sale order's "
                               "delivery date, else the delivery order's deadline).")
    sla_policy_id = fields.Many2one(
        "shipment.sla.policy", string="SLA Policy", compute="_compute_sla_result", store=True,
        groups="base.group_user", help="The policy whose transit time sets the SLA deadline.")
    sla_deadline = fields.Datetime(
        string="SLA Deadline", compute="_compute_sla_result", store=True, groups="base.group_user",
        help="First scan + the SLA policy's transit time; without a policy transit time, the promised date.")
    sla_result = fields.Selection(
        [("no_target", "No SLA target"), ("pending", "Under way"), ("met", "SLA met"), ("missed", "SLA missed")],
        string="SLA", compute="_compute_sla_result", store=True, index=True, groups="base.group_user",
        help="Delivery against the SLA deadline, as in the partner performance report and the dashboard.")

    predicted_delivery = fields.Date(
        readonly=True, copy=False, help="The most likely delivery day, learned from the transit times of "
                                        "earlier shipments on the same lane and how long this one has travelled.")
    predicted_window_start = fields.Date(string="Predicted Earliest", readonly=True, copy=False)
    predicted_window_end = fields.Date(
        string="Predicted Latest", readonly=True, copy=False,
        help="Eight in ten shipments like this one arrive between the earliest and the latest predicted days.")
    late_probability = fields.Float(
        string="Risk of Missing the Promise (%)", readonly=True, copy=False, digits=(5, 1),
        help="Probability of delivery after the promised date, given the time already spent in transit.")
    prediction_at_risk = fields.Boolean(
        string="Trending Late", readonly=True, copy=False, index=True,
        help="The risk of missing the promise is above the company's threshold.")
    prediction_source = fields.Selection(
        PREDICTION_SOURCES, readonly=True, copy=False,
        help="What the prediction was learned from: the finest group of earlier shipments with enough "
             "deliveries, else the SLA policy's transit time.")
    predicted_at = fields.Datetime(string="Predicted On", readonly=True, copy=False,
                                   help="When the present prediction was made; a re-prediction with the same "
                                        "outcome keeps it.")
    predicted_at_pickup = fields.Date(
        string="Predicted at Pickup", readonly=True, copy=False, groups="base.group_user",
        help="The first prediction made after the first carrier scan, kept to measure accuracy.")
    predicted_window_start_at_pickup = fields.Date(readonly=True, copy=False, groups="base.group_user")
    predicted_window_end_at_pickup = fields.Date(readonly=True, copy=False, groups="base.group_user")
    trending_late_in_advance = fields.Boolean(
        string="Flagged Late in Advance", readonly=True, copy=False, groups="base.group_user",
        help="The prediction said this shipment was trending late before its promised date had passed.")
    carrier_eta_at_pickup = fields.Datetime(
        string="Carrier ETA at Pickup", readonly=True, copy=False, groups="base.group_user",
        help="The carrier's estimate when the first prediction after pickup was made, to compare with ours.")

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("shipped_at", "delivered_at", "promised_date", "carrier_id", "connector_id",
                 "partner_id.country_id", "company_id")
    def _compute_sla_result(self):
        policies = self.env["shipment.sla.policy"].sudo()._find_policies(  # policies apply whoever reads
            self.filtered(lambda s: isinstance(s.id, int)))
        for shipment in self:
            policy = policies.get(shipment.id) or self.env["shipment.sla.policy"]
            shipment.sla_policy_id = policy
            if policy and policy.transit_hours > 0:
                deadline = (shipment.shipped_at + timedelta(hours=policy.transit_hours)
                            if shipment.shipped_at else False)
            else:
                deadline = shipment.promised_date
            shipment.sla_deadline = deadline
            if not deadline:
                shipment.sla_result = "no_target"
            elif not shipment.delivered_at:
                shipment.sla_result = "pending"
            else:
                shipment.sla_result = "met" if shipment.delivered_at <= deadline else "missed"

    @api.model
    def _recompute_sla_results(self, companies=None):
        """Recompute the SLA policy, deadline and result of every shipment of ``companies`` in one statement.

        Called when an SLA policy changes: a stored compute cannot depend on records
        it is not linked to, and the ORM would load every shipment of the company. The
        policy match is the report's (:meth:`shipment.sla.policy._policy_match_sql`),
        the same rule as :meth:`_compute_sla_result`; only rows whose values change are
        written.

        :param companies: ``res.company`` records; None: every company.
        :return: number of shipments whose SLA policy, deadline or result changed.
        """
        self.env.flush_all()
        Policy = self.env["shipment.sla.policy"]
        company_filter = SQL("s.company_id = ANY(%s)", companies.ids) if companies is not None else SQL("TRUE")
        rows = self.env.execute_query(SQL(
            """
            WITH sla_policy AS MATERIALIZED (%(policies)s),
                 carrier_service AS MATERIALIZED (%(services)s),
                 deadline AS (
                     SELECT s.id, pol.id AS sla_policy_id,
                            CASE WHEN pol.transit_hours > 0
                                 THEN s.shipped_at + pol.transit_hours * INTERVAL '1 hour'
                                 ELSE s.promised_date
                            END AS sla_deadline
                       FROM shipment_shipment s
                       LEFT JOIN res_partner partner ON partner.id = s.partner_id
                       LEFT JOIN carrier_service service ON service.carrier_id = s.carrier_id
                       %(policy)s
                      WHERE %(company_filter)s
                 ),
                 result AS (
                     SELECT deadline.id, deadline.sla_policy_id, deadline.sla_deadline,
                            CASE WHEN deadline.sla_deadline IS NULL THEN 'no_target'
                                 WHEN s.delivered_at IS NULL THEN 'pending'
                                 WHEN s.delivered_at <= deadline.sla_deadline THEN 'met'
                                 ELSE 'missed'
                            END AS sla_result
                       FROM deadline JOIN shipment_shipment s ON s.id = deadline.id
                 )
            UPDATE shipment_shipment s
               SET sla_policy_id = result.sla_policy_id, sla_deadline = result.sla_deadline,
                   sla_result = result.sla_result
              FROM result
             WHERE s.id = result.id
               AND (s.sla_policy_id IS DISTINCT FROM result.sla_policy_id
                    OR s.sla_deadline IS DISTINCT FROM result.sla_deadline
                    OR s.sla_result IS DISTINCT FROM result.sla_result)
         RETURNING s.id
            """,
            policies=Policy._policy_candidates_sql(), services=Policy._carrier_service_keys_sql(),
            policy=Policy._policy_match_sql(SQL("sla_policy"), SQL("s"), SQL("service"), SQL("partner")),
            company_filter=company_filter))
        changed = self.browse(row[0] for row in rows)
        self.invalidate_model(["sla_policy_id", "sla_deadline", "sla_result"], flush=False)
        changed.modified(["sla_policy_id", "sla_deadline", "sla_result"])
        return len(changed)

    # ------------------------------------------------------------------ #
    # PREDICTION
    # ------------------------------------------------------------------ #

    def _update_predictions(self, now=None):
        """Predict delivery of these (existing) shipments from the learned lanes (after each new event, and nightly).

        Delivered, returned and cancelled shipments keep nothing but their prediction at
        pickup; shadow shipments get none. The inbox processor calls this for every batch
        of messages, so a batch costs the same handful of queries whatever its size: one
        read of every shipment and its places, one of the cache stamps of the lanes and
        of the SLA policies, one ``UPDATE`` (see :meth:`_write_predictions`).

        :param datetime now: naive UTC "now" (tests and backtests).
        """
        now = now or fields.Datetime.now()
        if not self:
            return
        rows = self._prediction_rows()
        Lane = self.env["shipment.transit.lane"].sudo()
        Policy = self.env["shipment.sla.policy"].sudo()  # policies apply whoever reads
        by_company = defaultdict(list)
        for row in rows:
            by_company[row["company_id"]].append(row)
        updates = {}
        for company_id, company_rows in by_company.items():
            company = self.env["res.company"].sudo().browse(company_id)
            # Both caches are checked in one round trip: this runs after every processor batch.
            lane_stamp, policy_stamp = self.env.execute_query(SQL(
                "SELECT %s, %s", Lane._prediction_stamp_query(company), Policy._match_stamp_query(company)))[0]
            lanes, calendars = Lane._prediction_inputs(company, lane_stamp)
            rules, carrier_names = Policy._match_rules(company, policy_stamp)
            min_samples = company.shipment_prediction_min_samples
            threshold = company.shipment_at_risk_probability
            for row in company_rows:
                if row["is_terminal"]:
                    if row["predicted_delivery"]:
                        updates[row["id"]] = dict.fromkeys(FINISHED_CLEARED, False)
                    continue
                carrier_key = row["carrier_id"] or None
                keys = transit.lane_keys(*row["places"])
                candidates = [lanes.get((carrier_key, level, key)) for level, key in keys.items() if key is not None]
                rule = match_rule(rules, carrier_names, row["connector_id"], row["carrier_id"], row["country_id"])
                days = transit.policy_days(rule.transit_hours if rule else 0)
                fallback = transit.Distribution.point(days) if days else None
                distribution = transit.choose(candidates, min_samples, fallback)
                calendar = calendars.get(row["carrier_id"] or False) or calendars[False]
                updates[row["id"]] = _prediction_values(row, distribution, calendar, now, threshold)
        self._write_predictions(rows, updates)

    def _prediction_rows(self):
        """What predicting needs of each (non-shadow) shipment, read in one query.

        :return: list of dicts with the shipment's own columns, its current prediction
            (to tell what changed), ``country_id`` (the customer's) and ``places``
            (origin country and postcode, destination country and postcode).
        """
        self.env["shipment.shipment"].flush_model([*PREDICTION_READ, *PREDICTION_FIELDS])
        self.env["res.partner"].flush_model(["country_id", "zip"])
        self.env["shipment.event"].flush_model(["shipment_id", "country_code", "postcode", "event_class",
                                                "occurred_at"])
        columns = ["id", *PREDICTION_READ, *PREDICTION_FIELDS]
        rows = self.env.execute_query(SQL(
            """
            SELECT %(columns)s, partner.country_id, origin.country_code, origin.postcode, country.code, partner.zip
              FROM shipment_shipment s
              %(places)s
             WHERE s.id = ANY(%(ids)s) AND s.shadow IS NOT TRUE
            """, columns=SQL(", ").join(SQL.identifier("s", column) for column in columns),
            places=SHIPMENT_PLACES, ids=list(self._ids)))
        width = len(columns)
        return [dict(zip(columns, row[:width], strict=True), country_id=row[width], places=row[width + 1:])
                for row in rows]

    def _write_predictions(self, rows, updates):
        """Write the predictions that changed in one ``UPDATE``, then tell the ORM.

        One statement per batch instead of one ORM write per shipment. Afterwards the
        cache of the written fields is invalidated and, field by field, only the
        shipments whose value really changed go through ``modified()``: stored fields
        depending on them (the exceptions' priority) are recomputed, non-stored ones
        (case summary, the delivery order's columns) are read again.

        :param list rows: :meth:`_prediction_rows` (the values before).
        :param dict updates: shipment id → values of fields of ``PREDICTION_FIELDS``
            (a field left out keeps its value).
        """
        Shipment = self.env["shipment.shipment"]
        before = {row["id"]: row for row in rows}

        def changed(shipment_id, name):
            field = Shipment._fields[name]
            return field.convert_to_cache(updates[shipment_id][name], Shipment) \
                != field.convert_to_cache(before[shipment_id][name], Shipment)

        # A prediction that comes out the same keeps its row and its time: most events do
        # not move it, and each rewrite is another version of the whole shipment row.
        updates = {shipment_id: values for shipment_id, values in updates.items()
                   if any(name != "predicted_at" and changed(shipment_id, name) for name in values)}
        if not updates:
            return
        ids = list(updates)
        assignments, arrays, aliases = [], [], []
        for name in PREDICTION_FIELDS:
            field = Shipment._fields[name]
            given = [name in updates[shipment_id] for shipment_id in ids]
            values = [field.convert_to_column(updates[shipment_id][name], Shipment) if present else None
                      for shipment_id, present in zip(ids, given, strict=True)]
            arrays.append(SQL("%s::%s[]", values, SQL(field.column_type[1])))
            arrays.append(SQL("%s::boolean[]", given))
            aliases += [SQL.identifier(name), SQL.identifier(f"{name}__given")]
            assignments.append(SQL("%(column)s = CASE WHEN v.%(given)s THEN v.%(column)s ELSE s.%(column)s END",
                                   column=SQL.identifier(name), given=SQL.identifier(f"{name}__given")))
        self.env.cr.execute(SQL(
            """
            UPDATE shipment_shipment s
               SET %(assignments)s, write_uid = %(uid)s, write_date = now() AT TIME ZONE 'UTC'
              FROM unnest(%(ids)s::int[], %(arrays)s) AS v(id, %(aliases)s)
             WHERE s.id = v.id
            """, assignments=SQL(", ").join(assignments), uid=self.env.uid, ids=ids,
            arrays=SQL(", ").join(arrays), aliases=SQL(", ").join(aliases)))
        Shipment.browse(ids).invalidate_recordset([*PREDICTION_FIELDS, "write_uid", "write_date"], flush=False)
        for name in PREDICTION_FIELDS:
            Shipment.browse([shipment_id for shipment_id in ids if name in updates[shipment_id]
                             and changed(shipment_id, name)]).modified([name])

    @api.model
    def _refresh_open_predictions(self, company, now=None):
        """Re-predict every open shipment of ``company`` (after the lanes were relearned)."""
        domain = [("company_id", "=", company.id), ("is_terminal", "=", False), ("shadow", "=", False)]
        open_shipments = self.sudo().search(domain)  # the nightly cron works for every user
        for start in range(0, len(open_shipments), REFRESH_BATCH):
            batch = open_shipments[start:start + REFRESH_BATCH]
            batch._update_predictions(now=now)
            self.env["shipment.workflow"]._prediction_policies(batch.filtered("prediction_at_risk"))
        return len(open_shipments)

    def action_refresh_prediction(self):
        """Predict again now (the form's button): the lanes as learned last night."""
        self._update_predictions()
        return True

    # ------------------------------------------------------------------ #
    # CUSTOMER PAGES
    # ------------------------------------------------------------------ #

    def _customer_delivery_candidates(self):
        """The predicted window comes after the carrier's own estimate, before the promise."""
        candidates = super()._customer_delivery_candidates()
        if self.predicted_window_start and self.predicted_window_end:
            # Midday UTC stays on the same calendar day for the customers' time zones.
            start = datetime.combine(self.predicted_window_start, time(12))
            end = datetime.combine(self.predicted_window_end, time(12))
            position = next((index for index, candidate in enumerate(candidates)
                             if candidate.source == "promised"), len(candidates))
            candidates.insert(position, customer_view.Candidate("predicted", start, end))
        return candidates


def _prediction_values(row, distribution, calendar, now, threshold):
    """The prediction fields of one shipment (a row of ``_prediction_rows``) from its lane's ``distribution``."""
    if distribution is None:
        return {"predicted_delivery": False, "predicted_window_start": False, "predicted_window_end": False,
                "late_probability": 0.0, "prediction_at_risk": False, "prediction_source": False,
                "predicted_at": now}
    today = now.date()
    shipped_at, promised_date = row["shipped_at"], row["promised_date"]
    pickup = shipped_at.date() if shipped_at else today
    promised = promised_date.date() if promised_date else None
    prediction = transit.predict(distribution, calendar, pickup, max(today, pickup), promised)
    risk = round(prediction.late_probability * 100, 1) if promised else 0.0
    values = {
        "predicted_delivery": prediction.delivery,
        "predicted_window_start": prediction.window_start,
        "predicted_window_end": prediction.window_end,
        "late_probability": risk,
        "prediction_at_risk": bool(promised) and risk > threshold,
        "prediction_source": distribution.source or "policy",
        "predicted_at": now,
    }
    if shipped_at and not row["predicted_at_pickup"]:
        values.update(predicted_at_pickup=prediction.delivery, carrier_eta_at_pickup=row["eta"],
                      predicted_window_start_at_pickup=prediction.window_start,
                      predicted_window_end_at_pickup=prediction.window_end)
    if values["prediction_at_risk"] and now <= promised_date:
        values["trending_late_in_advance"] = True
    return values
