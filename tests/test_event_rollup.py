from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL

from ..integration import taxonomy
from .sla_common import SlaHistoryCommon


@tagged("post_install", "-at_install")
class TestEventRollup(SlaHistoryCommon):
    """The per-shipment event figures the report reads stay equal to the events, whoever writes them."""

    def _rollup(self, shipment):
        self.env.flush_all()
        rows = self.env.execute_query(SQL(
            "SELECT actual_count, latency_count, latency_seconds, first_exception_milestone, first_exception_reason "
            "FROM shipment_event_rollup WHERE shipment_id = %s", shipment.id))
        return rows[0] if rows else None

    def _from_events(self, shipment):
        """The same figures straight from the events (the aggregate the report used to run)."""
        self.env.flush_all()
        count, latency_count, latency, first = self.env.execute_query(SQL(
            """
            SELECT count(*), count(received_at), COALESCE(sum(EXTRACT(EPOCH FROM received_at - occurred_at)), 0),
                   (array_agg(ARRAY[milestone, reason] ORDER BY occurred_at, milestone, reason)
                        FILTER (WHERE milestone IN %s))[1:1]
              FROM shipment_event WHERE shipment_id = %s AND event_class = %s
            """, tuple(taxonomy.EXCEPTION_MILESTONES), shipment.id, taxonomy.ACTUAL))[0]
        if not count:
            return None
        milestone, reason = first[0] if first else (None, None)
        return (count, latency_count, latency, milestone, reason)

    def assertRollupMatches(self, shipment):
        rollup, expected = self._rollup(shipment), self._from_events(shipment)
        if expected is None:
            self.assertFalse(rollup and rollup[0], shipment.tracking_number)
            return
        self.assertEqual(rollup[:2], expected[:2], shipment.tracking_number)
        self.assertAlmostEqual(rollup[2], float(expected[2]), places=3, msg=shipment.tracking_number)
        self.assertEqual(rollup[3:], expected[3:], shipment.tracking_number)

    def test_rollup_is_not_readable_through_the_orm(self):
        """The rollup has no company of its own: reports read it in SQL behind their own
        rules, and no user reads its rows (another company's figures) directly."""
        manager = new_test_user(self.env, "sv_rollup_manager",
                                groups="shipment_visibility.group_shipment_manager")
        with self.assertRaises(AccessError):
            self.env["shipment.event.rollup"].with_user(manager).search([])

    def test_history_figures_by_hand(self):
        # A2: three actual events received 2, 1 and 3 h late; the attempt is its first exception.
        self.assertEqual(self._rollup(self.a2)[:2], (3, 3))
        self.assertAlmostEqual(self._rollup(self.a2)[2], 6 * 3600)
        self.assertEqual(self._rollup(self.a2)[3:], ("delivery_attempted", "recipient_unavailable"))
        # B1: its estimate is not an actual event and does not count.
        self.assertEqual(self._rollup(self.b1)[:2], (2, 2))
        self.assertEqual(self._rollup(self.b1)[3:], (None, None))
        self.assertIsNone(self._rollup(self.a4), "no event, no row")
        for shipment in self.a1 | self.a2 | self.a3 | self.b1 | self.b2 | self.b3 | self.b4 | self.x1:
            self.assertRollupMatches(shipment)

    def test_inserts_updates_and_deletes_keep_the_figures(self):
        # An earlier exception replaces the first one, a later one does not.
        self._add_event(self.a2, "customs_hold", 35, 1, reason="customs_documents")
        self._add_event(self.a2, "exception", 80, 1, reason="damaged")
        self.assertEqual(self._rollup(self.a2)[3:], ("customs_hold", "customs_documents"))
        self.assertEqual(self._rollup(self.a2)[0], 5)
        # Several shipments in one statement, as the inbox processor writes them.
        self.env["shipment.event"].create([
            {"shipment_id": self.a4.id, "milestone": "picked_up", "event_class": "actual",
             "occurred_at": self.at(73), "received_at": self.at(74), "source": "api"},
            {"shipment_id": self.a3.id, "milestone": "delayed", "event_class": "actual",
             "occurred_at": self.at(55), "source": "api", "reason": "weather"},
        ])
        self.assertEqual(self._rollup(self.a4)[:3], (1, 1, 3600.0))
        self.assertEqual(self._rollup(self.a3)[3:], ("delayed", "weather"))
        # An event corrected, moved to another shipment, then deleted: rebuilt from the events.
        attempt = self.a2.event_ids.filtered(lambda e: e.milestone == "delivery_attempted")
        attempt.occurred_at = self.at(31)
        attempt.shipment_id = self.a1
        self.assertEqual(self._rollup(self.a1)[3:], ("delivery_attempted", "recipient_unavailable"))
        customs = self.a2.event_ids.filtered(lambda e: e.milestone == "customs_hold")
        customs.unlink()
        self.assertEqual(self._rollup(self.a2)[3:], ("exception", "damaged"))
        for shipment in self.a1 | self.a2 | self.a3 | self.a4:
            self.assertRollupMatches(shipment)
