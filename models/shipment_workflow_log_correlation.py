from odoo import api, fields, models

from ..integration import correlation


class ShipmentWorkflowLog(models.Model):
    _inherit = "shipment.workflow.log"

    correlation_id = fields.Char(
        index="btree_not_null", readonly=True,
        help="The messages whose events led to this action: search the logs and the inbox with it.")

    @api.model_create_multi
    def create(self, vals_list):
        bound = correlation.current_text()
        if bound:
            for vals in vals_list:
                vals.setdefault("correlation_id", bound)
        return super().create(vals_list)
