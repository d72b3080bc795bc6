from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    shipment_prediction_min_samples = fields.Integer(related="company_id.shipment_prediction_min_samples",
                                                     readonly=False)
    shipment_at_risk_probability = fields.Float(related="company_id.shipment_at_risk_probability", readonly=False)
    shipment_eta_churn_limit = fields.Integer(related="company_id.shipment_eta_churn_limit", readonly=False)
    shipment_first_scan_anomaly_hours = fields.Integer(related="company_id.shipment_first_scan_anomaly_hours",
                                                       readonly=False)
    shipment_triage_confidence = fields.Float(related="company_id.shipment_triage_confidence", readonly=False)
    shipment_priority_use_value = fields.Boolean(related="company_id.shipment_priority_use_value", readonly=False)
    shipment_priority_use_importance = fields.Boolean(related="company_id.shipment_priority_use_importance",
                                                      readonly=False)
