from odoo import fields, models

from .res_company import PUBLIC_FACE_PARTNER_FIELDS


class ResPartner(models.Model):
    _inherit = "res.partner"

    shipment_notifications = fields.Boolean(
        string="Shipment E-mails", default=True,
        help="Receive e-mails about shipments (when the company sends them).")

    def write(self, vals):
        result = super().write(vals)
        # Customer pages cache the company's public face (res.company._shipment_public_face).
        # The system checks whether a company's contact changed, whoever may read companies.
        if not PUBLIC_FACE_PARTNER_FIELDS.isdisjoint(vals) and self.env["res.company"].sudo().search_count(
                [("partner_id", "in", self.ids)], limit=1):
            self.env.registry.clear_cache()
        return result
