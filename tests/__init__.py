from . import test_picking_shipment
from . import test_shipment_status
from . import test_manual_event
from . import test_access
from . import test_demo_data
from . import test_tour
