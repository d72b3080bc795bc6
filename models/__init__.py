# canonical model first: the Odoo-side models below refer to it
from . import shipment_connector
from . import shipment_shipment
from . import shipment_event

# core models extended by the module
from . import stock_picking
