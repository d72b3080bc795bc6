"""What our read routes cost per request next to Odoo's comparable ones, in one process.

``bench_tracking.py`` and ``bench_api.py`` measure requests per second through a prefork
server, which is what a user meets, but on a machine shared with other work their
figures move with the load. This script, like ``route_profile.py``, calls Odoo's WSGI
application directly in one thread, so that the CPU time of this process and of the
database's backends is the requests' own, and alternates the routes of each pair in
rounds so that drift reaches both alike. Medians per request are printed: CPU of Odoo,
CPU of PostgreSQL, SQL statements, wall time. Pairs:

- ``tracking``: ``GET /track/<token>`` of a shipment with few events and of the one with
  the most, read again (the kept rendering) and as a first visit (QWeb's cache of kept
  renderings emptied before each request), against Odoo's ``GET /web/login`` (a public
  QWeb page of the same kind);
- ``api-events``: ``GET /api/shipment/v1/shipments/{id}/events`` against JSON-RPC
  ``search_read`` of the same events by a logged-in user;
- ``api-list``: ``GET /api/shipment/v1/shipments?limit=100`` against ``search_read`` of
  100 shipments with the fields of the canonical document.

Run with the Odoo virtual environment's Python against a database where the module is
installed and holds shipments with events, and no server is running (``benchmarks/run.py
--keep-db`` leaves one)::

    ~/.cache/shipment_visibility/venv/bin/python benchmarks/route_cost.py -d <db> [--requests 500] [--rounds 5]
        [--pairs tracking,api-events,api-list] [--cprofile out.prof --profile-route api-list]

It changes the database: a service account "Route cost" with a new API key, the API's rate
limit off, the administrator's password set to ``admin`` (JSON-RPC needs a session), and
access tokens on the two shipments of the tracking pair. Use a benchmark database.
"""

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tools"), str(REPO / "benchmarks")]

import devenv  # noqa: E402
from route_profile import all_backends_cpu_s, own_cpu_s  # noqa: E402

API = "/api/shipment/v1"
RPC_EVENT_FIELDS = ["shipment_id", "milestone", "event_class", "occurred_at", "utc_offset", "received_at",
                    "window_start", "window_end", "issued_at", "city", "region", "postcode", "country_code",
                    "latitude", "longitude", "description", "reason", "source", "signed_by", "pod_url"]


