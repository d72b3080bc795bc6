"""What an attacker or a careless partner tried, each answered precisely (issue 10).

Every test here failed on the code before the fix it covers.
"""

import json
import random
import time

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged

from ..integration import signatures
from ..models.shipment_inbox import WAKE_KEY
from .common import ShipmentCommon
from .http_common import LogCapture, RealCursorCase, WebhookHttpCase, dump, fixture_json, sign_for

INBOX_LOGGER = "odoo.addons.shipment_visibility.models.shipment_inbox_processor"


def aftership_body(**overrides):
    data = fixture_json("aftership", "tracking_update_delivered.json")
    data.update(overrides)
    return dump(data)


@tagged("post_install", "-at_install")
class TestHardeningHttp(WebhookHttpCase):
    """The webhook route never answers 500, and tells forgers nothing."""

    def process(self):
        self.env["shipment.inbox"]._cron_process_inbox()
        self.env.invalidate_all()

    def test_deeply_nested_message_id_is_accepted_then_fails_with_its_reason(self):
        connector = self.partners["aftership"]
        body = b'{"event_id":' + b"[" * 10_000 + b"1" + b"]" * 10_000 + b',"msg":{}}'
        response = self.post_signed(connector, body)
        self.assertEqual(response.status_code, 202, response.text[:200])
        message = self.env["shipment.inbox"].browse(response.json()["message_id"])
        self.assertFalse(message.external_id, "no id is read from a body nested that deep")
        self.process()
        self.assertEqual((message.state, message.attempts), ("failed", 1))
        self.assertIn("nested deeper than 64", message.last_error)
        self.assertEqual(self.post_signed(connector, body).status_code, 200, "the same body again is a duplicate")

    def test_lone_surrogate_message_id_is_stored_escaped(self):
        connector = self.partners["aftership"]
        body = aftership_body(event_id="\ud800")
        self.assertIn(b"\\ud800", body)
        response = self.post_signed(connector, body)
        self.assertEqual(response.status_code, 202, response.text[:200])
        message = self.env["shipment.inbox"].browse(response.json()["message_id"])
        self.assertEqual(message.external_id, "\\ud800")
        self.assertEqual(self.post_signed(connector, body).status_code, 200)

    def test_options_and_other_methods_never_reach_the_inbox_nor_the_counters(self):
        connector = self.generic["hmac_sha256_hex"]
        body = b'{"options": 1}'
        url = self.base_url() + "/shipment_visibility/webhook/" + self.token(connector)
        preflight = self.opener.options(url, data=body, headers=sign_for(connector, body))
        self.assertEqual(preflight.status_code, 204)
        self.assertEqual(preflight.headers["Allow"], "POST")
        self.assertNotIn("Access-Control-Allow-Origin", preflight.headers)
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            self.assertEqual(self.opener.request(method, url, data=body).status_code, 405, method)
        self.env.invalidate_all()
        self.assertFalse(self.inbox(connector))
        self.assertEqual(self.rejections(connector), {})

    def test_forged_request_with_a_stale_timestamp_gets_the_unknown_token_answer(self):
        connector = self.generic["standard_webhooks"]
        body = b'{"forged": 1}'
        stale = int(time.time()) - 3600
        forged = signatures.sign("standard_webhooks", body, signatures.generate_webhook_secret(), timestamp=stale)
        unknown = self.post("no-such-token-at-all", body, forged)
        real = self.post(connector, body, forged)
        self.assertEqual((real.status_code, real.json()["error"]), (unknown.status_code, unknown.json()["error"]))
        self.assertUnauthorized(real)
        self.assertNotIn("stale_timestamp", self.rejections(connector))
        self.assertEqual(self.rejections(connector), {"bad_signature": 1})
        # The genuine sender, with a clock an hour late, does learn why.
        genuine = self.post(connector, body, sign_for(connector, body, timestamp=stale))
        self.assertUnauthorized(genuine, "stale_timestamp")

    def test_random_signed_bodies_get_202_or_a_reason_and_never_stay_processing(self):
        rng = random.Random(20261207)
        connector = self.partners["aftership"]
        pieces = [b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\u0000", b"\\ud800", b"null", b"1e999", b"-0",
                  b'"event_id"', b'"msg"', b'"checkpoints"', b"\xff", b"\x00", "é".encode(), b"9" * 50]
        statuses = set()
        for index in range(60):
            body = b"".join(rng.choice(pieces) for _piece in range(rng.randint(1, 40))) + str(index).encode()
            response = self.post_signed(connector, body)
            self.assertIn(response.status_code, (200, 202, 400), response.text[:200])
            self.assertNoTraceback(response)
            statuses.add(response.status_code)
        self.assertIn(202, statuses)
        self.process()
        self.assertFalse(self.env["shipment.inbox"].search([("state", "=", "processing")]))
        for message in self.inbox(connector):
            self.assertIn(message.state, ("done", "failed"))
            if message.state == "failed":
                self.assertTrue(message.last_error)


