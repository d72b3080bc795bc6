# canonical model first: the Odoo-side models below refer to it
from . import shipment_connector
from . import shipment_connector_secrets
from . import shipment_connector_webhook
from . import shipment_connector_polling
from . import shipment_connector_files
from . import shipment_connector_easypost
from . import shipment_status_map
from . import shipment_shipment
from . import shipment_shipment_canonical
from . import shipment_event
from . import shipment_inbox
from . import shipment_webhook_rejection

# customers: the public tracking page's lookup budget
from . import shipment_track_throttle

# business policies: exceptions desk, workflow engine and its audit log
from . import shipment_exception
from . import shipment_workflow_log
from . import shipment_workflow
from . import shipment_shadow_comparison

# core models extended by the module
from . import stock_picking
from . import res_company
from . import res_config_settings
from . import res_partner
from . import shipment_sla_policy
from . import shipment_performance_report
from . import res_users_shipment_api
from . import res_users_apikeys
from . import shipment_api_idempotency
