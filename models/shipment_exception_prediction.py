from odoo import fields, models


class ShipmentException(models.Model):
    _inherit = "shipment.exception"

    kind = fields.Selection(selection_add=[("trending_late", "Trending late")], ondelete={"trending_late": "cascade"})
    reason = fields.Selection(selection_add=[("predicted_late", "Likely to miss the promise")],
                              ondelete={"predicted_late": "set default"})
