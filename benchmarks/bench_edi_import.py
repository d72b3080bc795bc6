#!/usr/bin/env python3
"""EDI import benchmark: a generated 50 MB ANSI X12 214 file, split and parsed.

Generates realistic 214 transaction sets (references, shipper and consignee, three
status details, one in ten a weather delay) in interchanges of 5,000, about 310 bytes
per shipment, then measures the two halves of a file import:

* **split** (what the upload wizard and the folder watcher do before storing one inbox
  message per shipment): ``EdiX12_214Adapter.split`` on the whole file, timed, with
  the process's peak RSS (``ru_maxrss``) before and after;
* **parse** (what the inbox processor then does per message): ``parse`` of a sample of
  the chunks, timed.

With ``--odoo`` it then imports the same file
into a fresh database through ``shipment.connector._import_file`` (split, then the inbox
messages stored 500 per statement), in an ``odoo-bin shell`` of the development
environment, and imports it once more, all duplicates, as the folder watcher does after
a worker was killed mid-import.

Usage::

    python3 benchmarks/bench_edi_import.py [--megabytes 50] [--parse-sample 20000] [--odoo]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for entry in (str(REPO), str(REPO / "tools")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from integration.adapters.base import AdapterContext  # noqa: E402
from integration.adapters.edi_x12_214 import ADAPTER  # noqa: E402

PER_INTERCHANGE = 5_000
ODOO_DB = "sv_bench_edi_import"


def transaction(number):
    st = f"{number % 1_000_000_000:09d}"
    status = "SD*AO" if number % 10 == 0 else "X6*NS"
    segments = [
        f"ST*214*{st}",
        f"B10*PRO{number:09d}*SHIP-{number}*ABCD",
        f"L11*BOL-{number}*BM",
        "N1*SH*ACME WAREHOUSE",
        "N4*ATLANTA*GA*30301*US",
        f"N1*CN*CUSTOMER {number % 1000}",
        "N4*DENVER*CO*80202*US",
        "LX*1",
        "AT7*AF*NS***20250714*0830*ET",
        "MS1*ATLANTA*GA*US",
        "LX*2",
        f"AT7*{status}***20250715*1400*CT",
        "MS1*DALLAS*TX*US",
        "LX*3",
        "AT7*AG*NS***20250717",
    ]
    segments.append(f"SE*{len(segments) + 1}*{st}")
    return "~\n".join(segments) + "~\n"


def generate(megabytes):
    """A 214 file of about ``megabytes`` MB; returns ``(bytes, shipments)``."""
    target = int(megabytes * 1_000_000)
    parts, size, number, control = [], 0, 0, 0
    while size < target:
        control += 1
        envelope = [
            "ISA*00*          *00*          *ZZ*ABCDCARRIER    *ZZ*ACMESHIPPER    *250715*1200*U*00401*"
            f"{control:09d}*0*P*>~\n",
            f"GS*QM*ABCDCARRIER*ACMESHIPPER*20250715*1200*{control}*X*004010~\n",
        ]
        body = []
        for _index in range(PER_INTERCHANGE):
            number += 1
            body.append(transaction(number))
            size += len(body[-1])
            if size >= target:
                break
        parts += envelope + body + [f"GE*{len(body)}*{control}~\n", f"IEA*1*{control:09d}~\n"]
        size += sum(len(p) for p in envelope) + 40
    return "".join(parts).encode(), number


def peak_rss_mb():
    """Peak resident memory of this process, in MB.

    ``VmHWM`` is reset by ``exec``, unlike ``ru_maxrss`` which a child inherits from its
    parent; ``ru_maxrss`` (kilobytes on Linux) is the fallback elsewhere.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_split(data):
    started = time.perf_counter()
    chunks = ADAPTER.split(data)
    return chunks, time.perf_counter() - started


