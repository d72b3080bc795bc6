{
    "name": "Shipment Visibility",
    "summary": "End-to-end shipment tracking across carriers, 3PLs and brokers: "
    "webhooks, polling and EDI normalized into one milestone model",
    "version": "18.0.1.0.0",
    "category": "Inventory/Delivery",
    "website": "https://github.com/shipment-visibility/shipment_visibility",
    "author": "Shipment Visibility contributors",
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    "depends": ["stock_delivery", "mail", "portal", "sale_stock"],
    "external_dependencies": {"python": ["requests", "cryptography", "jsonschema"]},
    "data": [
        # groups first: ACLs, rules and menus refer to them
        "security/shipment_visibility_security.xml",
        "security/shipment_api_security.xml",
        "security/ir.model.access.csv",
        "security/shipment_visibility_rules.xml",
        "security/shipment_reporting_rules.xml",
        "security/shipment_portal_rules.xml",
        "security/shipment_shadow_rules.xml",
        "security/shipment_api_rules.xml",
        # data: crons and the default partner status mappings
        "data/ir_cron_data.xml",
        "data/shipment.status.map.csv",
        "data/ir_cron_workflow_data.xml",
        "data/mail_template_data.xml",
        # views before menus: menus point at their actions
        "views/shipment_event_views.xml",
        "views/shipment_shipment_views.xml",
        "views/shipment_connector_views.xml",
        "views/stock_picking_views.xml",
        "views/shipment_inbox_views.xml",
        "views/shipment_status_map_views.xml",
        "views/shipment_exception_views.xml",
        "views/shipment_shadow_comparison_views.xml",
        "wizards/shipment_manual_event_views.xml",
        "wizards/shipment_exception_resolve_views.xml",
        "wizards/shipment_inbox_replay_views.xml",
        "views/shipment_sla_policy_views.xml",
        "views/shipment_performance_report_views.xml",
        "views/shipment_dashboard_views.xml",
        "views/shipment_connector_polling_views.xml",
        "wizards/shipment_file_import_views.xml",
        "views/shipment_visibility_menus.xml",
        "views/shipment_file_import_menus.xml",
        "views/shipment_reporting_menus.xml",
        # customers: portal pages, the public tracking page, the backend's share action
        "views/shipment_tracking_templates.xml",
        "views/shipment_portal_templates.xml",
        "views/shipment_shipment_portal_views.xml",
        # the REST API: service accounts and their keys
        "views/shipment_api_account_views.xml",
    ],
    "demo": [
        "demo/shipment_connector_demo.xml",
        "demo/shipment_sla_policy_demo.xml",
        "demo/stock_picking_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "shipment_visibility/static/src/**/*",
            # the customer pages' stylesheet: portal (frontend) and the standalone tracking page
            ("remove", "shipment_visibility/static/src/tracking/**/*"),
        ],
        "web.assets_frontend": [
            "shipment_visibility/static/src/tracking/tracking.css",
        ],
        "web.assets_tests": [
            "shipment_visibility/static/tests/tours/**/*",
        ],
    },
    "images": ["static/description/icon.png"],
}
