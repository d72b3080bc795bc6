from collections import namedtuple

from odoo import api, fields, models, tools
from odoo.tools import SQL

#: What customer pages (tracking page, lookups) show of a company.
PublicFace = namedtuple("PublicFace", "id name primary_color secondary_color email phone tz")
#: Fields whose change changes that face, on the company and on its partner.
PUBLIC_FACE_COMPANY_FIELDS = frozenset({"name", "email", "phone", "primary_color", "secondary_color", "partner_id"})
PUBLIC_FACE_PARTNER_FIELDS = frozenset({"name", "email", "phone", "tz"})


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

    def cache_invalidation_fields(self):
        return super().cache_invalidation_fields() | PUBLIC_FACE_COMPANY_FIELDS

    @api.model
    @tools.ormcache("company_id")
    def _shipment_public_face(self, company_id):
        """The company's name, colours, e-mail, phone and time zone, as customer pages show them.

        Cached per worker: every tracking page shows it, and reading it per request cost a
        join of two tables, a third of the page's own query. Changing any of it clears
        Odoo's caches (:meth:`cache_invalidation_fields` here, ``write`` of
        ``res.partner`` for the company's contact), which every worker follows.

        :rtype: PublicFace, or None for an unknown company
        """
        self.env["res.company"].flush_model(["name", "primary_color", "secondary_color", "partner_id"])
        self.env["res.partner"].flush_model(["email", "phone", "tz"])
        rows = self.env.execute_query(SQL(
            """
            SELECT c.id, c.name, c.primary_color, c.secondary_color, p.email, p.phone, p.tz
              FROM res_company c JOIN res_partner p ON p.id = c.partner_id
             WHERE c.id = %s
            """, company_id))
        return PublicFace(*rows[0]) if rows else None
