import logging

import psycopg2

from odoo import api, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

#: Advisory lock key (``hashtext('shipment_inbox_state_count')`` would do as well): one
#: compaction of the counter table at a time, whichever worker or server runs it.
COMPACT_LOCK_KEY = 7_311_402_215

# The inbox's count by connector and state, kept by PostgreSQL itself. Statement-level
# triggers append one delta row per (connector, state) a statement changed; readers sum
# the rows; the processor folds them into one row per key now and then. Deltas rather
# than one row per key updated in place: an in-place counter row would be locked by every
# message a connector receives until its transaction ends, so that concurrent webhooks of
# one connector would wait for each other's commits, and the processor (moving rows from
# pending to processing to done, in any order of connectors) could deadlock with them.
# Appending takes no lock on existing rows; the sum is exact because each delta commits
# or rolls back with the change it counts.
_COUNTER_DDL = """
CREATE TABLE IF NOT EXISTS shipment_inbox_state_count (
    connector_id integer NOT NULL,
    state varchar NOT NULL,
    count bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS shipment_inbox_state_count_key_idx
    ON shipment_inbox_state_count (connector_id, state);

CREATE OR REPLACE FUNCTION shipment_inbox_state_count_delta() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shipment_inbox_state_count (connector_id, state, count)
             SELECT connector_id, state, count(*) FROM sv_new_rows GROUP BY connector_id, state;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO shipment_inbox_state_count (connector_id, state, count)
             SELECT connector_id, state, -count(*) FROM sv_old_rows GROUP BY connector_id, state;
    ELSIF TG_OP = 'UPDATE' THEN
        -- Most updates (leases, attempts, errors) leave state and connector alone and add nothing.
        INSERT INTO shipment_inbox_state_count (connector_id, state, count)
             SELECT connector_id, state, sum(delta) FROM (
                    SELECT o.connector_id, o.state, -1 AS delta
                      FROM sv_old_rows o JOIN sv_new_rows n ON n.id = o.id
                     WHERE (o.connector_id, o.state) IS DISTINCT FROM (n.connector_id, n.state)
                    UNION ALL
                    SELECT n.connector_id, n.state, 1
                      FROM sv_old_rows o JOIN sv_new_rows n ON n.id = o.id
                     WHERE (o.connector_id, o.state) IS DISTINCT FROM (n.connector_id, n.state)) moved
              GROUP BY connector_id, state HAVING sum(delta) <> 0;
    ELSE  -- TRUNCATE
        DELETE FROM shipment_inbox_state_count;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS shipment_inbox_state_count_ins ON shipment_inbox;
CREATE TRIGGER shipment_inbox_state_count_ins AFTER INSERT ON shipment_inbox
    REFERENCING NEW TABLE AS sv_new_rows FOR EACH STATEMENT EXECUTE FUNCTION shipment_inbox_state_count_delta();
DROP TRIGGER IF EXISTS shipment_inbox_state_count_upd ON shipment_inbox;
-- A transition table excludes a column list (UPDATE OF state): the function skips what did not move.
CREATE TRIGGER shipment_inbox_state_count_upd AFTER UPDATE ON shipment_inbox
    REFERENCING OLD TABLE AS sv_old_rows NEW TABLE AS sv_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION shipment_inbox_state_count_delta();
DROP TRIGGER IF EXISTS shipment_inbox_state_count_del ON shipment_inbox;
CREATE TRIGGER shipment_inbox_state_count_del AFTER DELETE ON shipment_inbox
    REFERENCING OLD TABLE AS sv_old_rows FOR EACH STATEMENT EXECUTE FUNCTION shipment_inbox_state_count_delta();
DROP TRIGGER IF EXISTS shipment_inbox_state_count_trunc ON shipment_inbox;
CREATE TRIGGER shipment_inbox_state_count_trunc AFTER TRUNCATE ON shipment_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION shipment_inbox_state_count_delta();
"""


