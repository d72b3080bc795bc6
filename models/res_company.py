from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    shipment_exception_user_id = fields.Many2one(
        "res.users", string="Shipment Exceptions Responsible",
        help="Gets the exception activities of delivery orders without a responsible.")
    shipment_notify_customers = fields.Boolean(
        string="Notify Customers of Shipment Progress",
        help="E-mail customers when their shipment ships, goes out for delivery, is delivered "
             "or is delayed (customers can opt out on their contact form).")
    shipment_notify_eta_customer = fields.Boolean(
        string="E-mail Customers a Later Delivery Date",
        help="When the carrier's estimate passes the promised date, tell the customer the new date.")
    shipment_invoice_on_delivery = fields.Boolean(
        string="Invoice When Delivered",
        help="Create the draft invoice of a sale order once all its shipments are delivered.")
    shipment_max_silence_hours = fields.Integer(
        string="Maximum Silence (hours)", default=72,
        help="A shipment without any event for longer gets a 'no update' exception, unless an "
             "SLA policy says otherwise.")
    shipment_first_scan_hours = fields.Integer(
        string="First Scan Deadline (hours)", default=24,
        help="After the delivery order is done, the carrier should scan the parcel within this time.")
