import logging

from markupsafe import Markup

from odoo import _, api, fields, models

_logger = logging.getLogger(__name__)

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"


class ShipmentAlertIncident(models.Model):
    """One alert of a rule for one connector: when it fired, what it measured, when it resolved.

    Firing creates one activity (for the rule's responsible) and one e-mail to the
    integration administrators; resolving marks the activity done and says so in the
    chatter. The rows stay as the rule's history.
    """

    _name = "shipment.alert.incident"
    _description = "Integration Alert"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "fired_at desc, id desc"

    name = fields.Char(compute="_compute_name", store=True)
    rule_id = fields.Many2one("shipment.alert.rule", required=True, index=True, ondelete="cascade")
    metric = fields.Selection(related="rule_id.metric", store=True)
    connector_id = fields.Many2one("shipment.connector", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="rule_id.company_id", store=True, index=True)
    state = fields.Selection([("firing", "Firing"), ("resolved", "Resolved")], required=True, default="firing",
                             index=True, tracking=True)
    fired_at = fields.Datetime(required=True, default=fields.Datetime.now)
    resolved_at = fields.Datetime()
    fire_value = fields.Float(string="Value When Fired")
    last_value = fields.Float(string="Latest Value")
    clear_streak = fields.Integer(string="Clear Evaluations So Far")

    def init(self):
        # One firing alert per rule and connector, even when two cron workers evaluate at once.
        self.env.cr.execute("CREATE UNIQUE INDEX IF NOT EXISTS shipment_alert_incident_one_firing "
                            "ON shipment_alert_incident (rule_id, connector_id) WHERE state = 'firing'")

    @api.depends("rule_id.name", "connector_id.name")
    def _compute_name(self):
        for incident in self:
            incident.name = f"{incident.rule_id.name or ''}: {incident.connector_id.name or ''}"

    @api.model
    def _fire(self, rule, connector, value, now):
        incident = self.create({
            "rule_id": rule.id, "connector_id": connector.id, "fired_at": now,
            "fire_value": value or 0, "last_value": value or 0,
        })
        incident._notify_fired()
        _logger.warning("alert fired: rule=%s connector=%s value=%s", rule.id, connector.id, value)
        return incident

    def _resolve(self, value, now):
        self.write({"state": "resolved", "resolved_at": now, "last_value": value or 0, "clear_streak": 0})
        for incident in self:
            incident.activity_ids.action_feedback(feedback=_("Resolved by itself: the figure is back to normal."))
            incident.message_post(body=_("Resolved: the figure is now %s.", round(value or 0, 2)))
        _logger.info("alert resolved: %s", ", ".join(f"rule={i.rule_id.id} connector={i.connector_id.id}"
                                                      for i in self))

    def _admins(self):
        return self.env.ref(ADMIN_GROUP).users.filtered(
            lambda user: not user._is_superuser() and user.active and not user.share)

    def _notify_fired(self):
        """One activity for the responsible, one e-mail to every integration administrator."""
        self.ensure_one()
        rule = self.rule_id
        metric = dict(rule._fields["metric"].selection)[rule.metric]
        comparison = dict(rule._fields["comparison"].selection)[rule.comparison]
        summary = _("Alert: %(rule)s (%(connector)s)", rule=rule.name, connector=self.connector_id.name)
        detail = _("%(metric)s is %(value)s (alert when %(comparison)s %(threshold)s).",
                   metric=metric, value=round(self.fire_value, 2), comparison=comparison, threshold=rule.threshold)
        admins = self._admins()
        responsible = rule.user_id or admins[:1]
        if responsible:
            self.activity_schedule("mail.mail_activity_data_warning", user_id=responsible.id,
                                   summary=summary, note=detail)
        recipients = admins.partner_id.filtered("email")
        if recipients:
            self.env["mail.mail"].sudo().create({  # an e-mail from the system, not from a user
                "subject": summary,
                "body_html": Markup("<p>%s</p>") % detail,
                "recipient_ids": [(6, 0, recipients.ids)],
                "model": self._name,
                "res_id": self.id,
                "auto_delete": False,
            })
