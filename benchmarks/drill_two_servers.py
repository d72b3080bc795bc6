#!/usr/bin/env python3
"""Drill: two Odoo servers on one database, load and processing on both.

One command: ``python3 benchmarks/drill_two_servers.py``. It creates a fresh database and
starts two Odoo servers on it, each in prefork mode (``--workers=2 --max-cron-threads=1``),
as two hosts behind a load balancer would be. Then, at once:

* signed webhooks at ``--rate`` per second (100 by default) for ``--seconds``, one
  shipment per body, alternately to server A and server B, senders retrying failures;
* processing on both servers: the processor cron runs in the cron worker of whichever
  server takes it (Odoo runs one instance of a cron at a time), and, to make the claims
  race for real, two more processors run its code in parallel from an HTTP worker of
  each server (``method_direct_trigger`` of two inactive copies of the cron, in a loop);
* a burst against a second connector whose webhook rate limit is ``--limit`` per minute:
  ``--burst`` signed webhooks as fast as 8 senders go, alternately to both servers, not
  retried.

It reports, when the inbox has drained: sent, accepted, stored, lost, messages claimed
more than once (``attempts`` above 1), duplicated events and events per shipment; and for
the rate limit, accepted against the budget the limit allows over the burst's duration
(a sixth of the minute's budget back to back, plus the refill), which a per-server limit
would exceed by up to twice. Exit 0 when nothing is lost, claimed twice or duplicated,
and the burst got no more than the budget.
"""

import argparse
import collections
import math
import os
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

PREFIX = "1ZTWOS"
BURST_PREFIX = "1ZRATE"


def say(message):
    print(f"[drill-two-servers] {message}", flush=True)


def processor_loop(rpc, cron_id, stop, runs):
    """Run the processor's code from an HTTP worker of one server until told to stop."""
    while not stop.is_set():
        try:
            rpc.call("ir.cron", "method_direct_trigger", [cron_id])
            runs["ok"] += 1
            time.sleep(0.2)  # an empty inbox answers at once: no busy loop on the shared cores
        except Exception as exc:  # counted: a busy lock or a timeout is not a drill failure
            runs[exc.__class__.__name__] += 1
            time.sleep(0.5)


def burst(jobs, urls, signer, senders=8):
    """Send every job once, as fast as ``senders`` go, alternating servers: ``Counter`` of answers."""
    import requests

    answers, lock = collections.Counter(), threading.Lock()
    pending = iter(enumerate(jobs))

    def sender():
        with requests.Session() as session:
            while True:
                with lock:
                    item = next(pending, None)
                if item is None:
                    return
                index, update = item
                try:
                    status = session.post(urls[index % len(urls)], data=update.body, headers=signer.headers(update),
                                          timeout=30).status_code
                except requests.RequestException as exc:
                    status = exc.__class__.__name__
                with lock:
                    answers[status] += 1

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=int, default=30)
    # A low limit: the refill over the burst stays small beside the burst itself, so a
    # limit applied per server (twice the budget) could not pass unnoticed.
    parser.add_argument("--limit", type=int, default=60, help="rate limit of the burst's connector, per minute")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--drain-timeout", type=int, default=900)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    import loadgen
    from carrier_simulator import Signer, resolve_scheme
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env["SHIPMENT_VISIBILITY_KEY"] = Fernet.generate_key().decode()  # one key for both: one deployment
    db = f"sv_drill_two_{os.getpid()}"
    servers = [Odoo(tree, db, Path(tempfile.mkdtemp(prefix=f"sv_drill_two_{name}_")), env) for name in "ab"]
    code = 1
    stop = threading.Event()
    try:
        servers[0].create_database()
        for server in servers:
            server.start()
        rpcs = [loadgen.OdooRpc(server.base_url, db) for server in servers]
        _connector_id, token = setup_connector(rpcs[0])
        limited_id = rpcs[0].call("shipment.connector", "create", {
            "name": "Drill rate-limited", "connector_type": "aftership", "mode": "live",
            "signature_scheme": "adapter", "webhook_secret": SECRET, "rate_limit_per_minute": args.limit})
        limited_id = limited_id[0] if isinstance(limited_id, list) else limited_id
        limited_token = rpcs[0].call("shipment.connector", "read", [limited_id], ["webhook_token"])[0]["webhook_token"]
        cron_id = rpcs[0].call("ir.model.data", "check_object_reference", "shipment_visibility",
                               "ir_cron_process_inbox")[1]
        # Two more processors, one per server, racing the cron workers for the same rows.
        copies = [rpcs[0].call("ir.cron", "copy", [cron_id], {"active": False, "name": f"Drill processor {n}"})
                  for n in "ab"]
        copies = [copy[0] if isinstance(copy, list) else copy for copy in copies]

        count = int(args.rate * args.seconds)
        now = datetime.now(timezone.utc)
        jobs = _webhook_jobs(PREFIX, count, now)
        numbers = [f"{PREFIX}{index:010d}" for index in range(count)]
        signer = Signer(resolve_scheme("aftership", "adapter"), SECRET)
        urls = [f"{server.base_url}/shipment_visibility/webhook/{token}" for server in servers]
        halves = [(jobs[side::2], numbers[side::2], urls[side]) for side in (0, 1)]
        results = [None, None]

        def load(side):
            part_jobs, part_numbers, url = halves[side]
            results[side] = send_all(part_jobs, part_numbers, url, signer, args.rate / 2, senders=8, retries=20)

        runs = [collections.Counter(), collections.Counter()]
        loops = [threading.Thread(target=processor_loop, args=(rpcs[side], copies[side], stop, runs[side]),
                                  daemon=True) for side in (0, 1)]
        senders = [threading.Thread(target=load, args=(side,), daemon=True) for side in (0, 1)]
        say(f"{count} webhooks at {args.rate:.0f}/s split over both servers, processors on both; "
            f"then a burst of {args.burst} on a connector limited to {args.limit}/min")
        started = time.perf_counter()
        for thread in loops + senders:
            thread.start()
        burst_jobs = _webhook_jobs(BURST_PREFIX, args.burst, now)
        burst_urls = [f"{server.base_url}/shipment_visibility/webhook/{limited_token}" for server in servers]
        burst_answers, burst_seconds = burst(burst_jobs, burst_urls, signer)
        for thread in senders:
            thread.join()
        sent_seconds = time.perf_counter() - started
        deadline = time.time() + args.drain_timeout
        while time.time() < deadline:
            left = int(psql(db, "SELECT count(*) FROM shipment_inbox WHERE state IN ('pending', 'processing')")[0][0])
            if not left:
                break
            time.sleep(1)
        drained = time.perf_counter() - started
        stop.set()
        for thread in loops:
            thread.join(timeout=60)
        outcome = {**results[0][0], **results[1][0]}
        retried = results[0][1] + results[1][1]
        problems = [f"{name}: {line}" for name, server in zip("AB", servers, strict=True)
                    for line in server.server_log_problems()]
        code = report(db, args, jobs, outcome, retried, runs, (burst_answers, burst_seconds, limited_id),
                      sent_seconds, drained, problems)
    except Exception as exc:  # report, then clean up
        say(f"FAILED: {exc.__class__.__name__}: {exc} (logs in {', '.join(str(s.workdir) for s in servers)})")
    finally:
        stop.set()
        for server in servers:
            server.stop()
        if not args.keep_db:
            devenv.drop_db(db)
    return code


