# canonical model first: the Odoo-side models below refer to it
from . import shipment_connector
from . import shipment_connector_secrets
from . import shipment_connector_webhook
from . import shipment_connector_polling
from . import shipment_connector_breaker
from . import shipment_connector_files
from . import shipment_connector_easypost
from . import shipment_status_map
from . import shipment_shipment
from . import shipment_shipment_canonical
from . import shipment_shipment_customer
from . import shipment_event
from . import shipment_event_rollup  # before the report views that read it
from . import shipment_inbox
from . import shipment_inbox_processor
from . import shipment_webhook_rejection
from . import shipment_webhook_rate

# customers: the public tracking page's lookup budget
from . import shipment_track_throttle

# business policies: exceptions desk, workflow engine and its audit log
from . import shipment_exception
from . import shipment_workflow_log
from . import shipment_workflow
from . import shipment_shadow_comparison

# core models extended by the module
from . import ir_cron  # our crons share a time budget per pass of Odoo's cron loop
from . import stock_picking
from . import res_company
from . import res_config_settings
from . import res_partner
from . import shipment_sla_policy
from . import shipment_performance_report

# predictions: carrier calendars, learned transit times, predicted delivery
from . import shipment_holiday
from . import delivery_carrier
from . import res_company_prediction
from . import res_partner_prediction
from . import res_config_settings_prediction
from . import shipment_transit_lane
from . import shipment_dwell_stat
from . import shipment_shipment_prediction
from . import shipment_shipment_summary
from . import shipment_exception_prediction
from . import shipment_workflow_prediction
from . import shipment_workflow_anomaly
from . import stock_picking_prediction
from . import shipment_prediction_accuracy
from . import shipment_performance_report_prediction
# operations: metrics, polling outcomes
from . import shipment_poll_stat
from . import shipment_connector_metrics
from . import shipment_metrics
from . import shipment_inbox_operations
from . import res_config_settings_metrics
from . import shipment_alert_rule
from . import shipment_alert_incident
from . import shipment_integration_health

# one correlation id from the inbox through events, policies and logs
from . import shipment_event_operations
from . import shipment_workflow_correlation
from . import shipment_workflow_log_correlation
# event fan-out: the outbox, its subscriptions and deliveries
from . import shipment_outbox_event_type
from . import shipment_outbox
from . import shipment_outbox_position
from . import shipment_subscription
from . import shipment_outbox_delivery
from . import shipment_outbox_attempt
from . import shipment_shipment_outbox
from . import shipment_exception_outbox
from . import res_users_shipment_api
from . import res_users_apikeys
from . import shipment_api_idempotency

# the outbox's figures in the operations metrics
from . import shipment_metrics_outbox
