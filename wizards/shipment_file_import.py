import base64
import binascii

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class ShipmentFileImport(models.TransientModel):
    """Upload a partner file (ANSI X12 214 or CSV) and queue each shipment in it.

    The file goes through :meth:`shipment.connector._import_file`, the same code as the
    inbound-folder watcher: one inbox message per shipment, bad parts stored as failed
    messages naming their line, parts already imported counted as duplicates.
    """

    _name = "shipment.file.import"
    _description = "Import Tracking File"

    connector_id = fields.Many2one(
        "shipment.connector", string="Connector", required=True,
        domain=[("support_files", "=", True)], default=lambda self: self._default_connector(),
        help="The partner the file comes from; its options say how the file is read.")
    connector_type = fields.Selection(related="connector_id.connector_type")
    file = fields.Binary(string="File", attachment=False)
    file_name = fields.Char()
    state = fields.Selection([("upload", "Upload"), ("done", "Imported")], default="upload", required=True)
    imported_count = fields.Integer(string="Imported", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True,
                                  help="Parts that cannot be read: stored as failed messages naming the line.")
    duplicate_count = fields.Integer(string="Already Imported", readonly=True)
    warnings = fields.Text(readonly=True,
                           help="Problems of the file that stopped no part from being imported, with their line.")
    message_ids = fields.Many2many("shipment.inbox", string="Messages", readonly=True)

    @api.model
    def _default_connector(self):
        connectors = self.env["shipment.connector"].search([("support_files", "=", True)], limit=2)
        return connectors if len(connectors) == 1 else connectors.browse()

    def action_import(self):
        self.ensure_one()
        if self.state == "done":
            raise UserError(_("This file was imported already: start a new import."))
        try:
            data = base64.b64decode(self.file or b"", validate=True)
        except (binascii.Error, ValueError):
            raise UserError(_("The uploaded file could not be read.")) from None
        if not data:
            raise UserError(_("The uploaded file is empty."))
        counts = self.connector_id._import_file(self.file_name or _("uploaded file"), data)
        self.write({
            "state": "done",
            "imported_count": counts["imported"],
            "failed_count": counts["failed"],
            "duplicate_count": counts["duplicates"],
            "warnings": "\n".join(counts.get("warnings", ())) or False,
            "message_ids": [(6, 0, counts["message_ids"])],
            # The parts are stored as messages: no need to keep the upload around.
            "file": False,
        })
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Import Tracking File"),
        }

    def action_view_messages(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("shipment_visibility.action_shipment_inbox")
        action["domain"] = [("id", "in", self.message_ids.ids)]
        action["context"] = {}
        return action
