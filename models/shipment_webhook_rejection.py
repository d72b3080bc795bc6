from odoo import api, fields, models
from odoo.tools import SQL

from ..integration.rejections import REJECTION_REASONS


class ShipmentWebhookRejection(models.Model):
    """How many webhooks a connector refused, per reason — never what they contained.

    One row per connector and reason, incremented in place, so that an integration
    administrator sees at a glance why a partner's calls bounce.
    """

    _name = "shipment.webhook.rejection"
    _description = "Webhook Rejections"
    _order = "last_at desc"

    connector_id = fields.Many2one("shipment.connector", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="connector_id.company_id", store=True)
    reason = fields.Selection(REJECTION_REASONS, required=True)
    count = fields.Integer(default=0, aggregator="sum")
    last_at = fields.Datetime(string="Last Rejection")

    _sql_constraints = [
        ("connector_reason_unique", "unique(connector_id, reason)", "One counter per connector and reason."),
    ]

    @api.model
    def _count(self, connector, reason):
        """Increment the counter of ``reason`` for ``connector``, at once and for good.

        Runs in a short READ COMMITTED transaction of its own: under Odoo's REPEATABLE
        READ, two requests bumping the same counter at once make the second fail with a
        serialization error, and Odoo replays the whole request, so a burst of refused
        calls (a rate-limited partner) would become a burst of replays and logged errors.
        In READ COMMITTED the second upsert waits for the first's row lock and adds to
        its count. The count also stays when the request's own transaction rolls back.
        """
        query = SQL(
            """
            INSERT INTO shipment_webhook_rejection
                   (connector_id, company_id, reason, count, last_at, create_date, write_date)
            VALUES (%(connector)s, %(company)s, %(reason)s, 1, now() at time zone 'utc',
                    now() at time zone 'utc', now() at time zone 'utc')
            ON CONFLICT (connector_id, reason)
            DO UPDATE SET count = shipment_webhook_rejection.count + 1, last_at = EXCLUDED.last_at,
                          write_date = EXCLUDED.write_date
            """,
            connector=connector.id, company=connector.company_id.id, reason=reason,
        )
        if self.env.registry.in_test_mode():
            # HTTP tests: every cursor is the test's own transaction, and requests run one
            # at a time.
            self.env.cr.execute(query)
        else:
            with self.env.registry.cursor() as cr:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                cr.execute(query)
        self.invalidate_model(["count", "last_at"])
