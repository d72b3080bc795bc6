from . import shipment_manual_event
from . import shipment_inbox_replay
from . import shipment_exception_resolve
from . import shipment_file_import
from . import shipment_outbox_replay
from . import shipment_api_key_wizard
