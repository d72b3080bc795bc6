#!/usr/bin/env python3
"""Partner performance dashboard on a large history: ``python3 benchmarks/bench_dashboard.py``.

What it does, all on this machine:

1. prepares Odoo 18 and its virtual environment with ``tools/devenv.py`` (then re-runs
   itself with that environment's Python) and creates a throwaway database with the
   module, without demo data;
2. creates carriers, connectors, SLA policies and customers through the ORM, then
   generates the history with SQL: 100,000 shipments dispatched over the last 365 days
   (90 % with a validated delivery order, 3 % never scanned, 8 % with an exception)
   and 1,000,000 events (about 10 per shipment: actual scans and an estimate), then
   ``VACUUM ANALYZE``;
3. times ``shipment.performance.report.get_dashboard_data`` in a fresh Odoo process,
   over JSON-RPC as the web client calls it: the first call after the server started
   (cold: empty caches in Odoo, the data possibly in PostgreSQL's buffers) and warm
   calls, for the dashboard's periods (7, 30 and 90 days) and a whole year; and the
   pivot view's ``read_group`` for a month;
4. in headless Chromium (when available), the time from opening the dashboard action
   in a loaded web client to its tiles being painted (first paint of the dashboard's
   data), and optionally a screenshot;
5. prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the dashboard query for a month and for a
   year and of the pivot query for a month, checks that they use the report's indexes,
   stops what it started and drops its database.

Options: ``--shipments``, ``--events``, ``--days``, ``--repeat``, ``--screenshot PATH``,
``--keep-db``, ``--timeout`` (whole run, seconds). The exit code is 0 when the 7, 30 and
90 day periods answer under ``--target`` seconds (default 1) and the indexes are used.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for entry in (str(REPO / "tools"),):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402  (tools/devenv.py: standard library only)

REPORT = "shipment.performance.report"
EXPECTED_INDEXES = {
    "dashboard": ("stock_picking_date_done_shipment_report_index", "shipment_shipment_shipped_at_report_index",
                  "shipment_event_rollup_shipment_unique"),
    "pivot": ("stock_picking_date_done_shipment_report_index", "shipment_shipment_shipped_at_report_index",
              "shipment_event_rollup_shipment_unique"),
}
CARRIERS = [
    # name, expected transit (h), typical hours to first scan
    ("Bench Express", 24, 4),
    ("Bench Ground", 96, 12),
    ("Bench Freight", 120, 24),
    ("Bench Economy", 144, 18),
    ("Bench Parcel", 72, 8),
    ("Bench Courier", 48, 6),
]
COUNTRIES = ["base.de", "base.fr", "base.us", "base.nl", "base.it"]
EXCEPTION_MILESTONES = ["delivery_attempted", "exception", "customs_hold", "delayed"]
REASONS = ["recipient_unavailable", "address_issue", "customs_documents", "weather", "carrier_delay", "damaged"]


def say(message):
    print(f"[bench-dashboard] {message}", flush=True)


# --------------------------------------------------------------------------- #
# Database and data
# --------------------------------------------------------------------------- #

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


def odoo_environment(tree, db):
    """Load Odoo in this process; return (odoo module, registry)."""
    if str(tree) not in sys.path:
        sys.path.insert(0, str(tree))
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(devenv.odoo_cmd(tree, db, "--log-level=warn")[2:])
    return odoo, Registry(db)


def generate(odoo, registry, args):
    """Master data through the ORM, the history with SQL; return what was created."""
    from odoo.tools import SQL

    started = time.perf_counter()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})
        company = env.company
        countries = [env.ref(xmlid) for xmlid in COUNTRIES]
        partners = env["res.partner"].create([
            {"name": f"Bench Customer {i}", "country_id": countries[i % len(countries)].id} for i in range(500)])
        carriers, connectors = [], []
        for name, _transit, _scan in CARRIERS:
            product = env["product.product"].create({"name": f"{name} service", "type": "service"})
            carrier = env["delivery.carrier"].create({
                "name": name, "product_id": product.id, "delivery_type": "fixed"})
            carriers.append(carrier)
            connectors.append(env["shipment.connector"].create({
                "name": f"{name} feed", "connector_type": "generic_json", "mode": "shadow",
                "carrier_ids": [(6, 0, carrier.ids)]}))
        Policy = env["shipment.sla.policy"]
        Policy.create({"name": "Generic", "transit_hours": 96, "first_scan_hours": 24,
                       "max_silence_hours": 48, "pod_hours": 48})
        for (name, transit, scan), carrier in zip(CARRIERS, carriers):
            Policy.create({"name": name, "carrier_id": carrier.id, "transit_hours": transit,
                           "first_scan_hours": scan * 2, "max_silence_hours": 48, "pod_hours": 24})
        Policy.create({"name": "Freight to Italy", "connector_id": connectors[2].id,
                       "country_ids": [(6, 0, env.ref("base.it").ids)], "transit_hours": 168, "pod_hours": 48})
        Policy.create({"name": "Ground express", "carrier_id": carriers[1].id, "service_level": "bench ground",
                       "transit_hours": 90, "pod_hours": 24})
        env.flush_all()

        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        params = {
            "n": args.shipments, "days": args.days, "now": now,
            "carrier_ids": [c.id for c in carriers], "connector_ids": [c.id for c in connectors],
            "transit": [float(t) for _n, t, _s in CARRIERS], "scan": [float(s) for _n, _t, s in CARRIERS],
            "partner_ids": partners.ids,
        }
        say(f"generating {args.shipments:,} shipments over {args.days} days")
        cr.execute(SQL(
            """
            CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
            SELECT n,
                   mod(n, %(carriers)s) AS c,
                   mod(n, 10) <> 0 AS has_picking,
                   random() < 0.97 AS scanned,
                   random() < 0.08 AS has_exception,
                   random() < 0.9 AS has_pod,
                   %(now)s - random() * %(days)s * INTERVAL '1 day' AS done_at,
                   random() AS r1, random() AS r2, random() AS r3
              FROM generate_series(1, %(n)s) n
            """,
            carriers=len(CARRIERS), now=now, days=args.days, n=args.shipments))
        cr.execute(SQL(
            """
            ALTER TABLE bench_plan ADD COLUMN shipment_id int, ADD COLUMN picking_id int,
                ADD COLUMN partner_id int, ADD COLUMN carrier_id int, ADD COLUMN connector_id int,
                ADD COLUMN first_scan timestamp, ADD COLUMN delivered_at timestamp, ADD COLUMN event_n int;
            UPDATE bench_plan SET
                shipment_id = nextval('shipment_shipment_id_seq'),
                picking_id = CASE WHEN has_picking THEN nextval('stock_picking_id_seq') END,
                partner_id = (%(partner_ids)s::int[])[1 + mod(n, cardinality(%(partner_ids)s::int[]))],
                carrier_id = (%(carrier_ids)s::int[])[c + 1],
                connector_id = (%(connector_ids)s::int[])[c + 1],
                first_scan = CASE WHEN scanned
                                  THEN done_at + (0.2 + r1 * 2 * (%(scan)s::float[])[c + 1]) * INTERVAL '1 hour' END;
            UPDATE bench_plan
               SET delivered_at = first_scan + (%(transit)s::float[])[c + 1] * (0.6 + 0.8 * r2) * INTERVAL '1 hour'
             WHERE scanned AND r3 < 0.97;
            UPDATE bench_plan SET delivered_at = NULL WHERE delivered_at > %(now)s;
            """,
            **{k: params[k] for k in ("partner_ids", "carrier_ids", "connector_ids", "scan", "transit", "now")}))
        cr.execute("SELECT count(*) FILTER (WHERE scanned), count(*) FILTER (WHERE NOT scanned) FROM bench_plan")
        scanned, unscanned = cr.fetchone()
        per, extra = divmod(args.events - unscanned, scanned)
        cr.execute(SQL(
            """
            UPDATE bench_plan p
               SET event_n = CASE WHEN p.scanned THEN %(per)s + (r.rank <= %(extra)s)::int ELSE 1 END
              FROM (SELECT n, row_number() OVER (PARTITION BY scanned ORDER BY n) AS rank FROM bench_plan) r
             WHERE r.n = p.n
            """, per=per, extra=extra))

        say("inserting delivery orders and shipments")
        cr.execute(SQL(
            """
            INSERT INTO stock_picking (id, name, picking_type_id, location_id, location_dest_id, move_type, state,
                                       company_id, partner_id, carrier_id, carrier_tracking_ref, scheduled_date,
                                       date, date_done, create_uid, write_uid, create_date, write_date)
            SELECT picking_id, 'BENCH/OUT/' || n, %(type)s, %(source)s, %(destination)s, 'direct', 'done',
                   %(company)s, partner_id, carrier_id, 'BENCH' || n, done_at, done_at, done_at, 1, 1, done_at, done_at
              FROM bench_plan WHERE has_picking;
            INSERT INTO shipment_shipment (id, tracking_number, company_id, carrier_id, connector_id, picking_id,
                                           partner_id, active, status, exception_state, event_count, shipped_at,
                                           delivered_at, last_event_at, is_terminal, pod_signed_by, sla_state,
                                           create_uid, write_uid, create_date, write_date)
            SELECT shipment_id, 'BENCH' || n, %(company)s, carrier_id, connector_id, picking_id, partner_id, TRUE,
                   CASE WHEN delivered_at IS NOT NULL THEN 'delivered'
                        WHEN scanned THEN 'in_transit' ELSE 'info_received' END,
                   'none', event_n, first_scan, delivered_at, COALESCE(delivered_at, first_scan, done_at),
                   delivered_at IS NOT NULL,
                   CASE WHEN delivered_at IS NOT NULL AND has_pod THEN 'SIGNED' END, 'no_promise',
                   1, 1, done_at, done_at
              FROM bench_plan;
            """,
            type=env.ref("stock.picking_type_out").id, source=env.ref("stock.stock_location_stock").id,
            destination=env.ref("stock.stock_location_customers").id, company=company.id))

        say(f"inserting {args.events:,} events")
        cr.execute(SQL(
            """
            INSERT INTO shipment_event (shipment_id, company_id, connector_id, milestone, event_class, occurred_at,
                                        received_at, source, fingerprint, reason, utc_offset,
                                        create_uid, write_uid, create_date, write_date)
            SELECT p.shipment_id, %(company)s, p.connector_id, e.milestone, e.event_class, e.occurred_at,
                   e.occurred_at + power(random(), 3) * 6 * INTERVAL '1 hour', 'api',
                   md5(p.shipment_id || '-' || k), e.reason, 0, 1, 1, %(now)s, %(now)s
              FROM bench_plan p
             CROSS JOIN LATERAL generate_series(1, p.event_n) k
             CROSS JOIN LATERAL (
                SELECT CASE WHEN k = 1 THEN 'info_received'
                            WHEN k = 2 THEN 'picked_up'
                            WHEN k = p.event_n AND p.delivered_at IS NOT NULL THEN 'delivered'
                            WHEN k = p.event_n - 1 THEN 'delivered'
                            WHEN k = 4 AND p.has_exception
                                THEN (%(exception_milestones)s::varchar[])[1 + mod(p.n, 4)]
                            ELSE (ARRAY['in_transit', 'arrived_at_facility', 'departed_facility'])[1 + mod(k, 3)]
                       END AS milestone,
                       CASE WHEN k = p.event_n - 1 AND k > 2 THEN 'estimated' ELSE 'actual' END AS event_class,
                       CASE WHEN k = 4 AND p.has_exception AND k < p.event_n - 1
                            THEN (%(reasons)s::varchar[])[1 + mod(p.n / 4, cardinality(%(reasons)s::varchar[]))]
                       END AS reason,
                       LEAST(%(now)s, CASE
                            WHEN k = 1 THEN p.done_at - INTERVAL '1 hour'
                            WHEN k = 2 THEN p.first_scan
                            WHEN k = p.event_n AND p.delivered_at IS NOT NULL THEN p.delivered_at
                            ELSE p.first_scan + (k - 2)::float / GREATEST(p.event_n - 2, 1)
                                 * (COALESCE(p.delivered_at, p.first_scan + INTERVAL '48 hours') - p.first_scan)
                       END) AS occurred_at
             ) e
            """,
            company=company.id, now=now, exception_milestones=EXCEPTION_MILESTONES, reasons=REASONS))
        # Shipments written by SQL: their stored SLA policy, deadline and result are
        # computed as a policy change would (the processor computes them per shipment).
        env["shipment.shipment"]._recompute_sla_results()
        cr.execute("SELECT count(*) FROM shipment_shipment")
        shipments = cr.fetchone()[0]
        cr.execute("SELECT count(*) FROM shipment_event")
        events = cr.fetchone()[0]
        cr.commit()
        result = {"company_id": company.id, "shipments": shipments, "events": events,
                  "seconds": round(time.perf_counter() - started, 1)}
    say(f"generated {shipments:,} shipments and {events:,} events in {result['seconds']} s; VACUUM ANALYZE")
    for table in ("stock_picking", "shipment_shipment", "shipment_event", "shipment_event_rollup"):
        subprocess.run(["psql", "-h", devenv.PGHOST, "-p", devenv.PGPORT, "-U", devenv.DB_USER, "-d", args.db,
                        "-qc", f"VACUUM ANALYZE {table}"], check=True, timeout=600)
    return result


# --------------------------------------------------------------------------- #
# Measurements
# --------------------------------------------------------------------------- #

class Server:
    def __init__(self, tree, db, workdir, env):
        self.tree, self.db, self.workdir, self.env = tree, db, workdir, env
        self.process = None
        self.port = devenv.free_port()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        import requests

        log = open(self.workdir / "server.log", "a")
        say(f"starting Odoo on 127.0.0.1:{self.port}")
        self.process = subprocess.Popen(
            devenv.odoo_cmd(self.tree, self.db, "--http-interface", "127.0.0.1", "--http-port", str(self.port),
                            "--gevent-port", str(devenv.free_port()), "--db-filter", f"^{self.db}$",
                            "--max-cron-threads=0", "--log-level=warn"),
            stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        log.close()
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.url}/web/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError("Odoo did not answer /web/health within 120 s")

    def stop(self):
        if not self.process:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        except ProcessLookupError:
            pass
        self.process = None


class Rpc:
    def __init__(self, url, db, company_id):
        import requests

        self.url = url
        self.session = requests.Session()
        self.context = {"tz": "UTC", "lang": "en_US", "allowed_company_ids": [company_id]}
        reply = self.session.post(f"{url}/web/session/authenticate", json={
            "jsonrpc": "2.0", "method": "call", "params": {"db": db, "login": "admin", "password": "admin"}},
            timeout=60).json()
        if reply.get("error"):
            raise RuntimeError(f"login failed: {reply['error']}")

    def call(self, model, method, *args, **kwargs):
        started = time.perf_counter()
        reply = self.session.post(f"{self.url}/web/dataset/call_kw/{model}/{method}", json={
            "jsonrpc": "2.0", "method": "call",
            "params": {"model": model, "method": method, "args": list(args),
                       "kwargs": dict(kwargs, context=self.context)}}, timeout=120).json()
        elapsed = time.perf_counter() - started
        if reply.get("error"):
            raise RuntimeError(f"{model}.{method}: {reply['error'].get('data', {}).get('message')}")
        return reply["result"], elapsed


def period(days, today):
    return {"date_from": (today - timedelta(days=days - 1)).isoformat(), "date_to": today.isoformat()}


def measure_rpc(rpc, args):
    today = datetime.now(timezone.utc).date()
    results = {}
    # Cold: the very first dashboard call of this server process, with its default period.
    data, cold = rpc.call(REPORT, "get_dashboard_data", **period(30, today))
    results["cold_30d"] = {"seconds": cold, "shipments": data["kpis"]["shipments"]}
    for days in (7, 30, 90, 365):
        timings, shipments = [], 0
        for _ in range(args.repeat):
            data, elapsed = rpc.call(REPORT, "get_dashboard_data", **period(days, today))
            timings.append(elapsed)
            shipments = data["kpis"]["shipments"]
        results[f"warm_{days}d"] = {"median": statistics.median(timings), "max": max(timings),
                                    "shipments": shipments, "events": data["kpis"]["event_count"]}
    month = period(30, today)
    timings = []
    for _ in range(args.repeat):
        _groups, elapsed = rpc.call(
            REPORT, "read_group",
            [["date", ">=", f"{month['date_from']} 00:00:00"], ["date", "<", f"{today + timedelta(days=1)} 00:00:00"]],
            ["on_time_pct:avg", "transit_hours:avg", "exception_pct:avg", "first_scan_latency_hours:avg",
             "event_latency_hours:avg", "pod_complete_pct:avg"], ["carrier_id"], lazy=False)
        timings.append(elapsed)
    results["pivot_30d"] = {"median": statistics.median(timings), "max": max(timings)}
    results["sample_kpis_30d"] = data_kpis(rpc, today)
    return results


def data_kpis(rpc, today):
    data, _elapsed = rpc.call(REPORT, "get_dashboard_data", **period(30, today))
    return {key: (round(value, 2) if isinstance(value, float) else value) for key, value in data["kpis"].items()}


def measure_browser(server, rpc, args):
    """Open the dashboard in a loaded web client and time until its tiles are painted."""
    import shutil

    import websocket

    chrome = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                   if shutil.which(name)), None)
    if not chrome:
        return {"skipped": "no Chromium on PATH"}
    port = devenv.free_port()
    profile = tempfile.mkdtemp(prefix="sv_bench_chrome_")
    process = subprocess.Popen(
        [chrome, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-extensions", "--no-first-run", "--remote-allow-origins=*", f"--remote-debugging-port={port}",
         f"--user-data-dir={profile}", "--window-size=1440,1100", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    import requests

    try:
        target = None
        for _ in range(100):
            try:
                target = next(t for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                              if t["type"] == "page")
                break
            except (requests.RequestException, StopIteration, ValueError):
                time.sleep(0.1)
        if not target:
            return {"skipped": "Chromium did not start"}
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=120, suppress_origin=True)
        counter = iter(range(1, 10**6))

        def cdp(method, **params):
            message_id = next(counter)
            ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
            while True:
                message = json.loads(ws.recv())
                if message.get("id") == message_id:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    return message.get("result", {})

        def evaluate(expression):
            result = cdp("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
            if result.get("exceptionDetails"):
                raise RuntimeError(f"browser: {result['exceptionDetails'].get('text')}")
            return result["result"].get("value")

        cdp("Network.enable")
        cdp("Network.setCookie", name="session_id", value=rpc.session.cookies["session_id"],
            domain="127.0.0.1", path="/")
        cdp("Page.enable")
        cdp("Page.navigate", url=f"{server.url}/odoo")
        deadline = time.time() + 120
        while not evaluate("!!(window.odoo && odoo.__WOWL_DEBUG__ && document.querySelector('.o_main_navbar'))"):
            if time.time() > deadline:
                return {"skipped": "the web client did not load"}
            time.sleep(0.2)
        open_dashboard = """
            (async () => {
                const env = odoo.__WOWL_DEBUG__.root.env;
                const start = performance.now();
                await env.services.action.doAction("shipment_visibility.action_shipment_dashboard",
                                                   { clearBreadcrumbs: true });
                await new Promise((resolve) => {
                    const check = () => document.querySelector(".o_shipment_kpi_value")
                        ? requestAnimationFrame(resolve) : requestAnimationFrame(check);
                    check();
                });
                return performance.now() - start;
            })()
        """
        timings = [evaluate(open_dashboard) / 1000 for _ in range(args.repeat + 1)]
        result = {"first": timings[0], "median_after": statistics.median(timings[1:]), "max_after": max(timings[1:])}
        if args.screenshot:
            import base64

            cdp("Emulation.setDeviceMetricsOverride", width=1440, height=1500, deviceScaleFactor=1, mobile=False)
            time.sleep(1)  # let the layout and the charts settle
            shot = cdp("Page.captureScreenshot", format="png")
            Path(args.screenshot).write_bytes(base64.b64decode(shot["data"]))
            result["screenshot"] = str(args.screenshot)
        ws.close()
        return result
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(profile, ignore_errors=True)


def explain(odoo, registry, company_id):
    """EXPLAIN (ANALYZE, BUFFERS) of the dashboard query and of the pivot's read_group, 30 days."""
    from odoo.tools import SQL

    plans = {}
    today = datetime.now(timezone.utc).replace(tzinfo=None)
    start = datetime.combine(today.date() - timedelta(days=29), datetime.min.time())
    stop = datetime.combine(today.date() + timedelta(days=1), datetime.min.time())
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {"tz": "UTC", "allowed_company_ids": [company_id]})
        Report = env[REPORT]
        Report._disable_jit()  # as get_dashboard_data does
        cr.execute(SQL("SET LOCAL work_mem = '64MB'"))
        cr.execute(SQL("EXPLAIN (ANALYZE, BUFFERS) %s", Report._dashboard_sql(start, stop, "UTC", [company_id])))
        plans["dashboard"] = "\n".join(row[0] for row in cr.fetchall())
        year = datetime.combine(today.date() - timedelta(days=364), datetime.min.time())
        cr.execute(SQL("EXPLAIN (ANALYZE, BUFFERS) %s", Report._dashboard_sql(year, stop, "UTC", [company_id])))
        plans["dashboard_365"] = "\n".join(row[0] for row in cr.fetchall())

        captured = []
        cursor_class = type(cr)
        original = cursor_class.execute

        def spy(self, query, params=None, log_exceptions=True):
            captured.append((query, params))
            return original(self, query, params, log_exceptions)

        cursor_class.execute = spy
        try:
            Report._read_group([("date", ">=", start), ("date", "<", stop)], ["carrier_id"],
                               ["__count", "on_time_pct:avg", "transit_hours:avg", "exception_pct:avg"])
        finally:
            cursor_class.execute = original
        query, params = next((q, p) for q, p in reversed(captured) if "shipment_performance_report" in str(q))
        if isinstance(query, SQL):
            cr.execute(SQL("EXPLAIN (ANALYZE, BUFFERS) %s", query))
        else:
            cr.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params)
        plans["pivot"] = "\n".join(row[0] for row in cr.fetchall())
        cr.rollback()
    return plans


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="history length")
    parser.add_argument("--repeat", type=int, default=5, help="warm calls per measurement")
    parser.add_argument("--target", type=float, default=1.0, help="seconds, for the 7/30/90 day periods")
    parser.add_argument("--screenshot", help="PNG of the dashboard, written by the browser measurement")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--timeout", type=int, default=1800, help="stop the whole run after this many seconds")
    parser.add_argument("--db", default=f"sv_bench_dashboard_{os.getpid()}")
    args = parser.parse_args(argv)
    if args.events < args.shipments:
        parser.error("--events must be at least --shipments")
    return args


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
    workdir = Path(tempfile.mkdtemp(prefix="sv_bench_dashboard_"))
    env = dict(os.environ)
    env["SHIPMENT_VISIBILITY_KEY"] = Fernet.generate_key().decode()  # no shared key file is touched
    os.environ["SHIPMENT_VISIBILITY_KEY"] = env["SHIPMENT_VISIBILITY_KEY"]
    server = Server(tree, args.db, workdir, env)
    code = 0
    try:
        started = time.perf_counter()
        create_database(tree, args.db, workdir, env)
        odoo, registry = odoo_environment(tree, args.db)
        data = generate(odoo, registry, args)
        server.start()
        rpc = Rpc(server.url, args.db, data["company_id"])
        timings = measure_rpc(rpc, args)
        browser = measure_browser(server, rpc, args)
        plans = explain(odoo, registry, data["company_id"])
        server.stop()
        code = report(args, data, timings, browser, plans, time.perf_counter() - started)
    except Exception as exc:  # report any failure, then clean up
        code = 1
        say(f"FAILED: {exc.__class__.__name__}: {exc} (logs in {workdir})")
    finally:
        signal.alarm(0)
        server.stop()
        if not args.keep_db:
            devenv.drop_db(args.db)
    return code


