from odoo import api, fields, models
from odoo.tools import SQL

POLL_OUTCOMES = [
    ("success", "Answered"),
    ("failure", "Failed"),
    ("circuit_open", "Refused by the open breaker"),
]


class ShipmentPollStat(models.Model):
    """How many polling calls each connector made, per outcome: the counter behind
    ``shipment_visibility_poll_requests_total``.

    Kept in the database, not in a worker's memory, so that every worker of every server
    reports the same figure and a restart loses nothing.
    """

    _name = "shipment.poll.stat"
    _description = "Polling Calls per Outcome"

    connector_id = fields.Many2one("shipment.connector", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="connector_id.company_id", store=True)
    outcome = fields.Selection(POLL_OUTCOMES, required=True)
    count = fields.Integer(default=0, aggregator="sum")
    last_at = fields.Datetime()

    _sql_constraints = [
        ("connector_outcome_unique", "unique(connector_id, outcome)", "One counter per connector and outcome."),
    ]

    @api.model
    def _add(self, connector, outcome, count):
        """Add ``count`` calls with ``outcome`` to ``connector``'s counter.

        In the polling run's own transaction: the calls counted are those whose answers
        were kept, so a rolled-back run counts nothing twice when it is run again.
        """
        if count <= 0:
            return
        self.env.cr.execute(SQL(
            """
            INSERT INTO shipment_poll_stat (connector_id, company_id, outcome, count, last_at,
                                            create_date, write_date)
            VALUES (%(connector)s, %(company)s, %(outcome)s, %(count)s, now() at time zone 'utc',
                    now() at time zone 'utc', now() at time zone 'utc')
            ON CONFLICT (connector_id, outcome)
            DO UPDATE SET count = shipment_poll_stat.count + EXCLUDED.count, last_at = EXCLUDED.last_at,
                          write_date = EXCLUDED.write_date
            """,
            connector=connector.id, company=connector.company_id.id, outcome=outcome, count=count,
        ))
        self.invalidate_model(["count", "last_at"])
