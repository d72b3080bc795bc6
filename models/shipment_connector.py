from odoo import api, fields, models

CONNECTOR_TYPES = [
    ("generic_json", "Generic JSON (native format)"),
    ("aftership", "AfterShip"),
    ("easypost", "EasyPost"),
    ("shippo", "Shippo"),
    ("seventeentrack", "17TRACK"),
    ("shipengine", "ShipEngine / ShipStation API"),
    ("edi_x12_214", "ANSI X12 EDI 214"),
    ("csv", "CSV file"),
    ("manual", "Manual entry"),
]


class ShipmentConnector(models.Model):
    """One connection to a partner (carrier, aggregator, 3PL, forwarder or broker).

    The ``connector_type`` selects the pure adapter of ``integration.adapters`` that
    reads the partner's format; the connector holds everything else that is specific
    to this partner account: the carriers it covers, its company and its mode.
    """

    _name = "shipment.connector"
    _description = "Shipment Connector"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    connector_type = fields.Selection(
        CONNECTOR_TYPES, string="Type", required=True, default="generic_json", tracking=True,
        help="Partner format this connector speaks; it decides how messages are parsed.")
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company)
    carrier_ids = fields.Many2many(
        "delivery.carrier", string="Carriers", check_company=True,
        help="Delivery methods whose shipments this connector tracks. A delivery order "
             "with one of them gets its shipments attached to this connector.")
    mode = fields.Selection(
        [("live", "Live"), ("shadow", "Shadow")], required=True, default="shadow", tracking=True,
        help="Shadow: messages are ingested and normalized but no business action runs and "
             "nothing is sent to customers, so a partner can be compared before cut-over.")
    shipment_ids = fields.One2many("shipment.shipment", "connector_id")
    shipment_count = fields.Integer(compute="_compute_shipment_count")
    note = fields.Html(string="Notes", help="Partner contacts, onboarding notes.")

    _sql_constraints = [
        ("name_company_unique", "unique(name, company_id)",
         "A connector with this name already exists in this company."),
    ]

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("shipment_ids")
    def _compute_shipment_count(self):
        counts = dict(self.env["shipment.shipment"]._read_group(
            [("connector_id", "in", self.ids)], ["connector_id"], ["__count"]))
        for connector in self:
            connector.shipment_count = counts.get(connector, 0)

    # ------------------------------------------------------------------ #
    # ACTIONS
    # ------------------------------------------------------------------ #

    def action_view_shipments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "shipment_visibility.action_shipment_shipment")
        action["domain"] = [("connector_id", "=", self.id)]
        action["context"] = {"default_connector_id": self.id}
        return action

    # ------------------------------------------------------------------ #
    # BUSINESS METHODS
    # ------------------------------------------------------------------ #

    @api.model
    def _find_for_carrier(self, carrier, company):
        """The active connector tracking ``carrier`` in ``company``, live ones first.

        :param carrier: a ``delivery.carrier`` record (may be empty).
        :param company: a ``res.company`` record.
        :return: a ``shipment.connector`` record or an empty recordset.
        """
        if not carrier:
            return self.browse()
        connectors = self.search([
            ("carrier_ids", "in", carrier.ids),
            ("company_id", "=", company.id),
        ])
        return connectors.sorted(lambda c: (c.mode != "live", c.sequence, c.id))[:1]
