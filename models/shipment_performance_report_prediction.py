from datetime import timedelta

from odoo import api, models

from .shipment_performance_report import _parse_day, _utc_naive


class ShipmentPerformanceReport(models.Model):
    _inherit = "shipment.performance.report"

    @api.model
    def get_dashboard_data(self, date_from=None, date_to=None, company_ids=None, carrier_ids=None):
        """The dashboard's figures, plus how our predictions and the carriers' estimates did."""
        data = super().get_dashboard_data(date_from, date_to, company_ids, carrier_ids)
        filters = data["filters"]
        tz = self._dashboard_timezone()
        start = _utc_naive(_parse_day(filters["date_from"]), tz)
        stop = _utc_naive(_parse_day(filters["date_to"]) + timedelta(days=1), tz)
        data["prediction"] = self.env["shipment.prediction.accuracy"]._dashboard_figures(
            start, stop, filters["company_ids"], filters["carrier_ids"] or None)
        return data
