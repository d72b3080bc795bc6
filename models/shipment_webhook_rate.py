from odoo import api, fields, models
from odoo.tools import SQL


class ShipmentWebhookRate(models.Model):
    """The webhook rate limit of each connector: one token bucket in the database.

    Every worker process of every Odoo server takes its tokens from the same row, so the
    connector's limit holds for the whole deployment, not per process or per host. The
    bucket refills at ``rate_limit_per_minute / 60`` tokens a second up to a sixth of the
    minute's budget (the burst), on the database's clock, which all servers share.
    """

    _name = "shipment.webhook.rate"
    _description = "Webhook Rate Limit Bucket"
    _log_access = False

    connector_id = fields.Many2one("shipment.connector", required=True, readonly=True, ondelete="cascade")
    tokens = fields.Float(required=True, readonly=True)
    updated_epoch = fields.Float(string="Updated (Unix time)", required=True, readonly=True)
    taken = fields.Boolean(readonly=True, help="Whether the last call got a token.")

    _sql_constraints = [
        ("connector_unique", "unique(connector_id)", "One bucket per connector."),
    ]

    @api.model
    def _take(self, connector_id, per_minute):
        """Take one token of ``connector_id``'s bucket if one is there now.

        One upsert, in a short READ COMMITTED transaction of its own: concurrent requests
        of a connector wait for each other's row lock (microseconds, the transaction
        holds nothing else) and each sees the tokens the previous one left. Under Odoo's
        REPEATABLE READ they would fail with serialization errors and be replayed, and the
        row would stay locked until the request's own commit.

        :return: 0.0 when the token was taken, else the seconds until one is available.
        :rtype: float
        """
        rate, burst = per_minute / 60.0, max(1, per_minute // 6)
        # Tokens available now: what was left plus the refill since, capped at the burst.
        available = SQL("LEAST(%(burst)s::float8, shipment_webhook_rate.tokens + GREATEST(0, "
                        "extract(epoch FROM clock_timestamp()) - shipment_webhook_rate.updated_epoch) * %(rate)s)",
                        burst=burst, rate=rate)
        query = SQL(
            """
            INSERT INTO shipment_webhook_rate (connector_id, tokens, updated_epoch, taken)
                 VALUES (%(connector)s, %(burst)s - 1, extract(epoch FROM clock_timestamp()), true)
            ON CONFLICT (connector_id) DO UPDATE SET
                   tokens = CASE WHEN %(available)s >= 1 THEN %(available)s - 1 ELSE %(available)s END,
                   taken = %(available)s >= 1,
                   updated_epoch = extract(epoch FROM clock_timestamp())
            RETURNING taken, tokens
            """, connector=connector_id, burst=burst, available=available)
        if self.env.registry.in_test_mode():
            # HTTP tests: every cursor is the test's own transaction, and requests run one
            # at a time.
            taken, tokens = self.env.execute_query(query)[0]
        else:
            with self.env.registry.cursor() as cr:
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                # A bucket lost in a crash refills: no need to wait for the disk.
                cr.execute("SET LOCAL synchronous_commit = off")
                cr.execute(query)
                taken, tokens = cr.fetchone()
        return 0.0 if taken else (1 - tokens) / rate
