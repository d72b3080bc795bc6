import logging
import uuid
from collections import defaultdict
from datetime import timezone

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL

from ..integration import customer_view, taxonomy
from ..integration import status as status_rules
from ..integration.events import EventError, normalize_tracking_number
from .shipment_event import STATE_INPUT_FIELDS

_logger = logging.getLogger(__name__)

STATUS_SELECTION = taxonomy.selection(include_pending=True)
#: Fields only the processor (as the system) writes: derived from the events, or
#: bookkeeping of polling and of the workflow policies.
PROCESSOR_FIELDS = frozenset({
    "status", "event_count", "customer_milestones", "customer_event_count", "last_event_id", "last_event_at",
    "eta", "eta_window_start", "eta_window_end",
    "shipped_at", "delivered_at", "exception_state", "exception_reason", "is_terminal", "sla_state",
    "last_polled_at", "polling_stopped", "workflow_eta", "workflow_delivered_done", "workflow_notified", "shadow",
    # the prediction's, refreshed on each event and nightly
    "predicted_delivery", "predicted_window_start", "predicted_window_end", "late_probability",
    "prediction_at_risk", "prediction_source", "predicted_at", "predicted_at_pickup", "carrier_eta_at_pickup",
    "predicted_window_start_at_pickup", "predicted_window_end_at_pickup", "trending_late_in_advance",
})


def carrier_tracking_url(template, tracking_number):
    """The carrier's public tracking page of ``tracking_number`` (Odoo's placeholder in a
    delivery method's tracking link), or False."""
    return template.replace("<shipmenttrackingnumber>", tracking_number) if template and tracking_number else False


