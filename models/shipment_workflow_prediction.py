import logging

from odoo import _, api, fields, models

_logger = logging.getLogger(__name__)


class ShipmentWorkflow(models.AbstractModel):
    """Predictions follow every batch of events, and "trending late" feeds the desk like an ETA slip.

    The prediction is refreshed before the policies run so that they read today's risk;
    a shipment whose probability of missing its promise passes the company's threshold
    gets a ``trending_late`` exception and its salesperson an activity, usually days
    before the carrier's own estimate moves past the promise.
    """

    _inherit = "shipment.workflow"

    @api.model
    def _run(self, shipments):
        try:
            with self.env.cr.savepoint():
                shipments.exists()._update_predictions()
        except Exception:  # a prediction is an extra: it never holds up the events' own policies
            _logger.exception("predictions failed for shipments %s", shipments.ids)
        return super()._run(shipments)

    def _apply_policies(self, shipment):
        super()._apply_policies(shipment)
        self._prediction_policy(shipment, shipment.shadow or shipment.connector_id.mode == "shadow")

    @api.model
    def _prediction_policies(self, shipments):
        """The trending-late policy alone, for the nightly re-prediction of open shipments."""
        for shipment in shipments:
            self._prediction_policy(shipment, shipment.shadow or shipment.connector_id.mode == "shadow")

    def _prediction_policy(self, shipment, shadow):
        open_trending = shipment.exception_ids.filtered(lambda e: e.kind == "trending_late" and e.state != "resolved")
        if open_trending and (not shipment.prediction_at_risk or shipment.delivered_at):
            self._close_exceptions(shipment, open_trending, _("The shipment is no longer likely to be late."), shadow)
            return
        if not shipment.prediction_at_risk or shipment.delivered_at or open_trending:
            return
        # The carrier's own estimate already said it: the ETA policy told everyone.
        if shipment.exception_ids.filtered(lambda e: e.kind == "at_risk" and e.state != "resolved"):
            return
        note = _("Predicted delivery %(day)s (8 in 10 between %(start)s and %(end)s): %(risk)s%% risk of missing "
                 "the promised %(promised)s.",
                 day=fields.Date.to_string(shipment.predicted_delivery),
                 start=fields.Date.to_string(shipment.predicted_window_start),
                 end=fields.Date.to_string(shipment.predicted_window_end),
                 risk=round(shipment.late_probability), promised=fields.Date.to_string(shipment.promised_date))
        self._open_exception(shipment, "trending_late", "predicted_late", shadow, note=note)
        order = shipment.picking_id.sale_id
        salesperson = order.user_id
        if salesperson:
            self._act(shipment, "notify_salesperson", _("%(user)s told the shipment is trending late",
                                                        user=salesperson.name), shadow,
                      lambda: order.activity_schedule("mail.mail_activity_data_warning", user_id=salesperson.id,
                                                      summary=_("Delivery trending late"), note=note))