def measure_parse(chunks, sample):
    picked = chunks[:: max(1, len(chunks) // sample)][:sample]
    context = AdapterContext()
    started = time.perf_counter()
    events = sum(len(ADAPTER.parse(chunk.body, context).events) for chunk in picked)
    return len(picked), events, time.perf_counter() - started


# ----------------------------------------------------------------------------- Odoo

ODOO_SCRIPT = r"""
import json, sys, time

def peak_rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))

connector = env["shipment.connector"].create({"name": "EDI bench", "connector_type": "edi_x12_214"})
data = open(sys.argv[-1], "rb").read()
# The benchmark file may exceed the default size limit of a file import by a few bytes.
env["ir.config_parameter"].set_param("shipment_visibility.max_file_megabytes", str(len(data) / 1e6 + 1))
env.cr.commit()
rss_before = peak_rss_mb()
started = time.perf_counter()
counts = connector._import_file("bench.edi", data)
env.cr.commit()
elapsed = time.perf_counter() - started
# The same file again, as the folder watcher does after a worker was killed mid-import:
# every part is a duplicate.
started = time.perf_counter()
again = connector._import_file("bench.edi", data)
env.cr.rollback()
again_seconds = time.perf_counter() - started
print("RESULT " + json.dumps({"imported": counts["imported"], "failed": counts["failed"],
      "duplicates": counts["duplicates"], "seconds": elapsed, "rss_before_mb": rss_before,
      "again_duplicates": again["duplicates"], "again_seconds": again_seconds,
      "rss_peak_mb": peak_rss_mb()}))
"""


def odoo_import(path):
    import devenv

    tree = devenv.bootstrap()
    devenv.drop_db(ODOO_DB)
    try:
        install = devenv.odoo_cmd(tree, ODOO_DB, "-i", "shipment_visibility", "--without-demo=all",
                                  "--stop-after-init", "--http-port", str(devenv.free_port()), "--log-level=warn")
        subprocess.run(install, check=True, capture_output=True)
        script = Path(tempfile.mkstemp(suffix=".py")[1])
        script.write_text(ODOO_SCRIPT.replace("sys.argv[-1]", repr(str(path))))
        command = devenv.odoo_cmd(tree, ODOO_DB, "--no-http", "--log-level=warn")
        # The sub-command comes first: odoo-bin shell -d … reads the script on stdin.
        shell = [*command[:2], "shell", *command[2:]]
        with open(script) as stdin:
            out = subprocess.run(shell, stdin=stdin, capture_output=True, text=True, check=True).stdout
        script.unlink()
        line = next(line for line in out.splitlines() if line.startswith("RESULT "))
        return json.loads(line[len("RESULT ") :])
    finally:
        devenv.drop_db(ODOO_DB)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--parse-sample", type=int, default=20_000, help="chunks parsed (default 20,000)")
    parser.add_argument("--odoo", action="store_true", help="also import into a fresh Odoo database")
    args = parser.parse_args(argv)

    rss_start = peak_rss_mb()
    data, shipments = generate(args.megabytes)
    print(f"generated {len(data) / 1e6:.1f} MB: {shipments:,} shipments in "
          f"{-(-shipments // PER_INTERCHANGE)} interchanges (Python {sys.version.split()[0]}, {os.cpu_count()} CPU)",
          flush=True)
    rss_file = peak_rss_mb()

    chunks, split_seconds = measure_split(data)
    rss_split = peak_rss_mb()
    failed = sum(1 for chunk in chunks if not chunk.ok)
    parsed, events, parse_seconds = measure_parse(chunks, args.parse_sample)
    del chunks

    rows = [
        ("file", f"{len(data) / 1e6:.1f} MB", f"{shipments:,} shipments"),
        ("split (whole file)", f"{split_seconds:.1f} s", f"{shipments / split_seconds:,.0f} shipments/s"),
        ("split failures", f"{failed}", "expected 0"),
        ("parse (per message)", f"{parse_seconds:.1f} s for {parsed:,}",
         f"{parsed / parse_seconds:,.0f} shipments/s, {events / parsed:.1f} events each"),
        ("peak RSS", f"{rss_split:,.0f} MB", f"split adds {rss_split - rss_file:,.0f} MB, "
                                              f"{(rss_split - rss_file) * 1e6 / len(data):.0f}x the file size"),
        ("RSS before split", f"{rss_file:,.0f} MB", f"interpreter and generated file ({rss_start:,.0f} MB before)"),
    ]
    if args.odoo:
        with tempfile.NamedTemporaryFile(suffix=".edi", delete=False) as handle:
            handle.write(data)
        try:
            result = odoo_import(handle.name)
        finally:
            os.unlink(handle.name)
        rows += [
            ("Odoo _import_file", f"{result['seconds']:.1f} s",
             f"{result['imported'] / result['seconds']:,.0f} shipments/s stored "
             f"({result['imported']:,} messages, {result['failed']} failed)"),
            ("Odoo import again", f"{result['again_seconds']:.1f} s",
             f"{result['again_duplicates']:,} duplicates, nothing stored"),
            ("Odoo peak RSS", f"{result['rss_peak_mb']:,.0f} MB",
             f"{result['rss_peak_mb'] - result['rss_before_mb']:,.0f} MB above the Odoo process with the file "
             "read, before the import"),
        ]

    width = max(len(row[0]) for row in rows)
    print()
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>18}  {note}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
