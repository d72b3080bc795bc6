#!/usr/bin/env python3
"""Polling benchmark: open shipments asked of the fake partner, batched or one by one.

Runs the real planner (``integration/polling.py``) and HTTP client
(``integration/transport.py``) against ``tools/fake_partner.py`` on loopback, for
10,000 open shipments by default, and compares per partner:

* batched: AfterShip 50 numbers per ``GET``, 17TRACK 40 per ``register`` + ``gettrackinfo``;
* one call per shipment (batch size 1), what a naive poller does.

Every answer is parsed by the partner's adapter to check that each shipment came back.
The Odoo side (storing each answer as an inbox message) is not included: it adds one
insert per answer, i.e. per call, so it favours batching further.

Usage::

    python3 benchmarks/bench_polling.py [--shipments 10000] [--time-limit 60]

A scenario stops at ``--time-limit`` seconds; its totals are then extrapolated from the
calls made, and marked with ``~``. The last column adds a 50 ms round trip per call,
a typical Internet latency to a partner API, as an estimate.
"""

import argparse
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from integration import polling  # noqa: E402
from integration.adapters import get_adapter  # noqa: E402
from integration.adapters.base import AdapterContext  # noqa: E402
from integration.netguard import AddressPolicy  # noqa: E402
from integration.transport import Transport, TransportConfig  # noqa: E402
from tools import fake_partner  # noqa: E402
from tools.fake_partner import FakePartner  # noqa: E402

# The fake writes headers and body in two sends; with Nagle's algorithm on its socket
# and delayed ACKs on ours, each keep-alive answer stalls ~40 ms, which would measure
# the fake's socket settings instead of polling. Real API front ends send without delay.
fake_partner._Handler.disable_nagle_algorithm = True

EASTERN = timezone(timedelta(hours=-4))
#: Round trip to a partner API across the Internet, for the estimate column.
WAN_RTT_SECONDS = 0.05
SCENARIOS = (
    ("AfterShip", "aftership", None),
    ("AfterShip", "aftership", 1),
    ("17TRACK", "seventeentrack", None),
    ("17TRACK", "seventeentrack", 1),
)


def fill(fake, count):
    start = datetime(2025, 7, 1, 8, 0, tzinfo=EASTERN)
    numbers = [f"BENCH{index:07d}" for index in range(count)]
    for index, number in enumerate(numbers):
        fake.add_shipment(
            number,
            carrier="ups",
            events=[
                {"status": "picked_up", "at": start, "city": "Atlanta", "state": "GA", "country": "US"},
                {"status": "in_transit", "at": start + timedelta(hours=9), "city": "Dallas", "country": "US"},
                {"status": "out_for_delivery", "at": start + timedelta(days=1, minutes=index % 600), "city": "Denver"},
            ],
        )
    return numbers


def run(fake, connector_type, numbers, batch, time_limit):
    """Poll ``numbers`` once; returns a result row."""
    keys = {"aftership": fake.aftership_key, "seventeentrack": fake.seventeentrack_token}
    config = TransportConfig(
        fake.base_url,
        address_policy=AddressPolicy(["127.0.0.1"]),
        connect_timeout=10,
        read_timeout=10,
        max_retries=0,
        headers=dict(polling.DEFAULT_HEADERS),
        auth_headers=polling.auth_headers(connector_type, keys[connector_type]),
    )
    # 17TRACK remembers registrations: every scenario starts from unregistered numbers.
    fake.registered.clear()
    batches = polling.plan(connector_type, numbers, batch=batch)
    answers, calls, received, polled = [], 0, 0, 0
    started = time.perf_counter()
    cut = False
    with Transport(config, session=polling.PollSession()) as transport:
        for poll_batch in batches:
            if time.perf_counter() - started > time_limit:
                cut = True
                break
            for request in poll_batch.requests:
                response = transport.request(
                    request.method, request.path, params=request.params, json=request.json,
                    idempotent=request.idempotent,
                )
                calls += 1
                received += len(response.content)
                if request.purpose == polling.QUERY:
                    answers.append(response.content)
            polled += len(poll_batch.numbers)
    wall = time.perf_counter() - started

    adapter = get_adapter(connector_type)
    parse_started = time.perf_counter()
    answered = set()
    for body in answers:
        answered.update(adapter.parse(body, AdapterContext()).tracking_numbers)
    parse = time.perf_counter() - parse_started

    scale = len(numbers) / polled if cut and polled else 1.0
    return {
        "batch": polling.batch_size(connector_type, batch),
        "calls": calls * scale,
        "wall": wall * scale,
        "parse": parse * scale,
        "answered": len(answered),
        "polled": polled,
        "bytes": received * scale,
        "extrapolated": cut,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=10_000)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per scenario (default 60)")
    args = parser.parse_args(argv)

    print(f"polling {args.shipments:,} open shipments against the fake partner on loopback "
          f"(Python {sys.version.split()[0]}, {os.cpu_count()} CPU)")
    rows = []
    with FakePartner() as fake:
        numbers = fill(fake, args.shipments)
        for label, connector_type, batch in SCENARIOS:
            row = run(fake, connector_type, numbers, batch, args.time_limit)
            row["label"] = label
            rows.append(row)
            print(f"  {label} x{row['batch']}: {row['calls']:,.0f} calls, {row['wall']:.1f} s", flush=True)

    mark = lambda row: "~" if row["extrapolated"] else ""  # noqa: E731
    header = (f"{'partner':<10} {'numbers/call':>12} {'HTTP calls':>11} {'wall s':>8} {'shipments/s':>12} "
              f"{'MB received':>12} {'parse s':>8} {'answered':>9} {'est. s @50ms RTT':>17}")
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['label']:<10} {row['batch']:>12} {mark(row) + format(row['calls'], ',.0f'):>11} "
              f"{mark(row) + format(row['wall'], '.1f'):>8} {args.shipments / row['wall']:>12,.0f} "
              f"{row['bytes'] / 1e6:>12.1f} {row['parse']:>8.1f} {row['answered']:>9,} "
              f"{row['wall'] + row['calls'] * WAN_RTT_SECONDS:>17,.0f}")
    print()
    for name in ("AfterShip", "17TRACK"):
        batched, single = [row for row in rows if row["label"] == name]
        print(f"{name}: batching makes {single['calls'] / batched['calls']:.0f}x fewer calls and is "
              f"{single['wall'] / batched['wall']:.1f}x faster on loopback; over the Internet each call also "
              f"pays a round trip (last column: loopback time + calls x {WAN_RTT_SECONDS * 1000:.0f} ms).")
    incomplete = [row for row in rows if row["answered"] != row["polled"]]
    if incomplete:
        print("WARNING: some shipments were not answered", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
