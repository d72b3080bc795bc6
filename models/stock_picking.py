from collections import Counter, defaultdict

from odoo import _, api, fields, models
from odoo.tools import SQL

from ..integration.events import split_tracking_refs
from .shipment_shipment import STATUS_SELECTION


class StockPicking(models.Model):
    """Delivery orders own their shipments: one per tracking ref in ``carrier_tracking_ref``."""

    _inherit = "stock.picking"

    # Shadow shipments point at the order too (what the shadow partner would have done
    # needs its customer), but are not the order's shipments.
    shipment_ids = fields.One2many("shipment.shipment", "picking_id", string="Shipments",
                                   domain=[("shadow", "=", False)])
    shipment_count = fields.Integer(compute="_compute_shipment_summary", store=True)
    shipment_status = fields.Selection(
        STATUS_SELECTION, string="Shipment Status", compute="_compute_shipment_summary", store=True,
        index="btree_not_null",
        help="With several shipments: an open exception first, then the least advanced one.")
    shipment_exception = fields.Boolean(
        string="Shipment Exception", compute="_compute_shipment_summary", store=True)
    shipment_eta = fields.Datetime(string="Shipment ETA", compute="_compute_shipment_summary", store=True)
    shipment_late = fields.Boolean(
        string="Shipment Late", compute="_compute_shipment_summary", store=True,
        help="A shipment was delivered after, or is expected after, the promised date.")
    shipment_event_ids = fields.Many2many(
        "shipment.event", string="Tracking Events", compute="_compute_shipment_event_ids")

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("shipment_ids.status", "shipment_ids.exception_state", "shipment_ids.eta",
                 "shipment_ids.sla_state", "shipment_ids.active")
    def _compute_shipment_summary(self):
        order = {code: rank for rank, (code, _label) in enumerate(STATUS_SELECTION)}
        summaries = self._shipment_summary_rows()
        for picking in self:
            if picking.id in summaries:
                shipments = summaries[picking.id]
            else:  # an order being edited, not saved yet
                shipments = [(s.status, s.exception_state, s.eta, s.sla_state) for s in picking.shipment_ids]
            open_statuses = [status for status, exception_state, _eta, _sla in shipments if exception_state != "none"]
            if open_statuses:
                picking.shipment_status = open_statuses[0]
            elif shipments:
                picking.shipment_status = min((status for status, *_rest in shipments), key=order.get)
            else:
                picking.shipment_status = False
            picking.shipment_count = len(shipments)
            picking.shipment_exception = bool(open_statuses)
            etas = [eta for _status, _exception, eta, _sla in shipments if eta]
            picking.shipment_eta = max(etas) if etas else False
            picking.shipment_late = any(sla in ("late", "at_risk") for *_rest, sla in shipments)

    def _shipment_summary_rows(self):
        """Saved order id → ``(status, exception state, ETA, SLA state)`` of its shipments
        (``shipment_ids``: live, not archived), in the shipments' order, read in one query.

        The processor recomputes hundreds of orders per batch: through ``shipment_ids``,
        each batch first fetched every column of every order and of its other one2manys.
        """
        saved = [picking.id for picking in self if picking.id]
        summaries = {picking_id: [] for picking_id in saved}
        if not saved:
            return summaries
        self.env["shipment.shipment"].flush_model(
            ["picking_id", "shadow", "active", "status", "exception_state", "eta", "sla_state", "last_event_at"])
        rows = self.env.execute_query(SQL(
            """
            SELECT picking_id, status, exception_state, eta, sla_state
              FROM shipment_shipment
             WHERE picking_id = ANY(%s) AND shadow IS NOT TRUE AND active
             ORDER BY last_event_at DESC NULLS LAST, id DESC
            """, saved))
        for picking_id, *summary in rows:
            summaries[picking_id].append(tuple(summary))
        return summaries

    @api.depends("shipment_ids.event_ids")
    def _compute_shipment_event_ids(self):
        for picking in self:
            picking.shipment_event_ids = picking.shipment_ids.event_ids.sorted(
                lambda e: (e.occurred_at, e.id), reverse=True)

    # ------------------------------------------------------------------ #
    # CRUD
    # ------------------------------------------------------------------ #

    @api.model_create_multi
    def create(self, vals_list):
        pickings = super().create(vals_list)
        pickings.filtered("carrier_tracking_ref")._sync_shipments()
        return pickings

    def write(self, vals):
        result = super().write(vals)
        if "carrier_tracking_ref" in vals or "carrier_id" in vals:
            self._sync_shipments()
        return result

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_view_shipments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "shipment_visibility.action_shipment_shipment")
        action["domain"] = [("picking_id", "=", self.id)]
        action["context"] = {"create": False}
        if len(self.shipment_ids) == 1:
            action.update(view_mode="form", views=[(False, "form")], res_id=self.shipment_ids.id)
        return action

    def action_record_shipment_event(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Record Tracking Event"),
            "res_model": "shipment.manual.event",
            "view_mode": "form",
            "target": "new",
            "context": {"default_picking_id": self.id},
        }

    # ------------------------------------------------------------------ #
    # BUSINESS METHODS
    # ------------------------------------------------------------------ #

    def _sync_shipments(self):
        """Make these delivery orders' shipments match their tracking refs.

        One shipment per ref: known ones (possibly unmatched, created by early carrier
        events) are attached, missing ones are created, and shipments whose ref was
        removed are detached — never deleted, so no event is lost.

        The shipments of all the orders are read in one search and the missing ones
        created in one ``create``: an import or a wave of validations touches thousands
        of orders, and a search and a create per order made that several times slower.
        A ref that several of these orders carry is attached order by order, so that
        each sees the shipment the previous one created.
        """
        # Delivery orders are written by stock users who need not manage shipments:
        # keeping shipments in step with the ref is bookkeeping, not a user action.
        Shipment = self.env["shipment.shipment"].sudo().with_context(active_test=False)
        Connector = self.env["shipment.connector"].sudo()
        refs_of = {picking.id: split_tracking_refs(picking.carrier_tracking_ref) for picking in self}
        current = Shipment.search([("picking_id", "in", self.ids)])
        current.filtered(lambda s: s.tracking_number not in refs_of[s.picking_id.id]).write({"picking_id": False})
        keys = Counter((picking.company_id.id, ref) for picking in self for ref in refs_of[picking.id])
        if not keys:
            return
        known = defaultdict(Shipment.browse)  # (company id, ref) → its shipments
        for shipment in Shipment.search([("company_id", "in", list({company for company, _ref in keys})),
                                         ("tracking_number", "in", list({ref for _company, ref in keys}))]):
            known[shipment.company_id.id, shipment.tracking_number] |= shipment
        connectors, to_create = {}, []
        for picking in self:
            if not refs_of[picking.id]:
                continue
            company = picking.company_id
            if (picking.carrier_id, company) not in connectors:
                connectors[picking.carrier_id, company] = Connector._find_for_carrier(picking.carrier_id, company)
            connector = connectors[picking.carrier_id, company]
            for ref in refs_of[picking.id]:
                same_ref = known[company.id, ref]
                # What a shadow connector reported stays beside the live data, never on an order.
                same_ref.filtered(lambda s, picking=picking: s.shadow and s.picking_id != picking).write(
                    {"picking_id": picking.id})
                same_ref = same_ref.filtered(lambda s: not s.shadow)
                if not same_ref and keys[company.id, ref] == 1:
                    to_create.append(picking._new_shipment_values(ref, connector))
                else:
                    known[company.id, ref] |= picking._attach_shipment(ref, same_ref, connector)
        if to_create:
            Shipment.create(to_create)

    def _new_shipment_values(self, ref, connector):
        self.ensure_one()
        return {
            "tracking_number": ref,
            "company_id": self.company_id.id,
            "picking_id": self.id,
            "carrier_id": self.carrier_id.id,
            "connector_id": connector.id,
        }

    def _attach_shipment(self, ref, same_ref, connector):
        """Link the best shipment for ``ref`` (creating one if none), merging unmatched twins.

        :param same_ref: existing shipments of the company with that tracking number.
        :return: the shipment now linked.
        """
        self.ensure_one()
        carrier = self.carrier_id
        mine = same_ref.filtered(lambda s: s.picking_id == self)
        own_carrier = same_ref.filtered(lambda s: carrier and s.carrier_id == carrier)
        unmatched = same_ref.filtered(lambda s: not s.picking_id and not s.carrier_id)
        target = (mine or own_carrier.filtered(lambda s: not s.picking_id) or own_carrier)[:1]
        if not target and unmatched:
            target = unmatched[:1]
        if target:
            values = {"picking_id": self.id, "active": True}
            if carrier and not target.carrier_id:
                values["carrier_id"] = carrier.id
            if connector and not target.connector_id:
                values["connector_id"] = connector.id
            target.write(values)
        else:
            target = same_ref.create(self._new_shipment_values(ref, connector))
        # Events that arrived before the ref was known live on unmatched shipments.
        (unmatched - target)._merge_into(target)
        return target
