from collections import namedtuple

from odoo import api, fields, models
from odoo.tools import SQL

#: A policy as plain data, for matching many shipments without reading records.
PolicyRule = namedtuple("PolicyRule", "id connector_id carrier_id service_key country_ids transit_hours")
# Per process: (database, company id) → (stamp, rules in precedence order, carrier id →
# normalized names). Predictions and the SLA result run for every batch of events; the
# policies behind them change a few times a year, so one query checks the stamp.
_RULES_CACHE = {}
#: Fields deciding which shipments a policy applies to and their SLA deadline.
MATCH_FIELDS = frozenset({"active", "sequence", "company_id", "connector_id", "carrier_id", "service_level",
                          "country_ids", "transit_hours"})


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
    # CRUD
    # ------------------------------------------------------------------ #

    @api.model_create_multi
    def create(self, vals_list):
        policies = super().create(vals_list)
        policies._recompute_sla_results(self.env["res.company"])
        return policies

    def write(self, vals):
        if not MATCH_FIELDS.intersection(vals):
            return super().write(vals)
        before = self._sla_companies()
        result = super().write(vals)
        self._recompute_sla_results(before)
        return result

    def unlink(self):
        companies = self._sla_companies()
        result = super().unlink()
        self.browse()._recompute_sla_results(companies)
        return result

    def _sla_companies(self):
        """Companies whose shipments these policies can apply to: None means every company."""
        if not self or any(not policy.company_id for policy in self):
            return None if self else self.env["res.company"]
        return self.company_id

    def _recompute_sla_results(self, companies=None):
        """Shipments' SLA deadline and result follow the policies: nothing else links them.

        :param companies: companies concerned besides those of ``self`` (before a change);
            None: every company.
        """
        mine = self._sla_companies()
        if companies is None or mine is None:
            scope = None
        else:
            scope = companies | mine
            if not scope:
                return
        self.env["shipment.shipment"].sudo()._recompute_sla_results(scope)  # every shipment, whoever edits

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
        """The policy of each shipment (see :meth:`_match_rules`).

        :return: dict shipment id → ``shipment.sla.policy`` (possibly empty).
        """
        result = {}
        for company, company_shipments in shipments.grouped("company_id").items():
            rules, names = self._match_rules(company)
            for shipment in company_shipments:
                rule = match_rule(rules, names, shipment.connector_id.id, shipment.carrier_id.id,
                              shipment.partner_id.country_id.id)
                result[shipment.id] = self.browse(rule.id if rule else ())
        return result

    @api.model
    def _match_stamp_query(self, company):
        """SQL of one value that changes whenever what decides a match in ``company`` does.

        The policies themselves (every column), their countries and the carriers' names
        (service levels match them); pending writes are flushed first.
        """
        for model in ("shipment.sla.policy", "delivery.carrier"):
            self.env[model].flush_model()
        return SQL(
            """
            md5(concat_ws('|',
                (SELECT string_agg(policy::text, ';' ORDER BY policy.id) FROM shipment_sla_policy policy
                  WHERE policy.company_id IS NULL OR policy.company_id = %(company)s),
                (SELECT string_agg(rel.policy_id || ':' || rel.country_id, ';' ORDER BY rel.policy_id, rel.country_id)
                   FROM shipment_sla_policy_country_rel rel),
                (SELECT string_agg(carrier.id || ':' || carrier.name::text, ';' ORDER BY carrier.id)
                   FROM delivery_carrier carrier)))
            """, company=company.id)

    @api.model
    def _match_rules(self, company, stamp=None):
        """The active policies of ``company`` (and shared ones) in precedence order, cached in the process.

        The cache is keyed by the value of :meth:`_match_stamp_query`, read in one query
        (or given by a caller that read it with other stamps).

        :return: (list of :class:`PolicyRule`, dict carrier id → set of normalized names)
        """
        if stamp is None:
            stamp = self.env.execute_query(SQL("SELECT %s", self._match_stamp_query(company)))[0][0]
        key = (self.env.cr.dbname, company.id)
        cached = _RULES_CACHE.get(key)
        if cached and cached[0] == stamp:
            return cached[1], cached[2]
        # Policies apply whoever reads: the cache holds them all.
        policies = self.sudo().search([("company_id", "in", [False, company.id])]).sorted(_precedence)
        rules = [PolicyRule(policy.id, policy.connector_id.id, policy.carrier_id.id,
                            _service_key(policy.service_level), frozenset(policy.country_ids.ids),
                            policy.transit_hours) for policy in policies]
        names = self._carrier_names(self.env["delivery.carrier"].sudo().with_context(active_test=False).search([]))
        _RULES_CACHE[key] = (stamp, rules, names)
        return rules, names

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


def match_rule(rules, carrier_names, connector_id, carrier_id, country_id):
    """The first rule (in precedence order) whose every criterion matches, or None."""
    for rule in rules:
        if ((not rule.connector_id or rule.connector_id == connector_id)
                and (not rule.carrier_id or rule.carrier_id == carrier_id)
                and (not rule.service_key or rule.service_key in carrier_names.get(carrier_id, ()))
                and (not rule.country_ids or country_id in rule.country_ids)):
            return rule
    return None


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
