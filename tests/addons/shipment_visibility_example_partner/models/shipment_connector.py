from odoo import fields, models


class ShipmentConnector(models.Model):
    _inherit = "shipment.connector"

    connector_type = fields.Selection(
        selection_add=[("acme_parcels", "Acme Parcels")], ondelete={"acme_parcels": "cascade"})
