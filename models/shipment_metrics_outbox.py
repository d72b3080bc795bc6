"""The outbox's figures in the Prometheus scrape: backlog, age, failures, health per subscription."""

from odoo import api, models

from ..integration import metrics


class ShipmentMetrics(models.AbstractModel):
    _inherit = "shipment.metrics"

    @api.model
    def _extra_metric_families(self):
        subscriptions = {row[0]: row[1:] for row in self._rows(
            "SELECT id, name, kind, enabled, consecutive_failures FROM shipment_subscription")}

        def by_subscription(rows):
            return [(sid, subscriptions.get(sid, ("",))[0], *rest) for sid, *rest in rows]

        labels = ["subscription_id", "subscription"]
        return super()._extra_metric_families() + [
            metrics.gauge(
                "outbox_deliveries", "Outgoing deliveries by subscription and state.", [*labels, "state"],
                by_subscription(self._rows(
                    "SELECT subscription_id, state, count(*) FROM shipment_outbox_delivery "
                    "GROUP BY subscription_id, state"))),
            metrics.gauge(
                "outbox_oldest_pending_age_seconds",
                "Age of the oldest delivery not yet made, per subscription.", labels,
                by_subscription(self._rows(
                    "SELECT subscription_id, extract(epoch FROM (now() at time zone 'utc') - min(create_date)) "
                    "FROM shipment_outbox_delivery WHERE state IN ('pending', 'sending') "
                    "GROUP BY subscription_id"))),
            metrics.counter(
                "outbox_delivery_attempts", "Delivery attempts per subscription and outcome.",
                [*labels, "outcome"],
                by_subscription(self._rows(
                    "SELECT subscription_id, CASE WHEN success THEN 'success' ELSE 'failure' END, count(*) "
                    "FROM shipment_outbox_attempt GROUP BY 1, 2"))),
            metrics.gauge(
                "subscription_enabled", "1 while the subscription receives messages, 0 once disabled.",
                [*labels, "kind"],
                [(sid, name, kind, 1 if enabled else 0) for sid, (name, kind, enabled, _f) in subscriptions.items()]),
            metrics.gauge(
                "subscription_consecutive_failures", "Failed attempts since the subscription's last success.",
                labels, [(sid, name, failures) for sid, (name, _k, _e, failures) in subscriptions.items()]),
        ]
