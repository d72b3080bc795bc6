from . import shipment_manual_event
