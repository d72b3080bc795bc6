from odoo import fields, models


class ShipmentHoliday(models.Model):
    """A public holiday on which carriers do not move parcels: not a business day.

    Transit times are learned and predicted in business days of each carrier's calendar
    (see :mod:`integration.transit`); a holiday without carriers applies to all of them.
    """

    _name = "shipment.holiday"
    _description = "Carrier Public Holiday"
    _order = "date desc, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    date = fields.Date(required=True, index=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    carrier_ids = fields.Many2many(
        "delivery.carrier", "shipment_holiday_carrier_rel", "holiday_id", "carrier_id", string="Carriers",
        help="Carriers not working that day. Empty: every carrier.")