def prepare(odoo, registry):
    """The service account's key, shipments to read, and the two tracking tokens."""
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        Users = env["res.users"].with_context(active_test=False)
        account = Users.search([("login", "=", "route-cost")]) or Users.create(
            {"name": "Route cost", "login": "route-cost", "is_shipment_api_account": True})
        wizard = env["shipment.api.key.wizard"].create({"user_id": account.id, "name": "route cost"})
        wizard.action_generate()
        key = wizard.key
        wizard.action_done()
        env["ir.config_parameter"].set_param("shipment_visibility.api_rate_limit_per_minute", "0")
        env.ref("base.user_admin").password = "admin"
        cr.execute("""
            SELECT s.id, count(e.id) FROM shipment_shipment s JOIN shipment_event e ON e.shipment_id = s.id
             WHERE s.shadow IS NOT TRUE AND s.active AND e.event_class = 'actual'
             GROUP BY s.id ORDER BY count(e.id) DESC, s.id LIMIT 2000
        """)
        counted = cr.fetchall()
        if not counted:
            raise SystemExit("no shipment with events in this database: nothing to read")
        few = min(counted, key=lambda row: (abs(row[1] - 5), row[0]))
        most = counted[0]
        tokens = {}
        for shipment_id, events in (few, most):
            shipment = env["shipment.shipment"].browse(shipment_id)
            tokens[f"track ({events} events)"] = shipment._portal_ensure_token()
        cr.commit()
    return key, [row[0] for row in counted[:200]], tokens


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--requests", type=int, default=500, help="requests per route (default 500)")
    parser.add_argument("--rounds", type=int, default=5, help="alternate the routes this many times")
    parser.add_argument("--pairs", default="tracking,api-events,api-list")
    parser.add_argument("--cprofile", help="write a cProfile of one route's requests here")
    parser.add_argument("--profile-route", default="api-list", help="the route --cprofile profiles")
    args = parser.parse_args(argv)

    tree = devenv.find_odoo()
    sys.path.insert(0, str(tree))
    import odoo
    from odoo.tools import config

    config.parse_config(["-d", args.database, "--addons-path", str(devenv.addons_path()),
                         "--db_host", devenv.PGHOST, "--db_port", devenv.PGPORT, "-r", devenv.DB_USER,
                         "--log-level=warn"])
    odoo.service.server.load_server_wide_modules()
    registry = odoo.modules.registry.Registry(args.database)
    key, shipment_ids, tokens = prepare(odoo, registry)

    from bench_api import RPC_SHIPMENT_FIELDS
    from werkzeug.test import Client

    local = {"REMOTE_ADDR": "127.0.0.1"}
    public, api, session = (Client(odoo.http.root) for _ in range(3))
    login = session.post("/web/session/authenticate", environ_base=local, json={
        "jsonrpc": "2.0", "params": {"db": args.database, "login": "admin", "password": "admin"}})
    if login.status_code != 200 or b'"uid"' not in login.get_data():
        raise SystemExit(f"JSON-RPC login failed: {login.get_data()[:200]!r}")
    bearer = {"Authorization": f"Bearer {key}"}

    def expect(response, label):
        body = response.get_data()
        if response.status_code != 200 or b'"error"' in body[:200]:
            raise SystemExit(f"{label}: {response.status_code} {body[:300]!r}")

    def rpc(model, domain, fields, limit=None):
        kwargs = {"fields": fields, "order": "id", **({"limit": limit} if limit else {})}
        return session.post(f"/web/dataset/call_kw/{model}/search_read", json={
            "jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"model": model, "method": "search_read", "args": [domain], "kwargs": kwargs}})

    kept_pages = registry._Registry__caches["templates.cached_values"]

    def forget_kept_pages_then(call):
        # The tracking page is kept rendered (QWeb t-cache) until what it shows changes:
        # dropping the kept renderings before each request measures a first visit. The
        # same cache holds the compiled templates (keyed without a t-cache name): kept.
        def first_visit(i):
            for key in [key for key in kept_pages if isinstance(key[-1], tuple) and len(key[-1]) == 3
                        and "_t_cache_" in str(key[-1][1])]:
                del kept_pages[key]
            return call(i)
        return first_visit

    tracking_pages = [(label, lambda i, token=token, label=label: expect(public.get(f"/track/{token}"), label))
                      for label, token in tokens.items()]
    routes = {
        "tracking": [*tracking_pages,
                     *((f"{label}, first visit", forget_kept_pages_then(call)) for label, call in tracking_pages),
                     ("/web/login", lambda i: expect(public.get("/web/login"), "/web/login"))],
        "api-events": [
            ("api events", lambda i: expect(api.get(f"{API}/shipments/{shipment_ids[i % len(shipment_ids)]}/events",
                                                    headers=bearer), "api events")),
            ("rpc events", lambda i: expect(rpc("shipment.event", [["shipment_id", "=",
                                                                    shipment_ids[i % len(shipment_ids)]]],
                                                RPC_EVENT_FIELDS), "rpc events")),
        ],
        "api-list": [
            ("api list 100", lambda i: expect(api.get(f"{API}/shipments?limit=100", headers=bearer), "api list")),
            ("rpc list 100", lambda i: expect(rpc("shipment.shipment", [], RPC_SHIPMENT_FIELDS, 100), "rpc list")),
        ],
    }
    chosen = [(label, call) for pair in args.pairs.split(",") for label, call in routes[pair.strip()]]
    sql_db = odoo.sql_db

    def measure(call, count):
        queries = sql_db.sql_counter
        cpu, pg, wall = own_cpu_s(), all_backends_cpu_s(args.database), time.perf_counter()
        for index in range(count):
            call(index)
        wall = time.perf_counter() - wall
        cpu, pg = own_cpu_s() - cpu, all_backends_cpu_s(args.database) - pg
        return {"odoo": cpu / count * 1000, "postgres": pg / count * 1000,
                "statements": (sql_db.sql_counter - queries) / count, "wall": wall / count * 1000}

    for index in range(30):  # warm-up: routing map, QWeb, caches, the key's first check
        for _label, call in chosen:
            call(index)
    profile = None
    if args.cprofile:
        import cProfile

        profile = cProfile.Profile()
    per_round = max(1, args.requests // args.rounds)
    rounds = collections.defaultdict(list)
    for _number in range(args.rounds):
        for label, call in chosen:
            profiled = profile and args.profile_route in label.replace(" ", "-")
            if profiled:
                profile.enable()
            rounds[label].append(measure(call, per_round))
            if profiled:
                profile.disable()
    if profile:
        profile.dump_stats(args.cprofile)
    print(f"{args.rounds} rounds of {per_round} requests per route; median per request:")
    for label, _call in chosen:
        median = {key: statistics.median(r[key] for r in rounds[label]) for key in rounds[label][0]}
        print(f"  {label:<22} Odoo {median['odoo']:6.2f} ms CPU, PostgreSQL {median['postgres']:5.2f} ms CPU, "
              f"total {median['odoo'] + median['postgres']:6.2f} ms, {median['statements']:4.1f} statements, "
              f"wall {median['wall']:6.2f} ms")


if __name__ == "__main__":
    main()
