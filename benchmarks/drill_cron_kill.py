#!/usr/bin/env python3
"""Drill: the cron worker SIGKILLed mid-batch under a steady load of signed webhooks.

One command: ``python3 benchmarks/drill_cron_kill.py``. It creates a fresh database,
starts Odoo in prefork mode (``--workers=2 --max-cron-threads=1``, as ``run.py``), creates
a live AfterShip connector, and sends signed webhooks at ``--rate`` per second (100 by
default) for ``--seconds``, one shipment per body; a sender retries a request that
failed (connection error or 5xx) up to 5 times, as partners do. Meanwhile, ``--kills``
times, it waits until the processor holds claimed messages (state ``processing``), finds
the cron worker (the process owning the PostgreSQL connection that listens for cron
triggers, named ``odoo-<pid>`` there, inside the drill's own process group) and kills it
with SIGKILL; Odoo's master starts a new one, which takes the
abandoned messages back once their lease (shortened to 10 s here) runs out.

When the inbox has drained it reports: sent (distinct bodies), accepted (202 or 200
duplicate), stored (inbox rows), lost (accepted but not stored, or stored but never
processed), duplicated events (same fingerprint twice on a shipment) and shipments whose
event count differs from the others (each body tells the same story). Exit 0 when
nothing is lost or duplicated and every kill hit a batch in progress.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
for entry in (str(HERE), str(HERE.parent / "tools"), str(HERE.parent)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402
from run import SECRET, Odoo, _webhook_jobs, setup_connector  # noqa: E402

RETRIES = 5
PREFIX = "1ZKILL"


def say(message):
    print(f"[drill-cron-kill] {message}", flush=True)


def psql(db, query):
    output = subprocess.run(
        ["psql", "-h", devenv.PGHOST, "-p", devenv.PGPORT, "-U", devenv.DB_USER, "-d", db, "-AtXqc", query],
        check=True, capture_output=True, text=True, timeout=60).stdout
    return [line.split("|") for line in output.strip().splitlines() if line]


def cron_worker_pids(server_pid):
    """PIDs of the cron workers of the Odoo server ``server_pid`` started.

    A cron worker is the one Odoo process holding a connection to the ``postgres``
    database (where it listens for cron triggers); Odoo names each connection
    ``odoo-<pid>``. Only processes of this drill's own server (its process group) count:
    other Odoo servers on the machine are left alone.
    """
    names = [row[0] for row in psql("postgres", "SELECT application_name FROM pg_stat_activity "
                                                "WHERE datname = 'postgres' AND application_name LIKE 'odoo-%'")]
    pids = set()
    for name in names:
        pid = int(name.split("-", 1)[1])
        try:
            if pid != server_pid and os.getpgid(pid) == server_pid:
                pids.add(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return pids


def send_all(jobs, numbers, url, signer, rate, senders=16, retries=RETRIES, first_answers=None):
    """Paced, retrying senders: returns ``{tracking number: final status or error}`` and the retry count.

    A request not answered 200 or 202 is sent again, up to ``retries`` times, after a
    growing pause (capped at 2 s), as partners retry any non-2xx delivery (a server
    whose database is down answers 404, see the PostgreSQL drill); ``first_answers``, a
    Counter when given, collects what each attempt got, for the drills' reports.
    """
    import requests

    outcome, lock = {}, threading.Lock()
    pending = iter(enumerate(jobs))
    origin = time.perf_counter() + 0.2
    retried = [0]

    def sender():
        with requests.Session() as session:
            while True:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                index, update = item
                delay = origin + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                status = None
                for attempt in range(retries):
                    try:
                        response = session.post(url, data=update.body, headers=signer.headers(update), timeout=30)
                        status = response.status_code
                    except requests.RequestException as exc:
                        status = exc.__class__.__name__
                    if first_answers is not None:
                        with lock:
                            first_answers[status] += 1
                    if status in (200, 202):
                        break
                    with lock:
                        retried[0] += 1
                    time.sleep(min(2.0, 0.5 * (attempt + 1)))
                with lock:
                    outcome[numbers[index]] = status

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome, retried[0]


def killer(db, server_pid, kills, stop, log):
    """Kill the cron worker ``kills`` times, each while it holds claimed messages."""
    while len(log) < kills and not stop.is_set():
        processing = int(psql(db, "SELECT count(*) FROM shipment_inbox WHERE state = 'processing'")[0][0])
        pids = cron_worker_pids(server_pid) if processing else set()
        if not pids:
            time.sleep(0.05)
            continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        log.append({"at": time.strftime("%H:%M:%S"), "pids": sorted(pids), "processing": processing})
        say(f"SIGKILL cron worker {sorted(pids)} holding {processing} claimed messages")
        time.sleep(5)  # let the master start a new one and the load build up again


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--drain-timeout", type=int, default=600)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    import loadgen
    from carrier_simulator import Signer, resolve_scheme
    from cryptography.fernet import Fernet

    workdir = Path(tempfile.mkdtemp(prefix="sv_drill_cron_"))
    env = dict(os.environ)
    env["SHIPMENT_VISIBILITY_KEY"] = Fernet.generate_key().decode()
    odoo = Odoo(tree, f"sv_drill_cron_{os.getpid()}", workdir, env)
    code = 1
    try:
        odoo.create_database()
        odoo.start()
        rpc = loadgen.OdooRpc(odoo.base_url, odoo.db)
        _connector_id, token = setup_connector(rpc)
        # Short leases bring a killed batch back within seconds; small batches make more of them.
        rpc.call("ir.config_parameter", "set_param", "shipment_visibility.inbox_lease_seconds", "10")
        rpc.call("ir.config_parameter", "set_param", "shipment_visibility.inbox_batch_size", "50")
        count = int(args.rate * args.seconds)
        jobs = _webhook_jobs(PREFIX, count, datetime.now(timezone.utc))
        numbers = [f"{PREFIX}{index:010d}" for index in range(count)]  # as _webhook_jobs numbers them
        signer = Signer(resolve_scheme("aftership", "adapter"), SECRET)
        url = f"{odoo.base_url}/shipment_visibility/webhook/{token}"
        stop, kills = threading.Event(), []
        thread = threading.Thread(target=killer, args=(odoo.db, odoo.server.pid, args.kills, stop, kills), daemon=True)
        say(f"sending {len(jobs)} signed webhooks at {args.rate:.0f}/s, killing the cron worker {args.kills} times")
        thread.start()
        started = time.perf_counter()
        outcome, retried = send_all(jobs, numbers, url, signer, args.rate)
        sent_seconds = time.perf_counter() - started
        thread.join(timeout=60)
        stop.set()
        deadline = time.time() + args.drain_timeout
        while time.time() < deadline:
            left = int(psql(odoo.db, "SELECT count(*) FROM shipment_inbox "
                                     "WHERE state IN ('pending', 'processing')")[0][0])
            if not left:
                break
            time.sleep(1)
        drained = time.perf_counter() - started
        code = report(odoo.db, jobs, outcome, retried, kills, args, sent_seconds, drained,
                      odoo.server_log_problems())
    except Exception as exc:  # report, then clean up
        say(f"FAILED: {exc.__class__.__name__}: {exc} (logs in {workdir})")
    finally:
        odoo.stop()
        if not args.keep_db:
            devenv.drop_db(odoo.db)
    return code


def report(db, jobs, outcome, retried, kills, args, sent_seconds, drained, problems):
    accepted = {number for number, status in outcome.items() if status in (200, 202)}
    refused = {number: status for number, status in outcome.items() if status not in (200, 202)}
    stored = {row[0]: row[1] for row in psql(
        db, "SELECT s.tracking_number, i.state FROM shipment_inbox i "
            "JOIN shipment_inbox_shipment_shipment_rel r ON r.shipment_inbox_id = i.id "
            "JOIN shipment_shipment s ON s.id = r.shipment_shipment_id")}
    inbox_rows = int(psql(db, "SELECT count(*) FROM shipment_inbox")[0][0])
    states = dict(psql(db, "SELECT state, count(*) FROM shipment_inbox GROUP BY state"))
    duplicated = int(psql(db, "SELECT count(*) - count(DISTINCT (shipment_id, fingerprint)) FROM shipment_event")[0][0])
    per_shipment = [int(row[0]) for row in psql(
        db, "SELECT count(*) FROM shipment_event e JOIN shipment_shipment s ON s.id = e.shipment_id "
            "WHERE s.tracking_number LIKE '1ZKILL%' GROUP BY s.id")]
    lost = sorted(accepted - set(stored))
    unprocessed = sorted(number for number, state in stored.items() if state != "done")
    uneven = len(set(per_shipment)) > 1
    ok = not lost and not unprocessed and not duplicated and not uneven and len(kills) == args.kills \
        and all(kill["processing"] for kill in kills) and not refused
    print()
    print(f"=== Drill: cron worker SIGKILLed mid-batch ({time.strftime('%Y-%m-%d')}) ===")
    print(f"load: {len(jobs)} signed webhooks at {args.rate:.0f}/s, sent in {sent_seconds:.1f} s; "
          f"{retried} retries by the senders")
    print(f"kills: {len(kills)} — " + "; ".join(f"{k['at']} pids {k['pids']} with {k['processing']} claimed"
                                                for k in kills))
    print(f"sent {len(jobs)}, accepted {len(accepted)}, refused after retries {len(refused)}, "
          f"inbox rows {inbox_rows}, stored for accepted {len(set(stored) & accepted)}")
    print(f"lost {len(lost)}, stored but not processed {len(unprocessed)}, duplicated events {duplicated}, "
          f"events per shipment {sorted(set(per_shipment))}")
    print(f"inbox states {states}; drained {drained:.1f} s after the first request")
    return verdict(ok, problems)


def verdict(ok, problems, heading="server log problems (first 20):"):
    """Print the server's log problems and the drill's verdict; the exit code."""
    if problems:
        print(heading)
        for line in problems:
            print(f"  {line[:300]}")
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
