from . import shipment_inbox
