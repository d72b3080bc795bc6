from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    shipment_prediction_min_samples = fields.Integer(
        string="Minimum Deliveries per Lane", default=30,
        help="A lane (carrier, origin and destination) needs this many delivered shipments before its own "
             "transit times are trusted; with fewer, predictions back off to coarser lanes, then to the SLA "
             "policy's transit time.")
    shipment_at_risk_probability = fields.Float(
        string="At Risk Above (%)", default=50.0,
        help="A shipment whose probability of missing its promised date exceeds this is at risk: the "
             "salesperson gets an activity (and the customer an e-mail, when enabled).")
    shipment_eta_churn_limit = fields.Integer(
        string="Estimate Changes Before Anomaly", default=3,
        help="A carrier changing its delivery estimate more often than this opens an anomaly on the desk.")
    shipment_first_scan_anomaly_hours = fields.Integer(
        string="Missing First Scan Anomaly (hours)", default=72,
        help="A delivery order done this long ago without any carrier scan opens an anomaly on the desk.")
    shipment_triage_confidence = fields.Float(
        string="Suggest Reasons Above (%)", default=60.0,
        help="The exception triage suggests a reason learned from resolved exceptions only when it is at least "
             "this confident; the manager confirms it.")
    shipment_priority_use_value = fields.Boolean(
        string="Prioritise by Order Value", default=True,
        help="The exceptions desk weighs each problem by the value of its sale order.")
    shipment_priority_use_importance = fields.Boolean(
        string="Prioritise by Customer Importance", default=True,
        help="The exceptions desk weighs each problem by the customer's importance (on the contact).")