class ShipmentInbox(models.Model):
    """Operations: the index and the maintained counts behind the per-connector figures
    of the metrics, the health page and the alert rules."""

    _inherit = "shipment.inbox"

    def init(self):
        super().init()
        cr = self.env.cr
        # Latest message per connector, messages of a connector over a period: an ordered
        # scan of one connector's recent rows instead of the whole queue. State and
        # processing time ride along, so that counts and lag figures of a period can be
        # read from the index alone on a vacuumed table.
        cr.execute("CREATE INDEX IF NOT EXISTS shipment_inbox_connector_received_idx "
                   "ON shipment_inbox (connector_id, received_at) INCLUDE (state, processed_at)")
        cr.execute("SELECT to_regclass('shipment_inbox_state_count') IS NULL")
        new_counter = cr.fetchone()[0]
        # Nothing may be written to the inbox between the count below and the trigger:
        # the lock holds intake back for the length of an install or upgrade.
        cr.execute("LOCK TABLE shipment_inbox IN SHARE ROW EXCLUSIVE MODE")
        cr.execute(_COUNTER_DDL)
        if new_counter:
            cr.execute("INSERT INTO shipment_inbox_state_count (connector_id, state, count) "
                       "SELECT connector_id, state, count(*) FROM shipment_inbox GROUP BY connector_id, state")

    # ------------------------------------------------------------------ #
    # STATE COUNTS
    # ------------------------------------------------------------------ #

    @api.model
    def _state_counts(self, connector_ids=None, states=None):
        """Messages by connector and state, exactly ``count(*)`` of the inbox, read from
        the maintained counter: ``[(connector id, state, count)]``, zero counts left out.

        :param list connector_ids: only these connectors (all when None).
        :param list states: only these states (all when None).
        """
        # The counter moves with the inbox rows' writes: pending ORM writes first.
        self.flush_model(["connector_id", "state"])
        conditions = [SQL("TRUE")]
        if connector_ids is not None:
            conditions.append(SQL("connector_id = ANY(%s)", list(connector_ids)))
        if states is not None:
            conditions.append(SQL("state = ANY(%s)", list(states)))
        # Raw SQL: the counter table is the database's, not a model; figures for every
        # company, filtered by the callers to the connectors they may read.
        self.env.cr.execute(SQL(
            "SELECT connector_id, state, sum(count)::bigint FROM shipment_inbox_state_count WHERE %s "
            "GROUP BY connector_id, state HAVING sum(count) <> 0", SQL(" AND ").join(conditions)))
        return self.env.cr.fetchall()

    @api.model
    def _compact_state_counts(self):
        """Fold the counter's delta rows into one row per connector and state.

        Runs after the processor; skipped when another worker is at it. Exact whatever
        runs meanwhile: rows appended by transactions this one does not see stay as they
        are, and the fold commits or rolls back as a whole.

        :return: number of delta rows folded (0 when skipped).
        """
        cr = self.env.cr
        try:
            with cr.savepoint():
                cr.execute(SQL("SELECT pg_try_advisory_xact_lock(%s)", COMPACT_LOCK_KEY))
                if not cr.fetchone()[0]:
                    return 0
                cr.execute("""
                    WITH folded AS (DELETE FROM shipment_inbox_state_count RETURNING connector_id, state, count),
                         kept AS (INSERT INTO shipment_inbox_state_count (connector_id, state, count)
                                  SELECT connector_id, state, sum(count) FROM folded
                                   GROUP BY connector_id, state HAVING sum(count) <> 0)
                    SELECT count(*) FROM folded
                """, log_exceptions=False)  # a concurrent fold is expected, handled below
                return cr.fetchone()[0]
        except psycopg2.errors.SerializationFailure:
            # A fold that committed after this transaction's snapshot touched the same rows:
            # theirs stands, this one is rolled back to the savepoint and waits for next time.
            _logger.debug("inbox state counts: concurrent fold, skipped")
            return 0

    @api.model
    def _cron_process_inbox(self):
        done = super()._cron_process_inbox()
        self._compact_state_counts()
        return done
