#!/usr/bin/env python3
"""Drill: a partner API answering 500s and timeouts while another partner keeps working.

One command: ``python3 benchmarks/drill_partner_outage.py``. It creates a fresh database,
starts Odoo in prefork mode (``--workers=2 --max-cron-threads=1``), and two loopback fake
AfterShip APIs (``tools/fake_partner.py``, real HTTP servers), each serving ``--shipments``
shipments to its own live polling connector: *down* and *up*. Signed webhooks arrive at
``--rate`` per second on a third connector for the whole drill, as in the other drills.

The poll cron is run every ``--poll-every`` seconds (``ir.cron.method_direct_trigger``
over JSON-RPC, i.e. in an HTTP worker, so that the drill decides the cadence). Phases:
``--healthy`` seconds with both partners answering; ``--outage`` seconds where *down*
answers every call with a 500 or lets it time out (alternately; the connector's timeout
is 2 s, the fake waits 3 s); then *down* answers again and the drill waits for its
breaker to close and a poll of it to succeed (at most ``--recovery-timeout`` seconds).

It reports, per connector, the breaker's transitions with their times, the poll
outcomes per phase, the recovery time (partner back → breaker closed, and → first
successful poll), and for the webhooks sent, accepted, stored, lost and duplicated.
Exit 0 when the breaker of *down* opened during the outage and closed after it, *up*
never failed and was polled successfully during the outage, and no accepted webhook
was lost.
"""

import argparse
import collections
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

PREFIX = "1ZPOUT"
API_KEY = "as-drill-outage-key"
TIMEOUT = 2


def say(message):
    print(f"[drill-partner-outage] {message}", flush=True)


def outage_partner_class():
    from fake_partner import FakePartner, slow, status

    class OutagePartner(FakePartner):
        """The fake AfterShip API with a switch: while ``down`` is set, every call gets a
        500 or no answer within the client's timeout, alternately."""

        down = False
        calls_while_down = 0

        def _next_behaviour(self, path):
            if not self.down:
                return super()._next_behaviour(path)
            with self._lock:
                self.calls_while_down += 1
                odd = self.calls_while_down % 2
            return status(500) if odd else slow(TIMEOUT + 1)

    return OutagePartner


def create_polling_connector(rpc, name, fake, numbers):
    connector_id = rpc.call("shipment.connector", "create", {
        "name": name, "connector_type": "aftership", "mode": "live", "signature_scheme": "adapter",
        "webhook_secret": SECRET, "rate_limit_per_minute": 0,
        "poll_enabled": True, "api_base_url": fake.base_url, "api_key": API_KEY, "poll_interval_minutes": 1,
        "rate_per_second": 0, "http_timeout_seconds": TIMEOUT, "http_max_retries": 1,
        "breaker_threshold": 3, "breaker_cooldown_seconds": 20,
    })
    connector_id = connector_id[0] if isinstance(connector_id, list) else connector_id
    rpc.call("shipment.shipment", "create", [{"tracking_number": number, "connector_id": connector_id}
                                             for number in numbers])
    return connector_id


def poll_stats(db, ids):
    stats = collections.defaultdict(int)
    for cid, outcome, count in psql(db, "SELECT connector_id, outcome, sum(count) FROM shipment_poll_stat "
                                        f"WHERE connector_id IN ({','.join(map(str, ids))}) GROUP BY 1, 2"):
        stats[(int(cid), outcome)] = int(count)
    return stats


