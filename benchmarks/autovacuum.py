"""Autovacuum's work, done by the benchmark when the PostgreSQL it runs on has it off.

A production PostgreSQL runs autovacuum: tables a workload rewrites are vacuumed and
re-analyzed every minute or so. Test and CI servers often turn it off for repeatable
tests; a benchmark run there measures something no deployment sees: the planner keeps
the statistics of the empty tables the database was created with (and scans a whole
table where an index answers), and every updated row leaves a dead version behind for
good. :class:`AutovacuumStandIn` applies autovacuum's default rules on such a server,
from a thread, through ``psql``, so that the numbers are those of a normal deployment.
When the server's own autovacuum is on, it does nothing.

Default rules (PostgreSQL 15): a table is vacuumed when its dead rows exceed
``50 + 0.2 × rows`` and analyzed when the rows changed since the last analysis exceed
``50 + 0.1 × rows``, checked every minute (``autovacuum_naptime``).
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import devenv  # tools/devenv.py: standard library only

NAPTIME_SECONDS = 60
VACUUM_THRESHOLD, VACUUM_SCALE = 50, 0.2
ANALYZE_THRESHOLD, ANALYZE_SCALE = 50, 0.1


def _psql(db, sql):
    return subprocess.run(["psql", "-h", devenv.PGHOST, "-p", devenv.PGPORT, "-U", devenv.DB_USER, "-d", db,
                           "-tAqc", sql], capture_output=True, text=True, check=True).stdout


def server_autovacuum_on(db):
    return _psql(db, "SHOW autovacuum").strip() == "on"


class AutovacuumStandIn(threading.Thread):
    """Vacuum and analyze ``db``'s tables by autovacuum's default rules, every
    ``naptime`` seconds, while the server's own autovacuum is off.

    :meth:`catch_up` runs one pass at once (after a bulk preparation, which autovacuum
    would have followed within a minute); ``actions`` lists what was done and when.
    """

    def __init__(self, db, naptime=NAPTIME_SECONDS):
        super().__init__(daemon=True)
        self.db = db
        self.naptime = naptime
        self.active = not server_autovacuum_on(db)
        self.actions = []
        self.started_at = time.perf_counter()
        self._stop_event = threading.Event()

    def catch_up(self):
        if not self.active:
            return []
        due = _psql(self.db, f"""
            SELECT format('%s %I.%I', CASE WHEN n_dead_tup > {VACUUM_THRESHOLD} + {VACUUM_SCALE} * c.reltuples
                                         THEN 'VACUUM (ANALYZE)' ELSE 'ANALYZE' END, t.schemaname, t.relname)
              FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid
             WHERE n_dead_tup > {VACUUM_THRESHOLD} + {VACUUM_SCALE} * greatest(c.reltuples, 0)
                OR n_mod_since_analyze > {ANALYZE_THRESHOLD} + {ANALYZE_SCALE} * greatest(c.reltuples, 0)
        """).split("\n")
        done = []
        for command in filter(None, (line.strip() for line in due)):
            started = time.perf_counter()
            _psql(self.db, command)
            done.append({"at_s": round(started - self.started_at, 1), "command": command,
                         "seconds": round(time.perf_counter() - started, 2)})
        self.actions.extend(done)
        return done

    def run(self):
        while self.active and not self._stop_event.wait(self.naptime):
            self.catch_up()

    def stop(self):
        self._stop_event.set()
        if self.is_alive():
            self.join(600)

    def summary(self):
        return {"server_autovacuum": not self.active, "stand_in_actions": self.actions}
