"""The shipped status-map rows are exactly the adapters' default tables."""

import csv
import subprocess
import sys
from pathlib import Path

from integration import partners, taxonomy
from integration.adapters import get_adapter

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "shipment.status.map.csv"


def test_csv_is_generated_from_the_adapters():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_status_map_data.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_row_maps_to_the_taxonomy():
    with DATA.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    for row in rows:
        assert row["connector_type"] in partners.codes()
        assert row["milestone"] == taxonomy.UNKNOWN or taxonomy.is_milestone(row["milestone"]), row
        assert not row["reason"] or row["reason"] in taxonomy.REASON_CODES, row
        milestone, reason = get_adapter(row["connector_type"]).default_status_map[row["raw_code"]]
        assert (milestone, reason or "") == (row["milestone"], row["reason"])
