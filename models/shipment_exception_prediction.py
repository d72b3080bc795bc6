from odoo import fields, models


class ShipmentException(models.Model):
    _inherit = "shipment.exception"

    kind = fields.Selection(selection_add=[("trending_late", "Trending late"), ("anomaly", "Anomaly")],
                            ondelete={"trending_late": "cascade", "anomaly": "cascade"})
    reason = fields.Selection(
        selection_add=[("predicted_late", "Likely to miss the promise"), ("stalled", "Stalled"),
                       ("looping", "Moving backwards or looping"), ("estimate_churn", "Estimate keeps changing"),
                       ("first_scan_missing", "First scan missing")],
        ondelete=dict.fromkeys(("predicted_late", "stalled", "looping", "estimate_churn", "first_scan_missing"),
                               "set default"))
    explanation = fields.Text(
        readonly=True, help="What the system saw, in plain words: why this was opened without a carrier report.")
