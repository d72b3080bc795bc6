#!/usr/bin/env python3
"""Drill: PostgreSQL restarted mid-ingest under a steady load of signed webhooks.

One command: ``python3 benchmarks/drill_postgres_restart.py``. It never touches the
machine's PostgreSQL service: it creates its own cluster with ``initdb`` in a temporary
folder, on a free port of its own (as the ``postgres`` system user when run as root,
since ``initdb`` refuses root), installs the module there, and starts Odoo in prefork mode
(``--workers=2 --max-cron-threads=1``) against it. A live AfterShip connector receives
signed webhooks at ``--rate`` per second (100 by default) for ``--seconds``, one
shipment per body. ``--restart-after`` seconds into the load, the cluster is restarted
with ``pg_ctl restart -m fast`` (every connection cut, in-flight transactions rolled
back). Senders retry anything but 200 and 202 (up to ``--retries`` times, pauses growing
to 2 s), as partners retry failed deliveries: while the database is down Odoo cannot
load the registry, serves the request without a database and answers 404, not 503.
With ``--server-wide`` the server runs with ``--load=base,web,shipment_visibility`` (the
deployment RELIABILITY.md recommends): the webhook route is then served even without a
database and answers 503 with ``Retry-After``, and the drill fails on any 404.

When the inbox has drained it reports sent, accepted (202, or 200 for a duplicate the
server already had), stored, lost (accepted but not stored, or stored but never
processed) and duplicated events, with what the senders were answered during the
restart. Exit 0 when nothing accepted is lost or duplicated and every body was
eventually accepted. ``--keep`` leaves the cluster folder (and its logs) in place.
"""

import argparse
import collections
import os
import shlex
import shutil
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
from drill_cron_kill import psql, send_all, verdict  # noqa: E402
from run import SECRET, Odoo, _webhook_jobs, setup_connector  # noqa: E402

PREFIX = "1ZPGRS"
PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/local/pgsql/bin")


def say(message):
    print(f"[drill-postgres-restart] {message}", flush=True)


def pg_bin(name):
    for folder in PG_BIN_CANDIDATES:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found (looked in {', '.join(PG_BIN_CANDIDATES)} and PATH)")
    return found


