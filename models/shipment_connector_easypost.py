from odoo import models
from odoo.tools import SQL


class ShipmentConnector(models.Model):
    """What EasyPost needs of Odoo alone: its tracker ids, read back from stored answers."""

    _inherit = "shipment.connector"

    def _easypost_poll_options(self, shipments):
        """Poll options of an EasyPost connector: the tracker id of each shipment known so far.

        A tracker answer (polled or pushed) names its ``trk_…`` id; the latest message
        about one shipment only is the reference. Shipments without one get their tracker
        created, which returns the existing tracker when there is one.

        :return: ``{"tracker_ids": {tracking number: tracker id}}``.
        """
        if not shipments:
            return {"tracker_ids": {}}
        field = self.env["shipment.inbox"]._fields["shipment_ids"]
        rel, message_col, shipment_col = (SQL.identifier(name) for name in
                                          (field.relation, field.column1, field.column2))
        pattern = r'"id"\s*:\s*"(trk_[A-Za-z0-9_]+)"'
        # A regular expression in SQL: reading every stored body back into Python to find
        # one id costs more than the poll itself.
        rows = self.env.execute_query(SQL(
            """
            SELECT DISTINCT ON (rel.%(shipment_col)s) rel.%(shipment_col)s, substring(message.body from %(pattern)s)
              FROM %(rel)s rel
              JOIN shipment_inbox message ON message.id = rel.%(message_col)s
             WHERE message.connector_id = %(connector)s
               AND rel.%(shipment_col)s IN %(ids)s
               AND message.body ~ %(pattern)s
               AND (SELECT count(*) FROM %(rel)s other WHERE other.%(message_col)s = message.id) = 1
             ORDER BY rel.%(shipment_col)s, message.id DESC
            """,
            rel=rel, message_col=message_col, shipment_col=shipment_col, pattern=pattern,
            connector=self.id, ids=tuple(shipments.ids),
        ))
        numbers = dict(zip(shipments.ids, shipments.mapped("tracking_number")))
        return {"tracker_ids": {numbers[shipment_id]: tracker_id for shipment_id, tracker_id in rows if tracker_id}}