class ShipmentShipment(models.Model):
    """The canonical shipment: one tracking number at one carrier.

    Its status, ETA, shipped/delivered times and exception flag are *derived* from its
    events by :func:`integration.status.derive`, a pure function of the event set, so
    the same events in any arrival order and with any duplicates give the same state.
    """

    _name = "shipment.shipment"
    _description = "Shipment"
    _inherit = ["mail.thread", "mail.activity.mixin", "portal.mixin"]
    _order = "last_event_at desc nulls last, id desc"
    _rec_name = "tracking_number"
    _rec_names_search = ["tracking_number", "picking_id.name"]
    _check_company_auto = True

    tracking_number = fields.Char(
        required=True, index=True, tracking=True,
        help="Normalized: trimmed, upper-case, without spaces.")
    active = fields.Boolean(default=True)
    shadow = fields.Boolean(
        default=False, readonly=True, index=True, copy=False,
        help="What a connector in shadow mode reported, kept beside the live shipment for the comparison: "
             "never on a delivery order, never acted on.")
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company)
    connector_id = fields.Many2one(
        "shipment.connector", index="btree_not_null", check_company=True, tracking=True,
        ondelete="restrict", groups="base.group_user")
    carrier_id = fields.Many2one("delivery.carrier", string="Carrier", index="btree_not_null",
                                 check_company=True, tracking=True)
    picking_id = fields.Many2one(
        "stock.picking", string="Delivery Order", index="btree_not_null", check_company=True,
        ondelete="set null", tracking=True,
        help="Empty while the tracking number is not on any delivery order yet: events are "
             "kept and the shipment attaches itself when a delivery order gets this ref.")
    sale_id = fields.Many2one(related="picking_id.sale_id", string="Sale Order")
    partner_id = fields.Many2one(
        "res.partner", string="Customer", compute="_compute_partner_id", store=True,
        readonly=False, index="btree_not_null")
    user_id = fields.Many2one(related="picking_id.user_id", string="Responsible", groups="base.group_user")
    event_ids = fields.One2many("shipment.event", "shipment_id", string="Events")
    event_count = fields.Integer(compute="_compute_state_from_events", store=True)
    # The history as customer pages summarise it, kept with the state: a page then reads
    # only the events it shows, whether the history holds five or five hundred.
    customer_milestones = fields.Char(compute="_compute_state_from_events", store=True,
                                      help="Milestones of the actual events, comma-separated.")
    customer_event_count = fields.Integer(compute="_compute_state_from_events", store=True,
                                          help="Events a customer sees on the tracking page.")

    # Derived from the events (see integration.status)
    status = fields.Selection(
        STATUS_SELECTION, default=taxonomy.PENDING, required=True, index=True,
        compute="_compute_state_from_events", store=True, group_expand="_read_group_expand_status")
    last_event_id = fields.Many2one(
        "shipment.event", string="Latest Event", compute="_compute_state_from_events", store=True)
    last_event_at = fields.Datetime(compute="_compute_state_from_events", store=True, index=True)
    last_event_description = fields.Char(related="last_event_id.description", string="Last Event")
    last_location = fields.Char(related="last_event_id.location_display", string="Last Location")
    eta = fields.Datetime(string="ETA", compute="_compute_state_from_events", store=True, tracking=True)
    eta_window_start = fields.Datetime(compute="_compute_state_from_events", store=True)
    eta_window_end = fields.Datetime(compute="_compute_state_from_events", store=True)
    shipped_at = fields.Datetime(compute="_compute_state_from_events", store=True)
    delivered_at = fields.Datetime(compute="_compute_state_from_events", store=True, tracking=True)
    exception_state = fields.Selection(
        [("none", "None"), ("open", "Open"), ("final", "Final")], default="none", required=True,
        compute="_compute_state_from_events", store=True, index=True,
        help="Open: the latest event reports a problem and a later one has not superseded it. "
             "Final: the problem will not resolve by itself (lost, disposed).")
    exception_reason = fields.Selection(
        list(taxonomy.REASONS), compute="_compute_state_from_events", store=True)
    is_terminal = fields.Boolean(compute="_compute_state_from_events", store=True)

    promised_date = fields.Datetime(
        compute="_compute_promised_date", store=True, readonly=False,
        help="Customer commitment: the sale order's delivery date, else the delivery "
             "order's deadline.")
    sla_state = fields.Selection(
        [("no_promise", "No promise"), ("on_track", "On track"), ("at_risk", "At risk"),
         ("on_time", "Delivered on time"), ("late", "Late")],
        string="SLA", compute="_compute_sla_state", store=True, index=True, groups="base.group_user")
    pod_signed_by = fields.Char(string="Signed By")
    pod_url = fields.Char(string="Proof of Delivery URL")
    pod_attachment_id = fields.Many2one("ir.attachment", string="Proof of Delivery")
    tracking_url = fields.Char(compute="_compute_tracking_url")
    customer_tracking_url = fields.Char(
        string="Customer Tracking Page", compute="_compute_customer_tracking_url",
        help="The public page the customer follows this shipment on; anyone with the link can open it. "
             "Regenerate the link to revoke it.")

    # Polling (see shipment.connector._poll_once)
    last_polled_at = fields.Datetime(
        string="Last Polled", copy=False, index="btree_not_null", groups="base.group_user",
        help="When the connector last asked its partner about this shipment.")
    polling_stopped = fields.Boolean(
        string="No longer updated", copy=False, tracking=True, groups="base.group_user",
        help="Polling gave up: the shipment reached the connector's maximum polling age "
             "without a final status. Webhooks and files still update it.")

    # Internal: the desk's work, the policies' memory. Customers on the portal read
    # shipments through record rules; ``groups`` keeps these fields out of their reach.
    exception_ids = fields.One2many("shipment.exception", "shipment_id", string="Exceptions",
                                    groups="base.group_user")
    workflow_log_ids = fields.One2many("shipment.workflow.log", "shipment_id", string="Workflow Actions",
                                       groups="base.group_user")
    # What the workflow policies already acted on, so that replays act only once.
    workflow_eta = fields.Datetime(copy=False, groups="base.group_user")
    workflow_delivered_done = fields.Boolean(copy=False, groups="base.group_user")
    workflow_notified = fields.Char(copy=False, groups="base.group_user")

    _sql_constraints = [
        ("tracking_number_not_empty", "CHECK(tracking_number <> '')",
         "A shipment needs a tracking number."),
    ]

    def init(self):
        # One shipment per tracking number and carrier in a company; a NULL carrier
        # (events from a connector before any delivery order names the carrier) counts
        # as its own value, which a plain UNIQUE constraint would not enforce.
        # A shadow connector keeps its own shipment of each number beside the live one.
        self.env.cr.execute(SQL("DROP INDEX IF EXISTS shipment_shipment_tracking_carrier_uniq"))
        self.env.cr.execute(SQL(
            "CREATE UNIQUE INDEX IF NOT EXISTS shipment_shipment_live_tracking_carrier_uniq "
            "ON shipment_shipment (company_id, tracking_number, COALESCE(carrier_id, 0)) WHERE shadow IS NOT TRUE"))
        self.env.cr.execute(SQL(
            "CREATE UNIQUE INDEX IF NOT EXISTS shipment_shipment_shadow_tracking_carrier_uniq "
            "ON shipment_shipment (company_id, connector_id, tracking_number, COALESCE(carrier_id, 0)) "
            "WHERE shadow"))
        # The public tracking page finds a shipment by its token; one token, one shipment.
        self.env.cr.execute(SQL(
            "CREATE UNIQUE INDEX IF NOT EXISTS shipment_shipment_access_token_uniq "
            "ON shipment_shipment (access_token) WHERE access_token IS NOT NULL"))

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("picking_id.partner_id")
    def _compute_partner_id(self):
        for shipment in self:
            if shipment.picking_id:
                shipment.partner_id = shipment.picking_id.partner_id

    @api.depends("event_ids.fingerprint", "event_ids.milestone", "event_ids.event_class",
                 "event_ids.occurred_at", "event_ids.issued_at", "event_ids.window_end",
                 "event_ids.window_start", "event_ids.reason", "event_ids.description")
    def _compute_state_from_events(self):
        Event = self.env["shipment.event"]
        stored, customer_facts = self._stored_state_inputs()
        for shipment in self:
            if isinstance(shipment.id, int):
                state = status_rules.derive_unique(stored.get(shipment.id, ()))
                last = Event.browse(state.last_event.record_id) if state.last_event else Event
                history = customer_view.history_summary(customer_facts.get(shipment.id, ()))
            else:
                # A shipment being edited in a form: its events exist in the cache only.
                events = shipment.event_ids
                by_fingerprint = {event.fingerprint: event for event in events}
                state = status_rules.derive([event._to_canonical() for event in events])
                # Map back through the stored fingerprint: the one recomputed from the
                # record lacks the carrier code the adapter saw.
                last = by_fingerprint.get(state.last_event.extra["fingerprint"]) if state.last_event else Event
                history = customer_view.history_summary(
                    (event.milestone, event.event_class, event.description) for event in events)
            shipment.update({
                "status": state.status,
                "event_count": state.event_count,
                "customer_milestones": ",".join(history.milestones) or False,
                "customer_event_count": history.shown_count,
                "last_event_id": last,
                "last_event_at": _naive(state.last_event.occurred_at) if state.last_event else False,
                "eta": _naive(state.eta),
                "eta_window_start": _naive(state.eta_window_start),
                "eta_window_end": _naive(state.eta_window_end),
                "shipped_at": _naive(state.shipped_at),
                "delivered_at": _naive(state.delivered_at),
                "exception_state": ("final" if state.exception_final else "open")
                if state.has_open_exception else "none",
                "exception_reason": state.exception_reason if state.has_open_exception else False,
                "is_terminal": state.status in taxonomy.TERMINAL,
            })

    def _stored_state_inputs(self):
        """What state derivation reads of the stored events of these shipments, in one query.

        The inbox re-derives every touched shipment's whole history after each batch;
        reading a dozen fields of thousands of events through the ORM cost more than
        the derivation itself.

        :return: ``(states, customer_facts)``: dicts shipment id → list of
            :class:`integration.status.StoredEvent`, and shipment id → list of
            ``(milestone, event_class, described)`` for
            :func:`integration.customer_view.history_summary`.
        """
        ids = [shipment_id for shipment_id in self._ids if isinstance(shipment_id, int)]
        if not ids:
            return {}, {}
        self.env["shipment.event"].flush_model(["shipment_id", "description", *STATE_INPUT_FIELDS])
        rows = self.env.execute_query(SQL(
            """
            SELECT shipment_id, id, fingerprint, milestone, event_class, occurred_at,
                   issued_at, window_start, window_end, reason, COALESCE(description, '') <> ''
              FROM shipment_event
             WHERE shipment_id = ANY(%s)
            """, ids))
        by_shipment, customer_facts = defaultdict(list), defaultdict(list)
        for (shipment_id, event_id, fingerprint, milestone, event_class, occurred, issued, start, end, reason,
             described) in rows:
            by_shipment[shipment_id].append(status_rules.StoredEvent(
                event_id, fingerprint, milestone, event_class, _aware(occurred), _aware(issued), _aware(start),
                _aware(end), reason or None))
            customer_facts[shipment_id].append((milestone, event_class, described))
        return by_shipment, customer_facts

    @api.depends("picking_id.sale_id.commitment_date", "picking_id.date_deadline")
    def _compute_promised_date(self):
        for shipment in self:
            picking = shipment.picking_id
            if picking:
                shipment.promised_date = picking.sale_id.commitment_date or picking.date_deadline

    @api.depends("promised_date", "eta", "delivered_at", "status")
    def _compute_sla_state(self):
        for shipment in self:
            promised = shipment.promised_date
            if not promised:
                shipment.sla_state = "no_promise"
            elif shipment.delivered_at:
                shipment.sla_state = "on_time" if shipment.delivered_at <= promised else "late"
            elif shipment.eta and shipment.eta > promised:
                shipment.sla_state = "at_risk"
            else:
                shipment.sla_state = "on_track"

    @api.depends("carrier_id", "tracking_number")
    def _compute_tracking_url(self):
        for shipment in self:
            # The carrier's public tracking page: shipment users need no stock rights to see
            # it, and delivery methods are readable by stock users only.
            shipment.tracking_url = carrier_tracking_url(shipment.carrier_id.sudo().tracking_url,
                                                         shipment.tracking_number)

    @api.model
    def _read_group_expand_status(self, statuses, domain):
        return [code for code, _label in STATUS_SELECTION]

    # ------------------------------------------------------------------ #
    # CONSTRAINTS AND CRUD
    # ------------------------------------------------------------------ #

    @api.model
    def _normalize_vals(self, vals):
        if "tracking_number" in vals:
            try:
                vals["tracking_number"] = normalize_tracking_number(vals["tracking_number"])
            except EventError:
                raise ValidationError(_("A shipment needs a tracking number.")) from None
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_processor_fields(vals)
        vals_list = [self._normalize_vals(dict(vals)) for vals in vals_list]
        for vals in vals_list:
            # Every shipment gets its tracking page link at birth: e-mails, delivery slips
            # and the share action then never write while they render.
            vals.setdefault("access_token", str(uuid.uuid4()))
        return super().create(vals_list)

    def write(self, vals):
        self._check_processor_fields(vals)
        return super().write(self._normalize_vals(dict(vals)))

    @api.model
    def _check_processor_fields(self, vals):
        # What a shipment's events say (status, times, ETA, exception) and what the
        # polling and workflow policies recorded are the processor's to write: a person
        # changes them by recording an event, which takes the path of every message.
        if self.env.su:
            return
        written = set(vals) & PROCESSOR_FIELDS
        if written:
            raise AccessError(_(
                "%(fields)s follow from the shipment's events: record an event instead of editing them.",
                fields=", ".join(sorted(self._fields[name].string for name in written))))

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_open_picking(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "stock.picking",
            "res_id": self.picking_id.id,
            "view_mode": "form",
        }

    def action_record_event(self):
        """Open the manual event wizard (a phone update from the carrier)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Record Tracking Event"),
            "res_model": "shipment.manual.event",
            "view_mode": "form",
            "target": "new",
            "context": {"default_shipment_id": self.id},
        }

    # ------------------------------------------------------------------ #
    # BUSINESS METHODS: ingestion
    # ------------------------------------------------------------------ #

    @api.model
    def _find_or_create_for_events(self, tracking_numbers, connector=None, company=None, carrier=None):
        """The shipment of each tracking number, creating unmatched ones when unknown.

        Matching prefers a shipment of one of the connector's carriers, then one without
        carrier, then any shipment with that number in the company; events for numbers
        nobody knows yet are kept on a new shipment without delivery order, which
        attaches itself later (see ``stock.picking._sync_shipments``).

        :return: dict tracking number → ``shipment.shipment`` record.
        """
        company = company or (connector.company_id if connector else self.env.company)
        carriers = carrier or (connector.carrier_ids if connector else self.env["delivery.carrier"])
        numbers = list(dict.fromkeys(tracking_numbers))
        # A shadow connector writes on shipments of its own, beside the live ones: what it
        # reports is compared with them, and must never change them.
        shadow = bool(connector and connector.mode == "shadow")
        domain = [("company_id", "=", company.id), ("tracking_number", "in", numbers), ("shadow", "=", shadow)]
        if shadow:
            domain.append(("connector_id", "=", connector.id))
        # Only the matching keys: a plain search would fetch every column of each shipment.
        existing = self.with_context(active_test=False).search_fetch(
            domain, ["tracking_number", "carrier_id", "picking_id"])
        by_number = defaultdict(list)
        for shipment in existing:
            by_number[shipment.tracking_number].append(shipment)
        result, to_create = {}, []
        for number in numbers:
            candidates = sorted(by_number.get(number, []), key=lambda s: (
                s.carrier_id not in carriers if carriers else False,
                bool(s.carrier_id),
                not s.picking_id,
                s.id,
            ))
            if candidates:
                result[number] = candidates[0]
            else:
                to_create.append({
                    "tracking_number": number,
                    "company_id": company.id,
                    "connector_id": connector.id if connector else False,
                    "carrier_id": carriers.id if len(carriers) == 1 else False,
                    "shadow": shadow,
                })
        if shadow and to_create:
            # A shadow shipment answers for the same order as its live twin, so that what
            # the shadow partner would have done names the right customer.
            twins = self.with_context(active_test=False).search_fetch([
                ("company_id", "=", company.id), ("tracking_number", "in", [v["tracking_number"] for v in to_create]),
                ("shadow", "=", False), ("picking_id", "!=", False)], ["tracking_number", "picking_id"])
            orders = {twin.tracking_number: twin.picking_id.id for twin in twins}
            for values in to_create:
                values["picking_id"] = orders.get(values["tracking_number"], False)
        for shipment in self.create(to_create):
            result[shipment.tracking_number] = shipment
        return result

    def _apply_partner_facts(self, shipment_info):
        """Store facts that are not events (proof of delivery) from an adapter's result.

        :param dict shipment_info: tracking number → dict with ``signed_by``, ``pod_url``…
        """
        for shipment in self:
            info = shipment_info.get(shipment.tracking_number) or {}
            values = {}
            if info.get("signed_by") and info["signed_by"] != shipment.pod_signed_by:
                values["pod_signed_by"] = str(info["signed_by"])[:255]
            if info.get("pod_url") and info["pod_url"] != shipment.pod_url:
                values["pod_url"] = str(info["pod_url"])[:2000]
            if info.get("pod_file"):
                values.update(shipment._pod_file_values(info["pod_file"]))
            if values:
                shipment.write(values)

    def _pod_file_values(self, pod_file):
        """Store an inline proof of delivery (checked by the adapter) as an attachment.

        The same file sent again (a replay, a resent history) is the attachment already
        there, so nothing is added twice.

        :param pod_file: a :class:`~integration.proof_of_delivery.PodFile`.
        :return: values to write on the shipment.
        :rtype: dict
        """
        self.ensure_one()
        Attachment = self.env["ir.attachment"].sudo()  # written by the processor for the shipment's readers
        checksum = Attachment._compute_checksum(pod_file.data)
        if self.pod_attachment_id and self.pod_attachment_id.sudo().checksum == checksum:
            return {}
        owner = self.picking_id or self
        attachment = Attachment.create({
            "name": pod_file.file_name, "raw": pod_file.data, "mimetype": pod_file.content_type,
            "res_model": owner._name, "res_id": owner.id,
        })
        return {"pod_attachment_id": attachment.id}

    def _merge_into(self, target):
        """Move this shipment's events onto ``target`` (skipping known facts) and delete it.

        Used when an unmatched shipment (no carrier yet) meets the delivery order's own
        shipment for the same tracking number: one shipment, no event lost or doubled.
        """
        target.ensure_one()
        for shipment in self - target:
            known = set(target.event_ids.mapped("fingerprint"))
            moving = shipment.event_ids.filtered(lambda e, known=known: e.fingerprint not in known)
            moving.write({"shipment_id": target.id})
            _logger.info("merged shipment %s (%d events) into %s", shipment.id, len(moving), target.id)
            shipment.unlink()


def _aware(value):
    return value.replace(tzinfo=timezone.utc) if value else None


def _naive(value):
    """Odoo stores UTC datetimes without tzinfo."""
    return value.replace(tzinfo=None) if value else False
