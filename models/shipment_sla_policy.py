from odoo import api, fields, models
from odoo.tools import SQL


class ShipmentSlaPolicy(models.Model):
    """Service levels expected from a partner: transit time, first scan, silence, POD.

    A policy applies to the shipments matching every criterion it sets (an empty
    criterion matches anything). When several apply, the most specific wins: a policy
    naming the connector beats one naming the carrier, then the service level, then the
    destination country, then a company-specific policy beats a shared one; among equally
    specific policies the lowest sequence wins. :meth:`_find_policy` implements the rule
    in Python and :meth:`_policy_match_sql` the same rule in SQL for the reports.
    """

    _name = "shipment.sla.policy"
    _description = "Shipment SLA Policy"
    _order = "sequence, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    sequence = fields.Integer(default=10, help="Among equally specific policies, the lowest sequence applies.")
    company_id = fields.Many2one(
        "res.company", index=True, default=lambda self: self.env.company,
        help="Empty: the policy applies in every company.")
    connector_id = fields.Many2one(
        "shipment.connector", string="Connector", check_company=True, ondelete="cascade",
        help="Only shipments tracked by this connector. Empty: any connector.")
    carrier_id = fields.Many2one(
        "delivery.carrier", string="Carrier", check_company=True, ondelete="cascade",
        help="Only shipments of this delivery method. Empty: any carrier.")
    service_level = fields.Char(
        help="Only shipments whose delivery method is named so (ignoring case, in any "
             "language), e.g. 'Express Saver'. Empty: any service.")
    country_ids = fields.Many2many(
        "res.country", "shipment_sla_policy_country_rel", "policy_id", "country_id",
        string="Destination Countries",
        help="Only shipments to a customer in one of these countries. Empty: any destination.")
    transit_hours = fields.Float(
        string="Transit Time (h)",
        help="Expected time from the first carrier scan to delivery. A delivery later than "
             "this is late. Zero: no target (the promised date decides).")
    first_scan_hours = fields.Float(
        string="First Scan Within (h)",
        help="The carrier must scan the parcel within this time after the delivery order "
             "is validated. Zero: no target.")
    max_silence_hours = fields.Float(
        string="Maximum Silence (h)",
        help="Longest acceptable time without any carrier event while a shipment is "
             "under way. Zero: no target.")
    pod_hours = fields.Float(
        string="Proof of Delivery Within (h)",
        help="The proof of delivery must be available within this time after delivery. "
             "Zero: no deadline, a missing proof counts as soon as the parcel is delivered.")
    specificity = fields.Char(compute="_compute_specificity", help="What this policy is matched on.")

    _sql_constraints = [
        ("hours_positive",
         "CHECK(COALESCE(transit_hours, 0) >= 0 AND COALESCE(first_scan_hours, 0) >= 0 "
         "AND COALESCE(max_silence_hours, 0) >= 0 AND COALESCE(pod_hours, 0) >= 0)",
         "SLA durations cannot be negative."),
    ]

    # ------------------------------------------------------------------ #
    # COMPUTE METHODS
    # ------------------------------------------------------------------ #

    @api.depends("connector_id", "carrier_id", "service_level", "country_ids", "company_id")
    def _compute_specificity(self):
        for policy in self:
            parts = []
            if policy.connector_id:
                parts.append(self.env._("Connector"))
            if policy.carrier_id:
                parts.append(self.env._("Carrier"))
            if (policy.service_level or "").strip():
                parts.append(self.env._("Service level"))
            if policy.country_ids:
                parts.append(self.env._("Country"))
            policy.specificity = " + ".join(parts) or self.env._("Generic")

    # ------------------------------------------------------------------ #
    # BUSINESS METHODS
    # ------------------------------------------------------------------ #

    @api.model
    def _find_policy(self, shipment):
        """The policy that applies to ``shipment``, or an empty recordset.

        :param shipment: one ``shipment.shipment`` record (an empty one gives no policy).
        """
        if not shipment:
            return self.browse()
        shipment.ensure_one()
        return self._find_policies(shipment)[shipment.id]

    @api.model
    def _find_policies(self, shipments):
        """The policy of each shipment, in one search per company.

        :return: dict shipment id → ``shipment.sla.policy`` (possibly empty).
        """
        result = {}
        names = self._carrier_names(shipments.carrier_id)
        for company, company_shipments in shipments.grouped("company_id").items():
            candidates = self.search([("company_id", "in", [False, company.id])]).sorted(_precedence)
            for shipment in company_shipments:
                result[shipment.id] = next(
                    (policy for policy in candidates if policy._matches(shipment, names)), self.browse())
        return result

    def _matches(self, shipment, carrier_names):
        """True when every criterion this policy sets matches ``shipment``."""
        self.ensure_one()
        service_level = _service_key(self.service_level)
        return (
            (not self.connector_id or self.connector_id == shipment.connector_id)
            and (not self.carrier_id or self.carrier_id == shipment.carrier_id)
            and (not service_level or service_level in carrier_names.get(shipment.carrier_id.id, ()))
            and (not self.country_ids or shipment.partner_id.country_id in self.country_ids)
        )

    @api.model
    def _carrier_names(self, carriers):
        """Every translation of each carrier's name, normalized for service-level matching.

        :return: dict carrier id → set of names.
        """
        if not carriers:
            return {}
        carriers.flush_recordset(["name"])
        rows = self.env.execute_query(SQL(
            "SELECT id, name FROM delivery_carrier WHERE id = ANY(%s)", carriers.ids))
        return {carrier_id: {_service_key(value) for value in (names or {}).values()}
                for carrier_id, names in rows}

    @api.model
    def _policy_candidates_sql(self):
        """Active policies with their matching keys: the body of a materialized CTE.

        Service levels are normalized (spaces collapsed, lower case) and destination
        countries gathered in an array once per query, so that matching a row is a
        few comparisons in memory.
        """
        return SQL(
            r"""
            SELECT policy.id, policy.company_id, policy.connector_id, policy.carrier_id, policy.sequence,
                   policy.transit_hours, policy.first_scan_hours, policy.max_silence_hours, policy.pod_hours,
                   COALESCE(lower(btrim(regexp_replace(policy.service_level, '\s+', ' ', 'g'))), '')
                       AS service_key,
                   (SELECT array_agg(rel.country_id) FROM shipment_sla_policy_country_rel rel
                     WHERE rel.policy_id = policy.id) AS country_ids
              FROM shipment_sla_policy policy
             WHERE policy.active
            """)

    @api.model
    def _carrier_service_keys_sql(self):
        """Each carrier's names in every language, normalized: the body of a CTE."""
        return SQL(
            r"""
            SELECT carrier.id AS carrier_id,
                   array_agg(lower(btrim(regexp_replace(translated.value, '\s+', ' ', 'g')))) AS service_keys
              FROM delivery_carrier carrier
             CROSS JOIN LATERAL jsonb_each_text(carrier.name) AS translated
             GROUP BY carrier.id
            """)

    @api.model
    def _policy_match_sql(self, candidates, shipment, service, partner):
        """``LEFT JOIN LATERAL`` picking the policy of each shipment row, as :meth:`_find_policy`.

        :param SQL candidates: name of a CTE of :meth:`_policy_candidates_sql`.
        :param SQL shipment: alias of the ``shipment_shipment`` row.
        :param SQL service: alias of its carrier's row of :meth:`_carrier_service_keys_sql`.
        :param SQL partner: alias of its customer's ``res_partner`` row.
        :return: SQL giving the columns ``id``, ``transit_hours``, ``first_scan_hours``,
            ``max_silence_hours`` and ``pod_hours`` under the alias ``pol``.
        """
        return SQL(
            """
            LEFT JOIN LATERAL (
                SELECT policy.id, policy.transit_hours, policy.first_scan_hours,
                       policy.max_silence_hours, policy.pod_hours
                  FROM %(candidates)s policy
                 WHERE (policy.company_id IS NULL OR policy.company_id = %(shipment)s.company_id)
                   AND (policy.connector_id IS NULL OR policy.connector_id = %(shipment)s.connector_id)
                   AND (policy.carrier_id IS NULL OR policy.carrier_id = %(shipment)s.carrier_id)
                   AND (policy.service_key = '' OR policy.service_key = ANY(%(service)s.service_keys))
                   AND (policy.country_ids IS NULL OR %(partner)s.country_id = ANY(policy.country_ids))
                 ORDER BY policy.connector_id IS NULL, policy.carrier_id IS NULL, policy.service_key = '',
                          policy.country_ids IS NULL, policy.company_id IS NULL, policy.sequence, policy.id
                 LIMIT 1
            ) pol ON TRUE
            """,
            candidates=candidates, shipment=shipment, service=service, partner=partner,
        )


def _service_key(value):
    return " ".join((value or "").split()).lower()


def _precedence(policy):
    """Sort key: the policy that applies comes first (see the class docstring)."""
    return (
        not policy.connector_id,
        not policy.carrier_id,
        not _service_key(policy.service_level),
        not policy.country_ids,
        not policy.company_id,
        policy.sequence,
        policy.id,
    )
