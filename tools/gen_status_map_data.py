#!/usr/bin/env python3
"""Write data/shipment.status.map.csv from the adapters' default mapping tables.

The adapters' tables are the single source: this file ships them as editable
``shipment.status.map`` rows (one per connector type and partner code), and a pure
test checks that the CSV is up to date. Run it after changing an adapter's table.
"""

import csv
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integration import partners  # noqa: E402
from integration.adapters import get_adapter  # noqa: E402

TARGET = ROOT / "data" / "shipment.status.map.csv"


def xmlid(connector_type, raw_code):
    slug = re.sub(r"[^a-z0-9]+", "_", raw_code.lower()).strip("_")
    return f"status_map_{connector_type}_{slug}"


def render():
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "connector_type", "raw_code", "milestone", "reason"])
    seen, adapters = set(), set()
    for connector_type in partners.codes():
        adapter = get_adapter(connector_type)
        if id(adapter) in adapters:
            continue  # a partner reading another's format (manual entries) shares its table
        adapters.add(id(adapter))
        table = adapter.default_status_map
        for raw_code in sorted(table):
            milestone, reason = table[raw_code]
            identifier = xmlid(connector_type, raw_code)
            suffix = 2
            while identifier in seen:  # codes that differ only by punctuation or case
                identifier = f"{xmlid(connector_type, raw_code)}_{suffix}"
                suffix += 1
            seen.add(identifier)
            writer.writerow([identifier, connector_type, raw_code, milestone, reason or ""])
    return out.getvalue()


def main():
    content = render()
    if "--check" in sys.argv:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != content:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run tools/gen_status_map_data.py")
            return 1
        return 0
    TARGET.write_text(content)
    print(f"wrote {TARGET.relative_to(ROOT)} ({content.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
