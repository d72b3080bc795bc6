from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..integration import taxonomy

# Dwell times are learned from this much history.
DWELL_HISTORY_DAYS = 180


class ShipmentDwellStat(models.Model):
    """How long parcels of a carrier usually stay after each milestone before the next scan.

    Learned nightly in PostgreSQL (``percentile_cont`` over the gaps between consecutive
    actual scans); the 95th percentile is where "stalled" begins on the exceptions desk.
    """

    _name = "shipment.dwell.stat"
    _description = "Shipment Dwell Time"
    _order = "carrier_id, milestone"
    _check_company_auto = True

    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    carrier_id = fields.Many2one("delivery.carrier", readonly=True, ondelete="cascade", index=True)
    milestone = fields.Selection(taxonomy.selection(include_unknown=True), readonly=True)
    sample_count = fields.Integer(string="Scans", readonly=True)
    median_hours = fields.Float(string="Median Dwell (h)", readonly=True, digits=(8, 1))
    p95_hours = fields.Float(string="95% Dwell (h)", readonly=True, digits=(8, 1))

    @api.model
    def _refresh(self, company, today=None, min_samples=20):
        """Relearn the dwell times of ``company``'s carriers, in one statement."""
        today = today or fields.Date.context_today(self)
        self.env.flush_all()
        self.env.cr.execute(SQL("DELETE FROM shipment_dwell_stat WHERE company_id = %s", company.id))
        self.env.cr.execute(SQL(
            """
            INSERT INTO shipment_dwell_stat (company_id, carrier_id, milestone, sample_count, median_hours,
                                             p95_hours, create_uid, write_uid, create_date, write_date)
            SELECT %(company)s, carrier_id, milestone, count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY dwell),
                   %(uid)s, %(uid)s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
              FROM (SELECT s.carrier_id, e.milestone,
                           EXTRACT(EPOCH FROM lead(e.occurred_at) OVER (PARTITION BY e.shipment_id
                                                                        ORDER BY e.occurred_at, e.id)
                                              - e.occurred_at) / 3600.0 AS dwell
                      FROM shipment_event e
                      JOIN shipment_shipment s ON s.id = e.shipment_id
                     WHERE s.company_id = %(company)s AND s.shadow IS NOT TRUE AND e.event_class = 'actual'
                       AND s.shipped_at >= %(since)s AND s.delivered_at IS NOT NULL) gaps
             WHERE dwell IS NOT NULL
             GROUP BY carrier_id, milestone
            HAVING count(*) >= %(min)s
            """, company=company.id, uid=self.env.uid, min=min_samples,
            since=today - timedelta(days=DWELL_HISTORY_DAYS)))
        self.invalidate_model()
        return self.search_count([("company_id", "=", company.id)])
