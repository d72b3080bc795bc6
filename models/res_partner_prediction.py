from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    shipment_importance = fields.Float(
        string="Customer Importance", default=1.0,
        help="Weight of this customer's problems on the exceptions desk: 2 puts them twice as high as an "
             "ordinary customer's with the same risk and order value.")
