from datetime import timedelta

from markupsafe import Markup

from odoo import _, api, fields, models

from ..integration import correlation, reasons, taxonomy

_logger = correlation.get_logger(__name__)

# Customer e-mails, by milestone group; only the latest group is sent when a partner
# reports several steps at once (nobody wants "shipped" after "delivered").
PROGRESS_GROUPS = ("shipped", "out_for_delivery", "delivered")
TEMPLATES = {
    "shipped": "shipment_visibility.mail_template_shipment_shipped",
    "out_for_delivery": "shipment_visibility.mail_template_shipment_out_for_delivery",
    "delivered": "shipment_visibility.mail_template_shipment_delivered",
    "delayed": "shipment_visibility.mail_template_shipment_delayed",
    "delivery_attempted": "shipment_visibility.mail_template_shipment_delivery_attempted",
    "available_for_pickup": "shipment_visibility.mail_template_shipment_available_for_pickup",
}
ETA_TEMPLATE = "shipment_visibility.mail_template_shipment_new_eta"


class ShipmentWorkflow(models.AbstractModel):
    """Business policies run after events are stored: exceptions, ETA, delivery, e-mails.

    The inbox processor (and the manual event wizard) call :meth:`_run` with the
    shipments that received events; the watchdog cron calls :meth:`_cron_watchdog`.
    Every policy is idempotent: it compares the shipment with what was already done,
    so replays and resent histories trigger nothing twice. For a connector in shadow
    mode nothing is executed; each action is only logged as what *would* have happened.
    """

    _name = "shipment.workflow"
    _description = "Shipment Workflow Policies"

    @api.model
    def _run(self, shipments):
        """Apply every policy to ``shipments`` (which just received events).

        One savepoint covers the whole set; only when something fails are the shipments
        retried one by one, so that a single failing policy (e.g. an invoice that cannot
        be created) never undoes the stored events, which are facts, nor the others.
        """
        shipments = shipments.exists()
        try:
            with self.env.cr.savepoint():
                for shipment in shipments:
                    self._apply_policies(shipment)
        except Exception:  # any policy failure: isolate it below
            for shipment in shipments:
                with correlation.bind(*self.env.context.get("shipment_correlation", {}).get(shipment.id, ())):
                    try:
                        with self.env.cr.savepoint():
                            self._apply_policies(shipment)
                    except Exception:
                        _logger.exception("workflow policies failed for shipment %s", shipment.id)

    def _apply_policies(self, shipment):
        # A shadow shipment only holds what a shadow connector reported; a live shipment
        # whose connector went back to shadow is not acted on either.
        shadow = shipment.shadow or shipment.connector_id.mode == "shadow"
        self._exception_policy(shipment, shadow)
        self._eta_policy(shipment, shadow)
        self._delivered_policy(shipment, shadow)
        self._notification_policy(shipment, shadow)

    @api.model
    def _run_for_all(self):
        """Apply the policies to every shipment that is still moving, plus the watchdog.

        Used after loading histories that did not come through the inbox (demo data, a
        migration) so that the exceptions desk reflects them.
        """
        self._run(self.env["shipment.shipment"].search([]))
        return self._cron_watchdog()

    # ------------------------------------------------------------------ #
    # Helpers
    # ------------------------------------------------------------------ #

    def _act(self, shipment, action, description, shadow, run):
        """Run ``run()`` and log it, or in shadow mode only log what it would have done.

        :return: True when the action was executed.
        """
        Log = self.env["shipment.workflow.log"].sudo()  # an audit trail, written by the system
        if shadow:
            if not Log.search_count([("shipment_id", "=", shipment.id), ("action", "=", action),
                                     ("description", "=", description), ("shadow", "=", True)], limit=1):
                Log.create({"shipment_id": shipment.id, "action": action, "description": description,
                            "shadow": True})
            return False
        run()
        Log.create({"shipment_id": shipment.id, "action": action, "description": description})
        return True

    def _responsible(self, shipment):
        return shipment.picking_id.user_id or shipment.company_id.shipment_exception_user_id

    def _post_on_orders(self, shipment, body):
        for record in (shipment.picking_id, shipment.picking_id.sale_id):
            if record:
                record.message_post(body=body, subtype_xmlid="mail.mt_note")

    def _open_exception(self, shipment, kind, reason, shadow, event=None, note=""):
        Exception_ = self.env["shipment.exception"].sudo()  # opened by the system for the desk
        label = dict(Exception_._fields["reason"].selection).get(reason, reason)
        description = _("%(kind)s: %(reason)s", kind=dict(Exception_._fields["kind"].selection)[kind],
                        reason=label)

        def run():
            exception = Exception_.create({"shipment_id": shipment.id, "kind": kind, "reason": reason,
                                           "event_id": event.id if event else False})
            responsible = self._responsible(shipment)
            if responsible:
                exception.user_id = responsible
                exception.activity_schedule(
                    "mail.mail_activity_data_warning", user_id=responsible.id,
                    summary=_("Shipment %(number)s: %(problem)s", number=shipment.tracking_number, problem=label),
                    note=note or (event.description if event else ""))
            self._post_on_orders(shipment, Markup("<p>%s</p><p>%s</p>") % (
                _("Shipment %(number)s: %(problem)s", number=shipment.tracking_number, problem=description),
                note or (event.description if event and event.description else "")))

        return self._act(shipment, "open_exception", description, shadow, run)

    def _close_exceptions(self, shipment, exceptions, note, shadow):
        if not exceptions:
            return
        # Closed by the system on a carrier event, whoever's event processing triggered it.
        self._act(shipment, "close_exception", note, shadow,
                  lambda: exceptions.sudo()._resolve(note, auto=True))

    # ------------------------------------------------------------------ #
    # Policies
    # ------------------------------------------------------------------ #

    def _exception_policy(self, shipment, shadow):
        last = shipment.last_event_id
        exceptions = shipment.exception_ids.filtered(lambda e: e.state != "resolved")
        carrier_open = exceptions.filtered(lambda e: e.kind == "carrier")
        # A later actual event supersedes every carrier exception raised before it.
        superseded = carrier_open.filtered(lambda e: e.event_id != last or shipment.exception_state == "none")
        if superseded and last:
            self._close_exceptions(shipment, superseded, _("Superseded by “%(event)s” on %(when)s.",
                                                           event=last.description or taxonomy.label(last.milestone),
                                                           when=fields.Datetime.to_string(last.occurred_at)), shadow)
        stale = exceptions.filtered(lambda e: e.kind == "stale")
        if stale:
            # Only then read the events: this policy runs for every shipment of every batch.
            last_received = max(shipment.event_ids.mapped("received_at"), default=False)
            stale = stale.filtered(lambda e: last_received and last_received > e.opened_at)
        if stale:
            self._close_exceptions(shipment, stale, _("The carrier sent news again."), shadow)
        if shipment.exception_state != "none" and last and last not in carrier_open.event_id:
            reason = reasons.classify(last.reason, last.raw_code, last.description)
            self._open_exception(shipment, "carrier", reason, shadow, event=last)

    def _eta_policy(self, shipment, shadow):
        eta, promised = shipment.eta, shipment.promised_date
        at_risk_open = shipment.exception_ids.filtered(lambda e: e.kind == "at_risk" and e.state != "resolved")
        if at_risk_open and (not eta or not promised or eta <= promised or shipment.delivered_at):
            self._close_exceptions(shipment, at_risk_open, _("The expected delivery is within the promise again."),
                                   shadow)
        if not eta or eta == shipment.workflow_eta:
            return
        previous = shipment.workflow_eta
        if not shadow:
            shipment.workflow_eta = eta
        if not promised or eta <= promised or shipment.delivered_at or at_risk_open:
            return
        when = fields.Datetime.to_string(eta)
        note = _("The carrier now expects delivery on %(eta)s, after the promised %(promised)s%(was)s.",
                 eta=when, promised=fields.Datetime.to_string(promised),
                 was=_(" (was %s)", fields.Datetime.to_string(previous)) if previous else "")
        self._open_exception(shipment, "at_risk", "eta_after_promise", shadow, note=note)
        order = shipment.picking_id.sale_id
        salesperson = order.user_id
        if salesperson:
            summary = _("Delivery at risk")
            self._act(shipment, "notify_salesperson", _("%(user)s told about the new date %(eta)s",
                                                        user=salesperson.name, eta=when), shadow,
                      lambda: order.activity_schedule("mail.mail_activity_data_warning", user_id=salesperson.id,
                                                      summary=summary, note=note))
        company = shipment.company_id
        if company.shipment_notify_eta_customer and self._customer_accepts_mail(shipment):
            self._act(shipment, "notify_customer", _("New delivery date %s e-mailed", when), shadow,
                      lambda: self.env.ref(ETA_TEMPLATE).sudo().send_mail(shipment.id))

    def _delivered_policy(self, shipment, shadow):
        if shipment.status != "delivered" or shipment.workflow_delivered_done:
            return
        picking = shipment.picking_id
        delivered_event = shipment.last_event_id
        if not shadow and delivered_event and (delivered_event.pod_url or delivered_event.signed_by):
            # Partners put the proof on the delivery scan itself (ShipEngine, EasyPost signer).
            shipment.write({"pod_url": shipment.pod_url or delivered_event.pod_url,
                            "pod_signed_by": shipment.pod_signed_by or delivered_event.signed_by})
        if (shipment.pod_url or shipment.pod_signed_by) and picking and not shipment.pod_attachment_id:
            self._act(shipment, "attach_pod", _("Proof of delivery of %s attached", shipment.tracking_number),
                      shadow, lambda: self._attach_pod(shipment))
        open_exceptions = shipment.exception_ids.filtered(lambda e: e.state != "resolved")
        self._close_exceptions(shipment, open_exceptions, _("Delivered on %s.",
                                                            fields.Datetime.to_string(shipment.delivered_at)), shadow)
        order = picking.sale_id
        if order and shipment.company_id.shipment_invoice_on_delivery and self._order_fully_delivered(order):
            already = self.env["shipment.workflow.log"].sudo().search_count([
                ("shipment_id", "in", order.picking_ids.shipment_ids.ids), ("action", "=", "create_invoice"),
                ("shadow", "=", shadow)], limit=1)
            if not already and order.invoice_status == "to invoice":
                self._act(shipment, "create_invoice", _("Draft invoice for %s", order.name), shadow,
                          lambda: order._create_invoices())
        if not shadow:
            shipment.workflow_delivered_done = True

    def _attach_pod(self, shipment):
        picking = shipment.picking_id
        values = {"name": _("Proof of delivery %s", shipment.tracking_number), "res_model": "stock.picking",
                  "res_id": picking.id}
        if shipment.pod_url:
            values.update(type="url", url=shipment.pod_url)
        else:
            values.update(type="binary", mimetype="text/plain",
                          raw=_("Delivered %(when)s, signed by %(signer)s",
                                when=fields.Datetime.to_string(shipment.delivered_at),
                                signer=shipment.pod_signed_by).encode())
        attachment = self.env["ir.attachment"].sudo().create(values)  # stored for the order, by the system
        shipment.pod_attachment_id = attachment
        picking.message_post(body=_("Shipment %(number)s delivered%(signer)s.", number=shipment.tracking_number,
                                    signer=_(", signed by %s", shipment.pod_signed_by) if shipment.pod_signed_by
                                    else ""), attachment_ids=attachment.ids, subtype_xmlid="mail.mt_note")

    def _order_fully_delivered(self, order):
        shipments = order.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing"
                                               and p.state != "cancel").shipment_ids
        return bool(shipments) and all(s.status == "delivered" for s in shipments)

    def _customer_accepts_mail(self, shipment):
        partner = shipment.partner_id
        return bool(partner and partner.email and partner.shipment_notifications)

    def _notification_group(self, shipment):
        if shipment.status in ("delivery_attempted", "available_for_pickup"):
            return shipment.status
        if shipment.exception_state != "none" or shipment.status == "delayed":
            return "delayed"
        if shipment.status == "delivered":
            return "delivered"
        if shipment.status == "out_for_delivery":
            return "out_for_delivery"
        if shipment.status in taxonomy.SHIPPED_MILESTONES and shipment.status not in taxonomy.TERMINAL:
            return "shipped"
        return None

    def _notification_policy(self, shipment, shadow):
        group = self._notification_group(shipment)
        if not group or not shipment.company_id.shipment_notify_customers:
            return
        sent = set(filter(None, (shipment.workflow_notified or "").split(",")))
        if group in sent and group != "delayed":
            return
        if group == "delayed":
            # One "delayed" e-mail per problem, not per event of the same problem.
            exception = shipment.exception_ids.filtered(lambda e: e.state != "resolved")[:1]
            key = f"delayed:{exception.id or shipment.last_event_id.id}"
            if key in sent:
                return
        else:
            key = group
        if not self._customer_accepts_mail(shipment):
            return
        siblings = self._order_shipments(shipment) - shipment
        if group == "delivered" and any(s.status != "delivered" for s in siblings):
            return  # "delivered" means the whole order: the last parcel's delivery tells it
        template = self.env.ref(TEMPLATES[group])
        if self._told_on_order(siblings, group):
            done = not shadow  # remembered as told, without a second e-mail
        else:
            done = self._act(shipment, "notify_customer", _("“%(template)s” e-mailed", template=template.name),
                             shadow, lambda: self._send_customer_mail(template, shipment))
        if done:
            sent.add(key)
            if group in PROGRESS_GROUPS:
                # Earlier steps count as told: the customer already knows more than they say.
                sent |= set(PROGRESS_GROUPS[:PROGRESS_GROUPS.index(group)])
            shipment.workflow_notified = ",".join(sorted(sent))

    def _order_shipments(self, shipment):
        """The shipments of the order ``shipment`` belongs to (its delivery order's, without one)."""
        order = shipment.picking_id.sale_id
        if order:
            return order.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing"
                                              and p.state != "cancel").shipment_ids | shipment
        return shipment.picking_id.shipment_ids | shipment

    def _told_on_order(self, siblings, group):
        """Did another shipment of the order already e-mail this milestone (one e-mail per order)?

        For "delayed", only while that shipment's problem is still open.
        """
        for sibling in siblings:
            sent = set(filter(None, (sibling.workflow_notified or "").split(",")))
            if group != "delayed" and group in sent:
                return True
            if group == "delayed" and any(f"delayed:{exception.id}" in sent for exception in
                                          sibling.exception_ids.filtered(lambda e: e.state != "resolved")):
                return True
        return False

    def _send_customer_mail(self, template, shipment):
        # The unsubscribe link is the tracking page's (RFC 8058 one-click as well).
        unsubscribe = shipment._track_url("/unsubscribe")
        headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        template.sudo().send_mail(shipment.id, email_values={"headers": repr(headers)})

    # ------------------------------------------------------------------ #
    # Watchdog
    # ------------------------------------------------------------------ #

    @api.model
    def _cron_watchdog(self):
        """Raise 'no update' exceptions for silent shipments and 'late' ones past their promise."""
        now = fields.Datetime.now()
        Shipment = self.env["shipment.shipment"]
        open_shipments = Shipment.search([("is_terminal", "=", False), ("picking_id", "!=", False),
                                          ("shadow", "=", False)])
        policies = self.env["shipment.sla.policy"]._find_policies(open_shipments)
        for shipment in open_shipments:
            shadow = shipment.shadow or shipment.connector_id.mode == "shadow"
            open_kinds = set(shipment.exception_ids.filtered(lambda e: e.state != "resolved").mapped("kind"))
            policy = policies[shipment.id]
            if shipment.last_event_at:
                limit = policy.max_silence_hours or shipment.company_id.shipment_max_silence_hours
                since = shipment.last_event_at
            else:
                limit = policy.first_scan_hours or shipment.company_id.shipment_first_scan_hours
                since = shipment.picking_id.date_done
            if limit and since and now - since > timedelta(hours=limit) and "stale" not in open_kinds:
                self._open_exception(shipment, "stale", "no_update", shadow, note=_(
                    "No carrier event for more than %s hours.", limit))
            if shipment.promised_date and shipment.promised_date < now and "late" not in open_kinds:
                self._open_exception(shipment, "late", "past_promise", shadow, note=_(
                    "Promised for %s and not delivered yet.", fields.Datetime.to_string(shipment.promised_date)))
        late_resolved = self.env["shipment.exception"].search([
            ("kind", "=", "late"), ("state", "!=", "resolved"), ("shipment_id.is_terminal", "=", True)])
        for exception in late_resolved:
            self._close_exceptions(exception.shipment_id, exception, _("The shipment reached its destination."),
                                   exception.shipment_id.connector_id.mode == "shadow")
        return len(open_shipments)
