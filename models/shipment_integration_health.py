from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

#: Periods the dashboard offers, in hours.
PERIOD_HOURS = {"1h": 1, "24h": 24, "7d": 24 * 7}
SPARKLINE_HOURS = 24
MANAGER_GROUP = "shipment_visibility.group_shipment_manager"


class ShipmentIntegrationHealth(models.AbstractModel):
    """The figures of the integration health dashboard, in one call.

    A handful of aggregate queries over the inbox, the connectors and the shipments
    (each grouped by connector), whatever the number of connectors, so that the page
    stays fast on a database with millions of messages and events.
    """

    _name = "shipment.integration.health"
    _description = "Integration Health Dashboard"

    @api.model
    def get_health_data(self, period="24h"):
        """Per-connector rows and business tiles for ``period`` (``1h``, ``24h`` or ``7d``).

        :return: dict with ``period``, ``since`` and ``now`` (UTC strings), ``connectors``
            (one dict per connector the user may read) and ``tiles``.
        """
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("The integration health dashboard is for managers and integration administrators."))
        if period not in PERIOD_HOURS:
            raise UserError(_("Unknown period %s.", period))
        now = fields.Datetime.now()
        since = now - timedelta(hours=PERIOD_HOURS[period])
        # The connectors this user may read (record rules: their companies); every figure
        # below is restricted to them.
        connectors = self.env["shipment.connector"].with_context(active_test=False).search([])
        ids = connectors.ids
        rows = {connector.id: self._empty_row(connector) for connector in connectors}
        if ids:
            self._fill_inbox(rows, ids, since, now)
            self._fill_sparklines(rows, ids, now)
            self._fill_rejections_and_polls(rows, ids)
            self._fill_unmapped(rows, ids)
        return {
            "period": period,
            "since": fields.Datetime.to_string(since),
            "now": fields.Datetime.to_string(now),
            "connectors": list(rows.values()),
            "tiles": self._business_tiles(since, now),
        }

    def _empty_row(self, connector):
        return {
            "id": connector.id, "name": connector.name, "active": connector.active,
            "connector_type": connector.connector_type, "breaker_state": connector.breaker_state,
            "last_message_at": False, "received": 0, "failed": 0, "dead": 0, "pending": 0,
            "oldest_pending_at": False, "oldest_pending_age_seconds": None, "failure_rate": None,
            "dead_rate": None, "lag_p50_seconds": None, "lag_p95_seconds": None,
            "sparkline": [0] * SPARKLINE_HOURS, "rejections": {}, "rejection_total": 0,
            "poll_success": 0, "poll_failure": 0, "poll_circuit_open": 0, "poll_success_rate": None,
            "unmapped_codes": 0,
        }

    def _query(self, query):
        # Raw SQL: aggregates over millions of rows, restricted to the connectors the
        # user may read (checked by the ORM search above).
        self.env.cr.execute(query)
        return self.env.cr.fetchall()

    def _fill_inbox(self, rows, ids, since, now):
        # Pending messages from the maintained counts, the figure the scrape and the alert
        # rules read too.
        pending_counts = {cid: count for cid, _state, count
                          in self.env["shipment.inbox"]._state_counts(ids, ["pending"])}
        for (cid, last_at, received, failed, dead, oldest, p50, p95) in self._query(SQL(
            """
            SELECT c.id, last.received_at,
                   COALESCE(period.received, 0), COALESCE(period.failed, 0), COALESCE(period.dead, 0),
                   queue.oldest, period.p50, period.p95
              FROM unnest(%(ids)s::int[]) AS c(id)
              LEFT JOIN LATERAL (SELECT received_at FROM shipment_inbox i WHERE i.connector_id = c.id
                                  ORDER BY received_at DESC LIMIT 1) last ON true
              LEFT JOIN LATERAL (
                   SELECT count(*) AS received,
                          count(*) FILTER (WHERE state = 'failed') AS failed,
                          count(*) FILTER (WHERE state = 'dead') AS dead,
                          percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at))
                              FILTER (WHERE state = 'done') AS p50,
                          percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - received_at))
                              FILTER (WHERE state = 'done') AS p95
                     FROM shipment_inbox i
                    WHERE i.connector_id = c.id AND i.received_at >= %(since)s) period ON true
              LEFT JOIN LATERAL (
                   SELECT min(received_at) AS oldest
                     FROM shipment_inbox i WHERE i.connector_id = c.id AND i.state = 'pending') queue ON true
            """, ids=ids, since=since)):
            row = rows[cid]
            pending = pending_counts.get(cid, 0)
            row.update({
                "last_message_at": fields.Datetime.to_string(last_at) if last_at else False,
                "received": received, "failed": failed, "dead": dead, "pending": pending,
                "oldest_pending_at": fields.Datetime.to_string(oldest) if oldest else False,
                "oldest_pending_age_seconds": (now - oldest).total_seconds() if oldest else None,
                "failure_rate": 100.0 * failed / received if received else None,
                "dead_rate": 100.0 * dead / received if received else None,
                "lag_p50_seconds": p50, "lag_p95_seconds": p95,
            })

    def _fill_sparklines(self, rows, ids, now):
        start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=SPARKLINE_HOURS - 1)
        for cid, hour, count in self._query(SQL(
            """
            SELECT connector_id, date_trunc('hour', received_at), count(*)
              FROM shipment_inbox
             WHERE connector_id = ANY(%(ids)s) AND received_at >= %(start)s
             GROUP BY 1, 2
            """, ids=ids, start=start)):
            index = int((hour - start).total_seconds() // 3600)
            if 0 <= index < SPARKLINE_HOURS:
                rows[cid]["sparkline"][index] = count

    def _fill_rejections_and_polls(self, rows, ids):
        for cid, reason, count in self._query(SQL(
                "SELECT connector_id, reason, count FROM shipment_webhook_rejection WHERE connector_id = ANY(%s)",
                ids)):
            rows[cid]["rejections"][reason] = count
            rows[cid]["rejection_total"] += count
        for cid, outcome, count in self._query(SQL(
                "SELECT connector_id, outcome, count FROM shipment_poll_stat WHERE connector_id = ANY(%s)", ids)):
            rows[cid][f"poll_{outcome}"] = count
        for row in rows.values():
            answered = row["poll_success"] + row["poll_failure"]
            row["poll_success_rate"] = 100.0 * row["poll_success"] / answered if answered else None

    def _fill_unmapped(self, rows, ids):
        for cid, count in self._query(SQL(
            """
            SELECT connector_id, count(DISTINCT raw_code) FROM shipment_event
             WHERE milestone = 'unknown' AND connector_id = ANY(%s) GROUP BY connector_id
            """, ids)):
            rows[cid]["unmapped_codes"] = count

    def _business_tiles(self, since, now):
        """Business health, each with the domain of the list behind it."""
        Shipment = self.env["shipment.shipment"]
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        domains = {
            "missing_pod": [("status", "=", "delivered"), ("delivered_at", ">=", since),
                            ("pod_attachment_id", "=", False), ("pod_url", "=", False),
                            ("pod_signed_by", "=", False)],
            "sla_breaches_today": [("sla_state", "=", "late"), ("promised_date", ">=", today),
                                   ("promised_date", "<", now)],
            # Shipments exist once a delivery order has its tracking reference, at validation:
            # linked and still without any event means the carrier has said nothing since.
            # (A domain on the shipment alone: managers need no access to the transfers.)
            "silent_after_done": [("picking_id", "!=", False), ("event_count", "=", 0)],
        }
        tiles = [{"key": key, "model": "shipment.shipment", "count": Shipment.search_count(domain),
                  "domain": domain} for key, domain in domains.items()]
        nothing_new = [("state", "=", "done"), ("event_count", "=", 0), ("received_at", ">=", since)]
        Inbox = self.env["shipment.inbox"]
        tiles.append({"key": "duplicates_suppressed", "model": "shipment.inbox",
                      "count": Inbox.search_count(nothing_new) if Inbox.has_access("read") else 0,
                      "domain": nothing_new})
        for tile in tiles:
            tile["domain"] = [list(leaf) for leaf in tile["domain"]]
            for leaf in tile["domain"]:
                if hasattr(leaf[2], "isoformat"):
                    leaf[2] = fields.Datetime.to_string(leaf[2])
        return tiles
