"""Pure-Python tests: the repository root goes on sys.path so that ``import integration``
works without Odoo (Odoo itself imports the package as ``odoo.addons.shipment_visibility``)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
