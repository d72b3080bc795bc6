from . import shipment_connector
