from odoo import models


class ShipmentInbox(models.Model):
    """Operations: the index behind the per-connector figures of the metrics, the health
    page and the alert rules."""

    _inherit = "shipment.inbox"

    def init(self):
        super().init()
        # Latest message per connector, messages of a connector over a period: an ordered
        # scan of one connector's recent rows instead of the whole queue. State and
        # processing time ride along, so that counts and lag figures of a period can be
        # read from the index alone on a vacuumed table.
        self.env.cr.execute("CREATE INDEX IF NOT EXISTS shipment_inbox_connector_received_idx "
                            "ON shipment_inbox (connector_id, received_at) INCLUDE (state, processed_at)")
