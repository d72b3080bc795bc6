{
    "name": "Shipment Visibility: benchmark variants",
    "summary": "Synchronous webhook variant used only by benchmarks/run.py as a comparison point",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "Shipment Visibility contributors",
    "license": "LGPL-3",
    "depends": ["shipment_visibility"],
    "data": [],
    "installable": True,
    "application": False,
}
