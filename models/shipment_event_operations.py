from odoo import models


class ShipmentEvent(models.Model):
    """Operations: the unmapped-code figures and the correlation ids of the policies."""

    _inherit = "shipment.event"

    def init(self):
        super().init()
        # The metrics, the health page and the connectors count distinct unmapped codes:
        # a small index instead of a scan of every event.
        self.env.cr.execute("CREATE INDEX IF NOT EXISTS shipment_event_unmapped_idx "
                            "ON shipment_event (connector_id, raw_code) WHERE milestone = 'unknown'")

    def _correlation_by_shipment(self):
        """``{shipment id: (correlation ids…)}`` of these events, for the policies they trigger."""
        by_shipment = {}
        for event in self.sudo():  # the ids are technical fields of the processor's own events
            if event.correlation_id:
                by_shipment.setdefault(event.shipment_id.id, {})[event.correlation_id] = None
        return {shipment_id: tuple(ids) for shipment_id, ids in by_shipment.items()}
