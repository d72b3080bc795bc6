from odoo import fields, models
from odoo.tools import SQL

from ..integration import taxonomy


class ShipmentEventRollup(models.Model):
    """Figures of each shipment's actual events, kept exact by PostgreSQL triggers.

    The partner performance report and the SLA dashboard need, per shipment, the number
    of actual events, their total reception latency and the first exception. Computing
    them per query read every event of the period: a year is a million events and took
    1.6 s. The row of a shipment is kept here instead, by statement-level triggers on
    ``shipment_event`` that see every writer (the inbox processor's SQL inserts, the ORM,
    imports): inserted events are added to their shipments' rows in one statement; an
    update or a deletion rebuilds the rows of the shipments it touched from their events.
    """

    _name = "shipment.event.rollup"
    _description = "Shipment Actual-Event Figures"
    _log_access = False

    shipment_id = fields.Many2one("shipment.shipment", required=True, readonly=True, ondelete="cascade")
    actual_count = fields.Integer(readonly=True)
    latency_count = fields.Integer(readonly=True, help="Actual events with a reception time.")
    latency_seconds = fields.Float(readonly=True, help="Sum of reception minus occurrence over those events.")
    first_exception_at = fields.Datetime(readonly=True)
    first_exception_milestone = fields.Char(readonly=True)
    first_exception_reason = fields.Char(readonly=True)

    _sql_constraints = [
        ("shipment_unique", "UNIQUE(shipment_id)", "One row of figures per shipment."),
    ]

    def init(self):
        figures = (
            """
            WITH counted AS (
                SELECT shipment_id, count(*) AS actual_count, count(received_at) AS latency_count,
                       COALESCE(sum(EXTRACT(EPOCH FROM received_at - occurred_at)), 0) AS latency_seconds
                  FROM %(source)s
                 WHERE event_class = %(actual)s %(only)s
                 GROUP BY shipment_id
            ), first_exception AS (
                SELECT DISTINCT ON (shipment_id) shipment_id, occurred_at, milestone, reason
                  FROM %(source)s
                 WHERE event_class = %(actual)s AND milestone IN %(exceptions)s %(only)s
                 ORDER BY shipment_id, occurred_at, milestone, reason
            )
            SELECT counted.shipment_id, counted.actual_count, counted.latency_count, counted.latency_seconds,
                   first_exception.occurred_at, first_exception.milestone, first_exception.reason
              FROM counted LEFT JOIN first_exception ON first_exception.shipment_id = counted.shipment_id
            """)
        exceptions = tuple(sorted(taxonomy.EXCEPTION_MILESTONES))

        def aggregate(source, only=None):
            """Each shipment's figures over the actual events of ``source`` (a table or transition table)."""
            return SQL(figures, source=source, actual=taxonomy.ACTUAL, exceptions=exceptions, only=only or SQL())

        columns = SQL("(shipment_id, actual_count, latency_count, latency_seconds, first_exception_at, "
                      "first_exception_milestone, first_exception_reason)")
        # An earlier exception (by time, then milestone, then reason with none last, the
        # order of the old per-query aggregate) replaces the one already kept.
        earlier = SQL(
            """
            EXCLUDED.first_exception_at IS NOT NULL AND (
                rollup.first_exception_at IS NULL
                OR (EXCLUDED.first_exception_at, EXCLUDED.first_exception_milestone)
                   < (rollup.first_exception_at, rollup.first_exception_milestone)
                OR ((EXCLUDED.first_exception_at, EXCLUDED.first_exception_milestone)
                    = (rollup.first_exception_at, rollup.first_exception_milestone)
                    AND EXCLUDED.first_exception_reason IS NOT NULL
                    AND (rollup.first_exception_reason IS NULL
                         OR EXCLUDED.first_exception_reason < rollup.first_exception_reason)))
            """)
        self.env.cr.execute(SQL(
            """
            CREATE OR REPLACE FUNCTION shipment_event_rollup_add() RETURNS trigger LANGUAGE plpgsql AS $body$
            BEGIN
                INSERT INTO shipment_event_rollup AS rollup %(columns)s
                %(added)s
                ON CONFLICT (shipment_id) DO UPDATE SET
                    actual_count = rollup.actual_count + EXCLUDED.actual_count,
                    latency_count = rollup.latency_count + EXCLUDED.latency_count,
                    latency_seconds = rollup.latency_seconds + EXCLUDED.latency_seconds,
                    first_exception_at = CASE WHEN %(earlier)s THEN EXCLUDED.first_exception_at
                                              ELSE rollup.first_exception_at END,
                    first_exception_milestone = CASE WHEN %(earlier)s THEN EXCLUDED.first_exception_milestone
                                                     ELSE rollup.first_exception_milestone END,
                    first_exception_reason = CASE WHEN %(earlier)s THEN EXCLUDED.first_exception_reason
                                                  ELSE rollup.first_exception_reason END;
                RETURN NULL;
            END
            $body$;

            CREATE OR REPLACE FUNCTION shipment_event_rollup_rebuild() RETURNS trigger LANGUAGE plpgsql AS $body$
            DECLARE
                touched integer[];
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    SELECT array_agg(DISTINCT shipment_id) INTO touched FROM old_events;
                ELSE
                    SELECT array_agg(DISTINCT shipment_id) INTO touched
                      FROM (SELECT shipment_id FROM old_events UNION SELECT shipment_id FROM new_events) ids;
                END IF;
                DELETE FROM shipment_event_rollup WHERE shipment_id = ANY(touched);
                INSERT INTO shipment_event_rollup %(columns)s
                %(rebuilt)s;
                RETURN NULL;
            END
            $body$;

            DROP TRIGGER IF EXISTS shipment_event_rollup_insert ON shipment_event;
            CREATE TRIGGER shipment_event_rollup_insert AFTER INSERT ON shipment_event
                REFERENCING NEW TABLE AS new_events
                FOR EACH STATEMENT EXECUTE FUNCTION shipment_event_rollup_add();
            DROP TRIGGER IF EXISTS shipment_event_rollup_update ON shipment_event;
            CREATE TRIGGER shipment_event_rollup_update AFTER UPDATE ON shipment_event
                REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
                FOR EACH STATEMENT EXECUTE FUNCTION shipment_event_rollup_rebuild();
            DROP TRIGGER IF EXISTS shipment_event_rollup_delete ON shipment_event;
            CREATE TRIGGER shipment_event_rollup_delete AFTER DELETE ON shipment_event
                REFERENCING OLD TABLE AS old_events
                FOR EACH STATEMENT EXECUTE FUNCTION shipment_event_rollup_rebuild();
            """,
            columns=columns, earlier=earlier,
            added=aggregate(SQL("new_events")),
            rebuilt=aggregate(SQL("shipment_event"), SQL("AND shipment_id = ANY(touched)"))))
        # Installed on a database that already has events: build every row once.
        self.env.cr.execute(SQL("SELECT 1 FROM shipment_event_rollup LIMIT 1"))
        if not self.env.cr.fetchone():
            self.env.cr.execute(SQL("INSERT INTO shipment_event_rollup %s %s", columns,
                                    aggregate(SQL("shipment_event"))))
