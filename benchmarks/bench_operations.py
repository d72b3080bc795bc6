#!/usr/bin/env python3
"""Operations figures on a large database: ``python3 benchmarks/bench_operations.py``.

What it does, all on this machine:

1. creates a throwaway database with the module (no demo data) and the history of
   ``bench_dashboard.py`` (100,000 shipments and 1,000,000 events by default);
2. adds, with SQL, ``--inbox`` inbox messages (500,000 by default) over the last 30 days
   for the connectors (95 % done with a lag of seconds to minutes, 2 % failed, 0.5 %
   dead, the rest pending), webhook rejection and polling counters, unmapped codes, and
   20 active alert rules over all connectors; then ``VACUUM ANALYZE``;
3. starts Odoo and times ``GET /shipment_visibility/metrics`` with its bearer token
   (first scrape, then warm ones) and ``shipment.integration.health.get_health_data``
   over JSON-RPC for 1 h, 24 h and 7 d;
4. times the evaluation of the 20 alert rules in-process, and prints ``EXPLAIN
   (ANALYZE, BUFFERS)`` of the heaviest queries of the scrape and of the dashboard.

Options: ``--shipments``, ``--events``, ``--inbox``, ``--repeat``, ``--keep-db``,
``--timeout``. The exit code is 0 when the warm scrape and the 24 h dashboard answer
under 200 ms (median) and the 20 rules under 1 s.
"""

import argparse
import hashlib
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tools"))

import bench_dashboard  # noqa: E402  (the history generator and the server/RPC helpers)
import devenv  # noqa: E402

SCRAPE_TARGET = 0.2
DASHBOARD_TARGET = 0.2
RULES_TARGET = 1.0
RULES = [
    # metric, comparison, threshold, window (minutes)
    ("silence_hours", "gt", 6, 60), ("silence_hours", "gt", 24, 60), ("dead_letters", "gt", 0, 60),
    ("dead_letters", "gt", 100, 60), ("ingest_lag_p95", "gt", 300, 15), ("ingest_lag_p95", "gt", 60, 60),
    ("ingest_lag_p95", "gt", 600, 1440), ("breaker_open", "ge", 1, 60), ("rejections", "gt", 50, 15),
    ("rejections", "gt", 500, 60), ("pending_backlog", "gt", 1000, 60), ("pending_backlog", "gt", 10000, 60),
    ("oldest_pending_minutes", "gt", 10, 60), ("oldest_pending_minutes", "gt", 60, 60),
    ("silence_hours", "gt", 1, 60), ("dead_letters", "ge", 1, 60), ("ingest_lag_p95", "gt", 120, 30),
    ("rejections", "gt", 5, 5), ("pending_backlog", "gt", 100, 60), ("oldest_pending_minutes", "gt", 30, 60),
]


def say(message):
    print(f"[bench-operations] {message}", flush=True)