@tagged("post_install", "-at_install")
class TestHardening(ShipmentCommon):
    """Partitions, derived data and secrets hold against users who try."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_company = cls.env["res.company"].create({"name": "Other Co"})
        cls.foreign_connector = cls.env["shipment.connector"].create({
            "name": "Foreign AfterShip", "connector_type": "aftership", "company_id": cls.other_company.id})
        cls.manager = new_test_user(
            cls.env, "sv_hardening_manager", groups="shipment_visibility.group_shipment_manager",
            company_id=cls.company.id, company_ids=[(6, 0, cls.company.ids)])
        cls.clerk = new_test_user(cls.env, "sv_hardening_clerk", groups="shipment_visibility.group_shipment_user")
        cls.Inbox = cls.env["shipment.inbox"]

    def _message(self, connector=None, body=None):
        message_id, _created, _correlation = self.Inbox._enqueue(
            connector or self.connector, body or aftership_body(event_id=f"evt-{random.random()}"), {})
        return self.Inbox.browse(message_id)

    def test_manager_cannot_move_a_message_to_another_company_or_fake_its_state(self):
        message = self._message()
        mine = message.with_user(self.manager)
        for values in ({"connector_id": self.foreign_connector.id}, {"state": "pending"}, {"body": "{}"},
                       {"source": "manual"}):
            with self.assertRaises(AccessError, msg=values):
                mine.write(values)
        with self.assertRaises(AccessError):
            self.Inbox.with_user(self.manager).create({
                "connector_id": self.foreign_connector.id, "body": "{}", "body_sha256": "x"})
        self.Inbox._cron_process_inbox()
        self.assertEqual(message.connector_id, self.connector)
        self.assertFalse(self.env["shipment.shipment"].search([("company_id", "=", self.other_company.id)]))

    def test_shipments_refuse_a_connector_of_another_company(self):
        with self.assertRaises(UserError):
            self.env["shipment.shipment"].create({"tracking_number": "MIXED1",
                                                  "connector_id": self.foreign_connector.id})

    def test_users_cannot_write_what_events_derive_nor_create_events(self):
        shipment = self.env["shipment.shipment"].create({"tracking_number": "DERIVED1"})
        mine = shipment.with_user(self.clerk)
        for values in ({"status": "delivered"}, {"is_terminal": True}, {"delivered_at": fields.Datetime.now()},
                       {"event_count": 9}, {"eta": fields.Datetime.now()}, {"exception_state": "open"}):
            with self.assertRaises(AccessError, msg=values):
                mine.write(values)
        with self.assertRaises(AccessError):
            self.env["shipment.shipment"].with_user(self.clerk).create({"tracking_number": "D2", "status": "delivered"})
        with self.assertRaises(AccessError):
            self.env["shipment.event"].with_user(self.clerk).create({
                "shipment_id": shipment.id, "milestone": "delivered", "occurred_at": fields.Datetime.now(),
                "source": "webhook", "correlation_id": "made-up", "fingerprint": "f" * 64})
        self.assertEqual(shipment.status, "pending")

    def test_manual_events_are_manual_messages_processed_like_any_other(self):
        shipment = self.env["shipment.shipment"].create({"tracking_number": "PHONE1"})
        wizard = self.env["shipment.manual.event"].with_user(self.clerk).create({
            "shipment_id": shipment.id, "milestone": "out_for_delivery", "description": "Driver called"})
        wizard.action_record()
        event = shipment.event_ids
        self.assertEqual((event.source, event.milestone), ("manual", "out_for_delivery"))
        message = event.inbox_id
        self.assertEqual((message.source, message.state, message.connector_id.connector_type),
                         ("manual", "done", "manual"))
        self.assertEqual(event.correlation_id, message.correlation_id)
        self.assertEqual(shipment.status, "out_for_delivery")

    def test_a_user_without_stock_rights_opens_a_shipment(self):
        desk_only = new_test_user(self.env, "sv_desk_only", groups="base.group_user")
        desk_only.groups_id = [(4, self.env.ref("shipment_visibility.group_shipment_user").id)]
        self.assertFalse(desk_only.has_group("stock.group_stock_user"))
        shipment = self.env["shipment.shipment"].create({"tracking_number": "NOSTOCK1", "carrier_id": self.carrier.id})
        form = Form(shipment.with_user(desk_only))
        self.assertEqual(form.tracking_url, "https://track.example.com/?n=NOSTOCK1")

    def test_a_copy_is_a_new_partner_account_and_no_log_line_holds_a_token(self):
        copy = self.connector.copy()
        original, duplicate = self.connector.sudo(), copy.sudo()
        self.assertEqual(duplicate.name, "Test AfterShip (copy)")
        self.assertTrue(duplicate.webhook_token)
        self.assertNotEqual(duplicate.webhook_token, original.webhook_token)
        self.assertFalse(duplicate.has_webhook_secret)
        self.assertEqual(self.connector.copy().name, "Test AfterShip (copy) 2")
        with LogCapture().capture() as logs, self.assertRaises(ValidationError):
            self.env["shipment.connector"].create({"name": "Test AfterShip", "connector_type": "aftership"})
        tokens = [original.webhook_token, duplicate.webhook_token]
        self.assertFalse([line for line in logs.lines if any(token in line for token in tokens)])
        self.assertFalse([line for line in logs.lines if "bad query" in line])

    def test_example_request_is_the_partners_own_format_and_verifies(self):
        example = self.connector.sudo().example_request
        body = example.split("--data-raw '", 1)[1].rsplit("'", 1)[0].encode()
        data = json.loads(body)
        self.assertEqual(data["event"], "tracking_update")
        self.assertIn("checkpoints", data["msg"])
        header = [line for line in example.splitlines() if "aftership-hmac-sha256" in line][0]
        value = header.split(": ", 1)[1].rstrip("' \\")
        verified = signatures.verify("aftership", body, {"aftership-hmac-sha256": value},
                                     ["test-aftership-secret"])
        self.assertEqual(verified.scheme, "aftership")
        native = self.env["shipment.connector"].create({
            "name": "Native example", "connector_type": "generic_json", "webhook_secret": "whsec_" + "A" * 43 + "="})
        self.assertIn('"type":"shipment.tracking.updated"', native.sudo().example_request)

    def test_internal_destinations_are_refused_at_configuration(self):
        Connector = self.env["shipment.connector"]
        for url in ("https://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8069", "https://0x7f000001/",
                    "https://10.0.0.1/api", "https://192.168.1.20/", "https://[::1]/", "http://api.example.com/",
                    "https://localhost/", "ftp://files.example.com/"):
            with self.assertRaises(ValidationError, msg=url):
                Connector.create({"name": f"SSRF {url}", "connector_type": "aftership", "api_base_url": url})
        with self.assertRaises(ValidationError):
            Connector.create({"name": "Template", "connector_type": "generic_json", "api_base_url": "https://api.example.com",
                              "poll_url_template": "https://169.254.169.254/{number}"})
        self.env["ir.config_parameter"].set_param("shipment_visibility.outbound_allowed_hosts", "10.20.0.0/16")
        allowed = Connector.create({"name": "On premise", "connector_type": "generic_json",
                                    "api_base_url": "http://10.20.0.5:8080"})
        self.assertEqual(allowed.api_base_url, "http://10.20.0.5:8080")

    def test_process_now_queues_without_processing_in_the_request(self):
        message = self._message()
        admin = new_test_user(self.env, "sv_hardening_admin",
                              groups="shipment_visibility.group_shipment_integration_admin")
        action = message.with_user(admin).action_process_now()
        self.assertEqual(action["tag"], "display_notification")
        self.assertEqual(message.state, "pending", "the cron worker processes it, not the request")
        self.assertTrue(self.env.cr.postcommit.data.get(WAKE_KEY), "the processor is woken after the commit")

    def test_an_action_on_a_message_a_worker_holds_is_refused(self):
        message = self._message()
        self.assertEqual(self.Inbox._claim(50) & message, message)
        with self.assertRaisesRegex(UserError, "being processed by a worker"):
            message.action_ignore()

    def test_dates_beyond_the_calendar_fail_at_the_first_attempt(self):
        data = fixture_json("aftership", "tracking_update_delivered.json")
        data["event_id"] = "evt-calendar"
        data["msg"]["checkpoints"][0]["checkpoint_time"] = "9999-12-31T23:00:00-05:00"
        message = self._message(body=dump(data))
        self.Inbox._cron_process_inbox()
        self.assertEqual((message.state, message.attempts), ("failed", 1), message.last_error)
        self.assertIn("checkpoints[0]", message.last_error)

    def test_a_message_whose_failure_text_is_unstorable_still_ends_failed(self):
        seventeen = self.env["shipment.connector"].create({"name": "17 poison", "connector_type": "seventeentrack"})
        poison = self._message(seventeen, b'{"code":"\\u0000\\ud800"}')
        good = self._message()
        self.Inbox._cron_process_inbox()
        self.assertEqual((poison.state, good.state), ("failed", "done"))
        self.assertIn("\\u0000", poison.last_error)


@tagged("post_install", "-at_install")
class TestClaimRace(RealCursorCase):
    """A claim racing another worker retries quietly instead of failing its caller."""

    def test_a_serialization_failure_in_a_claim_is_retried_quietly(self):
        connector_id = self.commit_connector("Claim race")
        with self.real_env() as env:
            connector = env["shipment.connector"].browse(connector_id)
            for index in range(3):
                env["shipment.inbox"]._enqueue(connector, aftership_body(event_id=f"race-{index}"), {})
        with self.registry.cursor() as late_cr, self.registry.cursor() as fast_cr:
            late = self.env_on(late_cr)
            late_cr.execute("SELECT 1")  # the late worker's snapshot starts here
            fast = self.env_on(fast_cr)
            claimed_by_fast = fast["shipment.inbox"]._claim(10)
            fast_cr.commit()
            self.assertEqual(len(claimed_by_fast), 3)
            # Same rows, claimed and committed after the late worker's snapshot: without the
            # retry this raised SerializationFailure with a traceback in the log.
            fast["shipment.inbox"].browse(claimed_by_fast.ids)._set_state("pending")
            fast_cr.commit()
            with LogCapture().capture(INBOX_LOGGER) as logs:
                claimed = late["shipment.inbox"]._claim(10)
            self.assertFalse(claimed)
            self.assertTrue(any("lost a race" in line and " INFO " in line for line in logs.lines), logs.lines)
            self.assertFalse([line for line in logs.lines if "ERROR" in line or "Traceback" in line])
            late_cr.rollback()
            self.assertEqual(len(late["shipment.inbox"]._claim(10)), 3, "a new transaction takes them")
            late_cr.rollback()