def report(db, args, jobs, outcome, retried, runs, burst_result, sent_seconds, drained, problems):
    burst_answers, burst_seconds, limited_id = burst_result
    accepted = {number for number, status in outcome.items() if status in (200, 202)}
    refused = {number: status for number, status in outcome.items() if status not in (200, 202)}
    stored = {row[0]: row[1] for row in psql(
        db, "SELECT s.tracking_number, i.state FROM shipment_inbox i "
            "JOIN shipment_inbox_shipment_shipment_rel r ON r.shipment_inbox_id = i.id "
            "JOIN shipment_shipment s ON s.id = r.shipment_shipment_id "
            f"WHERE s.tracking_number LIKE '{PREFIX}%'")}
    claims = dict(psql(db, f"SELECT attempts, count(*) FROM shipment_inbox WHERE connector_id != {limited_id} "
                           "GROUP BY attempts ORDER BY attempts"))
    twice = sum(int(count) for attempts, count in claims.items() if int(attempts) > 1)
    duplicated = int(psql(db, "SELECT count(*) - count(DISTINCT (shipment_id, fingerprint)) FROM shipment_event")[0][0])
    per_shipment = [int(row[0]) for row in psql(
        db, f"SELECT count(*) FROM shipment_event e JOIN shipment_shipment s ON s.id = e.shipment_id "
            f"WHERE s.tracking_number LIKE '{PREFIX}%' GROUP BY s.id")]
    states = dict(psql(db, "SELECT state, count(*) FROM shipment_inbox GROUP BY state"))
    lost = sorted(accepted - set(stored))
    unprocessed = sorted(number for number, state in stored.items() if state != "done")
    burst_accepted = burst_answers.get(202, 0) + burst_answers.get(200, 0)
    burst_stored = int(psql(db, f"SELECT count(*) FROM shipment_inbox WHERE connector_id = {limited_id}")[0][0])
    per_minute = args.limit
    budget = max(1, per_minute // 6) + math.ceil(burst_seconds * per_minute / 60)
    ok = (not lost and not unprocessed and not twice and not duplicated and not refused
          and len(set(per_shipment)) == 1 and burst_accepted <= budget and burst_stored == burst_accepted
          and burst_accepted >= max(1, per_minute // 6))
    print()
    print(f"=== Drill: two Odoo servers on one database ({time.strftime('%Y-%m-%d')}) ===")
    print(f"load: {len(jobs)} signed webhooks at {args.rate:.0f}/s over servers A and B, sent in "
          f"{sent_seconds:.1f} s; {retried} retries by the senders")
    print(f"processors from HTTP workers: A {dict(runs[0])}, B {dict(runs[1])} (plus the cron workers of both)")
    print(f"sent {len(jobs)}, accepted {len(accepted)}, refused after retries {len(refused)}, "
          f"stored for accepted {len(set(stored) & accepted)}")
    print(f"lost {len(lost)}, stored but not processed {len(unprocessed)}, claimed more than once {twice} "
          f"(claims per message {claims}), duplicated events {duplicated}, "
          f"events per shipment {sorted(set(per_shipment))}")
    print(f"inbox states {states}; drained {drained:.1f} s after the first request")
    print(f"rate limit {per_minute}/min across both servers: burst of {sum(burst_answers.values())} in "
          f"{burst_seconds:.1f} s, answers {dict(burst_answers)}; accepted {burst_accepted}, stored {burst_stored}, "
          f"budget {budget} (burst {max(1, per_minute // 6)} + refill over {burst_seconds:.1f} s; "
          f"a limit per server would allow up to {2 * budget})")
    return verdict(ok, problems, heading="server log problems (first 20 per server):")


if __name__ == "__main__":
    sys.exit(main())
