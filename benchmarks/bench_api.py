#!/usr/bin/env python3
"""The REST API under load, beside JSON-RPC ``search_read``: ``python3 benchmarks/bench_api.py``.

What it does, all on this machine and on loopback:

1. prepares Odoo 18 with ``tools/devenv.py`` (then re-runs itself with that environment's
   Python) and creates a throwaway database with the module, without demo data;
2. seeds ``--shipments`` shipments (100,000 by default) with ``--events`` events each
   (10: a million events) in bulk SQL, in the shape the processor leaves them (status,
   timestamps, one customer, one carrier), and a company-wide service account with a key;
3. starts Odoo in prefork mode (``--workers=2 --max-cron-threads=0``) with the request
   log on, and sends, round by round, from ``--concurrency`` back-to-back senders:
   ``GET /api/shipment/v1/shipments?limit=100`` (random cursor positions over the whole
   table), ``GET /api/shipment/v1/shipments/{id}/events`` (random shipments), and the same
   records by JSON-RPC ``search_read`` (``/web/dataset/call_kw``, a logged-in session);
4. counts the SQL queries of each request from Odoo's request log, and of the list at
   ``limit`` 10, 100 and 200, to show that it does not grow with the page;
5. prints a table, writes ``benchmarks/results/api.json``, stops the server and drops the
   database. Exit code 0 when p95 ≤ 100 ms and the API serves at least as many requests
   per second as ``search_read`` for both reads, and the query count is flat.

Options: ``--shipments``, ``--events``, ``--requests`` (per read and round, 500),
``--rounds`` (3), ``--concurrency`` (4), ``--keep-db``, ``--out``.
"""

