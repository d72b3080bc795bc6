from datetime import timedelta, timezone

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..integration import taxonomy
from ..integration.events import CanonicalEvent, EventError, normalize_tracking_number, split_tracking_refs

# A phone update may be typed a little after the fact, never hours ahead of it.
MAX_FUTURE = timedelta(minutes=15)


class ShipmentManualEvent(models.TransientModel):
    """Record a tracking event by hand, e.g. what the carrier said on the phone.

    The event goes through the same normalisation and status derivation as a webhook:
    a :class:`CanonicalEvent` is built and handed to the shipment ingestion.
    """

    _name = "shipment.manual.event"
    _description = "Record a Tracking Event"

    picking_id = fields.Many2one("stock.picking", string="Delivery Order")
    shipment_id = fields.Many2one("shipment.shipment", string="Shipment")
    tracking_number = fields.Char(
        compute="_compute_tracking_number", store=True, readonly=False, required=True, precompute=True,
        help="Tracking number the event is about; with several on the delivery order, pick one.")
    available_refs = fields.Char(compute="_compute_available_refs")
    milestone = fields.Selection(taxonomy.selection(), required=True, default="in_transit")
    event_class = fields.Selection(
        [(taxonomy.ACTUAL, "It happened"), (taxonomy.ESTIMATED, "New estimated delivery")],
        string="Kind", required=True, default=taxonomy.ACTUAL)
    occurred_at = fields.Datetime(string="When", required=True, default=fields.Datetime.now)
    city = fields.Char()
    country_id = fields.Many2one("res.country")
    description = fields.Char(help="What the carrier said.")
    reason = fields.Selection(list(taxonomy.REASONS))

    @api.depends("picking_id", "shipment_id")
    def _compute_tracking_number(self):
        for wizard in self:
            if wizard.shipment_id:
                wizard.tracking_number = wizard.shipment_id.tracking_number
            else:
                refs = split_tracking_refs(wizard.picking_id.carrier_tracking_ref)
                wizard.tracking_number = refs[0] if len(refs) == 1 else False

    @api.depends("picking_id")
    def _compute_available_refs(self):
        for wizard in self:
            wizard.available_refs = ", ".join(split_tracking_refs(wizard.picking_id.carrier_tracking_ref))

    def _check_input(self):
        self.ensure_one()
        try:
            number = normalize_tracking_number(self.tracking_number)
        except EventError:
            raise UserError(_("Enter the tracking number the event is about.")) from None
        if self.milestone not in taxonomy.BY_CODE:
            raise UserError(_("“%s” is not a known milestone.", self.milestone))
        if self.event_class == taxonomy.ACTUAL and self.occurred_at > fields.Datetime.now() + MAX_FUTURE:
            raise UserError(_("An event that happened cannot be dated in the future (%s).",
                              fields.Datetime.to_string(self.occurred_at)))
        if self.picking_id:
            refs = split_tracking_refs(self.picking_id.carrier_tracking_ref)
            if number not in refs:
                raise UserError(_("Tracking number %(number)s is not on delivery order %(picking)s "
                                  "(its refs: %(refs)s).", number=number, picking=self.picking_id.name,
                                  refs=", ".join(refs) or _("none")))
        return number

    def _to_canonical(self, number):
        occurred = self.occurred_at.replace(tzinfo=timezone.utc)
        estimated = self.event_class == taxonomy.ESTIMATED
        return CanonicalEvent(
            tracking_number=number,
            milestone=self.milestone,
            occurred_at=occurred,
            event_class=self.event_class,
            description=self.description or "",
            reason=self.reason or None,
            city=self.city or "",
            country=self.country_id.code or "",
            issued_at=fields.Datetime.now().replace(tzinfo=timezone.utc) if estimated else None,
            raw_code="manual",
        )

    def action_record(self):
        self.ensure_one()
        number = self._check_input()
        event = self._to_canonical(number)
        shipment = self.shipment_id
        if not shipment and self.picking_id:
            shipment = self.picking_id.shipment_ids.filtered(lambda s: s.tracking_number == number)[:1]
        if shipment:
            created = self.env["shipment.event"]._create_from_canonical(
                [event], {number: shipment}, "manual")
        else:
            created = self.env["shipment.shipment"]._ingest_canonical_events([event], "manual")
        shipment = created.shipment_id or shipment
        if not created:
            raise UserError(_("This event is already recorded on shipment %s.", number))
        self.env["shipment.workflow"]._run(shipment)
        shipment.message_post(body=_("Event recorded by hand: %(milestone)s at %(when)s. %(note)s",
                                     milestone=taxonomy.label(self.milestone),
                                     when=fields.Datetime.to_string(self.occurred_at),
                                     note=self.description or ""))
        return {"type": "ir.actions.act_window_close"}
