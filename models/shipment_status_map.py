from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..integration import taxonomy


class ShipmentStatusMap(models.Model):
    """Raw partner code → canonical milestone, editable so onboarding needs no code.

    Rows without connector are the defaults of a connector type (shipped as data, the
    same table as the adapter's own); a row on a connector overrides them for that
    partner account only.
    """

    _name = "shipment.status.map"
    _description = "Partner Status Mapping"
    _order = "connector_type, connector_id, raw_code"
    _rec_name = "raw_code"

    connector_type = fields.Selection(selection="_selection_connector_type", required=True, index=True)
    connector_id = fields.Many2one(
        "shipment.connector", index="btree_not_null", ondelete="cascade",
        help="Leave empty for the default of every connector of this type.")
    company_id = fields.Many2one(related="connector_id.company_id", store=True)
    raw_code = fields.Char(string="Partner Code", required=True,
                           help="The partner's status code exactly as sent (case-sensitive).")
    milestone = fields.Selection(taxonomy.selection(include_unknown=True), required=True)
    reason = fields.Selection(list(taxonomy.REASONS))
    active = fields.Boolean(default=True)
    note = fields.Char()

    @api.model
    def _selection_connector_type(self):
        # The connector's own list: partners added by other addons are mapped the same way.
        return self.env["shipment.connector"]._fields["connector_type"].selection

    _sql_constraints = [
        ("code_unique", "unique(connector_type, connector_id, raw_code)",
         "This partner code is already mapped for this connector (or connector type)."),
    ]

    def init(self):
        # unique() treats NULL connectors as distinct: defaults need their own index.
        self.env.cr.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS shipment_status_map_default_uniq "
            "ON shipment_status_map (connector_type, raw_code) WHERE connector_id IS NULL")

    @api.constrains("connector_id", "connector_type")
    def _check_connector_type(self):
        for row in self:
            if row.connector_id and row.connector_id.connector_type != row.connector_type:
                raise ValidationError(_("Mapping %(code)s is for %(type)s connectors, not for %(connector)s.",
                                        code=row.raw_code, type=row.connector_type,
                                        connector=row.connector_id.display_name))

    @api.onchange("connector_id")
    def _onchange_connector_id_set_type(self):
        if self.connector_id:
            self.connector_type = self.connector_id.connector_type

    @api.model
    def _mapping_for(self, connector):
        """Admin mappings for one connector: defaults of its type, then its own overrides.

        :return: dict raw code → (milestone, reason or None), as adapters expect.
        """
        rows = self.search([
            ("connector_type", "=", connector.connector_type),
            ("connector_id", "in", [False, connector.id]),
        ])
        mapping = {}
        # Defaults first so that the connector's own rows overwrite them.
        for row in rows.sorted(lambda r: bool(r.connector_id)):
            mapping[row.raw_code] = (row.milestone, row.reason or None)
        return mapping
