from . import bench_blob
from . import shipment_inbox
