from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..integration import triage

# Most recent resolved exceptions the triage classifier learns from.
TRIAGE_TRAINING_LIMIT = 5000
# Fewer confirmed examples than this and the classifier keeps quiet.
TRIAGE_MIN_EXAMPLES = 5
# How likely each kind of exception is to end in a late or failed delivery, before any prediction says more.
KIND_RISK = {"late": 1.0, "at_risk": 0.8, "carrier": 0.7, "trending_late": 0.6, "stale": 0.5, "anomaly": 0.5}


class ShipmentException(models.Model):
    """Inferred exceptions (trending late, anomalies) and the triage of carriers' free texts.

    A carrier exception keeps its rule-based reason; the classifier, trained on the
    exceptions the desk resolved by hand, only *suggests* another one with its
    confidence, and a manager confirms it (:meth:`action_accept_suggestion`).
    """

    _inherit = "shipment.exception"

    kind = fields.Selection(selection_add=[("trending_late", "Trending late"), ("anomaly", "Anomaly")],
                            ondelete={"trending_late": "cascade", "anomaly": "cascade"})
    reason = fields.Selection(
        selection_add=[("predicted_late", "Likely to miss the promise"), ("stalled", "Stalled"),
                       ("looping", "Moving backwards or looping"), ("estimate_churn", "Estimate keeps changing"),
                       ("first_scan_missing", "First scan missing")],
        ondelete=dict.fromkeys(("predicted_late", "stalled", "looping", "estimate_churn", "first_scan_missing"),
                               "set default"))
    explanation = fields.Text(
        readonly=True, help="What the system saw, in plain words: why this was opened without a carrier report.")
    suggested_reason = fields.Selection(
        selection="_selection_suggested_reason", readonly=True, copy=False,
        help="What exceptions with similar carrier texts were resolved as. The reason above stays until a "
             "manager accepts the suggestion.")
    suggestion_confidence = fields.Float(string="Confidence (%)", readonly=True, copy=False, digits=(5, 1))
    case_summary = fields.Text(related="shipment_id.case_summary", string="Story")
    priority_score = fields.Float(
        string="Priority", compute="_compute_priority_score", store=True, digits=(12, 2),
        help="Risk × order value × customer importance (each factor switched on or off in the settings): "
             "the desk lists the highest first.")

    @api.depends("kind", "state", "shipment_id.late_probability", "shipment_id.picking_id.sale_id.amount_total",
                 "partner_id.commercial_partner_id.shipment_importance", "company_id.shipment_priority_use_value",
                 "company_id.shipment_priority_use_importance")
    def _compute_priority_score(self):
        for exception in self:
            shipment = exception.shipment_id
            risk = max(KIND_RISK.get(exception.kind, 0.5), (shipment.late_probability or 0.0) / 100)
            company = exception.company_id
            value = 1.0
            if company.shipment_priority_use_value:
                value = max(shipment.picking_id.sale_id.amount_total or 0.0, 1.0)
            importance = 1.0
            if company.shipment_priority_use_importance:
                importance = exception.partner_id.commercial_partner_id.shipment_importance or 1.0
            exception.priority_score = risk * value * importance

    @api.model
    def _selection_suggested_reason(self):
        return self._fields["reason"].selection

    @api.model_create_multi
    def create(self, vals_list):
        exceptions = super().create(vals_list)
        exceptions.filtered(lambda e: e.kind == "carrier" and e.event_id)._suggest_reasons()
        return exceptions

    def _triage_model(self, company):
        """The classifier trained on ``company``'s exceptions resolved by a person."""
        self.env["shipment.exception"].flush_model()
        rows = self.env.execute_query(self._triage_training_sql(company.id))
        return triage.NaiveBayes().fit((triage.tokens(description, raw_code), reason)
                                       for description, raw_code, reason in rows)

    @api.model
    def _triage_training_sql(self, company_id):
        return SQL(
            """
            SELECT e.description, e.raw_code, x.reason
              FROM shipment_exception x
              JOIN shipment_event e ON e.id = x.event_id
             WHERE x.company_id = %s AND x.kind = 'carrier' AND x.state = 'resolved' AND x.auto_resolved IS NOT TRUE
             ORDER BY x.resolved_at DESC, x.id DESC
             LIMIT %s
            """, company_id, TRIAGE_TRAINING_LIMIT)

    def _suggest_reasons(self):
        """Suggest a reason where the classifier disagrees with the rules, confidently enough."""
        for company, exceptions in self.grouped("company_id").items():
            model = self._triage_model(company)
            if model.size < TRIAGE_MIN_EXAMPLES:
                continue
            threshold = company.shipment_triage_confidence
            for exception in exceptions:
                event = exception.event_id.sudo()  # the carrier's words, read for the classifier
                reason, confidence = model.predict(triage.tokens(event.description, event.raw_code))
                if reason and reason != exception.reason and confidence * 100 >= threshold:
                    exception.sudo().write({"suggested_reason": reason,  # system-written, like the exception
                                            "suggestion_confidence": round(confidence * 100, 1)})

    def action_accept_suggestion(self):
        """A manager confirms the suggested reason; the change is written in the chatter."""
        if not self.env.user.has_group("shipment_visibility.group_shipment_manager"):
            raise AccessError(self.env._("Only shipment managers confirm suggested reasons."))
        labels = dict(self._fields["reason"]._description_selection(self.env))
        for exception in self.filtered("suggested_reason"):
            before, after = exception.reason, exception.suggested_reason
            exception.write({"reason": after, "suggested_reason": False, "suggestion_confidence": 0.0})
            exception.message_post(body=Markup("<p>%s</p>") % self.env._(
                "Reason changed from “%(before)s” to the suggested “%(after)s”.", before=labels.get(before, before),
                after=labels.get(after, after)))
        return True

    def action_contact_carrier(self):
        """The carrier gets the shipment's story with the question."""
        action = super().action_contact_carrier()
        summary = self.shipment_id.sudo().case_summary  # the story is about the carrier's own scans
        if summary:
            action["context"]["default_body"] = Markup("<p>%s</p>") % summary
        return action
