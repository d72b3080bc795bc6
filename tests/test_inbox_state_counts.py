"""The maintained inbox counts against ``count(*)``: after intake, state changes, purges
and folds, in one transaction and across committing connections."""

from datetime import datetime, timedelta

from odoo.tests import TransactionCase, tagged

from .http_common import RealCursorCase


def counted(env, connector_ids):
    """``{(connector id, state): count}`` read from the maintained counter."""
    return {(cid, state): count for cid, state, count in env["shipment.inbox"]._state_counts(connector_ids)}


def actual(env, connector_ids):
    """The same figure from the inbox itself."""
    env.flush_all()
    env.cr.execute("SELECT connector_id, state, count(*) FROM shipment_inbox WHERE connector_id = ANY(%s) "
                   "GROUP BY connector_id, state", [list(connector_ids)])
    return {(cid, state): count for cid, state, count in env.cr.fetchall()}


@tagged("post_install", "-at_install")
class TestInboxStateCounts(TransactionCase):
    """Every way a message enters, moves or leaves the inbox keeps the counts exact."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Connector = cls.env["shipment.connector"]
        cls.first = Connector.create({"name": "Counted A", "connector_type": "generic_json", "mode": "shadow"})
        cls.second = Connector.create({"name": "Counted B", "connector_type": "generic_json", "mode": "shadow"})
        cls.ids = [cls.first.id, cls.second.id]
        cls.Inbox = cls.env["shipment.inbox"].sudo()

    def enqueue(self, connector, count, start=0):
        return self.Inbox.browse([self.Inbox._enqueue(connector, f'{{"n": {start + n}}}'.encode(), {})[0]
                                  for n in range(count)])

    def assertExact(self, expected=None):
        figures = counted(self.env, self.ids)
        self.assertEqual(figures, actual(self.env, self.ids))
        if expected is not None:
            self.assertEqual(figures, expected)

    def test_intake_by_route_by_batch_and_by_orm(self):
        self.enqueue(self.first, 3)
        self.Inbox._enqueue_batch(self.second, [(b'{"file": 1}', "f-1", "a.csv"), (b'{"file": 2}', "f-2", "a.csv")])
        self.Inbox.create({"connector_id": self.second.id, "body": "{}", "body_sha256": "x" * 64})
        self.assertExact({(self.first.id, "pending"): 3, (self.second.id, "pending"): 3})

    def test_state_changes_one_by_one_and_by_batch(self):
        messages = self.enqueue(self.first, 5)
        messages[:2].write({"state": "processing"})
        messages[0].write({"state": "done", "processed_at": datetime.now()})
        messages[4].write({"state": "dead"})
        messages[3].write({"attempts": 3, "last_error": "no state change: nothing to count"})
        self.assertExact({(self.first.id, "pending"): 2, (self.first.id, "processing"): 1,
                          (self.first.id, "done"): 1, (self.first.id, "dead"): 1})
        # One statement moving rows of several connectors and states at once.
        self.enqueue(self.second, 2, start=10)
        self.env.flush_all()
        self.env.cr.execute("UPDATE shipment_inbox SET state = 'failed' WHERE connector_id = ANY(%s)", [self.ids])
        self.assertExact({(self.first.id, "failed"): 5, (self.second.id, "failed"): 2})
        # A message moved to another connector counts there.
        messages[1].write({"connector_id": self.second.id})
        self.assertExact({(self.first.id, "failed"): 4, (self.second.id, "failed"): 3})

    def test_deletes_and_the_retention_purge(self):
        messages = self.enqueue(self.first, 4)
        old = datetime.now() - timedelta(days=400)
        messages[:3].write({"state": "done", "received_at": old})
        messages[2].unlink()
        self.assertExact({(self.first.id, "done"): 2, (self.first.id, "pending"): 1})
        self.assertGreaterEqual(self.Inbox._gc_done_messages(), 2)
        self.assertExact({(self.first.id, "pending"): 1})

    def test_a_fold_changes_no_figure_and_leaves_one_row_per_key(self):
        messages = self.enqueue(self.first, 6)
        messages[:4].write({"state": "processing"})
        messages[:4].write({"state": "done"})
        self.enqueue(self.second, 1, start=20)
        before = counted(self.env, self.ids)
        self.assertGreater(self.Inbox._compact_state_counts(), 0)
        self.assertExact(before)
        self.env.cr.execute("SELECT connector_id, state, count(*) FROM shipment_inbox_state_count "
                            "WHERE connector_id = ANY(%s) GROUP BY 1, 2 HAVING count(*) > 1", [self.ids])
        self.assertEqual(self.env.cr.fetchall(), [], "one row per connector and state after a fold")
        self.env.cr.execute("SELECT count(*) FROM shipment_inbox_state_count WHERE connector_id = ANY(%s) "
                            "AND count = 0", [self.ids])
        self.assertEqual(self.env.cr.fetchone()[0], 0, "keys back to zero leave no row")

    def test_a_rolled_back_change_leaves_no_count(self):
        self.enqueue(self.first, 2)
        with self.assertRaises(RuntimeError), self.env.cr.savepoint():
            self.enqueue(self.first, 3, start=50)
            self.env.flush_all()
            raise RuntimeError("abandon the intake")
        self.assertExact({(self.first.id, "pending"): 2})

    def test_uninstall_leaves_no_counter_behind(self):
        """The counters live outside the models' tables: the uninstall hook removes them."""
        from .. import uninstall_hook

        def leftovers():
            self.env.cr.execute("""
                SELECT (SELECT count(*) FROM pg_class WHERE relname = 'shipment_inbox_state_count'),
                       (SELECT count(*) FROM pg_proc WHERE proname IN ('shipment_inbox_state_count_delta',
                                                                       'shipment_event_rollup_add',
                                                                       'shipment_event_rollup_rebuild')),
                       (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'shipment_inbox_state_count_%%'
                                                           OR tgname LIKE 'shipment_event_rollup_%%')
            """)
            return self.env.cr.fetchone()

        functions, triggers = leftovers()[1:]
        self.assertEqual(leftovers()[0], 1)
        self.assertEqual(functions, 3)
        self.assertGreaterEqual(triggers, 7, "four on the inbox, three or more on the events")
        uninstall_hook(self.env)  # DDL is transactional: the test's rollback restores them
        self.assertEqual(leftovers(), (0, 0, 0))


@tagged("post_install", "-at_install")
class TestInboxStateCountsConcurrency(RealCursorCase):
    """Committing connections at once: intake, moves and folds in parallel stay exact."""

    def test_parallel_intake_moves_and_folds_match_the_table(self):
        connector_id = self.commit_connector("Counted in parallel")

        def work(index, env):
            connector = env["shipment.connector"].browse(connector_id)
            Inbox = env["shipment.inbox"].sudo()
            ids = [Inbox._enqueue(connector, f'{{"worker": {index}, "n": {n}}}'.encode(), {})[0]
                   for n in range(20)]
            env.cr.commit()
            Inbox.browse(ids[:10]).write({"state": "done"})
            Inbox.browse(ids[10:12]).unlink()
            Inbox._compact_state_counts()
            if index % 2:
                env.cr.rollback()  # half the workers abandon their moves: their deltas go too
            return len(ids)

        outcomes = self.run_in_threads(4, work)
        self.assertEqual([exc for _result, exc in outcomes], [None] * 4)
        with self.real_env() as env:
            env["shipment.inbox"]._compact_state_counts()
            figures = counted(env, [connector_id])
            self.assertEqual(figures, actual(env, [connector_id]))
            self.assertEqual(figures, {(connector_id, "done"): 20, (connector_id, "pending"): 56})