def generate_operations(odoo, registry, args, company_id):
    """Inbox history, counters and alert rules, with SQL; returns the token."""
    from odoo.tools import SQL

    token = secrets.token_urlsafe(32)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        connectors = env["shipment.connector"].search([])
        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        say(f"inserting {args.inbox:,} inbox messages over 30 days for {len(connectors)} connectors")
        cr.execute(SQL(
            """
            INSERT INTO shipment_inbox (connector_id, company_id, source, received_at, body, body_sha256, body_size,
                                        correlation_id, state, attempts, next_attempt_at, processed_at, event_count,
                                        create_uid, write_uid, create_date, write_date)
            SELECT c, %(company)s, 'webhook', r, '{}', md5(n::text) || md5(n::text || 'x'), 2, md5(n::text),
                   s, 1, r, CASE WHEN s IN ('done', 'failed', 'dead') THEN r + (1 + power(random(), 4) * 600)
                                                                         * INTERVAL '1 second' END,
                   CASE WHEN s = 'done' THEN mod(n, 3) ELSE 0 END, 1, 1, r, r
              FROM (SELECT n, (%(connectors)s::int[])[1 + mod(n, cardinality(%(connectors)s::int[]))] AS c,
                           %(now)s - power(random(), 2) * 30 * INTERVAL '1 day' AS r,
                           CASE WHEN random() < 0.95 THEN 'done' WHEN random() < 0.4 THEN 'failed'
                                WHEN random() < 0.2 THEN 'dead' ELSE 'pending' END AS s
                      FROM generate_series(1, %(n)s) n) plan
            """, company=company_id, connectors=connectors.ids, now=now, n=args.inbox))
        for connector in connectors:
            for reason, count in (("bad_signature", 120), ("rate_limited", 40), ("stale_timestamp", 3)):
                env["shipment.webhook.rejection"]._count(connector, reason)
                cr.execute("UPDATE shipment_webhook_rejection SET count = %s WHERE connector_id = %s AND reason = %s",
                           [count, connector.id, reason])
            env["shipment.poll.stat"]._add(connector, "success", 50_000)
            env["shipment.poll.stat"]._add(connector, "failure", 120)
        cr.execute("UPDATE shipment_event SET milestone = 'unknown', raw_code = 'RAW' || mod(id, 40) "
                   "WHERE mod(id, 500) = 0")
        env["shipment.alert.rule"].create([{
            "name": f"Bench rule {index}", "metric": metric, "comparison": comparison, "threshold": threshold,
            "window_minutes": window, "clear_checks": 2} for index, (metric, comparison, threshold, window)
            in enumerate(RULES)])
        env["ir.config_parameter"].set_param("shipment_visibility.metrics_token_sha256",
                                              hashlib.sha256(token.encode()).hexdigest())
        cr.commit()
    for table in ("shipment_inbox", "shipment_event"):
        bench_dashboard.subprocess.run(
            ["psql", "-h", devenv.PGHOST, "-p", devenv.PGPORT, "-U", devenv.DB_USER, "-d", args.db,
             "-qc", f"VACUUM ANALYZE {table}"], check=True, timeout=900)
    return token


def timed(function, repeat):
    first_started = time.perf_counter()
    first = function()
    first_seconds = time.perf_counter() - first_started
    warm = []
    for _i in range(repeat):
        started = time.perf_counter()
        function()
        warm.append(time.perf_counter() - started)
    return {"first": first_seconds, "median": statistics.median(warm), "max": max(warm), "sample": first}


def measure_http(server, rpc, token, repeat):
    import requests

    session = requests.Session()

    def scrape():
        response = session.get(f"{server.url}/shipment_visibility/metrics",
                               headers={"Authorization": f"Bearer {token}"}, timeout=60)
        response.raise_for_status()
        return response.text

    results = {"scrape": timed(scrape, repeat)}
    for period in ("1h", "24h", "7d"):
        results[f"health_{period}"] = timed(lambda period=period: rpc.call(
            "shipment.integration.health", "get_health_data", period=period)[0], repeat)
    return results


def measure_rules(odoo, registry, repeat):
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        rules = env["shipment.alert.rule"].search([("name", "like", "Bench rule")])

        def evaluate():
            rules._evaluate()
            env.flush_all()
            return len(rules)

        result = timed(evaluate, repeat)
        cr.execute("SELECT count(*) FROM shipment_alert_incident WHERE state = 'firing'")
        result["firing"] = cr.fetchone()[0]
        cr.rollback()
    return result


