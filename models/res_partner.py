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
        if not PUBLIC_FACE_PARTNER_FIELDS.isdisjoint(vals) and self._is_a_company_contact():
            self.env.registry.clear_cache()
        return result

    def _is_a_company_contact(self):
        # The system checks, whoever may read companies; archived ones keep their pages.
        Company = self.env["res.company"].sudo().with_context(active_test=False)
        return bool(Company.search_count([("partner_id", "in", self.ids)], limit=1))
