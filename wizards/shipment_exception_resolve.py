from odoo import _, fields, models
from odoo.exceptions import UserError


class ShipmentExceptionResolve(models.TransientModel):
    """Resolve exceptions with a note, optionally agreeing a new delivery date."""

    _name = "shipment.exception.resolve"
    _description = "Resolve Shipment Exception"

    note = fields.Text(required=True, help="What was done, for the record (posted on the exception).")
    reschedule = fields.Boolean(string="New promised date")
    new_promised_date = fields.Datetime()

    def action_confirm(self):
        self.ensure_one()
        exceptions = self.env["shipment.exception"].browse(self.env.context.get("active_ids", []))
        if not exceptions:
            raise UserError(_("Select the exceptions to resolve."))
        if self.reschedule:
            if not self.new_promised_date:
                raise UserError(_("Give the new promised date."))
            for shipment in exceptions.shipment_id:
                shipment.promised_date = self.new_promised_date
                body = _("Delivery of %(number)s rescheduled to %(date)s: %(note)s", number=shipment.tracking_number,
                         date=fields.Datetime.to_string(self.new_promised_date), note=self.note)
                for record in (shipment.picking_id, shipment.picking_id.sale_id):
                    if record:
                        record.message_post(body=body, subtype_xmlid="mail.mt_note")
        exceptions._resolve(self.note)
        return {"type": "ir.actions.act_window_close"}