class Cluster:
    """A throwaway PostgreSQL cluster: its own folder, port and socket directory."""

    def __init__(self, port):
        self.port = port
        self.base = Path(tempfile.mkdtemp(prefix="sv_drill_pg_"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        # initdb refuses to run as root: the cluster belongs to the postgres system user then.
        self.owner = "postgres" if os.geteuid() == 0 else None
        if self.owner:
            shutil.chown(self.base, self.owner, self.owner)
        os.chmod(self.base, 0o700)

    def run(self, *cmd, timeout=120):
        if self.owner:
            cmd = ["su", self.owner, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)

    def options(self):
        return f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c max_connections=100"

    def init(self):
        self.run(pg_bin("initdb"), "-D", str(self.data), "-U", devenv.DB_USER, "--auth=trust", "-E", "UTF8",
                 "--locale=C")

    def start(self):
        self.run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self.options(), "-w", "start")

    def restart(self):
        started = time.perf_counter()
        self.run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self.options(),
                 "-m", "fast", "-w", "restart")
        return time.perf_counter() - started

    def stop(self):
        try:
            self.run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        except subprocess.CalledProcessError as exc:
            say(f"pg_ctl stop: {exc.stderr.strip()}")

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--restart-after", type=float, default=10.0)
    parser.add_argument("--retries", type=int, default=20)
    parser.add_argument("--drain-timeout", type=int, default=600)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--server-wide", action="store_true",
                        help="load the module server-wide, so that the route answers 503 without a database")
    args = parser.parse_args()
    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    import loadgen
    from carrier_simulator import Signer, resolve_scheme
    from cryptography.fernet import Fernet

    cluster = Cluster(devenv.free_port())
    # Everything below (the install, the server, psql) talks to the drill's own cluster.
    devenv.PGHOST, devenv.PGPORT = "127.0.0.1", str(cluster.port)
    workdir = cluster.base
    env = dict(os.environ, PGPORT=str(cluster.port))
    env["SHIPMENT_VISIBILITY_KEY"] = Fernet.generate_key().decode()
    odoo = Odoo(tree, f"sv_drill_pg_{os.getpid()}", Path(tempfile.mkdtemp(prefix="sv_drill_pg_odoo_")), env)
    code = 1
    try:
        say(f"initdb in {workdir}, port {cluster.port}")
        cluster.init()
        cluster.start()
        odoo.create_database()
        if args.server_wide:
            odoo.extra_args = ("--load=base,web,shipment_visibility",)
        odoo.start()
        rpc = loadgen.OdooRpc(odoo.base_url, odoo.db)
        _connector_id, token = setup_connector(rpc)
        count = int(args.rate * args.seconds)
        jobs = _webhook_jobs(PREFIX, count, datetime.now(timezone.utc))
        numbers = [f"{PREFIX}{index:010d}" for index in range(count)]
        signer = Signer(resolve_scheme("aftership", "adapter"), SECRET)
        url = f"{odoo.base_url}/shipment_visibility/webhook/{token}"
        answers = collections.Counter()
        restart = {}

        def restarter():
            time.sleep(args.restart_after)
            restart["at"] = time.strftime("%H:%M:%S")
            restart["answers_before"] = sum(answers.values())
            say("pg_ctl restart -m fast")
            restart["seconds"] = cluster.restart()
            say(f"PostgreSQL back after {restart['seconds']:.1f} s")

        say(f"sending {count} signed webhooks at {args.rate:.0f}/s; restart after {args.restart_after:.0f} s")
        thread = threading.Thread(target=restarter, daemon=True)
        started = time.perf_counter()
        thread.start()
        outcome, retried = send_all(jobs, numbers, url, signer, args.rate, retries=args.retries,
                                    first_answers=answers)
        sent_seconds = time.perf_counter() - started
        thread.join(timeout=120)
        deadline = time.time() + args.drain_timeout
        while time.time() < deadline:
            left = int(psql(odoo.db, "SELECT count(*) FROM shipment_inbox "
                                     "WHERE state IN ('pending', 'processing')")[0][0])
            if not left:
                break
            time.sleep(1)
        drained = time.perf_counter() - started
        code = report(odoo.db, jobs, outcome, retried, answers, restart, args, sent_seconds, drained,
                      odoo.server_log_problems())
    except Exception as exc:  # report, then clean up
        say(f"FAILED: {exc.__class__.__name__}: {exc} (logs in {workdir} and {odoo.workdir})")
    finally:
        odoo.stop()
        cluster.stop()
        if not args.keep:
            cluster.remove()
    return code


def report(db, jobs, outcome, retried, answers, restart, args, sent_seconds, drained, problems):
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
        db, f"SELECT count(*) FROM shipment_event e JOIN shipment_shipment s ON s.id = e.shipment_id "
            f"WHERE s.tracking_number LIKE '{PREFIX}%' GROUP BY s.id")]
    lost = sorted(accepted - set(stored))
    unprocessed = sorted(number for number, state in stored.items() if state != "done")
    ok = (not lost and not unprocessed and not duplicated and not refused and len(set(per_shipment)) <= 1
          and "seconds" in restart and inbox_rows == len(accepted)
          and not (args.server_wide and answers.get(404)))
    print()
    print(f"=== Drill: PostgreSQL restarted mid-ingest ({time.strftime('%Y-%m-%d')}) ===")
    print(f"load: {len(jobs)} signed webhooks at {args.rate:.0f}/s, sent in {sent_seconds:.1f} s; "
          f"{retried} retries by the senders")
    print(f"restart: at {restart.get('at', '-')}, after {restart.get('answers_before', 0)} answers; "
          f"pg_ctl restart -m fast took {restart.get('seconds', float('nan')):.1f} s")
    print("answers to every attempt: " + ", ".join(f"{status}: {count}" for status, count
                                                 in sorted(answers.items(), key=lambda item: str(item[0]))))
    print(f"sent {len(jobs)}, accepted {len(accepted)}, refused after retries {len(refused)}, "
          f"inbox rows {inbox_rows}, stored for accepted {len(set(stored) & accepted)}")
    print(f"lost {len(lost)}, stored but not processed {len(unprocessed)}, duplicated events {duplicated}, "
          f"events per shipment {sorted(set(per_shipment))}")
    print(f"inbox states {states}; drained {drained:.1f} s after the first request")
    return verdict(ok, problems)


if __name__ == "__main__":
    sys.exit(main())
