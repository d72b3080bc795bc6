"""Processor benchmark: a backlog of partner messages worked by the inbox processor.

Run by ``benchmarks/run.py`` with the Odoo virtual environment's Python, against a
database where the module is installed and no server is running, in two processes so
that the one measured starts clean::

    python benchmarks/processor.py enqueue --odoo <tree> --connector-id 1 --out a.json -- <odoo options>
    python benchmarks/processor.py process --odoo <tree> --out b.json -- <odoo options>

``enqueue`` fills ``shipment.inbox`` with real AfterShip webhook bodies through the
route's own ``shipment.inbox._enqueue`` (the INSERT of an accepted webhook):
``--shipments`` shipments each sending the first ``--updates`` updates of the
*delivered* story in arrival order (every shipment's first update, then every second
one…), each update resending the history so far, as aggregators do. With
``--pickings N`` the first N shipments get a delivery order first.

``process`` runs ``shipment.inbox._cron_process_inbox()`` in this one process, exactly
as the cron worker does, until the backlog is empty (or ``--max-seconds``), sampling
the process's resident memory every second. Numbers go to ``--out`` as JSON.
"""

import argparse
import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NUMBER_PREFIX = "1ZBL"


def rss_mb():
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class MemorySampler(threading.Thread):
    def __init__(self, interval=1.0):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples = []
        self.started_at = time.perf_counter()
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.samples.append((round(time.perf_counter() - self.started_at, 1), round(rss_mb(), 1)))
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(5)
        self.samples.append((round(time.perf_counter() - self.started_at, 1), round(rss_mb(), 1)))


def backend_cpu_s(db):
    """CPU seconds used so far by the PostgreSQL backends connected to ``db``."""
    total, marker = 0, f" {db} ".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if not cmdline.startswith(b"postgres:") or marker not in cmdline:
                continue
            parts = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(parts[11]) + int(parts[12])
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu_s():
    times = os.times()
    return times.user + times.system


def _scalar(cr, query):
    cr.execute(query)
    return cr.fetchone()[0]


def _pairs(cr, query):
    cr.execute(query)
    return dict(cr.fetchall())


def _registry(args, odoo_args):
    sys.path.insert(0, args.odoo)
    sys.path.insert(0, str(REPO))
    import odoo
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(odoo_args)
    db = odoo.tools.config["db_name"]
    if isinstance(db, list):  # 18.0 keeps -d as a list of names
        db = db[0]
    return Registry(db)


def enqueue(args, registry):
    from odoo import SUPERUSER_ID, api

    from integration.adapters import AdapterContext, get_adapter
    from tools.carrier_simulator import Signer, build_updates, resolve_scheme

    now = datetime.now(timezone.utc)
    adapter = get_adapter("aftership")
    signer = Signer(resolve_scheme("aftership", "adapter"), "processor-benchmark")
    sample = build_updates("aftership", f"{args.prefix}SAMPLE", "delivered", now=now)[: args.updates]
    parsed_per_shipment = sum(len(adapter.parse(u.body, AdapterContext()).events) for u in sample)
    numbers = [f"{args.prefix}{index:010d}" for index in range(args.shipments)]
    result = {"shipments": args.shipments, "updates_per_shipment": args.updates, "pickings": args.pickings,
              "parsed_events_per_shipment": parsed_per_shipment}
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if args.pickings:
            started = time.perf_counter()
            partner = env["res.partner"].create({"name": "Benchmark Customer"})
            picking_type = env["stock.picking.type"].search([("code", "=", "outgoing")], limit=1)
            Picking = env["stock.picking"].with_context(tracking_disable=True, mail_notrack=True)
            for offset in range(0, args.pickings, 500):
                Picking.create([
                    {"partner_id": partner.id, "picking_type_id": picking_type.id, "carrier_tracking_ref": number}
                    for number in numbers[offset:min(offset + 500, args.pickings)]
                ])
                cr.commit()
            result["pickings_seconds"] = round(time.perf_counter() - started, 1)
            print(f"[processor] {args.pickings} delivery orders in {result['pickings_seconds']} s", flush=True)

        connector = env["shipment.connector"].browse(args.connector_id)
        Inbox = env["shipment.inbox"]
        started = time.perf_counter()
        stories = {number: build_updates("aftership", number, "delivered", now=now)[: args.updates]
                   for number in numbers}
        enqueued = 0
        for step in range(args.updates):
            for number in numbers:
                update = stories[number][step]
                headers = signer.headers(update)
                _id, created, _corr = Inbox._enqueue(
                    connector, update.body, headers, source="webhook",
                    external_id=adapter.external_id(update.body, headers))
                enqueued += created
                if enqueued % 2000 == 0:
                    cr.commit()
        cr.commit()
        result.update({
            "messages": enqueued,
            "enqueue_seconds": round(time.perf_counter() - started, 1),
            "body_bytes_avg": _scalar(cr, "SELECT avg(body_size)::int FROM shipment_inbox WHERE state = 'pending'"),
        })
    print(f"[processor] {enqueued} messages enqueued in {result['enqueue_seconds']} s", flush=True)
    return result


