#!/usr/bin/env python3
"""Shipment Visibility benchmarks, one command: ``python3 benchmarks/run.py``.

What it does, all on this machine and on loopback:

1. prepares Odoo 18 and its virtual environment with ``tools/devenv.py`` (then re-runs
   itself with that environment's Python), creates a fresh database with the module and
   the benchmark-only addon ``benchmarks/addons/shipment_visibility_bench`` (no demo data)
   and starts Odoo with ``--workers=2 --max-cron-threads=1`` on a free port;
2. creates a live AfterShip connector through JSON-RPC, as an administrator would;
3. **webhook ingestion**: signed, unique AfterShip webhooks from 8 concurrent senders to
   the real route, side by side with ``GET /web/health`` (the platform's ceiling), with
   two floor routes doing only what any storing route must (one statement in a
   read-write transaction; inserting the body into a bare table) and with the
   synchronous variant ``POST /shipment_visibility_bench/sync/<token>`` that does
   the processing inside the request;
4. **accepted → visible**: webhooks at a steady rate for delivery orders created
   beforehand, polling the delivery orders' ``shipment_status`` over JSON-RPC;
5. **processor**: stops the server, fills the inbox with a backlog of messages and works
   it with ``shipment.inbox._cron_process_inbox`` in one process, sampling its memory;
6. prints a table, writes ``benchmarks/results/latest.json``, stops every process it
   started and drops its database.

See BENCHMARKS.md for the options, the measured numbers and how to read them.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCH_ADDONS = HERE / "addons"
BENCH_MODULE = "shipment_visibility_bench"
for entry in (str(HERE), str(REPO / "tools"), str(REPO)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402  (tools/devenv.py: standard library only)
from autovacuum import AutovacuumStandIn  # noqa: E402

SECRET = "benchmark-aftership-secret"
TARGETS = {
    "webhook_vs_health_min": 0.60,
    "webhook_vs_sync_min": 5.0,
    "webhook_p99_ms_max": 100.0,
    "processor_events_per_s_min": 1000.0,
    "visible_p95_s_max": 2.0,
    "rss_growth_max": 0.10,
}


def say(message):
    print(f"[bench] {message}", flush=True)


# --------------------------------------------------------------------------- #
# Odoo processes and database
# --------------------------------------------------------------------------- #


class Odoo:
    """The Odoo tree, the database and the server processes of one benchmark run."""

    def __init__(self, tree, db, workdir, env, db_filter=False):
        self.tree = tree
        self.db = db
        self.db_filter = db_filter
        self.workdir = workdir
        self.env = env
        self.server = None
        self.port = None
        self.extra_args = ()  # further server options, e.g. a drill's --load

    def cmd(self, *extra):
        cmd = devenv.odoo_cmd(self.tree, self.db, *extra)
        position = cmd.index("--addons-path") + 1
        cmd[position] = f"{cmd[position]},{BENCH_ADDONS}"
        return cmd

    def config_args(self):
        """The Odoo options of :meth:`cmd` without the interpreter and ``odoo-bin``."""
        return self.cmd()[2:]

    def create_database(self):
        devenv.drop_db(self.db)
        log = self.workdir / "install.log"
        say(f"creating database {self.db} with shipment_visibility and {BENCH_MODULE} (no demo data)")
        with open(log, "w") as handle:
            rc = subprocess.call(
                self.cmd("-i", f"shipment_visibility,{BENCH_MODULE}", "--without-demo=all", "--stop-after-init",
                         "--http-port", str(devenv.free_port()), "--log-level=warn"),
                stdout=handle, stderr=subprocess.STDOUT, env=self.env)
        if rc != 0:
            raise RuntimeError(f"module installation failed (exit {rc}):\n{_tail(log)}")

    def start(self):
        self.port = devenv.free_port()
        log = self.workdir / "server.log"
        say(f"starting Odoo on 127.0.0.1:{self.port} (--workers=2 --max-cron-threads=1"
            f"{', --db-filter' if self.db_filter else ''})")
        # ``-d`` alone, no ``--db-filter``: the README's single-database setup. With a filter,
        # Odoo lists the databases over a new connection on every request that carries no
        # session, which is every webhook (and every /web/health call).
        cmd = self.cmd("--http-interface", "127.0.0.1", "--http-port", str(self.port),
                       "--gevent-port", str(devenv.free_port()), "--workers=2", "--max-cron-threads=1",
                       "--log-level=warn", *(["--db-filter", f"^{self.db}$"] if self.db_filter else []),
                       *self.extra_args)
        # benchmarks/serve.py is odoo-bin minus the websocket process (see its docstring).
        cmd[1:2] = [str(HERE / "serve.py"), str(self.tree)]
        handle = open(log, "a")
        self.server = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=self.env,
                                       start_new_session=True)
        handle.close()
        import requests

        deadline = time.time() + 120
        while time.time() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"Odoo exited with {self.server.returncode}:\n{_tail(log)}")
            try:
                if requests.get(f"{self.base_url}/web/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"Odoo did not answer /web/health within 120 s:\n{_tail(log)}")

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if not self.server or self.server.poll() is not None:
            self.server = None
            return
        say("stopping Odoo")
        try:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait(10)
        except ProcessLookupError:
            pass
        # Workers and the gevent process share the group: make sure none is left.
        try:
            os.killpg(self.server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.server = None

    def server_log_problems(self):
        log = self.workdir / "server.log"
        if not log.exists():
            return []
        lines = log.read_text(errors="replace").splitlines()
        return [line for line in lines if " ERROR " in line or " CRITICAL " in line or "Traceback" in line][:20]


def _cpu_jiffies():
    """(busy, total) jiffies of the whole machine since boot, from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def _group_jiffies(pgid):
    """CPU jiffies (user + system) used so far by a process group.

    Live processes count their own time and the time of the children they reaped, so a
    worker that the Odoo master replaced is still counted (through the master).
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(parts[2]) == pgid:
            total += sum(int(value) for value in parts[11:15])
    return total


def _backend_jiffies(db):
    """CPU jiffies used so far by the PostgreSQL backends serving ``db`` (those still connected)."""
    total = 0
    marker = f" {db} ".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if not (proc / "cmdline").read_bytes().startswith(b"postgres:"):
                continue
            if marker not in (proc / "cmdline").read_bytes():
                continue
            parts = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(parts[11]) + int(parts[12])
    return total


class CpuMeter:
    """Machine-wide CPU use during a phase, and how much of it was the benchmark's own.

    Odoo's CPU is counted over the server's process group, PostgreSQL's over the backends
    connected to the benchmark database; both are what the measured work costs whatever
    else runs on the machine. A backend that disconnects during the phase takes its time
    with it: PostgreSQL figures are then a lower bound, or None when obviously wrong.
    """

    def __init__(self, pgid=None, db=None):
        self.pgid = pgid
        self.db = db
        self.started = time.perf_counter()
        self.machine = _cpu_jiffies()
        self.server = _group_jiffies(pgid) if pgid else 0
        self.backends = _backend_jiffies(db) if db else 0
        self.client = os.times()

    def result(self):
        busy, total = _cpu_jiffies()
        client = os.times()
        ticks = os.sysconf("SC_CLK_TCK")
        seconds = time.perf_counter() - self.started
        return {
            "machine_busy": round((busy - self.machine[0]) / max(total - self.machine[1], 1), 3),
            "server_cpu_s": round((_group_jiffies(self.pgid) - self.server) / ticks, 2) if self.pgid else None,
            "postgres_cpu_s": _non_negative((_backend_jiffies(self.db) - self.backends) / ticks) if self.db else None,
            "client_cpu_s": round(client.user + client.system - self.client.user - self.client.system, 2),
            "wall_s": round(seconds, 1),
            "load_average_1m": round(os.getloadavg()[0], 2),
        }


def _non_negative(value):
    return round(value, 2) if value >= 0 else None


def wait_quiet(max_wait, threshold=0.25, window=5.0):
    """Wait until the machine is mostly idle (under ``threshold`` busy over ``window`` s).

    Other work on the machine changes every number measured here. Gives up after
    ``max_wait`` seconds and returns the last busy fraction seen, so the report can say so.
    """
    deadline = time.perf_counter() + max_wait
    while True:
        before = _cpu_jiffies()
        time.sleep(window)
        after = _cpu_jiffies()
        busy = (after[0] - before[0]) / max(after[1] - before[1], 1)
        if busy < threshold or time.perf_counter() >= deadline:
            if busy >= threshold:
                say(f"machine still {busy:.0%} busy after waiting {max_wait:.0f} s: measuring anyway")
            return round(busy, 3)
        say(f"machine {busy:.0%} busy with other work: waiting for it to settle")


def _tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- #
# Phases
# --------------------------------------------------------------------------- #


def setup_connector(rpc):
    group = rpc.call("ir.model.data", "check_object_reference", "shipment_visibility",
                     "group_shipment_integration_admin")[1]
    rpc.call("res.users", "write", [rpc.uid], {"groups_id": [(4, group)]})
    connector_id = rpc.call("shipment.connector", "create", {
        "name": "Benchmark AfterShip",
        "connector_type": "aftership",
        "mode": "live",
        "signature_scheme": "adapter",
        "webhook_secret": SECRET,
        # The route's rate limit (default 600/min) would turn this load into 429s.
        "rate_limit_per_minute": 0,
    })
    if isinstance(connector_id, list):
        connector_id = connector_id[0]
    token = rpc.call("shipment.connector", "read", [connector_id], ["webhook_token"])[0]["webhook_token"]
    return connector_id, token


def _webhook_jobs(prefix, count, now, step=3):
    from carrier_simulator import build_updates

    # The third update of the story: three scans and an estimate, ~2 KB, one body per shipment.
    return [build_updates("aftership", f"{prefix}{index:010d}", "delivered", now=now)[step - 1]
            for index in range(count)]


def inbox_backlog(rpc):
    return rpc.call("shipment.inbox", "search_count", [("state", "in", ("pending", "processing"))])


def wait_for_drain(rpc, timeout):
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if inbox_backlog(rpc) == 0:
            return round(time.perf_counter() - started, 1)
        time.sleep(0.5)
    return None


def phase_ingestion(odoo, rpc, token, args):
    import loadgen
    from carrier_simulator import Signer, resolve_scheme

    signer = Signer(resolve_scheme("aftership", "adapter"), SECRET)
    now = datetime.now(timezone.utc)
    health_url = f"{odoo.base_url}/web/health"
    webhook_url = f"{odoo.base_url}/shipment_visibility/webhook/{token}"
    sync_url = f"{odoo.base_url}/shipment_visibility_bench/sync/{token}"
    floor_url = f"{odoo.base_url}/shipment_visibility_bench/floor"

    def health(_job):
        return "GET", health_url, None, None

    def webhook(update):
        return "POST", webhook_url, update.body, signer.headers(update)

    def sync(update):
        return "POST", sync_url, update.body, signer.headers(update)

    def floor(kind):
        def prepare(update):
            return "POST", f"{floor_url}/{kind}", update.body, signer.headers(update)
        return prepare

    say("warm-up (not measured)")
    loadgen.closed_loop(range(200), health, args.concurrency, 60)
    loadgen.closed_loop(_webhook_jobs("1ZWU", 100, now), webhook, args.concurrency, 60)
    loadgen.closed_loop(_webhook_jobs("1ZWS", 50, now), sync, args.concurrency, 60)
    wait_for_drain(rpc, 120)

    def measure(label, jobs, prepare, ok_statuses):
        results["machine_busy_before"][label] = wait_quiet(args.wait_quiet)
        say(f"{label}: {len(jobs)} requests, {args.concurrency} senders")
        meter = CpuMeter(odoo.server.pid, odoo.db)
        samples = loadgen.closed_loop(jobs, prepare, args.concurrency, args.phase_seconds)
        summary = loadgen.summarize(samples, ok_statuses=ok_statuses)
        summary["cpu"] = cpu = meter.result()
        if summary["ok"]:
            summary["cpu_ms_per_request"] = {
                name: round(cpu[key] * 1000 / summary["ok"], 2) if cpu[key] is not None else None
                for name, key in (("odoo", "server_cpu_s"), ("postgres", "postgres_cpu_s"))
            }
        return summary, samples

    results = {"machine_busy_before": {}}
    results["health"], _samples = measure("GET /web/health", list(range(args.requests)), health, (200,))
    # The same signed POST to routes doing only what any storing route must (floor.py).
    results["floor_transaction"], _samples = measure(
        "POST floor: one statement", _webhook_jobs("1ZFT", args.requests, now), floor("transaction"), (202,))
    results["floor_insert"], _samples = measure(
        "POST floor: insert the body", _webhook_jobs("1ZFI", args.requests, now), floor("insert"), (202,))

    cron = rpc.call("ir.model.data", "check_object_reference", "shipment_visibility", "ir_cron_process_inbox")[1]
    rpc.call("ir.cron", "write", [cron], {"active": False})
    jobs = _webhook_jobs("1ZWP", args.requests, now)
    results["webhook_processor_paused"], _samples = measure(
        "POST webhook, processor paused", jobs, webhook, (202,))
    rpc.call("ir.cron", "write", [cron], {"active": True})
    # An accepted webhook triggers the processor: one more wakes it for the backlog.
    started = time.perf_counter()
    loadgen.closed_loop(_webhook_jobs("1ZWN", 1, now), webhook, 1, 30)
    drained = wait_for_drain(rpc, args.phase_seconds * 3)
    results["webhook_processor_paused"]["backlog_drained_after_s"] = drained
    if drained is not None:
        results["webhook_processor_paused"]["backlog_processed_per_s"] = round(
            args.requests / (time.perf_counter() - started), 1)

    jobs = _webhook_jobs("1ZWH", args.requests, now)
    results["webhook"], _samples = measure("POST webhook, processor running", jobs, webhook, (202,))
    results["webhook"]["body_bytes_avg"] = round(sum(len(u.body) for u in jobs) / len(jobs))
    started = time.perf_counter() - results["webhook"]["seconds"]
    drained = wait_for_drain(rpc, args.phase_seconds * 3)
    results["webhook"]["backlog_drained_after_s"] = drained
    if drained is not None:
        results["webhook"]["accepted_and_processed_per_s"] = round(
            results["webhook"]["ok"] / (time.perf_counter() - started), 1)

    jobs = _webhook_jobs("1ZSY", args.sync_requests, now)
    results["sync"], samples = measure("POST synchronous variant", jobs, sync, (200,))
    results["sync"]["not_done"] = sum(1 for s in samples if s.status == 200 and (s.answer or {}).get("state") != "done")
    results["inbox_states"] = _state_counts(rpc)
    return results


def _state_counts(rpc):
    groups = rpc.call("shipment.inbox", "read_group", [], ["state"], ["state"], lazy=False)
    return {group["state"]: group["__count"] for group in groups}


def phase_visibility(odoo, rpc, args):
    import loadgen
    from carrier_simulator import Signer, resolve_scheme

    count = int(args.visible_rate * args.visible_seconds)
    now = datetime.now(timezone.utc)
    jobs = _webhook_jobs("1ZVS", count, now)
    expected = jobs[0].expected[-1][0]
    signer = Signer(resolve_scheme("aftership", "adapter"), SECRET)
    token = rpc.call("shipment.connector", "search_read", [("name", "=", "Benchmark AfterShip")],
                     ["webhook_token"])[0]["webhook_token"]
    url = f"{odoo.base_url}/shipment_visibility/webhook/{token}"

    say(f"creating {count} delivery orders with tracking refs")
    started = time.perf_counter()
    partner = rpc.call("res.partner", "create", {"name": "Benchmark Customer"})
    picking_type = rpc.call("stock.picking.type", "search", [("code", "=", "outgoing")], limit=1)[0]
    picking_of = {}
    for offset in range(0, count, 250):
        chunk = jobs[offset:offset + 250]
        ids = rpc.call("stock.picking", "create", [
            {"partner_id": partner, "picking_type_id": picking_type,
             "carrier_tracking_ref": json.loads(update.body)["msg"]["tracking_number"]}
            for update in chunk])
        picking_of.update({id(update): picking for update, picking in zip(chunk, ids)})
    pickings_seconds = round(time.perf_counter() - started, 1)

    accepted, visible, lock = {}, {}, threading.Lock()
    sending_done = threading.Event()

    def on_sample(sample):
        if sample.status == 202:
            with lock:
                accepted[picking_of[id(sample.job)]] = sample.end

    poller_rpc = loadgen.OdooRpc(odoo.base_url, odoo.db)
    polls = []

    def poller():
        deadline_after_sending = None
        while True:
            with lock:
                waiting = [picking for picking in accepted if picking not in visible]
            if sending_done.is_set():
                deadline_after_sending = deadline_after_sending or time.perf_counter() + args.visible_timeout
                if not waiting or time.perf_counter() > deadline_after_sending:
                    return
            for offset in range(0, len(waiting), 1000):
                chunk = waiting[offset:offset + 1000]
                started = time.perf_counter()
                found = poller_rpc.call("stock.picking", "search",
                                        [("id", "in", chunk), ("shipment_status", "=", expected)])
                seen_at = time.perf_counter()
                polls.append((seen_at - started) * 1000)
                with lock:
                    for picking in found:
                        visible.setdefault(picking, seen_at)
            time.sleep(args.poll_interval)

    busy_before = wait_quiet(args.wait_quiet)
    meter = CpuMeter(odoo.server.pid, odoo.db)
    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    say(f"accepted -> visible: {count} webhooks at {args.visible_rate}/s for {args.visible_seconds} s, "
        f"polling every {args.poll_interval * 1000:.0f} ms")

    def prepare(update):
        return "POST", url, update.body, signer.headers(update)

    samples, scheduled = loadgen.paced(jobs, prepare, args.visible_rate, args.visible_senders, on_sample=on_sample)
    sending_done.set()
    thread.join(args.visible_timeout + 30)
    cpu = meter.result()
    poller_rpc.close()
    delays = [(visible[p] - accepted[p]) * 1000 for p in accepted if p in visible]
    send_window = max(s.end for s in samples) - min(s.start for s in samples)
    return {
        "webhooks": count,
        "accepted": len(accepted),
        "visible": len(delays),
        "never_visible": len(accepted) - len(delays),
        "expected_status": expected,
        "achieved_rate_per_s": round(len(accepted) / send_window, 1),
        "schedule_lag_ms": loadgen.schedule_lag(samples, scheduled),
        "accept_latency_ms": loadgen.summarize(samples, ok_statuses=(202,))["latency_ms"],
        "accepted_to_visible_ms": loadgen.latency_summary(delays),
        "poll_interval_ms": round(args.poll_interval * 1000),
        "poll_latency_ms": loadgen.latency_summary(polls),
        "cpu": cpu,
        "machine_busy_before": busy_before,
        "pickings_created": len(picking_of),
        "pickings_seconds": pickings_seconds,
    }


def phase_processor(odoo, connector_id, args):
    shipments = args.backlog // args.backlog_updates
    pickings = shipments if args.backlog_pickings is None else min(args.backlog_pickings, shipments)
    python = str(devenv.venv_python())
    script = str(HERE / "processor.py")
    first, second = odoo.workdir / "enqueue.json", odoo.workdir / "process.json"
    say(f"processor: backlog of {shipments * args.backlog_updates} messages "
        f"({shipments} shipments x {args.backlog_updates} updates, {pickings} with a delivery order)")
    subprocess.run([python, script, "enqueue", "--odoo", str(odoo.tree), "--connector-id", str(connector_id),
                    "--shipments", str(shipments), "--updates", str(args.backlog_updates),
                    "--pickings", str(pickings), "--out", str(first), "--", *odoo.config_args(),
                    "--log-level=warn"], check=True, env=odoo.env)
    # What autovacuum would have done after the bulk preparation, and keeps doing during
    # the run, when this server has it off (see autovacuum.py).
    vacuum = AutovacuumStandIn(odoo.db)
    if vacuum.active:
        say(f"processor: the server's autovacuum is off; applying its rules from here "
            f"({len(vacuum.catch_up())} tables after the preparation, then every {vacuum.naptime} s)")
    busy_before = wait_quiet(args.wait_quiet)
    meter = CpuMeter(db=odoo.db)
    say("processor: working the backlog in one process (shipment.inbox._cron_process_inbox)")
    vacuum.start()
    try:
        profile = ["--profile", args.processor_profile] if args.processor_profile else []
        subprocess.run([python, script, "process", "--odoo", str(odoo.tree), "--max-seconds",
                        str(args.processor_seconds), "--out", str(second), *profile, "--", *odoo.config_args(),
                        "--log-level=warn"], check=True, env=odoo.env)
    finally:
        vacuum.stop()
    cpu = meter.result()
    result = json.loads(first.read_text())
    result.update(json.loads(second.read_text()))
    result.update(cpu=cpu, machine_busy_before=busy_before, autovacuum=vacuum.summary())
    per_shipment = result["parsed_events_per_shipment"]
    result["parsed_events_per_second"] = round(
        per_shipment * shipments * result["processed"] / max(result["messages"], 1) / result["seconds"], 1
    ) if result["seconds"] else 0.0
    result["rss_growth"] = _rss_growth(result["rss_samples"])
    return result


def _rss_growth(samples):
    """Relative growth of resident memory between the second quarter of the run and its last quarter."""
    values = [mb for _t, mb in samples]
    if len(values) < 8:
        return None
    quarter = len(values) // 4
    second = sorted(values[quarter:2 * quarter])[quarter // 2]
    last = sorted(values[-quarter:])[quarter // 2]
    return round((last - second) / second, 3)


# --------------------------------------------------------------------------- #
# Report
# --------------------------------------------------------------------------- #


def machine():
    info = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    version = subprocess.run(["psql", "-h", devenv.PGHOST, "-p", devenv.PGPORT, "-U", devenv.DB_USER, "-d", "postgres",
                              "-tAc", "show server_version"], capture_output=True, text=True)
    info["postgresql"] = version.stdout.strip() or None
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"], capture_output=True, text=True)
    head = commit.stdout.strip()
    info["commit"] = (head + ("+dirty" if dirty.stdout.strip() else "")) if head else None
    return info


def verdicts(results):
    found = {}
    ingestion = results.get("ingestion")
    if ingestion:
        health, webhook, sync = ingestion["health"], ingestion["webhook"], ingestion["sync"]
        found["webhook_vs_health"] = round(webhook["per_second"] / health["per_second"], 3) \
            if health["per_second"] else None
        found["webhook_vs_sync"] = round(webhook["per_second"] / sync["per_second"], 2) if sync["per_second"] else None
        found["webhook_p99_ms"] = webhook["latency_ms"]["p99"]
        paused = ingestion.get("webhook_processor_paused")
        if paused and health["per_second"] and sync["per_second"]:
            found["paused_webhook_vs_health"] = round(paused["per_second"] / health["per_second"], 3)
            found["paused_webhook_vs_sync"] = round(paused["per_second"] / sync["per_second"], 2)
            found["paused_webhook_p99_ms"] = paused["latency_ms"]["p99"]
        for floor in ("floor_transaction", "floor_insert"):
            if ingestion.get(floor) and health["per_second"]:
                found[f"{floor}_vs_health"] = round(ingestion[floor]["per_second"] / health["per_second"], 3)
                if paused:
                    found[f"paused_webhook_vs_{floor}"] = round(
                        paused["per_second"] / ingestion[floor]["per_second"], 3)
    processor = results.get("processor")
    if processor:
        found["processor_new_events_per_s"] = processor["new_events_per_second"]
        found["processor_parsed_events_per_s"] = processor["parsed_events_per_second"]
        found["rss_growth"] = processor["rss_growth"]
    visibility = results.get("visibility")
    if visibility:
        p95 = visibility["accepted_to_visible_ms"]["p95"]
        found["visible_p95_s"] = round(p95 / 1000, 3) if p95 is not None else None
        found["never_visible"] = visibility["never_visible"]

    def check(value, ok):
        return None if value is None else bool(ok(value))

    found["meets"] = {
        "webhook_vs_health": check(found.get("webhook_vs_health"), lambda v: v >= TARGETS["webhook_vs_health_min"]),
        "webhook_vs_sync": check(found.get("webhook_vs_sync"), lambda v: v >= TARGETS["webhook_vs_sync_min"]),
        "webhook_p99": check(found.get("webhook_p99_ms"), lambda v: v <= TARGETS["webhook_p99_ms_max"]),
        "processor_events_per_s": check(found.get("processor_new_events_per_s"),
                                        lambda v: v >= TARGETS["processor_events_per_s_min"]),
        "flat_memory": check(found.get("rss_growth"), lambda v: v <= TARGETS["rss_growth_max"]),
        "visible_p95": check(found.get("visible_p95_s"), lambda v: v <= TARGETS["visible_p95_s_max"]),
    }
    return found


def print_table(results):
    rows = []
    ingestion = results.get("ingestion")
    if ingestion:
        for name, label in (("health", "GET /web/health (ceiling)"),
                            ("floor_transaction", "POST floor: one statement"),
                            ("floor_insert", "POST floor: insert the body"),
                            ("webhook_processor_paused", "POST webhook, processor paused"),
                            ("webhook", "POST webhook, processor running"),
                            ("sync", "POST synchronous variant")):
            if name not in ingestion:
                continue
            r = ingestion[name]
            rows.append((label, f"{r['per_second']:.0f}/s", f"{r['latency_ms']['p50']}", f"{r['latency_ms']['p99']}",
                         f"{r['ok']}/{r['requests']}"))
    visibility = results.get("visibility")
    if visibility:
        r = visibility["accepted_to_visible_ms"]
        rows.append((f"accepted -> visible @ {visibility['achieved_rate_per_s']}/s", "", f"{r['p50']}",
                     f"p95 {r['p95']}", f"{visibility['visible']}/{visibility['accepted']}"))
    processor = results.get("processor")
    if processor:
        rows.append(("processor, 1 worker: messages", f"{processor['messages_per_second']:.0f}/s", "", "",
                     f"{processor['processed']}/{processor['pending_before']}"))
        rows.append(("processor, 1 worker: new events", f"{processor['new_events_per_second']:.0f}/s", "", "",
                     f"{processor['new_events']}"))
        rows.append(("processor, 1 worker: parsed events", f"{processor['parsed_events_per_second']:.0f}/s", "", "",
                     ""))
        rss = processor["rss_mb"]
        rows.append(("processor RSS first/max/last MB", f"{rss['first']}/{rss['max']}/{rss['last']}", "", "",
                     f"growth {processor['rss_growth']}"))
    header = ("measure", "rate", "p50 ms", "p99 ms", "ok")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    print("targets:", json.dumps(results.get("verdicts", {}).get("meets", {})))


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Shipment Visibility benchmarks (see BENCHMARKS.md).")
    parser.add_argument("--requests", type=int, default=3000, help="webhooks and health checks (default 3000)")
    parser.add_argument("--sync-requests", type=int, default=3000, help="synchronous-variant requests")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent senders (default 8)")
    parser.add_argument("--phase-seconds", type=float, default=120, help="time cap of each load phase")
    parser.add_argument("--backlog", type=int, default=50000, help="processor backlog in messages")
    parser.add_argument("--backlog-updates", type=int, default=5, help="updates per shipment in the backlog")
    parser.add_argument("--backlog-pickings", type=int, default=None,
                        help="backlog shipments with a delivery order (default: all)")
    parser.add_argument("--processor-seconds", type=float, default=900, help="time cap of the processor run")
    parser.add_argument("--processor-profile", help="write a cProfile of the processor run here (slows it down: "
                                                    "its figures are then not comparable)")
    parser.add_argument("--visible-rate", type=float, default=100, help="webhooks per second (default 100)")
    parser.add_argument("--visible-seconds", type=float, default=30, help="duration of that load (default 30)")
    parser.add_argument("--visible-timeout", type=float, default=60, help="wait for the last status after sending")
    parser.add_argument("--poll-interval", type=float, default=0.1, help="delivery order polling period (s)")
    parser.add_argument("--visible-senders", type=int, default=16,
                        help="senders of the paced load, enough to keep its schedule (default 16)")
    parser.add_argument("--wait-quiet", type=float, default=300,
                        help="before each phase, wait up to this long for other work on the machine to stop")
    parser.add_argument("--skip", action="append", default=[], choices=("ingestion", "visibility", "processor"))
    parser.add_argument("--db-filter", action="store_true",
                        help="serve with --db-filter ^<db>$ instead of -d alone (Odoo then lists the databases "
                             "on every request without a session)")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    parser.add_argument("--out", default=str(HERE / "results" / "latest.json"))
    return parser.parse_args(argv)


def main():
    args = parse_args()
    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        # requests and cryptography come from Odoo's environment, like everything Odoo runs.
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    for folder in (REPO / "controllers" / "webhook.py", REPO / "models" / "shipment_inbox.py"):
        if not folder.exists():
            say(f"{folder.relative_to(REPO)} does not exist yet: nothing to measure")
            return 2

    import loadgen
    from cryptography.fernet import Fernet

    workdir = Path(tempfile.mkdtemp(prefix="sv_bench_"))
    env = dict(os.environ)
    # A throwaway encryption key for the connector secret: no shared key file is touched.
    env["SHIPMENT_VISIBILITY_KEY"] = Fernet.generate_key().decode()
    odoo = Odoo(tree, f"sv_bench_{os.getpid()}", workdir, env, db_filter=args.db_filter)
    results = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
               "settings": {k: v for k, v in vars(args).items() if k != "out"}, "targets": TARGETS}
    code = 0
    try:
        odoo.create_database()
        odoo.start()
        rpc = loadgen.OdooRpc(odoo.base_url, odoo.db)
        connector_id, token = setup_connector(rpc)
        if "ingestion" not in args.skip:
            results["ingestion"] = phase_ingestion(odoo, rpc, token, args)
        if "visibility" not in args.skip:
            results["visibility"] = phase_visibility(odoo, rpc, args)
        rpc.close()
        results["server_log_problems"] = odoo.server_log_problems()
        odoo.stop()
        if "processor" not in args.skip:
            results["processor"] = phase_processor(odoo, connector_id, args)
    except Exception as exc:
        code = 1
        results["error"] = f"{exc.__class__.__name__}: {exc}"
        say(f"FAILED: {results['error']}")
        say(f"logs kept in {workdir}")
    finally:
        odoo.stop()
        if not args.keep_db:
            devenv.drop_db(odoo.db)
        if code == 0:
            shutil.rmtree(workdir, ignore_errors=True)
    results["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["verdicts"] = verdicts(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    say(f"results written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