import argparse
import json
import os
import platform
import random
import re
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for entry in (str(HERE), str(REPO / "tools")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402  (tools/devenv.py: standard library only)
from bench_tracking import create_database, start_server, stop_server  # noqa: E402

REQUEST_LINE = re.compile(r'"(?:GET|POST) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) - (?P<queries>\d+) ')
API = "/api/shipment/v1"
# What a consumer needs of a shipment: the fields behind the canonical document.
RPC_SHIPMENT_FIELDS = [
    "tracking_number", "carrier_id", "status", "exception_state", "exception_reason", "eta", "eta_window_start",
    "eta_window_end", "promised_date", "shipped_at", "delivered_at", "last_event_at", "picking_id", "sale_id",
    "partner_id", "company_id", "pod_signed_by", "pod_url", "pod_attachment_id", "tracking_url", "create_date",
    "write_date",
]
RPC_EVENT_FIELDS = [
    "shipment_id", "milestone", "event_class", "occurred_at", "utc_offset", "received_at", "window_start",
    "window_end", "issued_at", "city", "region", "postcode", "country_code", "latitude", "longitude", "description",
    "reason", "source", "signed_by", "pod_url",
]
MILESTONES = ["info_received", "picked_up", "in_transit", "arrived_at_facility", "departed_facility",
              "out_for_delivery", "delivered"]


def say(message):
    print(f"[bench-api] {message}", flush=True)


def seed(tree, db, shipments, events_per_shipment):
    """Bulk rows as the processor leaves them; return (key, cursor secret, first id, last id)."""
    sys.path.insert(0, str(tree))
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(devenv.odoo_cmd(tree, db, "--log-level=warn")[2:])
    registry = Registry(db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        company = env.company
        customer = env["res.partner"].create({"name": "Bench Customer", "is_company": True})
        product = env["product.product"].create({"name": "Bench Express service", "type": "service"})
        carrier = env["delivery.carrier"].create({"name": "Bench Express", "product_id": product.id,
                                                  "delivery_type": "fixed"})
        say(f"seeding {shipments:,} shipments and {shipments * events_per_shipment:,} events")
        cr.execute("""
            INSERT INTO shipment_shipment
                   (tracking_number, company_id, carrier_id, partner_id, status, exception_state, active, shadow,
                    is_terminal, event_count, access_token, last_event_at, shipped_at, create_uid, write_uid,
                    create_date, write_date)
            SELECT 'BENCH' || lpad(n::text, 9, '0'), %(company)s, %(carrier)s, %(customer)s,
                   (ARRAY['in_transit', 'out_for_delivery', 'delivered'])[1 + n %% 3], 'none', true, false,
                   n %% 3 = 2, %(events)s, md5(n::text || clock_timestamp()::text),
                   now() at time zone 'utc' - make_interval(mins => n %% 5000),
                   now() at time zone 'utc' - interval '3 days', 1, 1,
                   now() at time zone 'utc', now() at time zone 'utc'
              FROM generate_series(1, %(count)s) AS n
        """, {"company": company.id, "carrier": carrier.id, "customer": customer.id, "events": events_per_shipment,
              "count": shipments})
        cr.execute("SELECT min(id), max(id) FROM shipment_shipment WHERE tracking_number LIKE 'BENCH%%'")
        first, last = cr.fetchone()
        milestones = "ARRAY[" + ",".join(f"'{m}'" for m in MILESTONES) + "]"
        cr.execute(f"""
            INSERT INTO shipment_event
                   (shipment_id, company_id, milestone, event_class, occurred_at, utc_offset, received_at,
                    city, country_code, description, source, fingerprint, create_uid, write_uid,
                    create_date, write_date)
            SELECT s.id, %(company)s, ({milestones})[1 + (e %% {len(MILESTONES)})], 'actual',
                   now() at time zone 'utc' - make_interval(hours => 100 - e), 60,
                   now() at time zone 'utc' - make_interval(hours => 100 - e), 'Hub ' || (e %% 40), 'BE',
                   'Scanned at hub ' || (e %% 40), 'webhook', md5(s.id::text || '-' || e::text), 1, 1,
                   now() at time zone 'utc', now() at time zone 'utc'
              FROM shipment_shipment s CROSS JOIN generate_series(1, %(events)s) AS e
             WHERE s.id BETWEEN %(first)s AND %(last)s
        """, {"company": company.id, "events": events_per_shipment, "first": first, "last": last})
        cr.execute("ANALYZE shipment_shipment")
        cr.execute("ANALYZE shipment_event")
        account = env["res.users"].create({"name": "Bench platform", "login": "bench-platform",
                                           "is_shipment_api_account": True})
        wizard = env["shipment.api.key.wizard"].create({"user_id": account.id, "name": "bench"})
        wizard.action_generate()
        key = wizard.key
        wizard.action_done()
        # The benchmark measures the API, not its limiter.
        env["ir.config_parameter"].set_param("shipment_visibility.api_rate_limit_per_minute", "0")
        env["res.users"].browse(2).password = "admin"
        secret = env["ir.config_parameter"].get_param("database.secret")
        cr.commit()
    return key, secret, first, last


def queries_by_path(log):
    found = {}
    for line in log.read_text(errors="replace").splitlines():
        if match := REQUEST_LINE.search(line):
            found.setdefault(match["path"], []).append(int(match["queries"]))
    return found


def run(args):
    import loadgen

    tree = devenv.bootstrap()
    env = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="sv_bench_api_"))
    create_database(tree, args.db, workdir, env)
    key, secret, first, last = seed(tree, args.db, args.shipments, args.events)
    server, base, log = start_server(tree, args.db, workdir, env)
    auth = {"Authorization": f"Bearer {key}"}
    rng = random.Random(20261207)
    try:
        rpc = loadgen.OdooRpc(base, args.db)
        cookie = "; ".join(f"{c.name}={c.value}" for c in rpc.session.cookies)
        rpc_headers = {"Content-Type": "application/json", "Cookie": cookie}

        def rpc_body(model, domain, fields, limit=None):
            kwargs = {"fields": fields, "order": "id"}
            if limit:
                kwargs["limit"] = limit
            return json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
                "model": model, "method": "search_read", "args": [domain], "kwargs": kwargs}}).encode()

        # Pages at random places of the table, by real cursors: a page anywhere costs what the first does.
        sys.path.insert(0, str(REPO))
        from integration import api_contract

        starts = [rng.randint(first, max(first, last - 200)) for _ in range(200)]
        cursors = [api_contract.make_cursor(secret, after, {}) for after in starts]
        reads = {
            "api_list_100": lambda job: ("GET", f"{base}{API}/shipments?limit=100&cursor={cursors[job % 200]}",
                                         None, auth),
            "rpc_list_100": lambda job: ("POST", f"{base}/web/dataset/call_kw/shipment.shipment/search_read",
                                         rpc_body("shipment.shipment", [["id", ">", starts[job % 200]]],
                                                  RPC_SHIPMENT_FIELDS, 100), rpc_headers),
            "api_events": lambda job: ("GET", f"{base}{API}/shipments/{rng.randint(first, last)}/events", None, auth),
            "rpc_events": lambda job: ("POST", f"{base}/web/dataset/call_kw/shipment.event/search_read",
                                       rpc_body("shipment.event", [["shipment_id", "=", rng.randint(first, last)]],
                                                RPC_EVENT_FIELDS), rpc_headers),
        }
        for prepare in reads.values():  # warm-up of both workers
            loadgen.closed_loop(range(40), prepare, 2, 120)
        # Query count of the list at three page sizes.
        log.write_text("")
        for limit in (10, 100, 200):
            for _ in range(5):
                url = f"{base}{API}/shipments?limit={limit}&cursor={cursors[0]}"
                rpc.session.get(url, headers=auth, timeout=60).raise_for_status()
        page_queries = {f"limit={limit}": sorted(set(counts)) for path, counts in queries_by_path(log).items()
                        for limit in (10, 100, 200) if f"?limit={limit}&" in path}
        log.write_text("")
        samples = {name: [] for name in reads}
        for round_ in range(args.rounds):
            for name, prepare in reads.items():
                say(f"round {round_ + 1}/{args.rounds}: {name}")
                samples[name].append(loadgen.closed_loop(range(args.requests), prepare, args.concurrency, 600))
        counted = queries_by_path(log)
    finally:
        stop_server(server)
        if not args.keep_db:
            devenv.drop_db(args.db)
    results = {}
    for name in reads:
        rounds = [loadgen.summarize(round_samples) for round_samples in samples[name]]
        summary = loadgen.summarize([sample for round_samples in samples[name] for sample in round_samples])
        summary["seconds"] = round(sum(r["seconds"] for r in rounds), 3)
        summary["per_second"] = round(summary["ok"] / summary["seconds"], 1) if summary["seconds"] else 0.0
        summary["per_second_by_round"] = [r["per_second"] for r in rounds]
        results[name] = summary
    api_list = [q for path, counts in counted.items() if path.startswith(f"{API}/shipments?") for q in counts]
    api_events = [q for path, counts in counted.items() if path.endswith("/events") for q in counts]
    results["api_list_100"]["queries_per_request"] = sorted(set(api_list))
    results["api_events"]["queries_per_request"] = sorted(set(api_events))
    return results, page_queries


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10, help="events per shipment")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--db", default=f"sv_bench_api_{os.getpid()}")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "api.json"))
    args = parser.parse_args()

    devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    devenv.ensure_postgresql()
    results, page_queries = run(args)
    checks = {
        "list_p95_under_100ms": results["api_list_100"]["latency_ms"]["p95"] <= 100,
        "events_p95_under_100ms": results["api_events"]["latency_ms"]["p95"] <= 100,
        "list_at_least_search_read": results["api_list_100"]["per_second"] >= results["rpc_list_100"]["per_second"],
        "events_at_least_search_read": results["api_events"]["per_second"] >= results["rpc_events"]["per_second"],
        "queries_flat_over_page_size": len({tuple(v) for v in page_queries.values()}) == 1,
    }
    print()
    print(f"{'read':<16}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'statuses':>24}")
    for name, summary in results.items():
        print(f"{name:<16}{summary['per_second']:>10}{summary['latency_ms']['p50']:>10}"
              f"{summary['latency_ms']['p95']:>10}{summary['latency_ms']['p99']:>10}"
              f"{json.dumps(summary['statuses']):>24}")
    print(f"queries per GET /shipments by page size: {page_queries}")
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "options": {"shipments": args.shipments, "events_per_shipment": args.events, "requests": args.requests,
                    "rounds": args.rounds, "concurrency": args.concurrency, "workers": 2},
        "results": results, "queries_by_page_size": page_queries, "checks": checks}, indent=2) + "\n")
    say(f"wrote {out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
