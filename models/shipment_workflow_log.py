from odoo import fields, models

ACTIONS = [
    ("open_exception", "Open exception"),
    ("close_exception", "Close exception"),
    ("flag_at_risk", "Flag at risk"),
    ("notify_salesperson", "Notify salesperson"),
    ("notify_customer", "E-mail customer"),
    ("attach_pod", "Attach proof of delivery"),
    ("create_invoice", "Create invoice"),
]


class ShipmentWorkflowLog(models.Model):
    """What the workflow policies did — or, for shadow connectors, would have done.

    The shadow rows are the cut-over report: they show an admin exactly which
    exceptions, e-mails and invoices a partner's data would have caused.
    """

    _name = "shipment.workflow.log"
    _description = "Shipment Workflow Action"
    _order = "create_date desc, id desc"

    shipment_id = fields.Many2one("shipment.shipment", required=True, index=True, ondelete="cascade")
    connector_id = fields.Many2one(related="shipment_id.connector_id", store=True)
    company_id = fields.Many2one(related="shipment_id.company_id", store=True, index=True)
    picking_id = fields.Many2one(related="shipment_id.picking_id")
    action = fields.Selection(ACTIONS, required=True)
    description = fields.Char()
    shadow = fields.Boolean(help="Not executed: the connector is in shadow mode.", index=True)