def breakers(db, ids):
    return {int(cid): state for cid, state in psql(
        db, f"SELECT id, breaker_state FROM shipment_connector WHERE id IN ({','.join(map(str, ids))})")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--shipments", type=int, default=50)
    parser.add_argument("--poll-every", type=float, default=5.0)
    parser.add_argument("--healthy", type=float, default=20.0)
    parser.add_argument("--outage", type=float, default=75.0)
    parser.add_argument("--recovery-timeout", type=float, default=180.0)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    tree = devenv.bootstrap()
    if os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    import loadgen
    from carrier_simulator import Signer, resolve_scheme
    from cryptography.fernet import Fernet

    partner_class = outage_partner_class()
    fakes = {name: partner_class(aftership_key=API_KEY).start() for name in ("down", "up")}
    workdir = Path(tempfile.mkdtemp(prefix="sv_drill_outage_"))
    env = dict(os.environ)
    env["SHIPMENT_VISIBILITY_KEY"] = Fernet.generate_key().decode()
    odoo = Odoo(tree, f"sv_drill_outage_{os.getpid()}", workdir, env)
    code = 1
    try:
        odoo.create_database()
        odoo.start()
        rpc = loadgen.OdooRpc(odoo.base_url, odoo.db)
        webhook_connector, token = setup_connector(rpc)
        # The fakes listen on loopback: allowed explicitly, as an administrator would.
        rpc.call("ir.config_parameter", "set_param", "shipment_visibility.outbound_allowed_hosts", "127.0.0.1")
        rpc.call("ir.config_parameter", "set_param", "shipment_visibility.http_backoff_seconds", "0.2")
        ids = {}
        for name, fake in fakes.items():
            numbers = [f"1ZPOLL{name.upper()}{index:06d}" for index in range(args.shipments)]
            for number in numbers:
                fake.add_shipment(number, carrier="ups", events=[{
                    "status": "in_transit", "at": datetime.now(timezone.utc), "city": "Atlanta", "state": "GA",
                    "country": "US"}])
            ids[name] = create_polling_connector(rpc, f"Drill {name}", fake, numbers)
        cron_id = rpc.call("ir.model.data", "check_object_reference", "shipment_visibility",
                           "ir_cron_poll_connectors")[1]

        total = args.healthy + args.outage + args.recovery_timeout
        count = int(args.rate * (args.healthy + args.outage + 30))
        jobs = _webhook_jobs(PREFIX, count, datetime.now(timezone.utc))
        numbers = [f"{PREFIX}{index:010d}" for index in range(count)]
        signer = Signer(resolve_scheme("aftership", "adapter"), SECRET)
        url = f"{odoo.base_url}/shipment_visibility/webhook/{token}"
        load = {}

        def webhooks():
            load["outcome"], load["retried"] = send_all(jobs, numbers, url, signer, args.rate)

        say(f"webhooks at {args.rate:.0f}/s; poll every {args.poll_every:.0f} s; healthy {args.healthy:.0f} s, "
            f"outage {args.outage:.0f} s")
        sender = threading.Thread(target=webhooks, daemon=True)
        started = time.perf_counter()
        sender.start()
        timeline, transitions, runs = [], [], []
        last_state = {}
        back_at = recovered_at = first_success_after = None
        success_at_back = None
        while time.perf_counter() - started < total:
            elapsed = time.perf_counter() - started
            phase = "healthy" if elapsed < args.healthy else ("outage" if elapsed < args.healthy + args.outage
                                                               else "after")
            fakes["down"].down = phase == "outage"
            if phase == "after" and back_at is None:
                back_at = elapsed
                success_at_back = poll_stats(odoo.db, ids.values())[(ids["down"], "success")]
                say(f"partner back at {back_at:.1f} s")
            run_started = time.perf_counter()
            try:
                rpc.call("ir.cron", "method_direct_trigger", [cron_id])
                error = None
            except Exception as exc:  # the cron worker may hold the job: noted, tried again next round
                error = exc.__class__.__name__
            runs.append((phase, round(time.perf_counter() - run_started, 2), error))
            now = time.perf_counter() - started
            states = breakers(odoo.db, ids.values())
            stats = poll_stats(odoo.db, ids.values())
            timeline.append((round(now, 1), phase, dict(states), dict(stats)))
            for name, cid in ids.items():
                if last_state.get(cid) != states[cid]:
                    transitions.append((name, round(now, 1), last_state.get(cid), states[cid]))
                    last_state[cid] = states[cid]
            if back_at is not None:
                if recovered_at is None and states[ids["down"]] == "closed":
                    recovered_at = now
                if first_success_after is None and stats[(ids["down"], "success")] > success_at_back:
                    first_success_after = now
                if recovered_at is not None and first_success_after is not None:
                    break
            time.sleep(max(0.0, args.poll_every - (time.perf_counter() - run_started)))
        fakes["down"].down = False
        sender.join(timeout=600)
        code = report(odoo, args, webhook_connector, ids, timeline, transitions, runs,
                      (back_at, recovered_at, first_success_after), load, jobs, fakes)
    except Exception as exc:  # report, then clean up
        say(f"FAILED: {exc.__class__.__name__}: {exc} (logs in {workdir})")
    finally:
        for fake in fakes.values():
            fake.stop()
        odoo.stop()
        if not args.keep_db:
            devenv.drop_db(odoo.db)
    return code


def phase_counts(timeline, cid):
    """Poll outcomes counted in each phase: the counters' increase across it."""
    per_phase, previous = collections.defaultdict(collections.Counter), collections.Counter()
    for _at, phase, _states, stats in timeline:
        current = collections.Counter({outcome: count for (c, outcome), count in stats.items() if c == cid})
        per_phase[phase].update(current - previous)
        previous = current
    return per_phase


def report(odoo, args, webhook_connector, ids, timeline, transitions, runs, recovery, load, jobs, fakes):
    back_at, recovered_at, first_success_after = recovery
    db = odoo.db
    outcome = load.get("outcome", {})
    accepted = {number for number, status in outcome.items() if status in (200, 202)}
    # One distinct body per shipment, deduplicated by the inbox: rows are messages.
    inbox_rows = int(psql(db, f"SELECT count(*) FROM shipment_inbox WHERE connector_id = {webhook_connector}")[0][0])
    duplicated = int(psql(db, "SELECT count(*) - count(DISTINCT (shipment_id, fingerprint)) FROM shipment_event")[0][0])
    down, up = phase_counts(timeline, ids["down"]), phase_counts(timeline, ids["up"])
    opened = any(name == "down" and new == "open" for name, _at, _old, new in transitions)
    up_states = {new for name, _at, _old, new in transitions if name == "up"}
    slow_runs = [duration for phase, duration, _error in runs if phase == "outage"]
    ok = (opened and recovered_at is not None and first_success_after is not None
          and up_states == {"closed"} and sum(c["failure"] for c in up.values()) == 0
          and up["outage"]["success"] > 0 and len(accepted) == len(jobs) and inbox_rows == len(accepted)
          and not duplicated)
    print()
    print(f"=== Drill: partner API down during polling ({time.strftime('%Y-%m-%d')}) ===")
    print(f"phases: healthy {args.healthy:.0f} s, outage {args.outage:.0f} s (500 or a {TIMEOUT + 1} s wait "
          f"against a {TIMEOUT} s timeout, alternately; {fakes['down'].calls_while_down} calls reached the "
          f"partner while down), poll run every {args.poll_every:.0f} s")
    print("breaker transitions: " + "; ".join(f"{name} {old or '-'}→{new} at {at:.1f} s"
                                              for name, at, old, new in transitions))
    for name, counts in (("down", down), ("up", up)):
        print(f"poll outcomes of '{name}' per phase: " + "; ".join(
            f"{phase} {dict(counts[phase]) or {}}" for phase in ("healthy", "outage", "after")))
    if back_at is not None:
        print(f"recovery: partner back at {back_at:.1f} s; breaker closed "
              + (f"{recovered_at - back_at:.1f} s later" if recovered_at is not None else "never")
              + "; first successful poll "
              + (f"{first_success_after - back_at:.1f} s later" if first_success_after is not None else "never"))
    if slow_runs:
        print(f"poll runs during the outage: {len(slow_runs)}, longest {max(slow_runs):.1f} s, "
              f"median {sorted(slow_runs)[len(slow_runs) // 2]:.1f} s")
    errors = collections.Counter(error for _phase, _duration, error in runs if error)
    if errors:
        print(f"poll runs refused: {dict(errors)}")
    print(f"webhooks: sent {len(jobs)}, accepted {len(accepted)}, inbox rows {inbox_rows}, "
          f"lost {max(0, len(accepted) - inbox_rows)}, "
          f"duplicated events {duplicated}; {load.get('retried', 0)} retries by the senders")
    problems = odoo.server_log_problems()
    return verdict(ok, problems)


if __name__ == "__main__":
    sys.exit(main())
