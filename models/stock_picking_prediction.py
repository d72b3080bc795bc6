from odoo import api, fields, models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    shipment_predicted_delivery = fields.Date(
        string="Predicted Delivery", compute="_compute_shipment_prediction",
        help="The latest predicted delivery day of the order's shipments still on their way.")
    shipment_trending_late = fields.Boolean(
        string="Shipment Trending Late", compute="_compute_shipment_prediction",
        help="A shipment is likely to miss the promised date.")

    @api.depends("shipment_ids.predicted_delivery", "shipment_ids.prediction_at_risk")
    def _compute_shipment_prediction(self):
        for picking in self:
            days = [day for day in picking.shipment_ids.mapped("predicted_delivery") if day]
            picking.shipment_predicted_delivery = max(days) if days else False
            picking.shipment_trending_late = any(picking.shipment_ids.mapped("prediction_at_risk"))
