from datetime import datetime, time, timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import customer_view, transit
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
    predicted_at = fields.Datetime(string="Predicted On", readonly=True, copy=False)
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
            policy = policies.get(shipment.id)
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

    # ------------------------------------------------------------------ #
    # PREDICTION
    # ------------------------------------------------------------------ #

    def _update_predictions(self, now=None):
        """Predict delivery of these (existing) shipments from the learned lanes (after each new event, and nightly).

        Delivered, returned and cancelled shipments keep nothing but their prediction at
        pickup; shadow shipments get none.

        :param datetime now: naive UTC "now" (tests and backtests).
        """
        now = now or fields.Datetime.now()
        shipments = self.sudo().filtered(lambda s: not s.shadow)  # processor-owned fields
        if not shipments:
            return
        shipments.fetch(["company_id", "carrier_id", "shipped_at", "promised_date", "is_terminal", "eta",
                         "partner_id", "predicted_at_pickup"])
        finished = shipments.filtered("is_terminal")
        finished.filtered("predicted_delivery").write(dict.fromkeys(
            ("predicted_delivery", "predicted_window_start", "predicted_window_end", "late_probability",
             "prediction_at_risk", "prediction_source"), False))
        moving = shipments - finished
        origins = moving._prediction_places()
        for company, company_shipments in moving.grouped("company_id").items():
            lanes, calendars = self.env["shipment.transit.lane"].sudo()._prediction_inputs(company)
            policies = self.env["shipment.sla.policy"].sudo()._find_policies(company_shipments)
            min_samples = company.shipment_prediction_min_samples
            threshold = company.shipment_at_risk_probability
            for shipment in company_shipments:
                carrier_key = shipment.carrier_id.id or None
                keys = transit.lane_keys(*origins.get(shipment.id, (None, None, None, None)))
                candidates = [lanes.get((carrier_key, level, key)) for level, key in keys.items() if key is not None]
                days = transit.policy_days(policies[shipment.id].transit_hours)
                fallback = transit.Distribution.point(days) if days else None
                distribution = transit.choose(candidates, min_samples, fallback)
                shipment.write(shipment._prediction_values(
                    distribution, calendars.get(shipment.carrier_id.id) or calendars[False], now, threshold))

    def _prediction_values(self, distribution, calendar, now, threshold):
        """The prediction fields of this shipment from its lane's ``distribution``."""
        self.ensure_one()
        if distribution is None:
            return {"predicted_delivery": False, "predicted_window_start": False, "predicted_window_end": False,
                    "late_probability": 0.0, "prediction_at_risk": False, "prediction_source": False,
                    "predicted_at": now}
        today = now.date()
        pickup = self.shipped_at.date() if self.shipped_at else today
        promised = self.promised_date.date() if self.promised_date else None
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
        if self.shipped_at and not self.predicted_at_pickup:
            values.update(predicted_at_pickup=prediction.delivery, carrier_eta_at_pickup=self.eta,
                          predicted_window_start_at_pickup=prediction.window_start,
                          predicted_window_end_at_pickup=prediction.window_end)
        if values["prediction_at_risk"] and now <= self.promised_date:
            values["trending_late_in_advance"] = True
        return values

    def _prediction_places(self):
        """Origin (first scan's country and postcode) and destination (customer's) of each shipment.

        :return: dict shipment id → (origin country, origin postcode, destination country,
            destination postcode).
        """
        if not self:
            return {}
        self.env["shipment.event"].flush_model(["shipment_id", "country_code", "postcode", "event_class"])
        rows = self.env.execute_query(SQL(
            """
            SELECT s.id, origin.country_code, origin.postcode, country.code, partner.zip
              FROM shipment_shipment s
              %s
             WHERE s.id = ANY(%s)
            """, SHIPMENT_PLACES, self.ids))
        return {row[0]: row[1:] for row in rows}

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
