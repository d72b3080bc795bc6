import json
import uuid
from datetime import timedelta, timezone

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..integration import taxonomy
from ..integration.events import EventError, normalize_tracking_number, split_tracking_refs

# A phone update may be typed a little after the fact, never hours ahead of it.
MAX_FUTURE = timedelta(minutes=15)


class ShipmentManualEvent(models.TransientModel):
    """Record a tracking event by hand, e.g. what the carrier said on the phone.

    The event takes the path of every partner message: an inbox message in our native
    format (``source='manual'``), processed by the inbox processor.
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

    def _native_message(self, number):
        """The entry as a message in our native format, as a partner would send it."""
        now = fields.Datetime.now().replace(tzinfo=timezone.utc)
        occurred = self.occurred_at.replace(tzinfo=timezone.utc)
        event = {
            # Each entry is its own message: the same fact entered twice is recognised by
            # its fingerprint, not by the message.
            "id": f"manual-{uuid.uuid4().hex}",
            "code": self.milestone,
            "class": self.event_class,
            "occurred_at": occurred.isoformat(),
            "raw_code": "manual",
            "description": self.description or "",
            "location": {"city": self.city or None, "country": self.country_id.code or None},
        }
        if self.reason:
            event["reason"] = self.reason
        return json.dumps({
            "type": "shipment.tracking.updated",
            # The issue time of an estimate entered by hand is when it was entered.
            "timestamp": now.isoformat(),
            "data": {"tracking_number": number, "events": [event]},
        }, separators=(",", ":")).encode()

    def action_record(self):
        """Record the event through the inbox, like any partner message, and process it now.

        The message is processed in this transaction (nothing is committed before the
        person sees the result), with the processor's own code: the same dedup, status
        rules and workflow policies as carrier events.
        """
        self.ensure_one()
        number = self._check_input()
        shipment = self.shipment_id
        if not shipment and self.picking_id:
            shipment = self.env["shipment.shipment"].search(
                [("picking_id", "=", self.picking_id.id), ("tracking_number", "=", number)], limit=1)
        company = shipment.company_id or self.env.company
        # The inbox is the system's: whoever may record an event may have it stored.
        Inbox = self.env["shipment.inbox"].sudo()
        connector = self.env["shipment.connector"]._manual_entry_connector(company)
        message_id, _created, _correlation = Inbox._enqueue(
            connector, self._native_message(number), {"User-Agent": f"Odoo user {self.env.uid}"}, source="manual",
            company_id=company.id)
        message = Inbox.browse(message_id)
        if shipment:
            message.write({"target_shipment_id": shipment.id})
        message._process_now()
        if message.state != "done":
            raise UserError(_("The event could not be recorded: %s", message.last_error or message.state))
        if not message.event_count:
            raise UserError(_("This event is already recorded on shipment %s.", number))
        shipment = message.shipment_ids[:1]
        shipment.message_post(body=_("Event recorded by hand: %(milestone)s at %(when)s. %(note)s",
                                     milestone=taxonomy.label(self.milestone),
                                     when=fields.Datetime.to_string(self.occurred_at),
                                     note=self.description or ""))
        return {"type": "ir.actions.act_window_close"}
