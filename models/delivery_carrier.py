from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..integration import transit

WEEKDAYS = "1234567"


class DeliveryCarrier(models.Model):
    _inherit = "delivery.carrier"

    shipment_working_days = fields.Char(
        string="Carrier Working Days", default="12345",
        help="ISO weekdays the carrier moves parcels (1 = Monday … 7 = Sunday), e.g. 123456 for a carrier "
             "working Saturdays. Transit times are counted in these days, without public holidays.")

    @api.constrains("shipment_working_days")
    def _check_shipment_working_days(self):
        for carrier in self:
            days = carrier.shipment_working_days or ""
            if not days or any(day not in WEEKDAYS for day in days):
                raise ValidationError(self.env._(
                    "Working days are digits from 1 (Monday) to 7 (Sunday), such as 12345."))

    def write(self, vals):
        result = super().write(vals)
        # Policies with a service level match carriers by name: a rename can move shipments
        # to another policy, and their stored SLA deadline must follow.
        if "name" in vals and self.env["shipment.sla.policy"].sudo().search_count(
                [("service_level", "!=", False)], limit=1):
            self.env["shipment.shipment"].sudo()._recompute_sla_results()
        return result

    def _shipment_calendars(self, company):
        """Each carrier's business calendar in ``company``, with one query for the holidays.

        :return: dict carrier id → :class:`integration.transit.BusinessCalendar`
            (key ``False``: the calendar of shipments without a carrier).
        """
        holidays = self.env["shipment.holiday"].sudo().search_read(  # calendars are shared settings
            [("company_id", "=", company.id)], ["date", "carrier_ids"])
        general = [h["date"] for h in holidays if not h["carrier_ids"]]
        calendars = {False: transit.BusinessCalendar(holidays=general)}
        for carrier in self:
            weekdays = [int(day) - 1 for day in (carrier.shipment_working_days or "12345") if day in WEEKDAYS]
            own = [h["date"] for h in holidays if carrier.id in h["carrier_ids"]]
            calendars[carrier.id] = transit.BusinessCalendar(weekdays, general + own)
        return calendars
