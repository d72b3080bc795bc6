from odoo import models

from ..integration.metrics import CountingTransport


class ShipmentConnector(models.Model):
    """Polling calls counted per outcome, for the operations metrics."""

    _inherit = "shipment.connector"

    def _transport(self):
        transport = super()._transport()
        connector = self

        def record(counts):
            stats = connector.env["shipment.poll.stat"].sudo()  # counters are the system's, not the user's
            for outcome, count in counts.items():
                stats._add(connector, outcome, count)

        return CountingTransport(transport, record)
