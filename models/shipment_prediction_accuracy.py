from odoo import api, fields, models, tools
from odoo.tools import SQL


class ShipmentPredictionAccuracy(models.Model):
    """How our predictions and the carriers' estimates did, one row per delivered shipment (a SQL view).

    Both are taken as they stood at pickup (the first prediction after the first scan,
    and the carrier's estimate at that moment) and compared in calendar days with the
    actual delivery day. Percent measures are 100 or 0 per shipment and empty where they
    do not apply, so that their average is the rate. Shadow shipments are left out.
    """

    _name = "shipment.prediction.accuracy"
    _description = "Delivery Prediction Accuracy"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "shipment_id"

    shipment_id = fields.Many2one("shipment.shipment", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    carrier_id = fields.Many2one("delivery.carrier", string="Carrier", readonly=True)
    date = fields.Datetime(string="Delivered", readonly=True)
    predicted_day = fields.Date(string="Predicted at Pickup", readonly=True)
    carrier_day = fields.Date(string="Carrier Estimate at Pickup", readonly=True)
    ours_error_days = fields.Float(string="Our Error (days)", readonly=True, aggregator="avg",
                                   help="Absolute difference between our prediction at pickup and the delivery day.")
    ours_exact_pct = fields.Float(string="Ours Exact (%)", readonly=True, aggregator="avg")
    ours_within_1_pct = fields.Float(string="Ours ±1 Day (%)", readonly=True, aggregator="avg")
    window_coverage_pct = fields.Float(string="80% Window Coverage (%)", readonly=True, aggregator="avg",
                                       help="Deliveries inside the 80% window predicted at pickup: near 80 "
                                            "when the windows are honest.")
    carrier_error_days = fields.Float(string="Carrier Error (days)", readonly=True, aggregator="avg")
    carrier_exact_pct = fields.Float(string="Carrier Exact (%)", readonly=True, aggregator="avg")
    carrier_within_1_pct = fields.Float(string="Carrier ±1 Day (%)", readonly=True, aggregator="avg")
    is_late = fields.Boolean(string="Delivered Late", readonly=True)
    late_caught_pct = fields.Float(
        string="Late Caught by Us (%)", readonly=True, aggregator="avg",
        help="Among late deliveries: flagged as trending late before the promised date passed.")
    carrier_late_caught_pct = fields.Float(
        string="Late Caught by Carrier (%)", readonly=True, aggregator="avg",
        help="Among late deliveries: the carrier gave an estimate after the promise before the promise passed.")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._view_sql()))

    @api.model
    def _view_sql(self):
        return SQL(
            """
            SELECT s.id, s.id AS shipment_id, s.company_id, s.carrier_id, s.delivered_at AS date,
                   s.predicted_at_pickup AS predicted_day, s.carrier_eta_at_pickup::date AS carrier_day,
                   abs(s.predicted_at_pickup - s.delivered_at::date) AS ours_error_days,
                   CASE WHEN s.predicted_at_pickup IS NOT NULL
                        THEN CASE WHEN s.predicted_at_pickup = s.delivered_at::date THEN 100.0 ELSE 0.0 END
                   END AS ours_exact_pct,
                   CASE WHEN s.predicted_at_pickup IS NOT NULL
                        THEN CASE WHEN abs(s.predicted_at_pickup - s.delivered_at::date) <= 1 THEN 100.0 ELSE 0.0 END
                   END AS ours_within_1_pct,
                   CASE WHEN s.predicted_window_start_at_pickup IS NOT NULL
                        THEN CASE WHEN s.delivered_at::date BETWEEN s.predicted_window_start_at_pickup
                                                                AND s.predicted_window_end_at_pickup
                                  THEN 100.0 ELSE 0.0 END
                   END AS window_coverage_pct,
                   abs(s.carrier_eta_at_pickup::date - s.delivered_at::date) AS carrier_error_days,
                   CASE WHEN s.carrier_eta_at_pickup IS NOT NULL
                        THEN CASE WHEN s.carrier_eta_at_pickup::date = s.delivered_at::date THEN 100.0 ELSE 0.0 END
                   END AS carrier_exact_pct,
                   CASE WHEN s.carrier_eta_at_pickup IS NOT NULL
                        THEN CASE WHEN abs(s.carrier_eta_at_pickup::date - s.delivered_at::date) <= 1
                                  THEN 100.0 ELSE 0.0 END
                   END AS carrier_within_1_pct,
                   COALESCE(s.delivered_at > s.promised_date, FALSE) AS is_late,
                   CASE WHEN s.delivered_at > s.promised_date
                        THEN CASE WHEN s.trending_late_in_advance THEN 100.0 ELSE 0.0 END
                   END AS late_caught_pct,
                   CASE WHEN s.delivered_at > s.promised_date
                        THEN CASE WHEN EXISTS (
                                 SELECT 1 FROM shipment_event e
                                  WHERE e.shipment_id = s.id AND e.event_class = 'estimated'
                                    AND e.milestone = 'delivered' AND e.occurred_at > s.promised_date
                                    AND COALESCE(e.issued_at, e.received_at) < s.promised_date)
                                  THEN 100.0 ELSE 0.0 END
                   END AS carrier_late_caught_pct
              FROM shipment_shipment s
             WHERE s.delivered_at IS NOT NULL AND s.active AND s.shadow IS NOT TRUE
               AND (s.predicted_at_pickup IS NOT NULL OR s.carrier_eta_at_pickup IS NOT NULL)
            """)

    @api.model
    def _dashboard_figures(self, start, stop, company_ids, carrier_ids=None):
        """The accuracy tile of the SLA dashboard: deliveries in [start, stop), in one query."""
        self.env.flush_all()
        carrier_filter = SQL("AND carrier_id = ANY(%s)", carrier_ids) if carrier_ids else SQL()
        row = self.env.execute_query_dict(SQL(
            """
            SELECT count(ours_error_days) AS predicted, avg(ours_error_days) AS ours_mae_days,
                   avg(ours_within_1_pct) AS ours_within_1_pct, avg(window_coverage_pct) AS window_coverage_pct,
                   avg(carrier_error_days) AS carrier_mae_days, avg(carrier_within_1_pct) AS carrier_within_1_pct,
                   avg(late_caught_pct) AS late_caught_pct
              FROM %(view)s
             WHERE date >= %(start)s AND date < %(stop)s AND company_id = ANY(%(companies)s) %(carriers)s
            """, view=SQL.identifier(self._table), start=start, stop=stop, companies=company_ids,
            carriers=carrier_filter))[0]
        return {key: float(value) if value is not None else None for key, value in row.items()}