def explain(odoo, registry):
    from odoo.tools import SQL

    plans = {}
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        ids = env["shipment.connector"].search([]).ids
        since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=24)
        # The maintained counter must say exactly what count(*) says, on this database too.
        counted = sorted(env["shipment.inbox"]._state_counts())
        cr.execute("SELECT connector_id, state, count(*) FROM shipment_inbox GROUP BY connector_id, state")
        plans["counter equals count(*)"] = str(counted == sorted(cr.fetchall()))
        queries = {
            "metrics: inbox messages by connector and state (maintained counter, what the scrape reads)":
                SQL("SELECT connector_id, state, sum(count)::bigint FROM shipment_inbox_state_count "
                    "WHERE TRUE GROUP BY connector_id, state HAVING sum(count) <> 0"),
            "for comparison: the same figure by count(*) over the inbox (what the scrape read before)":
                SQL("SELECT connector_id, state, count(*) FROM shipment_inbox GROUP BY connector_id, state"),
            "metrics: ingest lag summary": env["shipment.metrics"]._ingest_lag_query(ids),
            "dashboard: 24 h sparkline": SQL(
                "SELECT connector_id, date_trunc('hour', received_at), count(*) FROM shipment_inbox "
                "WHERE connector_id = ANY(%s) AND received_at >= %s GROUP BY 1, 2", ids, since),
        }
        for name, query in queries.items():
            cr.execute(SQL("EXPLAIN (ANALYZE, BUFFERS) %s", query))
            plans[name] = "\n".join(row[0] for row in cr.fetchall())
        cr.rollback()
    return plans


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--inbox", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--timeout", type=int, default=2400)
    parser.add_argument("--db", default=f"sv_bench_operations_{os.getpid()}")
    return parser.parse_args()


def main():
    args = parse_args()
    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    from cryptography.fernet import Fernet

    def on_timeout(_signum, _frame):
        raise TimeoutError(f"the benchmark did not finish within {args.timeout} s")

    signal.signal(signal.SIGALRM, on_timeout)
    signal.alarm(args.timeout)
    workdir = Path(tempfile.mkdtemp(prefix="sv_bench_operations_"))
    env = dict(os.environ)
    env["SHIPMENT_VISIBILITY_KEY"] = Fernet.generate_key().decode()
    os.environ["SHIPMENT_VISIBILITY_KEY"] = env["SHIPMENT_VISIBILITY_KEY"]
    server = bench_dashboard.Server(tree, args.db, workdir, env)
    code = 1
    try:
        started = time.perf_counter()
        bench_dashboard.create_database(tree, args.db, workdir, env)
        odoo, registry = bench_dashboard.odoo_environment(tree, args.db)
        data = bench_dashboard.generate(odoo, registry, args)
        token = generate_operations(odoo, registry, args, data["company_id"])
        server.start()
        rpc = bench_dashboard.Rpc(server.url, args.db, data["company_id"])
        http = measure_http(server, rpc, token, args.repeat)
        server.stop()
        rules = measure_rules(odoo, registry, args.repeat)
        plans = explain(odoo, registry)
        code = report(args, data, http, rules, plans, time.perf_counter() - started)
    except Exception as exc:  # report any failure, then clean up
        say(f"FAILED: {exc.__class__.__name__}: {exc} (logs in {workdir})")
    finally:
        signal.alarm(0)
        server.stop()
        if not args.keep_db:
            devenv.drop_db(args.db)
    return code


def report(args, data, http, rules, plans, total):
    print()
    for name, plan in plans.items():
        if name == "counter equals count(*)":
            print(f"=== maintained inbox counter equals count(*) by connector and state: {plan} ===")
            continue
        print(f"=== EXPLAIN (ANALYZE, BUFFERS): {name} ===")
        print(plan)
        print()
    print(f"=== Shipment Visibility operations benchmark ({date.today().isoformat()}) ===")
    print(f"data: {data['shipments']:,} shipments, {data['events']:,} events, {args.inbox:,} inbox messages")

    def line(label, row, target):
        print(f"{label}: first {row['first'] * 1000:.0f} ms, warm median {row['median'] * 1000:.0f} ms, "
              f"max {row['max'] * 1000:.0f} ms (target {target * 1000:.0f} ms)")
        return row["median"] < target

    ok = line("GET /shipment_visibility/metrics", http["scrape"], SCRAPE_TARGET)
    print(f"  exposition: {len(http['scrape']['sample'].splitlines())} lines")
    for period in ("1h", "24h", "7d"):
        within = line(f"get_health_data {period:>3} over JSON-RPC", http[f"health_{period}"], DASHBOARD_TARGET)
        ok &= within if period == "24h" else True
    ok &= line(f"evaluate {len(RULES)} alert rules in-process", rules, RULES_TARGET)
    print(f"  alerts firing after evaluation: {rules['firing']}")
    print(f"targets: {'met' if ok else 'NOT MET'} (whole run {total:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
