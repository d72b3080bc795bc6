#!/usr/bin/env python3
"""Event fan-out benchmark and drills: ``python3 benchmarks/bench_outbox.py``.

What it does, all on this machine and on loopback:

1. prepares Odoo 18 with ``tools/devenv.py`` (then re-runs itself with that environment's
   Python) and creates a throwaway database with the module, without demo data;
2. measures, in this process, with the module's own code on real cursors (one
   dispatcher = one cron worker):

   * ``webhook_1``: deliveries per second of one dispatcher to one loopback consumer
     (``--webhooks`` messages, a ``http.server`` consumer answering 204 on keep-alive);
   * ``webhook_10``: the same messages fanned out to 10 subscriptions at once;
   * ``amqp``: publishes per second with publisher confirms to the RabbitMQ broker on
     127.0.0.1:5672 (an exclusive queue of ours is bound and drained to count them);
   * ``end_to_end``: partner messages enqueued into the inbox (what the webhook route
     commits before answering 202) at ``--rate`` per second for ``--seconds``, worked
     by one processor thread and one dispatcher thread: time from the commit of the
     inbox row to the consumer receiving the ``shipment.event_recorded`` it caused;
   * ``backlog``: ``--backlog`` pending deliveries worked off by one dispatcher, with
     the resident memory of the process sampled after every batch;
3. drills: ``receiver_down``: the consumer stops for ``--outage`` seconds while
   messages keep coming, then comes back: every message must be delivered (retries per
   the schedule, so the drill waits for the 5 s and 5 min retries), duplicates (same
   ``webhook-id`` received twice) counted; ``broker_cut``: the broker connection is
   killed (its socket closed) every 500 publishes: every message must arrive,
   duplicates (same ``message_id``) counted;
4. prints a table, writes ``benchmarks/results/outbox.json`` and drops the database.

Options: ``--webhooks`` (5000), ``--amqp`` (10000), ``--rate`` (100), ``--seconds`` (30),
``--backlog`` (100000), ``--outage`` (300), ``--skip NAME`` (repeatable), ``--keep-db``,
``--reuse-db`` (with ``--db``: measure on a database kept by an earlier run instead of
installing again), ``--batch-size`` and ``--concurrency`` (the dispatcher's
``outbox_batch_size`` and ``outbox_concurrency`` settings), ``--profile`` (cProfile of
the dispatcher's own thread in each measurement; the 25 most expensive functions and our
15 costliest, callees included, are printed; the HTTP threads' work shows there as the
dispatcher waiting on a lock).
"""

