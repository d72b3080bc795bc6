#!/usr/bin/env python3
"""The customer tracking page under load: ``python3 benchmarks/bench_tracking.py``.

What it does, all on this machine and on loopback:

1. prepares Odoo 18 and its virtual environment with ``tools/devenv.py`` (then re-runs
   itself with that environment's Python) and creates a throwaway database with the
   module, without demo data;
2. through the ORM, as the inbox processor would: a customer with a delivery address,
   a carrier, two shipments whose histories hold 5 and 500 actual events, and one more
   shipment of 5 events for every request of the "first visit" page;
3. starts Odoo in prefork mode (``--workers=2 --max-cron-threads=0``, ``-d <db>``) with
   the request log on, and for each page sends ``--requests`` requests from
   ``--concurrency`` back-to-back senders after a warm-up, interleaving the pages round
   by round so that each meets the same machine. The pages: ``GET /track/<access_token>``
   with 5 and with 500 events, read again and again (the server keeps a page rendered
   until what it shows changes), ``GET /track/<access_token>`` of a different shipment
   on every request (a first visit: nothing kept), and Odoo's own ``GET /web/login``
   (a QWeb page of the same kind);
4. reads the SQL queries of each request from Odoo's request log (the query count it
   appends to each line) and checks that the tracking page makes as many queries with
   500 events as with 5;
5. prints a table, writes ``benchmarks/results/tracking.json``, stops the server and
   drops the database. The exit code is 0 when the tracking page read again serves at
   least as many requests per second as ``/web/login`` and its query count does not
   grow; the first visit's share of ``/web/login`` is reported beside it.

Options: ``--requests`` (per page and round, 1000), ``--rounds`` (3), ``--concurrency`` (4),
``--keep-db``, ``--out``.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for entry in (str(HERE), str(REPO / "tools")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402  (tools/devenv.py: standard library only)

# werkzeug's request line, to which Odoo appends: query count, query time, other time.
REQUEST_LINE = re.compile(r'"GET (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) - (?P<queries>\d+) ')


def say(message):
    print(f"[bench-tracking] {message}", flush=True)


def create_database(tree, db, workdir, env):
    devenv.drop_db(db)
    log = workdir / "install.log"
    say(f"creating database {db} with shipment_visibility (no demo data)")
    with open(log, "w") as handle:
        rc = subprocess.call(
            devenv.odoo_cmd(tree, db, "-i", "shipment_visibility", "--without-demo=all", "--stop-after-init",
                            "--http-port", str(devenv.free_port()), "--log-level=warn"),
            stdout=handle, stderr=subprocess.STDOUT, env=env, timeout=900)
    if rc != 0:
        raise RuntimeError(f"module installation failed (exit {rc}), see {log}")


def seed(tree, db, first_visits=0):
    """Two shipments of one customer, with 5 and 500 events, and ``first_visits`` more
    with 5 events each, each page to be read once.

    :return: (tokens by size, list of the first-visit shipments' tokens)
    """
    sys.path.insert(0, str(tree))
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(devenv.odoo_cmd(tree, db, "--log-level=warn")[2:])
    from odoo.addons.shipment_visibility.integration.events import CanonicalEvent

    registry = Registry(db)
    tokens = {}
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        customer = env["res.partner"].create({
            "name": "Bench Customer", "street": "1 Bench Street", "zip": "1000", "city": "Brussels",
            "country_id": env.ref("base.be").id, "email": "bench@example.com", "tz": "Europe/Brussels"})
        product = env["product.product"].create({"name": "Bench Express service", "type": "service"})
        carrier = env["delivery.carrier"].create({
            "name": "Bench Express", "product_id": product.id, "delivery_type": "fixed",
            "tracking_url": "https://track.example.com/?n=<shipmenttrackingnumber>"})
        now = datetime.now(timezone.utc).replace(microsecond=0)
        histories = [(f"BENCHTRACK{size}", size) for size in (5, 500)]
        histories += [(f"BENCHFIRST{index:05d}", 5) for index in range(first_visits)]
        shipments = env["shipment.shipment"].create([{
            "tracking_number": number, "carrier_id": carrier.id, "partner_id": customer.id,
            "promised_date": (now + timedelta(days=2)).replace(tzinfo=None)} for number, _size in histories])
        by_number = {shipment.tracking_number: shipment for shipment in shipments}
        # Stored with the processor's own steps (not the test helper: importing the
        # test framework outside a test run logs an error).
        events = [
            CanonicalEvent(number, "in_transit" if i else "picked_up", now - timedelta(minutes=20 * (size - i)),
                           city=f"Hub {i % 40}", country="BE", description=f"Scanned at hub {i % 40}")
            for number, size in histories for i in range(size)]
        Event = env["shipment.event"]
        rows = Event._rows_from_canonical(events, by_number, "webhook")
        Event.browse([event_id for event_id, _row in Event._insert_rows(rows)])._notify_created()
        tokens = {size: by_number[f"BENCHTRACK{size}"]._portal_ensure_token() for size in (5, 500)}
        first = [by_number[number]._portal_ensure_token() for number, _size in histories[2:]]
        cr.commit()
    return tokens, first


def start_server(tree, db, workdir, env):
    port = devenv.free_port()
    log = workdir / "server.log"
    cmd = devenv.odoo_cmd(tree, db, "--http-interface", "127.0.0.1", "--http-port", str(port),
                          "--gevent-port", str(devenv.free_port()), "--workers=2", "--max-cron-threads=0",
                          "--log-level=warn", "--log-handler=werkzeug:INFO")
    cmd[1:2] = [str(HERE / "serve.py"), str(tree)]  # odoo-bin without the websocket process
    handle = open(log, "a")
    server = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    handle.close()
    import requests

    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"Odoo exited with {server.returncode}, see {log}")
        try:
            if requests.get(f"{base}/web/health", timeout=2).status_code == 200:
                return server, base, log
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"Odoo did not answer within 120 s, see {log}")


def stop_server(server):
    import signal

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
            server.wait(20)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def queries_by_path(log):
    """{path: [query counts]} from the request log (query strings left out)."""
    found = {}
    for line in log.read_text(errors="replace").splitlines():
        if match := REQUEST_LINE.search(line):
            found.setdefault(match["path"].split("?")[0], []).append(int(match["queries"]))
    return found


def run(args):
    import loadgen

    tree = devenv.bootstrap()
    env = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="sv_bench_tracking_"))
    create_database(tree, args.db, workdir, env)
    warm_up = 40
    tokens, first = seed(tree, args.db, first_visits=warm_up + args.requests * args.rounds)
    server, base, log = start_server(tree, args.db, workdir, env)
    # Each page is a list of paths read in turn: the same one for the pages read again
    # (kept rendered by the server after the first time), a new shipment's page for
    # every request of "first visit" (5 events each), which is never kept yet.
    first_visit = [f"/track/{token}" for token in first]
    pages = {
        "track_5_events": [f"/track/{tokens[5]}"],
        "track_500_events": [f"/track/{tokens[500]}"],
        "track_first_visit": first_visit[warm_up:],
        "web_login": ["/web/login"],
    }

    def request_of(paths, offset=0):
        return lambda job: ("GET", base + paths[(offset + job) % len(paths)], None, {})

    try:
        for name, paths in pages.items():  # warm-up: routing maps, templates, caches of both workers
            loadgen.closed_loop(range(warm_up), request_of(first_visit[:warm_up] if name == "track_first_visit"
                                                           else paths), 2, 60)
        log.write_text("")
        samples = {name: [] for name in pages}
        for round_ in range(args.rounds):
            for name, paths in pages.items():
                say(f"round {round_ + 1}/{args.rounds}: {name}")
                samples[name].append(loadgen.closed_loop(
                    range(args.requests), request_of(paths, offset=round_ * args.requests), args.concurrency, 300))
        counted = queries_by_path(log)
    finally:
        stop_server(server)
        if not args.keep_db:
            devenv.drop_db(args.db)
    results = {}
    for name, paths in pages.items():
        rounds = [loadgen.summarize(round_samples) for round_samples in samples[name]]
        summary = loadgen.summarize([sample for round_samples in samples[name] for sample in round_samples])
        # Each round has its own window: the pages take turns, so one window over all
        # rounds would count the other pages' time too.
        summary["seconds"] = round(sum(r["seconds"] for r in rounds), 3)
        summary["per_second"] = round(summary["ok"] / summary["seconds"], 1) if summary["seconds"] else 0.0
        summary["per_second_by_round"] = [r["per_second"] for r in rounds]
        queries = [count for path in set(paths) for count in counted.get(path, [])]
        summary["queries_per_request"] = {"min": min(queries), "max": max(queries)} if queries else None
        results[name] = summary
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--db", default=f"sv_bench_tracking_{os.getpid()}")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "tracking.json"))
    args = parser.parse_args()

    devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    devenv.ensure_postgresql()
    results = run(args)

    login, track5, track500 = results["web_login"], results["track_5_events"], results["track_500_events"]
    q5, q500 = track5["queries_per_request"], track500["queries_per_request"]
    checks = {
        "track_at_least_as_fast_as_login": min(track5["per_second"], track500["per_second"]) >= login["per_second"],
        "queries_do_not_grow_with_events": bool(q5 and q500 and q5["max"] == q500["max"]),
    }
    for name in ("track_5_events", "track_500_events", "track_first_visit"):
        results[name]["share_of_login"] = round(results[name]["per_second"] / login["per_second"], 3)
    print()
    print(f"{'page':<20}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'queries':>10}{'statuses':>20}")
    for name, summary in results.items():
        queries = summary["queries_per_request"]
        print(f"{name:<20}{summary['per_second']:>10}{summary['latency_ms']['p50']:>10}"
              f"{summary['latency_ms']['p95']:>10}{summary['latency_ms']['p99']:>10}"
              f"{(queries or {}).get('max', '-'):>10}{json.dumps(summary['statuses']):>20}")
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "options": {"requests": args.requests, "rounds": args.rounds, "concurrency": args.concurrency,
                    "workers": 2},
        "results": results, "checks": checks}, indent=2) + "\n")
    say(f"wrote {out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
