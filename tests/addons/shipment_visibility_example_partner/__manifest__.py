{
    "name": "Shipment Visibility: example partner",
    "summary": "A partner added from another addon, without touching shipment_visibility: used by its tests",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "Shipment Visibility contributors",
    "license": "LGPL-3",
    "depends": ["shipment_visibility"],
    "data": [],
    "installable": True,
    "application": False,
}
