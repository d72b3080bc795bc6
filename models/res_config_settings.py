from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    shipment_exception_user_id = fields.Many2one(related="company_id.shipment_exception_user_id", readonly=False)
    shipment_notify_customers = fields.Boolean(related="company_id.shipment_notify_customers", readonly=False)
    shipment_notify_eta_customer = fields.Boolean(related="company_id.shipment_notify_eta_customer", readonly=False)
    shipment_invoice_on_delivery = fields.Boolean(related="company_id.shipment_invoice_on_delivery", readonly=False)
    shipment_max_silence_hours = fields.Integer(related="company_id.shipment_max_silence_hours", readonly=False)
    shipment_first_scan_hours = fields.Integer(related="company_id.shipment_first_scan_hours", readonly=False)
