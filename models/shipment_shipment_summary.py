from datetime import timezone

import babel.dates

from odoo import api, fields, models
from odoo.tools.misc import babel_locale_parse

# Problems told in the story, and how long the parcel stayed in each (until the next scan).
HELD_MILESTONES = ("customs_hold", "delayed", "exception", "available_for_pickup")


class ShipmentShipment(models.Model):
    """The shipment's story in one short paragraph, for customer service.

    Deterministic (the same events always give the same words, in the reader's
    language) and built from the actual events only: where and when it was picked up,
    each problem with its reason and how long it lasted, and where it is now (or when
    it was delivered), with the predicted delivery while it is on its way.
    """

    _inherit = "shipment.shipment"

    case_summary = fields.Text(compute="_compute_case_summary", groups="base.group_user",
                               help="The shipment's story so far, in the reader's language.")

    @api.depends_context("lang")
    @api.depends("event_ids", "status", "predicted_delivery")
    def _compute_case_summary(self):
        for shipment in self:
            shipment.case_summary = shipment._case_summary() if isinstance(shipment.id, int) else False

    def _case_summary(self, now=None):
        """The paragraph (see the class docstring), in the environment's language.

        :param datetime now: naive UTC, for "for N days" of a problem still going on.
        """
        self.ensure_one()
        env = self.env
        _ = env._
        locale = babel_locale_parse(env.lang or "en_US")
        now = now or fields.Datetime.now()
        reasons = dict(env["shipment.event"]._fields["reason"]._description_selection(env))
        labels = dict(env["shipment.event"]._fields["milestone"]._description_selection(env))

        def day(value):
            return babel.dates.format_date(value.replace(tzinfo=timezone.utc), "EEEE d MMMM", locale=locale)

        def place(event):
            return event.city or event.country_code or ""

        def where(event):
            return _(" in %s", place(event)) if place(event) else ""

        def why(event):
            return _(", %s", reasons[event.reason].lower()) if event.reason in reasons else ""

        actual = self.sudo().event_ids.filtered(lambda e: e.event_class == "actual").sorted(  # the story reads
            lambda e: (e.occurred_at, e.id))  # every event, whatever the reader may see of the raw codes
        clauses = []
        first = actual[:1]
        if first:
            clauses.append(_("Picked up %(day)s%(where)s", day=day(first.occurred_at), where=where(first))
                           if first.milestone == "picked_up" else
                           _("First scanned %(day)s%(where)s", day=day(first.occurred_at), where=where(first)))
        for index, event in enumerate(actual):
            following = actual[index + 1:index + 2]
            if event.milestone == "delivery_attempted":
                clauses.append(_("delivery attempted %(day)s%(why)s", day=day(event.occurred_at), why=why(event)))
            elif event.milestone in HELD_MILESTONES and event != first:
                until = following.occurred_at if following else now
                days = max((until.date() - event.occurred_at.date()).days, 0)
                duration = _("for %s days", days) if days > 1 else _("for 1 day") if days == 1 else _("the same day")
                if event.milestone == "customs_hold":
                    text = _("held in customs%(where)s %(duration)s%(why)s", where=where(event), duration=duration,
                             why=why(event))
                else:
                    text = _("%(problem)s%(where)s %(day)s, %(duration)s%(why)s", problem=labels[event.milestone],
                             where=where(event), day=day(event.occurred_at), duration=duration, why=why(event))
                clauses.append(text)
        last = actual[-1:]
        if self.status == "delivered" and last:
            clauses.append(_("delivered %(day)s%(where)s", day=day(last.occurred_at), where=where(last)))
        elif last and last != first and last.milestone not in HELD_MILESTONES + ("delivery_attempted",):
            clauses.append(_("now “%(status)s”%(where)s since %(day)s", status=labels[last.milestone].lower(),
                             where=where(last), day=day(last.occurred_at)))
        if self.status != "delivered" and self.predicted_delivery:
            clauses.append(_("expected %(day)s", day=babel.dates.format_date(
                self.predicted_delivery, "EEEE d MMMM", locale=locale)))
        if not clauses:
            return _("No carrier scan yet.")
        text = "; ".join(clauses)
        return text[0].upper() + text[1:] + "."