def process(args, registry):
    from odoo import SUPERUSER_ID, api

    with registry.cursor() as cr:
        # Rows a killed worker left leased count too: the processor takes them back.
        pending = _scalar(cr, "SELECT count(*) FROM shipment_inbox WHERE state IN ('pending', 'processing')")
        events_before = _scalar(cr, "SELECT count(*) FROM shipment_event")
    db = registry.db_name
    cpu_before, pg_before = own_cpu_s(), backend_cpu_s(db)
    sampler = MemorySampler()
    sampler.start()
    progress = []
    started = time.perf_counter()
    processed = 0
    while time.perf_counter() - started < args.max_seconds:
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            done = env["shipment.inbox"]._cron_process_inbox()
            cr.commit()
        if not done:
            break
        processed += done
        progress.append((round(time.perf_counter() - started, 1), processed, round(rss_mb(), 1)))
        print(f"[processor] {processed}/{pending} messages after {progress[-1][0]} s, rss {progress[-1][2]} MB",
              flush=True)
    busy = progress[-1][0] if progress else 0.0
    cpu = {"odoo_cpu_s": round(own_cpu_s() - cpu_before, 1), "postgres_cpu_s": round(backend_cpu_s(db) - pg_before, 1)}
    sampler.stop()

    with registry.cursor() as cr:
        states = _pairs(cr, "SELECT state, count(*) FROM shipment_inbox GROUP BY state")
        new_events = _scalar(cr, "SELECT count(*) FROM shipment_event") - events_before
        like = f"'{args.prefix}%%'"
        statuses = _pairs(cr, f"SELECT status, count(*) FROM shipment_shipment WHERE tracking_number LIKE {like} "
                              "GROUP BY status")
        linked = _scalar(cr, f"SELECT count(*) FROM stock_picking WHERE carrier_tracking_ref LIKE {like} "
                             "AND shipment_status IS NOT NULL AND shipment_status != 'pending'")
    rss = [mb for _t, mb in sampler.samples]
    return {
        "pending_before": pending,
        "process_cpu": cpu,
        "processed": processed,
        "seconds": busy,
        "messages_per_second": round(processed / busy, 1) if busy else 0.0,
        "new_events": new_events,
        "new_events_per_second": round(new_events / busy, 1) if busy else 0.0,
        "inbox_states": states,
        "shipment_statuses": statuses,
        "pickings_with_status": linked,
        "rss_mb": {"first": rss[0], "min": min(rss), "max": max(rss), "last": rss[-1]},
        "rss_samples": sampler.samples,
        "progress": progress,
        "finished": processed >= pending,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=("enqueue", "process"))
    parser.add_argument("--odoo", required=True, help="the Odoo source tree")
    parser.add_argument("--connector-id", type=int)
    parser.add_argument("--shipments", type=int, default=10000)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--pickings", type=int, default=0, help="delivery orders for the first N shipments")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument("--prefix", default=NUMBER_PREFIX,
                        help="tracking number prefix, so that a database can take a second backlog")
    parser.add_argument("--profile", help="write a cProfile of the phase to this file")
    parser.add_argument("--out", required=True)
    args, odoo_args = parser.parse_known_args()
    if odoo_args and odoo_args[0] == "--":
        odoo_args = odoo_args[1:]
    registry = _registry(args, odoo_args)
    phase = enqueue if args.phase == "enqueue" else process
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(phase, args, registry)
        profiler.dump_stats(args.profile)
    else:
        result = phase(args, registry)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
