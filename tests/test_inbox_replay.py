import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import Form, TransactionCase, new_test_user, tagged

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"


@tagged("post_install", "-at_install")
class TestInboxReplay(TransactionCase):
    """Replaying inbox messages, and the integration screens for each access level."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.user = new_test_user(cls.env, "sv_replay_user", groups="shipment_visibility.group_shipment_user")
        cls.manager = new_test_user(cls.env, "sv_replay_manager", groups="shipment_visibility.group_shipment_manager")
        cls.admin = new_test_user(cls.env, "sv_replay_admin", groups=ADMIN_GROUP)
        Connector = cls.env["shipment.connector"]
        cls.connector = Connector.create({"name": "Replay A", "connector_type": "generic_json", "mode": "shadow"})
        cls.other_connector = Connector.create(
            {"name": "Replay B", "connector_type": "generic_json", "mode": "shadow"})
        cls.now = fields.Datetime.now()
        cls.failed = cls._message(cls.connector, "failed")
        cls.dead = cls._message(cls.connector, "dead")
        cls.done = cls._message(cls.connector, "done")
        cls.pending = cls._message(cls.connector, "pending")
        cls.old_failed = cls._message(cls.connector, "failed", received_at=cls.now - timedelta(days=10))
        cls.other_failed = cls._message(cls.other_connector, "failed")
        cls.all_messages = cls.failed | cls.dead | cls.done | cls.pending | cls.old_failed | cls.other_failed

    @classmethod
    def _message(cls, connector, state, received_at=None):
        Inbox = cls.env["shipment.inbox"]
        body = json.dumps({"n": len(Inbox.search([])), "state": state, "connector": connector.id}).encode()
        message_id, created, _correlation = Inbox._enqueue(
            connector, body, {"Content-Type": "application/json"}, source="webhook")
        assert created
        message = Inbox.browse(message_id)
        message.write({
            "state": state,
            "attempts": 3,
            "last_error": "boom" if state in ("failed", "dead") else False,
            "next_attempt_at": cls.now + timedelta(hours=1),
            "received_at": received_at or cls.now - timedelta(hours=1),
        })
        return message

    def _snapshot(self, messages):
        return {m.id: (m.state, m.attempts, m.next_attempt_at) for m in messages}

    def _assert_requeued(self, messages):
        for message in messages:
            self.assertEqual(message.state, "pending", message.display_name)
            self.assertEqual(message.attempts, 0, message.display_name)
            # Due now: the database clock keeps microseconds, Odoo's now() drops them.
            self.assertLessEqual(message.next_attempt_at.replace(microsecond=0), fields.Datetime.now())

    # ------------------------------------------------------------------ #
    # REPLAY
    # ------------------------------------------------------------------ #

    def test_replay_selected_messages(self):
        """Replaying a selection re-queues exactly the selected messages."""
        selected = self.failed | self.done
        untouched = self.all_messages - selected
        before = self._snapshot(untouched)
        wizard = self.env["shipment.inbox.replay"].with_user(self.manager).with_context(
            active_model="shipment.inbox", active_ids=selected.ids).create({})
        self.assertEqual(wizard.selection_mode, "selected")
        self.assertEqual(wizard.message_ids, selected)
        self.assertEqual(wizard.message_count, 2)
        action = wizard.action_replay()
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("2", action["params"]["message"])
        self.all_messages.invalidate_recordset()
        self._assert_requeued(selected)
        self.assertEqual(self._snapshot(untouched), before)

    def test_replay_filtered_messages(self):
        """A filter on connector, states and reception time re-queues only what matches."""
        matching = self.failed | self.dead
        untouched = self.all_messages - matching
        before = self._snapshot(untouched)
        wizard = self.env["shipment.inbox.replay"].with_user(self.manager).create({
            "selection_mode": "filter",
            "connector_id": self.connector.id,
            "include_failed": True,
            "include_dead": True,
            "include_done": False,
            "include_ignored": False,
            "received_from": self.now - timedelta(days=1),
            "received_to": self.now,
        })
        self.assertEqual(wizard.message_count, 2)
        action = wizard.action_replay()
        self.assertIn("2", action["params"]["message"])
        self.all_messages.invalidate_recordset()
        self._assert_requeued(matching)
        self.assertEqual(self._snapshot(untouched), before)

    def test_user_cannot_replay(self):
        """A plain User can neither open the replay wizard nor touch the inbox."""
        with self.assertRaises(AccessError):
            self.env["shipment.inbox.replay"].with_user(self.user).with_context(
                active_model="shipment.inbox", active_ids=self.failed.ids).create({})
        with self.assertRaises(AccessError):
            self.failed.with_user(self.user).action_replay()
        self.failed.invalidate_recordset()
        self.assertEqual(self.failed.state, "failed")

    def test_list_server_action_retry(self):
        """The list's Retry action re-queues the selected messages for a manager."""
        action = self.env.ref("shipment_visibility.action_server_shipment_inbox_retry")
        action.with_user(self.manager).with_context(
            active_model="shipment.inbox", active_ids=self.dead.ids).run()
        self.dead.invalidate_recordset()
        self._assert_requeued(self.dead)
        self.assertEqual(self.other_failed.state, "failed")

    # ------------------------------------------------------------------ #
    # VIEWS FOR EACH ACCESS LEVEL
    # ------------------------------------------------------------------ #

    def test_connector_counts_its_messages_by_state_and_opens_each(self):
        counts = self.connector.with_user(self.manager)
        self.assertEqual(
            (counts.inbox_pending_count, counts.inbox_processing_count, counts.inbox_done_count,
             counts.inbox_failed_count, counts.inbox_dead_count, counts.inbox_ignored_count),
            (1, 0, 1, 2, 1, 0), "the other connector's failed message is not counted here")
        self.assertEqual(self.other_connector.inbox_failed_count, 1)
        self.assertEqual(self.connector.last_message_at, max(
            (self.failed | self.dead | self.done | self.pending | self.old_failed).mapped("received_at")))
        Inbox = self.env["shipment.inbox"]
        action = counts.with_context(inbox_state="failed").action_view_inbox()
        self.assertEqual(Inbox.search(action["domain"]), self.failed | self.old_failed)
        action = counts.action_view_inbox()
        self.assertEqual(Inbox.search(action["domain"]), self.all_messages - self.other_failed)
        action = counts.with_context(inbox_state="no such state").action_view_inbox()
        self.assertEqual(Inbox.search(action["domain"]), self.all_messages - self.other_failed)

    def test_connector_form_renders_for_every_group(self):
        """The connector form loads and reads for users, managers and integration admins."""
        for user in (self.user, self.manager, self.admin):
            with self.subTest(user=user.login):
                Connector = self.env["shipment.connector"].with_user(user)
                views = Connector.get_views([(False, "list"), (False, "form"), (False, "search")])
                arch = views["views"]["form"]["arch"]
                self.assertEqual('<field name="webhook_secret"' in arch, user == self.admin)
                self.assertEqual('<field name="rejection_ids"' in arch, user == self.admin)
                self.assertEqual('<field name="last_message_at"' in arch, user != self.user)
                self.assertEqual('<field name="inbox_dead_count"' in arch, user != self.user)
                form = Form(self.connector.with_user(user))
                self.assertEqual(form.name, "Replay A")
                self.assertFalse(form.has_webhook_secret)

    def test_inbox_views_render_for_manager_and_admin(self):
        """The inbox shows the raw payload to integration admins only."""
        for user in (self.manager, self.admin):
            with self.subTest(user=user.login):
                Inbox = self.env["shipment.inbox"].with_user(user)
                views = Inbox.get_views([(False, "list"), (False, "form"), (False, "search")])
                self.assertEqual('<field name="body_pretty"' in views["views"]["form"]["arch"], user == self.admin)
                form = Form(self.failed.with_user(user))
                self.assertEqual(form.state, "failed")
                wizard_views = self.env["shipment.inbox.replay"].with_user(user).get_views([(False, "form")])
                self.assertIn("message_ids", wizard_views["views"]["form"]["arch"])

    def test_status_map_views_render(self):
        """Status mapping screens load for admins and, read-only, for users."""
        for user in (self.user, self.admin):
            with self.subTest(user=user.login):
                self.env["shipment.status.map"].with_user(user).get_views(
                    [(False, "list"), (False, "search")])

    def test_connector_form_adds_status_mapping(self):
        """A mapping added on the connector form takes the connector's type."""
        with Form(self.connector.with_user(self.admin)) as form:
            with form.status_map_ids.new() as line:
                line.raw_code = "OUT_FOR_DELIVERY_X"
                line.milestone = "out_for_delivery"
        mapping = self.connector.status_map_ids.filtered(lambda row: row.raw_code == "OUT_FOR_DELIVERY_X")
        self.assertEqual(mapping.connector_type, "generic_json")