def report(args, data, timings, browser, plans, total):
    print()
    for name, plan in plans.items():
        print(f"=== EXPLAIN (ANALYZE, BUFFERS): {name} query, "
              f"{'last 365 days' if name.endswith('_365') else 'last 30 days'} ===")
        print(plan)
        print()
    print(f"=== Shipment Visibility dashboard benchmark ({date.today().isoformat()}) ===")
    print(f"history: {data['shipments']:,} shipments, {data['events']:,} events over {args.days} days "
          f"(generated in {data['seconds']} s)")
    cold = timings["cold_30d"]
    print(f"get_dashboard_data over JSON-RPC, first call of a fresh server (30 days, {cold['shipments']:,} "
          f"shipments): {cold['seconds'] * 1000:.0f} ms")
    ok = cold["seconds"] < args.target
    for days in (7, 30, 90, 365):
        row = timings[f"warm_{days}d"]
        within = row["median"] < args.target
        if days != 365:
            ok &= within
        print(f"get_dashboard_data warm, {days:>3} days: median {row['median'] * 1000:6.0f} ms, "
              f"max {row['max'] * 1000:6.0f} ms ({row['shipments']:,} shipments, {row['events']:,} actual events)"
              f"{'' if days != 365 else ' [not a dashboard preset]'}")
    pivot = timings["pivot_30d"]
    print(f"pivot read_group by carrier, 30 days: median {pivot['median'] * 1000:.0f} ms, "
          f"max {pivot['max'] * 1000:.0f} ms")
    if "skipped" in browser:
        print(f"browser first paint: skipped ({browser['skipped']})")
    else:
        print(f"browser, open the dashboard → tiles painted: first {browser['first'] * 1000:.0f} ms "
              f"(loads Chart.js), then median {browser['median_after'] * 1000:.0f} ms, "
              f"max {browser['max_after'] * 1000:.0f} ms")
        ok &= browser["first"] < args.target
    print(f"30-day KPIs: {json.dumps(timings['sample_kpis_30d'])}")
    for name, indexes in EXPECTED_INDEXES.items():
        for index in indexes:
            used = index in plans[name]
            ok &= used
            print(f"index {index} used by the {name} query: {'yes' if used else 'NO'}")
    print(f"target {args.target:.1f} s for the dashboard presets and index use: {'met' if ok else 'NOT MET'}"
          f" (whole run {total:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