import argparse
import cProfile
import http.server
import io
import json
import multiprocessing
import os
import pstats
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for entry in (str(HERE), str(REPO / "tools")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402  (tools/devenv.py: standard library only)

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def say(message):
    print(f"[bench-outbox] {message}", flush=True)


def rss_mb():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _serve(port, out_path, counter):
    """The consumer process: 204 to every POST; what it got is written out on SIGTERM."""
    received = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                received.append((time.time(), self.headers.get("webhook-id"),
                                 json.loads(body)["data"]["shipment"]["tracking_number"]))
            with counter.get_lock():
                counter.value += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def finish(*_args):
        with lock:
            Path(out_path).write_text(json.dumps(received))
        os._exit(0)

    signal.signal(signal.SIGTERM, finish)
    server.serve_forever()


class Consumer:
    """A loopback webhook consumer in its own process (its own interpreter: no shared GIL).

    Stopping it closes the port (connection refused) until it is started again.
    """

    def __init__(self):
        self.port = devenv.free_port()
        self.counter = multiprocessing.Value("i", 0)
        self.received = []  # (wall time, webhook-id, tracking number) of every run
        self.process = None
        self.start()

    def start(self):
        self.out = tempfile.mktemp(prefix="sv_consumer_", suffix=".json")
        self.process = multiprocessing.Process(target=_serve, args=(self.port, self.out, self.counter), daemon=True)
        self.process.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the consumer did not start")

    @property
    def running(self):
        return self.process is not None

    def count(self):
        return self.counter.value

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()
        self.process.join(30)
        self.process = None
        self.received += [tuple(row) for row in json.loads(Path(self.out).read_text())]
        os.unlink(self.out)

    def duplicates(self):
        counts = Counter(webhook_id for _at, webhook_id, _number in self.received)
        return sum(count - 1 for count in counts.values())


def aftership_body(tracking_number):
    """The AfterShip fixture of the tests, cut to its first scan, for another tracking number."""
    data = json.loads((REPO / "tests" / "pure" / "fixtures" / "aftership" / "tracking_update_delivered.json")
                      .read_text())
    data["event_id"] = f"evt-{tracking_number}"
    data["msg"]["tracking_number"] = tracking_number
    data["msg"]["checkpoints"] = data["msg"]["checkpoints"][3:4]
    return json.dumps(data)


def db_exists(db):
    quoted = db.replace("'", "''")
    probe = devenv._psql(f"SELECT 1 FROM pg_database WHERE datname = '{quoted}'", user=devenv.DB_USER)
    return probe.stdout.strip() == "1"


def create_database(tree, db, workdir):
    devenv.drop_db(db)
    log = workdir / "install.log"
    say(f"creating database {db} with shipment_visibility (no demo data)")
    with open(log, "w") as handle:
        rc = subprocess.call(
            devenv.odoo_cmd(tree, db, "-i", "shipment_visibility", "--without-demo=all", "--stop-after-init",
                            "--http-port", str(devenv.free_port()), "--log-level=warn"),
            stdout=handle, stderr=subprocess.STDOUT, timeout=900)
    if rc != 0:
        raise RuntimeError(f"module installation failed (exit {rc}), see {log}")


class Bench:
    profile = None  # a cProfile.Profile while --profile measures a dispatcher

    def __init__(self, tree, db):
        sys.path.insert(0, str(tree))
        import odoo
        from odoo.modules.registry import Registry

        odoo.tools.config.parse_config(devenv.odoo_cmd(tree, db, "--log-level=warn")[2:])
        self.odoo = odoo
        self.registry = Registry(db)
        from odoo.addons.shipment_visibility.integration import amqp, outbound, signatures
        from odoo.addons.shipment_visibility.models.shipment_outbox_delivery import DEFAULT_BATCH_SIZE
        self.amqp, self.outbound, self.signatures = amqp, outbound, signatures
        self.default_batch_size = DEFAULT_BATCH_SIZE

    def env(self, cr):
        return self.odoo.api.Environment(cr, self.odoo.SUPERUSER_ID, {"tracking_disable": True})

    def run_sql(self, query, *params):
        with self.registry.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None

    def reset(self):
        """No deliveries, subscriptions or messages left from a previous measurement."""
        self.run_sql("DELETE FROM shipment_outbox_delivery")
        self.run_sql("DELETE FROM shipment_subscription")
        self.run_sql("DELETE FROM shipment_outbox")
        # The shipments of an earlier run on a reused database (--reuse-db) would collide
        # with the tracking numbers of this one.
        self.run_sql("DELETE FROM shipment_shipment")

    def subscriptions(self, count, **values):
        with self.registry.cursor() as cr:
            env = self.env(cr)
            ids = []
            for index in range(count):
                ids.append(env["shipment.subscription"].create(dict({
                    "name": f"Bench {index}", "secret": self.signatures.generate_webhook_secret()}, **values)).id)
            return ids

    def allow_loopback(self):
        with self.registry.cursor() as cr:
            self.env(cr)["ir.config_parameter"].set_param("shipment_visibility.outbound_allowed_hosts", "127.0.0.1")

    def fill(self, messages, prefix):
        """``messages`` shipment.created messages (one new shipment each), fanned out, committed."""
        with self.registry.cursor() as cr:
            env = self.env(cr)
            for offset in range(0, messages, 1000):
                env["shipment.shipment"].create([{"tracking_number": f"{prefix}{offset + i:07d}"}
                                                 for i in range(min(1000, messages - offset))])
                cr.commit()

    def configure(self, batch_size=None, concurrency=None):
        with self.registry.cursor() as cr:
            parameters = self.env(cr)["ir.config_parameter"]
            if batch_size:
                parameters.set_param("shipment_visibility.outbox_batch_size", str(batch_size))
            if concurrency:
                parameters.set_param("shipment_visibility.outbox_concurrency", str(concurrency))

    def dispatch_all(self, on_batch=None, time_budget=3600):
        done = 0
        with self.registry.cursor() as cr:
            env = self.env(cr)
            Delivery = env["shipment.outbox.delivery"]
            # The batch size the dispatcher cron would use (``--batch-size``).
            batch_size = Delivery._param("outbox_batch_size", self.default_batch_size)
            started = time.monotonic()
            if self.profile:
                self.profile.enable()
            while time.monotonic() - started < time_budget:
                claimed = Delivery._claim(batch_size)
                if not claimed:
                    break
                claimed._deliver()
                cr.commit()
                env.invalidate_all()
                done += len(claimed)
                if on_batch:
                    on_batch(done)
            if self.profile:
                self.profile.disable()
        return done

    def pending(self):
        return self.run_sql("SELECT count(*) FROM shipment_outbox_delivery WHERE state != 'delivered'")[0][0]

    # ------------------------------------------------------------------ #

    def webhooks(self, messages, subscriptions):
        self.reset()
        consumer = Consumer()
        self.subscriptions(subscriptions, url=f"http://127.0.0.1:{consumer.port}/hook")
        self.fill(messages, f"WH{subscriptions}X")
        total = self.pending()
        started = time.monotonic()
        done = self.dispatch_all()
        seconds = time.monotonic() - started
        consumer.stop()
        return {"messages": messages, "subscriptions": subscriptions, "deliveries": done,
                "received": len(consumer.received), "seconds": round(seconds, 2),
                "per_second": round(done / seconds, 1), "undelivered": self.pending(), "expected": total}

    def amqp_publish(self, messages):
        import pika
        self.reset()
        exchange = f"shipment_visibility.bench.{uuid.uuid4().hex[:6]}"
        connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange, routing_key="#")
        self.subscriptions(1, kind="amqp", amqp_url=BROKER_URL, amqp_exchange=exchange)
        self.fill(messages, "AMQP")
        started = time.monotonic()
        done = self.dispatch_all()
        seconds = time.monotonic() - started
        time.sleep(1)
        queued = channel.queue_declare(queue, passive=True).method.message_count
        channel.exchange_delete(exchange)
        connection.close()
        self.amqp.drop_publishers()
        return {"messages": messages, "published": done, "in_queue": queued, "seconds": round(seconds, 2),
                "per_second": round(done / seconds, 1)}

    def end_to_end(self, rate, seconds):
        """Inbox row committed → consumer received, at ``rate`` messages per second."""
        self.reset()
        consumer = Consumer()
        self.subscriptions(1, url=f"http://127.0.0.1:{consumer.port}/hook",
                           event_type_ids=[(6, 0, self._type_ids(["shipment.event_recorded"]))])
        with self.registry.cursor() as cr:
            env = self.env(cr)
            connector = env["shipment.connector"].create({
                "name": "Bench AfterShip", "connector_type": "aftership", "mode": "live",
                "webhook_secret": "bench-secret"})
            connector_id = connector.id
        accepted = {}
        stop = threading.Event()

        def worker(method):
            threading.current_thread().testing = False
            with self.registry.cursor() as cr:
                env = self.env(cr)
                while not stop.is_set():
                    done = getattr(env[method[0]], method[1])()
                    cr.commit()
                    env.invalidate_all()
                    if not done:
                        time.sleep(0.02)

        threads = [threading.Thread(target=worker, args=(m,), daemon=True) for m in (
            ("shipment.inbox", "_cron_process_inbox"), ("shipment.outbox.delivery", "_cron_dispatch"))]
        for thread in threads:
            thread.start()
        try:
            with self.registry.cursor() as cr:
                env = self.env(cr)
                connector = env["shipment.connector"].browse(connector_id)
                Inbox = env["shipment.inbox"]
                started = time.monotonic()
                for index in range(int(rate * seconds)):
                    due = started + index / rate
                    time.sleep(max(0.0, due - time.monotonic()))
                    number = f"E2E{index:06d}"
                    # The route stores the exact bytes it received.
                    Inbox._enqueue(connector, aftership_body(number).encode("utf-8"),
                                   {"Content-Type": "application/json"}, external_id=f"e2e-{index}")
                    cr.commit()
                    accepted[number] = time.time()
            deadline = time.monotonic() + 60
            while consumer.count() < len(accepted) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            # Also on an error: the workers' cursors must be closed before the database
            # is dropped.
            stop.set()
            for thread in threads:
                thread.join(30)
        consumer.stop()
        latencies = []
        for at, _webhook_id, number in consumer.received:
            latencies.append(at - accepted[number])
        latencies.sort()
        return {"rate": rate, "sent": len(accepted), "received": len(consumer.received),
                "p50_ms": round(statistics.median(latencies) * 1000), "p95_ms": round(
                    latencies[int(len(latencies) * 0.95) - 1] * 1000), "max_ms": round(latencies[-1] * 1000)}

    def _type_ids(self, codes):
        with self.registry.cursor() as cr:
            return self.env(cr)["shipment.outbox.event.type"].search([("code", "in", codes)]).ids

    def backlog(self, size):
        self.reset()
        consumer = Consumer()
        self.subscriptions(1, url=f"http://127.0.0.1:{consumer.port}/hook")
        say(f"filling a backlog of {size} deliveries")
        self.fill(size, "BACKLOG")
        samples = []

        def sample(done):
            if done % 5000 < 200:
                samples.append((done, round(rss_mb(), 1)))

        started, before = time.monotonic(), rss_mb()
        done = self.dispatch_all(on_batch=sample)
        seconds = time.monotonic() - started
        consumer.stop()
        return {"backlog": size, "delivered": done, "received": len(consumer.received), "seconds": round(seconds, 1),
                "per_second": round(done / seconds, 1), "rss_mb_before": round(before, 1),
                "rss_mb_samples": samples, "undelivered": self.pending()}

    def receiver_down(self, outage, rate=50):
        """Messages keep coming while the consumer is down for ``outage`` seconds."""
        self.reset()
        consumer = Consumer()
        self.subscriptions(1, url=f"http://127.0.0.1:{consumer.port}/hook")
        stop = threading.Event()

        def dispatcher():
            threading.current_thread().testing = False
            while not stop.is_set():
                if not self.dispatch_all(time_budget=5):
                    time.sleep(0.2)

        thread = threading.Thread(target=dispatcher, daemon=True)
        thread.start()
        produced, started = 0, time.monotonic()
        down_at, up_at = started + 10, started + 10 + outage
        stopped = False
        with self.registry.cursor() as cr:
            env = self.env(cr)
            while time.monotonic() < up_at + 10:
                now = time.monotonic()
                if not stopped and now >= down_at:
                    consumer.stop()
                    stopped = True
                    say(f"consumer down for {outage} s")
                if stopped and now >= up_at and not consumer.running:
                    consumer.start()
                    say("consumer back")
                env["shipment.shipment"].create({"tracking_number": f"DOWN{produced:07d}"})
                cr.commit()
                produced += 1
                time.sleep(1 / rate)
        say(f"{produced} messages produced; waiting for the retries to deliver them all")
        deadline = time.monotonic() + 40 * 60
        while self.pending() and time.monotonic() < deadline:
            time.sleep(5)
        recovered = time.monotonic() - up_at
        stop.set()
        thread.join(60)
        consumer.stop()
        ids = {webhook_id for _at, webhook_id, _body in consumer.received}
        expected = {row[0] for row in self.run_sql("SELECT message_uid FROM shipment_outbox")}
        return {"outage_s": outage, "produced": produced, "delivered_unique": len(ids & expected),
                "missing": len(expected - ids), "duplicates": consumer.duplicates(),
                "all_delivered_after_recovery_s": round(recovered, 1), "undelivered": self.pending()}

    def broker_cut(self, messages, every=500):
        import pika
        self.reset()
        exchange = f"shipment_visibility.drill.{uuid.uuid4().hex[:6]}"
        connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange, routing_key="#")
        self.subscriptions(1, kind="amqp", amqp_url=BROKER_URL, amqp_exchange=exchange)
        self.fill(messages, "CUT")
        cuts = []

        def cut(done):
            publisher = self.amqp.publisher_for(BROKER_URL, exchange)
            if publisher.connected and done // every > len(cuts):
                publisher._connection._impl._transport._sock.shutdown(socket.SHUT_RDWR)
                cuts.append(done)

        while self.pending():
            self.dispatch_all(on_batch=cut, time_budget=30)
            self.run_sql("UPDATE shipment_outbox_delivery SET next_attempt_at = now() at time zone 'utc' "
                         "WHERE state = 'pending'")
            time.sleep(0.5)
        seen = Counter()
        while True:
            method, properties, _body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            seen[properties.message_id] += 1
        expected = {row[0] for row in self.run_sql("SELECT message_uid FROM shipment_outbox")}
        channel.exchange_delete(exchange)
        connection.close()
        self.amqp.drop_publishers()
        return {"messages": messages, "connection_cuts": len(cuts), "received_unique": len(set(seen) & expected),
                "missing": len(expected - set(seen)), "duplicates": sum(c - 1 for c in seen.values())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=5000)
    parser.add_argument("--amqp", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--backlog", type=int, default=100000)
    parser.add_argument("--outage", type=float, default=300)
    parser.add_argument("--skip", action="append", default=[])
    parser.add_argument("--db", default=f"sv_bench_outbox_{os.getpid()}")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse-db", action="store_true")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "outbox.json"))
    args = parser.parse_args()

    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    devenv.ensure_postgresql()
    devenv.ensure_rabbitmq()
    workdir = Path(tempfile.mkdtemp(prefix="sv_bench_outbox_"))
    if not (args.reuse_db and db_exists(args.db)):
        create_database(tree, args.db, workdir)
    threading.current_thread().testing = False
    bench = Bench(tree, args.db)
    bench.allow_loopback()
    bench.configure(args.batch_size, args.concurrency)
    plan = {
        "webhook_1": lambda: bench.webhooks(args.webhooks, 1),
        "webhook_10": lambda: bench.webhooks(args.webhooks // 10, 10),
        "amqp": lambda: bench.amqp_publish(args.amqp),
        "end_to_end": lambda: bench.end_to_end(args.rate, args.seconds),
        "backlog": lambda: bench.backlog(args.backlog),
        "receiver_down": lambda: bench.receiver_down(args.outage),
        "broker_cut": lambda: bench.broker_cut(args.amqp // 2),
    }
    results = {}
    try:
        for name, measure in plan.items():
            if name in args.skip:
                continue
            say(f"running {name}")
            bench.profile = cProfile.Profile() if args.profile else None
            results[name] = measure()
            say(f"{name}: {json.dumps(results[name])}")
            if bench.profile:
                stream = io.StringIO()
                stats = pstats.Stats(bench.profile, stream=stream)
                stats.sort_stats("tottime").print_stats(25)
                # And where our own functions spend it, callees included.
                stats.sort_stats("cumulative").print_stats("shipment_visibility", 15)
                say(f"{name} profile of the dispatcher (by own time):\n{stream.getvalue()}")
    finally:
        if not args.keep_db:
            bench.odoo.sql_db.close_db(args.db)
            devenv.drop_db(args.db)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Where the results went is not a setting of the run, and names this machine's folders.
    settings = {key: value for key, value in vars(args).items() if key != "out"}
    out.write_text(json.dumps({"args": settings, "results": results,
                               "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
                              indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
