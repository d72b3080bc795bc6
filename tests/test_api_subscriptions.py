"""Event subscriptions through the REST API, over real HTTP, every answer checked against the OpenAPI document.

Deliveries go to a real loopback receiver; signatures are checked with the reference
Standard Webhooks library.
"""

import json

from standardwebhooks.webhooks import Webhook

from odoo.tests import tagged
from odoo.tools import SQL

from ..integration import api_contract, outbound, signatures
from .api_common import ApiHttpCommon
from .outbox_common import Receiver

PROBLEM = api_contract.PROBLEM_TYPE_PREFIX
ITEM = "/subscriptions/{subscription_id}"


class ApiSubscriptionsCommon(ApiHttpCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.wide_manager = cls._service_account("Event router", "event-router",
                                                shipment_api_can_manage_subscriptions=True)
        cls.ada_manager = cls._service_account("Ada events", "ada-events", partner=cls.customer,
                                               shipment_api_can_manage_subscriptions=True)
        cls.wide_manager_key = cls._new_key(cls.wide_manager)
        cls.ada_manager_key = cls._new_key(cls.ada_manager)

    def setUp(self):
        super().setUp()
        self.receiver = Receiver(self.script)
        self.addCleanup(self.receiver.close)
        self.answers = []
        # The test consumer's own address and port are allowed; nothing else on loopback.
        self.env["ir.config_parameter"].sudo().set_param(
            "shipment_visibility.outbound_allowed_hosts", f"127.0.0.1:{self.receiver.port}")

    def script(self, number, headers, body):
        return (self.answers.pop(0) if self.answers else 204), {}, 0

    def create(self, key, **values):
        body = {"name": "Ada's ERP", "url": self.receiver.url(), **values}
        response = self.call("POST", "/subscriptions", key=key, body=body)
        self.assertEqual(response.status_code, 201, response.text)
        return response.json()

    def admin_subscription(self, name, customer=None, **values):
        return self.env["shipment.subscription"].create({
            "name": name, "url": self.receiver.url(f"/{name}"), "secret": signatures.generate_webhook_secret(),
            "customer_id": customer.id if customer else False, **values})

    def assertProblem(self, response, status, code, pointer=None):
        self.assertEqual(response.status_code, status, response.text)
        problem = response.json()
        self.assertEqual(problem["type"], PROBLEM + code, problem)
        if pointer is not None:
            self.assertEqual([error.get("pointer") for error in problem["errors"]][:1], [pointer], problem)
        return problem


@tagged("post_install", "-at_install")
class TestApiSubscriptions(ApiSubscriptionsCommon):

    def test_scope_is_required(self):
        for method, path, template in [("GET", "/subscriptions", None), ("POST", "/subscriptions", None),
                                       ("POST", "/subscriptions/1/test", ITEM + "/test")]:
            with self.subTest(method=method, path=path):
                response = self.call(method, path, key=self.wide_key, body={}, template=template)
                self.assertProblem(response, 403, "forbidden")
        self.assertProblem(self.call("GET", "/subscriptions"), 401, "unauthorized")

    def test_create_forces_the_customer_and_shows_the_secret_once(self):
        created = self.create(self.ada_manager_key, event_types=["shipment.delivered", "shipment.eta_changed"])
        self.assertTrue(created["secret"].startswith("whsec_"))
        self.assertEqual(created["customer_id"], self.customer.id, "a bound account subscribes for its customer")
        self.assertEqual(sorted(created["event_types"]), ["shipment.delivered", "shipment.eta_changed"])
        self.assertTrue(created["enabled"] and created["has_secret"])
        record = self.env["shipment.subscription"].browse(created["id"])
        self.assertEqual((record.kind, record.customer_id, record.company_id),
                         ("webhook", self.customer, self.env.company))
        self.assertEqual(record._signing_secrets(), [created["secret"]], "the secret shown is the one that signs")
        # Never again: neither the item nor the list carries it.
        item = self.call("GET", f"/subscriptions/{created['id']}", key=self.ada_manager_key, template=ITEM)
        self.assertEqual(item.status_code, 200)
        self.assertNotIn("secret", item.json())
        listed = self.call("GET", "/subscriptions", key=self.ada_manager_key)
        self.assertNotIn(created["secret"], listed.text)
        self.assertEqual([document["id"] for document in listed.json()["data"]], [created["id"]])
        # Another customer's filter is refused, with the member that asked for it.
        response = self.call("POST", "/subscriptions", key=self.ada_manager_key,
                             body={"name": "x", "url": self.receiver.url(), "customer_id": self.stranger.id})
        self.assertProblem(response, 422, "validation-failed", "/customer_id")

    def test_company_wide_account_chooses_the_customer_filter(self):
        created = self.create(self.wide_manager_key, customer_id=self.stranger.id)
        self.assertEqual(created["customer_id"], self.stranger.id)
        self.assertIsNone(self.create(self.wide_manager_key)["customer_id"])
        response = self.call("POST", "/subscriptions", key=self.wide_manager_key,
                             body={"name": "x", "url": self.receiver.url(), "customer_id": 2147483647})
        self.assertProblem(response, 422, "validation-failed", "/customer_id")

    def test_partition_another_customers_subscription_is_404_everywhere(self):
        stranger_subscription = self.admin_subscription("eve", customer=self.stranger)
        company_subscription = self.admin_subscription("platform")
        ada_subscription = self.admin_subscription("ada", customer=self.customer)
        listed = self.call("GET", "/subscriptions", key=self.ada_manager_key).json()["data"]
        self.assertEqual([document["id"] for document in listed], [ada_subscription.id])
        wide = {document["id"] for document in self.call("GET", "/subscriptions?limit=200",
                                                          key=self.wide_manager_key, template="/subscriptions")
                .json()["data"]}
        self.assertTrue({stranger_subscription.id, company_subscription.id, ada_subscription.id} <= wide)
        for other in (stranger_subscription, company_subscription):
            for method, suffix, body in [("GET", "", None), ("PATCH", "", {"name": "mine now"}),
                                         ("DELETE", "", None), ("POST", "/rotate-secret", {}),
                                         ("POST", "/test", {}), ("POST", "/replay", {"failed": True})]:
                with self.subTest(subscription=other.name, method=method, suffix=suffix):
                    response = self.call(method, f"/subscriptions/{other.id}{suffix}", key=self.ada_manager_key,
                                         body=body, template=ITEM + suffix)
                    self.assertProblem(response, 404, "not-found")
        self.assertEqual((stranger_subscription.name, stranger_subscription.active), ("eve", True))
        self.assertEqual(len(self.receiver.requests), 0, "nothing was sent for another's subscription")
        # An id that does not exist looks the same as another customer's.
        missing = self.call("GET", "/subscriptions/2147483647", key=self.ada_manager_key, template=ITEM)
        self.assertEqual(missing.json()["detail"].split(" ")[0:2], ["No", "subscription"])

    def test_internal_destinations_are_422_with_the_reason(self):
        for url, reason in [("http://127.0.0.1:1/hook", "internal_address"),
                            ("https://10.0.0.1/hook", "internal_address"),
                            ("https://169.254.169.254/latest/meta-data", "internal_address"),
                            ("https://localhost/hook", "internal_name"),
                            ("http://example.com/hook", "scheme"),
                            ("ftp://example.com/hook", "scheme"),
                            ("https://user:pw@example.com/hook", "credentials")]:
            with self.subTest(url=url):
                response = self.call("POST", "/subscriptions", key=self.wide_manager_key,
                                     body={"name": "bad", "url": url})
                problem = self.assertProblem(response, 422, "validation-failed", "/url")
                self.assertIn(f"({reason})", problem["errors"][0]["detail"])
        self.assertFalse(self.env["shipment.subscription"].search([("name", "=", "bad")]))
        created = self.create(self.wide_manager_key)
        response = self.call("PATCH", f"/subscriptions/{created['id']}", key=self.wide_manager_key,
                             body={"url": "https://169.254.169.254/"}, template=ITEM)
        self.assertProblem(response, 422, "validation-failed", "/url")

    def test_update_enable_disable_and_validation(self):
        created = self.create(self.ada_manager_key)
        path = f"/subscriptions/{created['id']}"
        response = self.call("PATCH", path, key=self.ada_manager_key, template=ITEM,
                             body={"name": "Ada's new ERP", "event_types": ["shipment.delivered"],
                                   "strict_ordering": True, "rotation_window_hours": 48})
        self.assertEqual(response.status_code, 200, response.text)
        document = response.json()
        self.assertEqual((document["name"], document["event_types"], document["strict_ordering"],
                          document["rotation_window_hours"]), ("Ada's new ERP", ["shipment.delivered"], True, 48))
        # Disabling is logged as a warning for the operators, whoever asks for it.
        with self.assertLogs("odoo.addons.shipment_visibility.models.shipment_subscription", "WARNING") as logs:
            disabled = self.call("PATCH", path, key=self.ada_manager_key, body={"enabled": False},
                                 template=ITEM).json()
        self.assertIn("Disabled through the API by Ada events.", logs.output[0])
        self.assertFalse(disabled["enabled"])
        self.assertIn("Ada events", disabled["disabled_reason"])
        self.assertTrue(disabled["disabled_at"])
        enabled = self.call("PATCH", path, key=self.ada_manager_key, body={"enabled": True}, template=ITEM).json()
        self.assertEqual((enabled["enabled"], enabled["disabled_reason"]), (True, None))
        for body, pointer in [({}, ""), ({"event_types": ["shipment.lost"]}, "/event_types/0"),
                              ({"name": " "}, "/name"), ({"rotation_window_hours": 0}, "/rotation_window_hours"),
                              ({"secret": "whsec_AAAA"}, ""), ({"kind": "amqp"}, "")]:
            with self.subTest(body=body):
                response = self.call("PATCH", path, key=self.ada_manager_key, body=body, template=ITEM)
                self.assertProblem(response, 422, "validation-failed", pointer)
        response = self.call("PATCH", path, key=self.ada_manager_key, body=b"{", template=ITEM)
        self.assertProblem(response, 400, "malformed-body")
        response = self.call("PATCH", path, key=self.ada_manager_key, body=b"name=x", template=ITEM,
                             content_type="application/x-www-form-urlencoded")
        self.assertProblem(response, 415, "unsupported-media-type")

    def test_amqp_subscriptions_never_show_their_broker(self):
        broker = "amqp://guest:guest@127.0.0.1:5672/%2F"
        amqp = self.env["shipment.subscription"].create({"name": "lake", "kind": "amqp", "amqp_url": broker})
        listed = self.call("GET", "/subscriptions", key=self.wide_manager_key)
        self.assertNotIn("amqp://", listed.text)
        self.assertNotIn("guest", listed.text)
        document = next(d for d in listed.json()["data"] if d["id"] == amqp.id)
        self.assertEqual((document["kind"], document["url"], document["has_secret"]), ("amqp", None, False))
        path = f"/subscriptions/{amqp.id}"
        self.assertProblem(self.call("POST", f"{path}/rotate-secret", key=self.wide_manager_key, body={},
                                     template=ITEM + "/rotate-secret"), 409, "conflict")
        self.assertProblem(self.call("PATCH", path, key=self.wide_manager_key, body={"url": self.receiver.url()},
                                     template=ITEM), 409, "conflict")
        self.assertEqual(amqp._broker_url(), broker, "the broker URL is kept, only never shown")

    def test_delete_archives_and_stops_deliveries(self):
        created = self.create(self.ada_manager_key)
        path = f"/subscriptions/{created['id']}"
        response = self.call("DELETE", path, key=self.ada_manager_key, template=ITEM)
        self.assertEqual(response.status_code, 204)
        self.assertProblem(self.call("GET", path, key=self.ada_manager_key, template=ITEM), 404, "not-found")
        record = self.env["shipment.subscription"].with_context(active_test=False).browse(created["id"])
        self.assertFalse(record.active)
        self.env["shipment.shipment"].create({"tracking_number": "GONE1", "partner_id": self.customer.id})
        self.env["shipment.outbox.delivery"]._cron_dispatch()
        self.assertEqual(self.receiver.requests, [], "a removed subscription receives nothing")


@tagged("post_install", "-at_install")
class TestApiSubscriptionDeliveries(ApiSubscriptionsCommon):

    def dispatch(self):
        Delivery = self.env["shipment.outbox.delivery"]
        self.env.execute_query(SQL("UPDATE shipment_outbox_delivery SET next_attempt_at = '2000-01-01' "
                                   "WHERE state = 'pending'"))
        Delivery.invalidate_model()
        return Delivery._cron_dispatch()

    def test_test_delivery_answers_its_outcome_with_one_of_the_accounts_shipments(self):
        created = self.create(self.ada_manager_key)
        path = f"/subscriptions/{created['id']}/test"
        response = self.call("POST", path, key=self.ada_manager_key, body={}, template=ITEM + "/test")
        self.assertEqual(response.status_code, 200, response.text)
        outcome = response.json()
        self.assertEqual((outcome["delivered"], outcome["status_code"], outcome["error"], outcome["event_type"]),
                         (True, 204, None, "shipment.created"))
        _path, headers, body = self.receiver.requests[-1]
        message = Webhook(created["secret"]).verify(body, headers)
        self.assertEqual(headers["webhook-id"], outcome["message_id"])
        self.assertIn(message["data"]["shipment"]["tracking_number"], {"PARCELA1", "PARCELB2"},
                      "the sample is one of the customer's own shipments")
        self.answers = [500]
        failed = self.call("POST", path, key=self.ada_manager_key, body={}, template=ITEM + "/test").json()
        self.assertEqual((failed["delivered"], failed["status_code"]), (False, 500))
        self.assertTrue(failed["error"])
        self.assertFalse(self.env["shipment.outbox.delivery"].search([("subscription_id", "=", created["id"])]),
                         "a test message is not a delivery: nothing is retried")

    def test_rotation_returns_the_new_secret_once_and_both_sign(self):
        created = self.create(self.ada_manager_key)
        path = f"/subscriptions/{created['id']}"
        rotated = self.call("POST", f"{path}/rotate-secret", key=self.ada_manager_key, body={},
                            template=ITEM + "/rotate-secret")
        self.assertEqual(rotated.status_code, 200, rotated.text)
        new = rotated.json()["secret"]
        self.assertTrue(new.startswith("whsec_"))
        self.assertNotEqual(new, created["secret"])
        self.assertTrue(rotated.json()["previous_secret_expires_at"])
        self.call("POST", f"{path}/test", key=self.ada_manager_key, body={}, template=ITEM + "/test")
        _path, headers, body = self.receiver.requests[-1]
        self.assertEqual(len(headers["webhook-signature"].split()), 2)
        Webhook(created["secret"]).verify(body, headers)
        Webhook(new).verify(body, headers)
        self.assertNotIn(new, self.call("GET", path, key=self.ada_manager_key, template=ITEM).text)

    def test_replay_one_message_a_range_or_the_failed(self):
        created = self.create(self.ada_manager_key)
        path = f"/subscriptions/{created['id']}/replay"
        self.env["shipment.shipment"].create({"tracking_number": "REPLAY1", "partner_id": self.customer.id})
        self.env["shipment.shipment"].create({"tracking_number": "REPLAY2", "partner_id": self.customer.id})
        self.dispatch()
        deliveries = self.env["shipment.outbox.delivery"].search([("subscription_id", "=", created["id"])])
        self.assertEqual(len(deliveries), 2)
        self.assertEqual(set(deliveries.mapped("state")), {"delivered"})
        first_uid = deliveries.sorted("id")[0].outbox_id.message_uid

        response = self.call("POST", path, key=self.ada_manager_key, body={"message_id": first_uid},
                             template=ITEM + "/replay")
        self.assertEqual((response.status_code, response.json()), (202, {"requeued": 1}), response.text)
        self.dispatch()
        ids = [headers["webhook-id"] for _path, headers, _body in self.receiver.requests]
        self.assertEqual(ids.count(first_uid), 2, "replayed with the same webhook-id")

        window = {"from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00+02:00"}
        response = self.call("POST", path, key=self.ada_manager_key, body=window, template=ITEM + "/replay")
        self.assertEqual(response.json(), {"requeued": 2})
        self.dispatch()
        response = self.call("POST", path, key=self.ada_manager_key, body={"from": "2999-01-01T00:00:00Z",
                                                                            "to": "2999-01-02T00:00:00Z"},
                             template=ITEM + "/replay")
        self.assertEqual(response.json(), {"requeued": 0})

        self.env.execute_query(SQL("UPDATE shipment_outbox_delivery SET state = 'failed' WHERE id = %s",
                                   deliveries[0].id))
        deliveries.invalidate_recordset()
        response = self.call("POST", path, key=self.ada_manager_key, body={"failed": True}, template=ITEM + "/replay")
        self.assertEqual(response.json(), {"requeued": 1})
        self.assertEqual(deliveries[0].state, "pending")
        self.assertEqual(len(self.receiver.requests), 5)
        for _path, headers, body in self.receiver.requests:
            Webhook(created["secret"]).verify(body, headers)
            self.assertEqual(json.loads(body)["type"], outbound.SHIPMENT_CREATED)

    def test_replay_selection_errors_point_at_the_member(self):
        created = self.create(self.ada_manager_key)
        path = f"/subscriptions/{created['id']}/replay"
        for body, pointer in [({}, ""), ({"message_id": "msg_abc", "failed": True}, "/failed"),
                              ({"from": "2026-01-01T00:00:00Z"}, "/to"),
                              ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "/to"),
                              ({"from": "2026-01-01", "to": "2026-01-02T00:00:00Z"}, "/from"),
                              ({"failed": False}, "/failed"), ({"message_id": "abc"}, "/message_id"),
                              ({"message_id": "msg_unknown"}, "/message_id"), ({"all": True}, "")]:
            with self.subTest(body=body):
                response = self.call("POST", path, key=self.ada_manager_key, body=body, template=ITEM + "/replay")
                self.assertProblem(response, 422, "validation-failed", pointer)

    def test_messages_of_another_customer_cannot_be_replayed_through_ones_own(self):
        created = self.create(self.ada_manager_key)
        stranger_subscription = self.admin_subscription("eve", customer=self.stranger)
        self.env["shipment.shipment"].create({"tracking_number": "EVE1", "partner_id": self.stranger.id})
        self.dispatch()
        stranger_uid = self.env["shipment.outbox.delivery"].search(
            [("subscription_id", "=", stranger_subscription.id)], limit=1).outbox_id.message_uid
        self.assertTrue(stranger_uid)
        response = self.call("POST", f"/subscriptions/{created['id']}/replay", key=self.ada_manager_key,
                             body={"message_id": stranger_uid}, template=ITEM + "/replay")
        self.assertProblem(response, 422, "validation-failed", "/message_id")
