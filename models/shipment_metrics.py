import time

from odoo import api, models
from odoo.tools import SQL

from ..integration import metrics

#: Quantiles of the ingest lag (received → processed) reported per connector.
LAG_QUANTILES = (0.5, 0.95, 0.99)
#: Messages processed in this window give the ingest lag figures.
LAG_WINDOW_SECONDS = 3600


class ShipmentMetrics(models.AbstractModel):
    """The operations metrics, read from the database at scrape time.

    Every figure comes from one aggregate query over the tables, so that any number of
    prefork workers or servers answer alike. Other parts of the module add their
    families by overriding :meth:`_extra_metric_families`.
    """

    _name = "shipment.metrics"
    _description = "Operations Metrics"

    @api.model
    def _exposition(self):
        """The Prometheus text exposition of every family, as bytes."""
        started = time.perf_counter()
        families = self._metric_families() + self._extra_metric_families()
        families.append(metrics.gauge(
            "scrape_duration_seconds", "Time spent reading the figures of this scrape from the database.",
            [], [(time.perf_counter() - started,)]))
        return metrics.render(families)

    @api.model
    def _extra_metric_families(self):
        """Hook: more metric families for the same scrape (e.g. the outbox's).

        Override, call super() and append families built with :mod:`integration.metrics`
        (``gauge``, ``counter``, ``summary``), named without the common prefix.

        :rtype: list
        """
        return []

    @api.model
    def _metric_families(self):
        connectors = dict(self._rows("SELECT id, name FROM shipment_connector"))

        def by_connector(rows):
            return [(cid, connectors.get(cid, ""), *rest) for cid, *rest in rows]

        labels = ["connector_id", "connector"]
        return [
            metrics.gauge(
                "inbox_messages", "Inbound messages by connector and state.", [*labels, "state"],
                # Maintained by triggers (see shipment_inbox_operations): the count(*) of a
                # table that only grows, without reading it.
                by_connector(self.env["shipment.inbox"]._state_counts())),
            metrics.gauge(
                "inbox_oldest_pending_age_seconds", "Age of the oldest message waiting to be processed.", labels,
                by_connector(self._rows(
                    """
                    SELECT connector_id, extract(epoch FROM (now() at time zone 'utc') - min(received_at))
                      FROM shipment_inbox WHERE state = 'pending' GROUP BY connector_id
                    """))),
            metrics.gauge(
                "inbox_last_received_timestamp_seconds", "When the connector's latest message arrived (Unix time).",
                labels, by_connector(self._rows(
                    """
                    SELECT c.id, extract(epoch FROM last.received_at)
                      FROM shipment_connector c
                      CROSS JOIN LATERAL (SELECT received_at FROM shipment_inbox i WHERE i.connector_id = c.id
                                           ORDER BY received_at DESC LIMIT 1) last
                    """))),
            metrics.summary(
                "ingest_lag_seconds",
                f"Received to processed, messages processed in the last {LAG_WINDOW_SECONDS} s.", labels,
                by_connector(self._ingest_lag_rows(list(connectors))), LAG_QUANTILES),
            metrics.counter(
                "events_stored", "Tracking events stored, by connector of their shipment.", labels,
                by_connector(self._rows(
                    "SELECT connector_id, sum(event_count) FROM shipment_shipment "
                    "WHERE connector_id IS NOT NULL GROUP BY connector_id"))),
            metrics.counter(
                "webhook_rejections", "Webhook calls refused, by reason.", [*labels, "reason"],
                by_connector(self._rows(
                    "SELECT connector_id, reason, sum(count) FROM shipment_webhook_rejection "
                    "GROUP BY connector_id, reason"))),
            metrics.counter(
                "poll_requests", "Calls to partner tracking APIs, by outcome.", [*labels, "outcome"],
                by_connector(self._rows(
                    "SELECT connector_id, outcome, sum(count) FROM shipment_poll_stat "
                    "GROUP BY connector_id, outcome"))),
            metrics.gauge(
                "circuit_breaker_state", "Circuit breaker of the partner API: 1 for the current state.",
                [*labels, "state"], by_connector(self._breaker_rows())),
            metrics.gauge(
                "unmapped_codes", "Distinct partner codes received without a milestone mapping.", labels,
                by_connector(self._rows(
                    "SELECT connector_id, count(DISTINCT raw_code) FROM shipment_event "
                    "WHERE milestone = 'unknown' AND connector_id IS NOT NULL GROUP BY connector_id"))),
            metrics.gauge(
                "shipments", "Active shipments by status.", ["status"],
                self._rows("SELECT COALESCE(status, 'none'), count(*) FROM shipment_shipment "
                           "WHERE active GROUP BY status")),
            metrics.gauge(
                "exceptions_open", "Shipment exceptions not resolved yet, by reason.", ["reason"],
                self._rows("SELECT reason, count(*) FROM shipment_exception WHERE state != 'resolved' "
                           "GROUP BY reason")),
        ]

    @api.model
    def _ingest_lag_rows(self, connector_ids):
        return self._rows(self._ingest_lag_query(connector_ids))

    @api.model
    def _ingest_lag_query(self, connector_ids):
        # By connector: each one's recent rows are a range of the (connector, received)
        # index, where a scan of the reception time alone would visit every connector's.
        return SQL(
            """
            SELECT connector_id, count(*), sum(lag),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY lag),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
              FROM (SELECT connector_id, extract(epoch FROM processed_at - received_at) AS lag
                      FROM shipment_inbox
                     WHERE connector_id = ANY(%(ids)s) AND state = 'done' AND processed_at IS NOT NULL
                       AND received_at >= (now() at time zone 'utc') - make_interval(secs => %(window)s)) recent
             GROUP BY connector_id
            """, ids=connector_ids, window=LAG_WINDOW_SECONDS)

    @api.model
    def _breaker_rows(self):
        states = [state for state, _label in self.env["shipment.connector"]._fields["breaker_state"].selection]
        return [(cid, state, 1 if state == current else 0)
                for cid, current in self._rows("SELECT id, breaker_state FROM shipment_connector WHERE active")
                for state in states]

    def _rows(self, query):
        # Raw SQL: one aggregate per family over tables of millions of rows, and figures
        # for every company, which is what a monitoring system scrapes.
        self.env.cr.execute(query if isinstance(query, SQL) else SQL(query))
        return self.env.cr.fetchall()
