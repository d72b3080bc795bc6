"""What one accepted webhook costs inside Odoo, without sockets or prefork.

Calls Odoo's WSGI application directly in one thread, so that the CPU time of this
process and of its PostgreSQL backend is the route's own. Compares the webhook with
``/web/health`` and prints, per request: CPU of the Odoo process, CPU of PostgreSQL,
SQL statements, and (with ``--queries``) each distinct statement with its count.
Optionally profiles the webhook with cProfile. Where the benchmark addon is installed
(as in ``benchmarks/run.py`` databases), its two floor routes are measured too.

Run with the Odoo virtual environment's Python against a database where the module is
installed and no server is running (``benchmarks/run.py --keep-db`` leaves one)::

    ~/.cache/shipment_visibility/venv/bin/python benchmarks/route_profile.py -d <db> [--requests 2000] [--rounds 5]
        [--queries] [--cprofile out.prof]

It creates a live AfterShip connector named "Route profile" (or reuses it) and commits.
"""

import argparse
import collections
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO / "benchmarks")]

import devenv  # noqa: E402

SECRET = "route-profile-secret"


def backend_cpu_s(cr):
    cr.execute("SELECT pg_backend_pid()")
    pid = cr.fetchone()[0]
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def all_backends_cpu_s(db):
    from processor import backend_cpu_s as by_db

    return by_db(db)


def own_cpu_s():
    times = os.times()
    return times.user + times.system


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="alternate the routes this many times")
    parser.add_argument("--queries", action="store_true", help="list the statements of one webhook")
    parser.add_argument("--cprofile", help="write a cProfile of the webhook requests here")
    args = parser.parse_args(argv)

    tree = devenv.find_odoo()
    sys.path.insert(0, str(tree))
    import odoo
    from odoo.tools import config

    addons_path = f"{devenv.addons_path()},{REPO / 'benchmarks' / 'addons'}"
    config.parse_config(["-d", args.database, "--addons-path", addons_path,
                         "--db_host", devenv.PGHOST, "--db_port", devenv.PGPORT, "-r", devenv.DB_USER,
                         "--log-level=warn"])
    odoo.service.server.load_server_wide_modules()
    registry = odoo.modules.registry.Registry(args.database)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        connector = env["shipment.connector"].search([("name", "=", "Route profile")], limit=1)
        if not connector:
            connector = env["shipment.connector"].create({
                "name": "Route profile", "connector_type": "aftership", "mode": "live",
                "signature_scheme": "adapter", "webhook_secret": SECRET, "rate_limit_per_minute": 0})
        token = connector.webhook_token

    from carrier_simulator import Signer, build_updates, resolve_scheme
    from werkzeug.test import Client

    signer = Signer(resolve_scheme("aftership", "adapter"), SECRET)
    now = datetime.now(timezone.utc)
    prefix = f"1ZRP{int(time.time()) % 100000:05d}"
    updates = [build_updates("aftership", f"{prefix}{i:08d}", "delivered", now=now)[2]
               for i in range(args.requests + 200)]
    prepared = [(update.body, signer.headers(update)) for update in updates]
    client = Client(odoo.http.root)
    url = f"/shipment_visibility/webhook/{token}"

    def webhook(index):
        body, headers = prepared[index]
        response = client.post(url, data=body, headers=headers)
        assert response.status_code == 202, (response.status_code, response.get_data())

    def health(_index):
        response = client.get("/web/health")
        assert response.status_code == 200, response.status_code

    def floor(kind):
        def call(index):
            body, headers = prepared[index]
            response = client.post(f"/shipment_visibility_bench/floor/{kind}", data=body, headers=headers)
            assert response.status_code == 202, response.status_code
        return call

    with registry.cursor() as cr:
        cr.execute("SELECT 1 FROM ir_module_module WHERE name = 'shipment_visibility_bench' AND state = 'installed'")
        floors = [("floor/tx", floor("transaction")), ("floor/ins", floor("insert"))] if cr.fetchone() else []

    sql_db = odoo.sql_db

    def measure(call, offset, count):
        queries = sql_db.sql_counter
        cpu, pg, wall = own_cpu_s(), all_backends_cpu_s(args.database), time.perf_counter()
        for index in range(count):
            call(offset + index)
        wall = time.perf_counter() - wall
        cpu, pg = own_cpu_s() - cpu, all_backends_cpu_s(args.database) - pg
        return {"odoo": cpu / count * 1000, "postgres": pg / count * 1000,
                "statements": (sql_db.sql_counter - queries) / count, "wall": wall / count * 1000}

    for index in range(50):  # warm-up: routing map, caches, connections
        health(index)
        webhook(index)
    offset = 100
    routes = [("health", health), *floors, ("webhook", webhook)]
    per_round = args.requests // args.rounds
    profile = None
    if args.cprofile:
        import cProfile

        profile = cProfile.Profile()
    rounds = collections.defaultdict(list)
    # Rounds alternate the routes, so that drift in the machine's speed (a virtual CPU
    # shared with others) reaches every route alike; medians are reported.
    for number in range(args.rounds):
        for label, call in routes:
            if label == "webhook":
                if profile:
                    profile.enable()
                rounds[label].append(measure(call, offset + number * per_round, per_round))
                if profile:
                    profile.disable()
            else:
                rounds[label].append(measure(call, number * per_round, per_round))
    if profile:
        profile.dump_stats(args.cprofile)
    print(f"{args.rounds} rounds of {per_round} requests per route; median per request:")
    for label, _call in routes:
        median = {key: statistics.median(r[key] for r in rounds[label]) for key in rounds[label][0]}
        print(f"  {label:<10} Odoo {median['odoo']:.2f} ms CPU, PostgreSQL {median['postgres']:.2f} ms CPU, "
              f"{median['statements']:.1f} statements, wall {median['wall']:.2f} ms")
    if floors:
        ratios = [(w["odoo"] + w["postgres"]) / (f["odoo"] + f["postgres"])
                  for w, f in zip(rounds["webhook"], rounds["floor/ins"])]
        print(f"  webhook / insert floor, CPU (Odoo + PostgreSQL), per round: "
              f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")

    if args.queries:
        seen = collections.Counter()
        original = sql_db.Cursor.execute

        def logged(self, query, params=None, log_exceptions=True):
            text = query.code if hasattr(query, "code") else str(query)
            seen[" ".join(text.split())[:160]] += 1
            return original(self, query, params, log_exceptions)

        sql_db.Cursor.execute = logged
        try:
            for index in range(offset + args.rounds * per_round, offset + args.rounds * per_round + 10):
                webhook(index)
        finally:
            sql_db.Cursor.execute = original
        print("statements of 10 webhooks:")
        for text, count in seen.most_common():
            print(f"  {count:>3}  {text}")


if __name__ == "__main__":
    main()
