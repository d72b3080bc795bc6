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
    "depends": ["stock_delivery", "mail"],
    "external_dependencies": {"python": ["requests", "cryptography", "jsonschema"]},
    "data": [
        # groups first: ACLs, rules and menus refer to them
        "security/shipment_visibility_security.xml",
        "security/ir.model.access.csv",
        "security/shipment_visibility_rules.xml",
        # views before menus: menus point at their actions
        "views/shipment_event_views.xml",
        "views/shipment_shipment_views.xml",
        "views/shipment_connector_views.xml",
        "views/stock_picking_views.xml",
        "wizards/shipment_manual_event_views.xml",
        "views/shipment_visibility_menus.xml",
    ],
    "demo": [
        "demo/shipment_connector_demo.xml",
        "demo/stock_picking_demo.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "shipment_visibility/static/src/**/*",
        ],
        "web.assets_tests": [
            "shipment_visibility/static/tests/tours/**/*",
        ],
    },
    "images": ["static/description/icon.png"],
}
