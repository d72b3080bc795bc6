from odoo import fields, models, tools
from odoo.tools import SQL

from ..integration import taxonomy

# A shadow partner's scan counts as reported differently when its time is further than
# this from the live partner's for the same milestone (carriers round, partners don't).
DIFFERENT_TIME_MINUTES = 60
# ... and as late when it reached us this much after the live partner's.
LATE_MINUTES = 15


class ShipmentShadowComparison(models.Model):
    """What a shadow connector reported, milestone by milestone, against the live data.

    The point of running a partner in shadow before cut-over: for each shipment both
    connectors know (same company and tracking number), each milestone the live side
    recorded is matched with the shadow side's, first occurrence against first
    occurrence. A milestone is *missed* (the shadow partner never reported it), *extra*
    (only the shadow partner reported it), *different* (reported at another time),
    *late* (reported later than the live partner by more than a quarter of an hour) or
    the *same*. The latency difference is the shadow partner's reception time minus the
    live partner's.
    """

    _name = "shipment.shadow.comparison"
    _description = "Shadow Connector Comparison"
    _auto = False
    _order = "live_occurred_at desc, id desc"
    _rec_name = "tracking_number"

    company_id = fields.Many2one("res.company", readonly=True)
    shadow_connector_id = fields.Many2one("shipment.connector", string="Shadow Connector", readonly=True)
    live_connector_id = fields.Many2one("shipment.connector", string="Live Connector", readonly=True)
    shadow_shipment_id = fields.Many2one("shipment.shipment", string="Shadow Shipment", readonly=True)
    live_shipment_id = fields.Many2one("shipment.shipment", string="Live Shipment", readonly=True)
    tracking_number = fields.Char(readonly=True)
    milestone = fields.Char(readonly=True)
    outcome = fields.Selection(
        [("same", "Same"), ("late", "Reported late"), ("different", "Reported differently"),
         ("missed", "Missed by the shadow partner"), ("extra", "Only the shadow partner")], readonly=True)
    live_occurred_at = fields.Datetime(string="Live: Happened", readonly=True)
    shadow_occurred_at = fields.Datetime(string="Shadow: Happened", readonly=True)
    live_received_at = fields.Datetime(string="Live: Received", readonly=True)
    shadow_received_at = fields.Datetime(string="Shadow: Received", readonly=True)
    latency_minutes = fields.Float(
        string="Latency Difference (min)", readonly=True, aggregator="avg",
        help="Minutes the shadow partner's report reached us after the live partner's (negative: before).")
    time_difference_minutes = fields.Float(string="Time Difference (min)", readonly=True, aggregator="avg")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # Raw SQL: a comparison of every event of two connectors is a join, not a loop.
        self.env.cr.execute(SQL(
            """
            CREATE VIEW %(view)s AS (
                WITH pairs AS (
                    SELECT shadow.id AS shadow_shipment_id, live.id AS live_shipment_id,
                           shadow.connector_id AS shadow_connector_id, live.connector_id AS live_connector_id,
                           shadow.company_id, shadow.tracking_number
                      FROM shipment_shipment shadow
                      JOIN shipment_shipment live
                        ON live.company_id = shadow.company_id AND live.tracking_number = shadow.tracking_number
                       AND live.shadow IS NOT TRUE
                     WHERE shadow.shadow
                ), firsts AS (
                    SELECT pairs.shadow_shipment_id, pairs.live_shipment_id,
                           event.shipment_id = pairs.shadow_shipment_id AS is_shadow,
                           event.milestone, min(event.occurred_at) AS occurred_at,
                           min(event.received_at) AS received_at
                      FROM pairs
                      JOIN shipment_event event
                        ON event.shipment_id IN (pairs.shadow_shipment_id, pairs.live_shipment_id)
                     WHERE event.event_class = 'actual' AND event.milestone <> 'unknown'
                     GROUP BY 1, 2, 3, 4
                ), compared AS (
                    SELECT COALESCE(live.shadow_shipment_id, shadow.shadow_shipment_id) AS shadow_shipment_id,
                           COALESCE(live.live_shipment_id, shadow.live_shipment_id) AS live_shipment_id,
                           COALESCE(live.milestone, shadow.milestone) AS milestone,
                           live.occurred_at AS live_occurred_at, shadow.occurred_at AS shadow_occurred_at,
                           live.received_at AS live_received_at, shadow.received_at AS shadow_received_at
                      FROM (SELECT * FROM firsts WHERE NOT is_shadow) live
                      FULL JOIN (SELECT * FROM firsts WHERE is_shadow) shadow
                        ON shadow.shadow_shipment_id = live.shadow_shipment_id
                       AND shadow.live_shipment_id = live.live_shipment_id AND shadow.milestone = live.milestone
                )
                -- Stable ids (shipment pair and milestone), not a row number: a record read
                -- earlier in the transaction must still be the same row after new events.
                SELECT ((compared.shadow_shipment_id::bigint * 2147483648 + compared.live_shipment_id) * 32
                        + array_position(%(milestones)s::varchar[], compared.milestone::varchar)) AS id,
                       pairs.company_id, pairs.shadow_connector_id, pairs.live_connector_id,
                       compared.shadow_shipment_id, compared.live_shipment_id, pairs.tracking_number,
                       compared.milestone, compared.live_occurred_at, compared.shadow_occurred_at,
                       compared.live_received_at, compared.shadow_received_at,
                       EXTRACT(EPOCH FROM compared.shadow_received_at - compared.live_received_at) / 60
                           AS latency_minutes,
                       EXTRACT(EPOCH FROM compared.shadow_occurred_at - compared.live_occurred_at) / 60
                           AS time_difference_minutes,
                       CASE WHEN compared.shadow_occurred_at IS NULL THEN 'missed'
                            WHEN compared.live_occurred_at IS NULL THEN 'extra'
                            WHEN abs(EXTRACT(EPOCH FROM compared.shadow_occurred_at - compared.live_occurred_at))
                                 > %(different)s * 60 THEN 'different'
                            WHEN compared.shadow_received_at > compared.live_received_at
                                 + make_interval(mins => %(late)s) THEN 'late'
                            ELSE 'same' END AS outcome
                  FROM compared
                  JOIN pairs ON pairs.shadow_shipment_id = compared.shadow_shipment_id
                            AND pairs.live_shipment_id = compared.live_shipment_id
            )
            """, view=SQL.identifier(self._table), milestones=list(taxonomy.MILESTONE_CODES),
            different=DIFFERENT_TIME_MINUTES, late=LATE_MINUTES))
