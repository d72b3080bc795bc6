"""Protocol layer of Shipment Visibility.

Everything in this package is plain Python: it never imports ``odoo`` so that it can be
unit-tested with pytest alone and reused by tools (carrier simulator, benchmarks).
Odoo code imports it as ``odoo.addons.shipment_visibility.integration``; tests and
tools import it as ``integration`` with the repository root on ``sys.path``.
"""
