from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    shipment_notifications = fields.Boolean(
        string="Shipment E-mails", default=True,
        help="Receive e-mails about shipments (when the company sends them).")
