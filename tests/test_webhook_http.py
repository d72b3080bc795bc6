"""The webhook route through Odoo's real HTTP stack: every scheme, every refusal."""

import json
import math
import random
import secrets as token_generator
import threading
import time
from datetime import timedelta

import requests

from odoo import fields
from odoo.sql_db import db_connect
from odoo.tests import tagged
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME
from odoo.tools import mute_logger

from ..controllers import webhook as webhook_controller
from ..integration import signatures
from ..integration.redaction import REDACTED
from .http_common import (
    GENERIC_SCHEMES,
    SECRETS,
    WEBHOOK_PATH,
    RealCursorCase,
    WebhookHttpCase,
    dump,
    fixture_json,
    sample_body,
    sign_for,
)

TIMESTAMPED = ("standard_webhooks", "timestamped_hmac", "shippo", "shipengine")
CONTROLLER_LOGGER = "odoo.addons.shipment_visibility.controllers.webhook"


@tagged("post_install", "-at_install")
class TestWebhookHttp(WebhookHttpCase):
    """Signed partner bodies posted over HTTP: accepted, refused, deduplicated, audited."""

    def connectors_with_bodies(self):
        for connector in self.all_connectors:
            yield connector, sample_body(connector.connector_type)

    def scheme_label(self, connector):
        return f"{connector.name} ({connector._effective_scheme()})"

    # ------------------------------------------------------------ acceptance

    def test_every_scheme_accepts_a_genuine_signature(self):
        """Each generic scheme and each partner's own scheme accepts a correctly signed body."""
        self.assertEqual(len(self.all_connectors), 9)
        schemes = set()
        for connector, body in self.connectors_with_bodies():
            with self.subTest(connector=self.scheme_label(connector)):
                response = self.post_signed(connector, body)
                self.assertEqual(response.status_code, 202, response.text)
                payload = response.json()
                self.assertEqual(payload["status"], "accepted")
                message = self.env["shipment.inbox"].browse(payload["message_id"])
                self.assertEqual(message.connector_id, connector)
                self.assertEqual(message.state, "pending")
                self.assertEqual(message.source, "webhook")
                self.assertEqual(message.body.encode(), body, "the body is stored byte for byte")
                self.assertEqual(message.body_size, len(body))
                self.assertEqual(message.correlation_id, payload["correlation_id"])
                self.assertEqual(response.headers["X-Correlation-ID"], payload["correlation_id"])
                self.assertEqual(response.headers["Cache-Control"], "no-store")
                self.assertEqual(self.rejections(connector), {})
                schemes.add(connector._effective_scheme())
        self.assertEqual(schemes, set(GENERIC_SCHEMES) | {"aftership", "easypost", "shippo", "seventeentrack",
                                                          "shipengine"})

    def test_wrong_secret_is_refused(self):
        """A body signed with another secret (another RSA key for ShipEngine) is a 401."""
        for connector, body in self.connectors_with_bodies():
            with self.subTest(connector=self.scheme_label(connector)):
                wrong = ("whsec_" + "d3Jvbmctc2VjcmV0LWJ1dC12YWxpZC1iYXNlNjQ="
                         if connector._effective_scheme() == "standard_webhooks" else "not-the-secret")
                response = self.post_signed(connector, body, secret=wrong, rsa_label="intruder")
                self.assertUnauthorized(response)
                self.assertEqual(self.rejections(connector), {"bad_signature": 1})
                self.assertFalse(self.inbox(connector))

    def test_tampered_body_is_refused(self):
        """A signature made for one body does not cover a changed body."""
        for connector, body in self.connectors_with_bodies():
            with self.subTest(connector=self.scheme_label(connector)):
                headers = sign_for(connector, body)
                tampered = body.replace(b"20", b"21", 1)
                self.assertNotEqual(tampered, body)
                response = self.post(connector, tampered, headers)
                self.assertUnauthorized(response)
                self.assertEqual(self.rejections(connector), {"bad_signature": 1})
                self.assertFalse(self.inbox(connector))

    def test_a_polling_connector_without_a_secret_refuses_every_webhook(self):
        """Live and polling, no webhook secret: a signed webhook gets the unknown token's
        answer, nothing is stored, and the refusal is counted with its reason."""
        connector = self._make_connector(self.env, "AfterShip, polling only", "aftership", "adapter",
                                         webhook_secret=False, poll_enabled=True,
                                         api_base_url="https://api.aftership.example")
        self.assertFalse(connector.has_webhook_secret)
        body = sample_body("aftership")
        response = self.post(connector, body, sign_for(self.partners["aftership"], body))
        self.assertUnauthorized(response)
        self.assertFalse(self.inbox(connector))
        self.assertEqual(self.rejections(connector), {"no_secret": 1})

    def test_missing_signature_header_is_refused(self):
        for connector, body in self.connectors_with_bodies():
            with self.subTest(connector=self.scheme_label(connector)):
                response = self.post(connector, body, {})
                self.assertUnauthorized(response)
                self.assertEqual(self.rejections(connector), {"missing_header": 1})
                self.assertFalse(self.inbox(connector))

    def test_stale_and_future_timestamps_are_refused_with_their_reason(self):
        """Schemes that sign a time refuse one outside the tolerance, and say why."""
        for connector in self.all_connectors:
            if connector._effective_scheme() not in TIMESTAMPED:
                continue
            body = sample_body(connector.connector_type)
            with self.subTest(connector=self.scheme_label(connector)):
                now = int(time.time())
                response = self.post_signed(connector, body, timestamp=now - 3600)
                self.assertUnauthorized(response, "stale_timestamp")
                response = self.post_signed(connector, body, timestamp=now + 3600)
                self.assertUnauthorized(response, "future_timestamp")
                # Inside the tolerance (300 s) both ways is fine.
                response = self.post_signed(connector, body, timestamp=now - 200)
                self.assertEqual(response.status_code, 202, response.text)
                self.assertEqual(self.rejections(connector), {"stale_timestamp": 1, "future_timestamp": 1})
                self.assertEqual(len(self.inbox(connector)), 1)

    def test_tolerance_is_per_connector(self):
        connector = self.generic["timestamped_hmac"]
        connector.timestamp_tolerance = 30
        response = self.post_signed(connector, b'{"a": 1}', timestamp=int(time.time()) - 120)
        self.assertUnauthorized(response, "stale_timestamp")

    def test_rotated_secret_is_accepted_only_inside_its_window(self):
        for scheme in GENERIC_SCHEMES:
            connector = self.generic[scheme]
            old_secret = SECRETS[scheme]
            new_secret = ("whsec_" + "bmV3LXN0YW5kYXJkLXdlYmhvb2tzLXNlY3JldC0zMmI="
                          if scheme == "standard_webhooks" else f"rotated-{scheme}")
            with self.subTest(scheme=scheme):
                connector.webhook_secret = new_secret
                self.assertGreater(connector.webhook_previous_secret_expires_at, fields.Datetime.now())
                response = self.post_signed(connector, b'{"n": "old-in-window"}', secret=old_secret)
                self.assertEqual(response.status_code, 202, "the previous secret works during its window")
                response = self.post_signed(connector, b'{"n": "new"}', secret=new_secret)
                self.assertEqual(response.status_code, 202)

                connector.webhook_previous_secret_expires_at = fields.Datetime.now() - timedelta(minutes=1)
                response = self.post_signed(connector, b'{"n": "old-expired"}', secret=old_secret)
                self.assertUnauthorized(response)
                response = self.post_signed(connector, b'{"n": "new-again"}', secret=new_secret)
                self.assertEqual(response.status_code, 202)
                self.assertEqual(len(self.inbox(connector)), 3)
                self.assertEqual(self.rejections(connector), {"bad_signature": 1})

    # ------------------------------------------------------------ refusals

    def test_unknown_token_and_bad_signature_give_identical_answers(self):
        """Nobody learns from the answer whether a token exists."""
        connector = self.generic["hmac_sha256_hex"]
        body = b'{"probe": true}'
        headers = dict(sign_for(connector, body, secret="guess"), **{"X-Correlation-ID": "probe-1"})
        bad_signature = self.post(connector, body, headers)
        unknown = self.post(token_generator.token_urlsafe(32), body, headers)
        no_token_format = self.post("x", body, headers)
        for response in (bad_signature, unknown, no_token_format):
            self.assertEqual(response.status_code, 401)
            self.assertEqual(response.content, bad_signature.content)
            self.assertEqual(response.headers["Content-Type"], bad_signature.headers["Content-Type"])
            self.assertEqual(response.headers["X-Correlation-ID"], "probe-1")
        self.assertEqual(json.loads(bad_signature.content)["error"], "unauthorized")

    def test_archived_connector_answers_like_an_unknown_token(self):
        connector = self.generic["hmac_sha256_hex"]
        body = b'{"archived": true}'
        headers = sign_for(connector, body)
        connector.active = False
        response = self.post(connector, body, headers)
        self.assertUnauthorized(response)
        self.assertFalse(self.inbox(connector))

    def test_route_sees_connector_changes_at_once(self):
        """Each worker remembers what the route checks; any change to it is seen on the next call."""
        connector = self.generic["hmac_sha256_hex"]
        self.assertEqual(self.post_signed(connector, b'{"cached": 1}').status_code, 202)
        old_url_token = self.token(connector)
        connector.action_regenerate_webhook_token()
        self.assertUnauthorized(self.post(old_url_token, b'{"cached": 2}', sign_for(connector, b'{"cached": 2}')))
        self.assertEqual(self.post_signed(connector, b'{"cached": 3}').status_code, 202)
        connector.max_body_bytes = 10
        self.assertEqual(self.post_signed(connector, b'{"cached": 4}').status_code, 413)
        connector.max_body_bytes = 1024
        connector.active = False
        self.assertUnauthorized(self.post_signed(connector, b'{"cached": 5}'))
        connector.active = True
        self.assertEqual(self.post_signed(connector, b'{"cached": 6}').status_code, 202)
        self.assertEqual(len(self.inbox(connector)), 3)

    def test_non_webhook_connector_types_have_no_webhook(self):
        connector = self._make_connector(self.env, "EDI files", "edi_x12_214", "hmac_sha256_hex")
        self.assertFalse(connector.sudo().webhook_token, "a file partner gets no webhook URL")
        self.assertFalse(connector.sudo().webhook_url)
        # Even with a token (a connector whose type was changed), the route refuses it.
        self.env.cr.execute("UPDATE shipment_connector SET webhook_token = 'edi-token-0123456789' WHERE id = %s",
                            [connector.id])
        connector.invalidate_recordset()
        self.env.registry.clear_cache()
        body = b'{"edi": true}'
        response = self.post(connector, body, sign_for(connector, body))
        self.assertUnauthorized(response)
        self.assertFalse(self.inbox(connector))

    def test_body_larger_than_the_connector_limit_is_refused(self):
        connector = self.generic["hmac_sha256_hex"]
        connector.max_body_bytes = 600
        exact = json.dumps({"pad": "x" * 590}).encode()[:600]
        exact = exact[:-2] + b'"}'
        self.assertEqual(len(exact), 600)
        response = self.post_signed(connector, exact)
        self.assertEqual(response.status_code, 202, "a body of exactly the limit is accepted")
        larger = exact[:-2] + b'x"}'
        response = self.post_signed(connector, larger)
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["error"], "body_too_large")
        self.assertEqual(self.rejections(connector), {"body_too_large": 1})
        self.assertEqual(len(self.inbox(connector)), 1)

        # Without a known connector the default limit (1 MiB) applies, before anything else.
        response = self.post("no-such-token", b"x" * (webhook_controller.DEFAULT_MAX_BODY + 1))
        self.assertEqual(response.status_code, 413)

    def test_unsupported_media_types_are_refused(self):
        connector = self.generic["hmac_sha256_hex"]
        body = b'{"media": 1}'
        headers = sign_for(connector, body)
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/json", "application/xml",
                             "multipart/form-data; boundary=xyz", "application/jsonp"):
            with self.subTest(content_type=content_type):
                response = self.post(connector, body, headers, content_type=content_type)
                self.assertEqual(response.status_code, 415)
                self.assertEqual(response.json()["error"], "unsupported_media_type")
        response = self.post(connector, body, headers, content_type=None)
        self.assertEqual(response.status_code, 415, "no content type at all")
        self.assertEqual(self.rejections(connector), {"unsupported_media_type": 7})
        self.assertFalse(self.inbox(connector))
        for index, content_type in enumerate(("application/json; charset=utf-8", "application/vnd.partner+json",
                                              "APPLICATION/JSON")):
            with self.subTest(content_type=content_type):
                body = dump({"media": index})
                response = self.post(connector, body, sign_for(connector, body), content_type=content_type)
                self.assertEqual(response.status_code, 202)

    def test_rate_limit_answers_429_with_retry_after(self):
        connector = self.generic["hmac_sha256_hex"]
        connector.rate_limit_per_minute = 6  # burst of 1, then one every 10 s
        first = self.post_signed(connector, b'{"rate": 1}')
        self.assertEqual(first.status_code, 202)
        second = self.post_signed(connector, b'{"rate": 2}')
        self.assertEqual(second.status_code, 429)
        self.assertEqual(second.json()["error"], "rate_limited")
        retry_after = int(second.headers["Retry-After"])
        self.assertTrue(1 <= retry_after <= 10, retry_after)
        # Refused before storing, and an unsigned flood does not spend the budget.
        self.assertEqual(len(self.inbox(connector)), 1)
        self.assertEqual(self.rejections(connector), {"rate_limited": 1})
        self.assertUnauthorized(self.post(connector, b'{"rate": 3}', {}))
        self.assertEqual(self.rejections(connector), {"rate_limited": 1, "missing_header": 1})
        # Another connector has its own bucket.
        other = self.generic["hmac_sha256_base64"]
        other.rate_limit_per_minute = 6
        self.assertEqual(self.post_signed(other, b'{"rate": 1}').status_code, 202)

    def test_rate_limit_budget_lives_in_the_database_for_every_worker_and_server(self):
        connector = self.generic["hmac_sha256_hex"]
        connector.rate_limit_per_minute = 6
        self.assertEqual(self.post_signed(connector, b'{"shared": 1}').status_code, 202)
        # What any other worker or server reads: the bucket's row, one token spent.
        bucket = self.env["shipment.webhook.rate"].search([("connector_id", "=", connector.id)])
        self.assertEqual(len(bucket), 1)
        self.assertLess(bucket.tokens, 1)
        self.assertGreater(self.env["shipment.webhook.rate"]._take(connector.id, 6), 5,
                           "the token this request took is gone for the others")
        # A token another server gives back (or the refill) is there for this one.
        self.env.cr.execute("UPDATE shipment_webhook_rate SET tokens = 1 WHERE connector_id = %s", [connector.id])
        self.assertEqual(self.post_signed(connector, b'{"shared": 2}').status_code, 202)
        self.assertEqual(self.post_signed(connector, b'{"shared": 3}').status_code, 429)

    def test_source_outside_the_allowlist_is_forbidden(self):
        connector = self.generic["hmac_sha256_hex"]
        connector.ip_allowlist = "10.0.0.0/8, 192.168.1.7"
        response = self.post_signed(connector, b'{"ip": 1}')
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["error"], "source_not_allowed")
        self.assertEqual(self.rejections(connector), {"source_not_allowed": 1})
        self.assertFalse(self.inbox(connector))
        # The allowlist never replaces the signature.
        self.assertUnauthorized(self.post(connector, b'{"ip": 2}', {}))
        connector.ip_allowlist = "10.0.0.0/8, 127.0.0.0/8, ::1/128"
        self.assertEqual(self.post_signed(connector, b'{"ip": 3}').status_code, 202)

    def test_rejection_counters_add_up_per_reason(self):
        connector = self.partners["aftership"]
        body = sample_body("aftership")
        for _attempt in range(3):
            self.post_signed(connector, body, secret="wrong")
        for _attempt in range(2):
            self.post(connector, body, {})
        self.post(connector, body, sign_for(connector, body), content_type="text/plain")
        self.assertEqual(self.rejections(connector),
                         {"bad_signature": 3, "missing_header": 2, "unsupported_media_type": 1})
        row = self.env["shipment.webhook.rejection"].search(
            [("connector_id", "=", connector.id), ("reason", "=", "bad_signature")])
        self.assertTrue(row.last_at)
        self.assertFalse(self.inbox(connector))

    def test_bodies_that_cannot_be_stored_are_refused_with_400(self):
        """Signed but not UTF-8, or holding a NUL byte: a clear 400, nothing stored."""
        connector = self.generic["hmac_sha256_hex"]
        for body in (b'{"name": "caf\xe9"}', b'{"nul": "a\x00b"}', b"\xff\xfe{}"):
            with self.subTest(body=body):
                response = self.post_signed(connector, body)
                self.assertEqual(response.status_code, 400)
                self.assertEqual(response.json()["error"], "bad_encoding")
        self.assertEqual(self.rejections(connector), {"bad_encoding": 3})
        self.assertFalse(self.inbox(connector))

    def test_escaped_nul_in_a_partner_message_id_is_harmless(self):
        """A JSON-escaped NUL is valid JSON, but PostgreSQL cannot store it in a text column."""
        connector = self.partners["aftership"]
        data = fixture_json("aftership", "tracking_update_delivered.json")
        data["event_id"] = "evt\u0000nul"
        body = json.dumps(data).encode()
        self.assertIn(b"\\u0000", body)
        response = self.post_signed(connector, body)
        self.assertEqual(response.status_code, 202, response.text)
        message = self.env["shipment.inbox"].browse(response.json()["message_id"])
        self.assertEqual(message.external_id, "evt\\u0000nul")
        self.assertEqual(self.post_signed(connector, body).status_code, 200)

    def test_nul_in_a_header_is_stored_escaped(self):
        connector = self.generic["hmac_sha256_hex"]
        response = self.post_signed(connector, b'{"h": 1}', extra_headers={"User-Agent": "a\x00b"})
        self.assertEqual(response.status_code, 202, response.text)
        headers = self.env["shipment.inbox"].browse(response.json()["message_id"]).headers
        self.assertEqual(headers["User-Agent"], "a\\u0000b")

    # ------------------------------------------------------------ dedup, correlation, storage

    def test_redelivery_of_the_same_body_returns_the_original_message(self):
        for connector, body in self.connectors_with_bodies():
            with self.subTest(connector=self.scheme_label(connector)):
                first = self.post_signed(connector, body, extra_headers={"X-Correlation-ID": "first-delivery"})
                self.assertEqual(first.status_code, 202)
                # Partners sign every delivery afresh (new webhook-id, new timestamp).
                again = self.post_signed(connector, body, extra_headers={"X-Correlation-ID": "second-delivery"})
                self.assertEqual(again.status_code, 200, again.text)
                self.assertEqual(again.json(), {"status": "duplicate", "message_id": first.json()["message_id"],
                                                "correlation_id": "first-delivery"})
                self.assertEqual(again.headers["X-Correlation-ID"], "second-delivery")
                self.assertEqual(len(self.inbox(connector)), 1)

    def test_same_webhook_id_with_another_body_is_a_duplicate(self):
        """Standard Webhooks: the signed webhook-id is the dedup key, whatever the body."""
        connector = self.generic["standard_webhooks"]
        first = self.post_signed(connector, b'{"version": 1}', message_id="msg_same_id")
        self.assertEqual(first.status_code, 202)
        message = self.env["shipment.inbox"].browse(first.json()["message_id"])
        self.assertEqual(message.external_id, "msg_same_id")
        again = self.post_signed(connector, b'{"version": 2}', message_id="msg_same_id")
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["message_id"], message.id)
        self.assertEqual(self.inbox(connector), message)
        self.assertEqual(message.body, '{"version": 1}')
        other = self.post_signed(connector, b'{"version": 2}', message_id="msg_other_id")
        self.assertEqual(other.status_code, 202)

    def test_aftership_event_id_is_the_dedup_key(self):
        connector = self.partners["aftership"]
        data = fixture_json("aftership", "tracking_update_delivered.json")
        first = self.post_signed(connector, dump(data))
        data["msg"]["subtag_message"] = "reworded"
        again = self.post_signed(connector, dump(data))
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["message_id"], first.json()["message_id"])
        self.assertEqual(self.inbox(connector).external_id, "5b8e1d2c-7f3a-4c61-9a0e-2d4f6b8c1e37")

    def test_correlation_id_is_echoed_or_made(self):
        connector = self.generic["hmac_sha256_hex"]
        response = self.post_signed(connector, b'{"c": 1}', extra_headers={"X-Correlation-ID": "order-42:try.1"})
        self.assertEqual(response.headers["X-Correlation-ID"], "order-42:try.1")
        self.assertEqual(response.json()["correlation_id"], "order-42:try.1")
        self.assertEqual(self.inbox(connector).correlation_id, "order-42:try.1")
        refused = self.post(connector, b'{"c": 2}', {"X-Correlation-ID": "refused-1"})
        self.assertEqual(refused.headers["X-Correlation-ID"], "refused-1")
        for unusable in ("has spaces in it", "x" * 65, "<script>", ""):
            with self.subTest(given=unusable):
                response = self.post_signed(connector, dump({"c": unusable}),
                                            extra_headers={"X-Correlation-ID": unusable})
                made = response.headers["X-Correlation-ID"]
                self.assertRegex(made, r"^[0-9a-f]{32}$")
                self.assertEqual(response.json()["correlation_id"], made)

    def test_stored_headers_are_redacted_and_hold_no_secret(self):
        for connector, body in self.connectors_with_bodies():
            with self.subTest(connector=self.scheme_label(connector)):
                signed = sign_for(connector, body)
                signature_header = connector.signature_header or signatures.default_header(
                    connector._effective_scheme())
                response = self.post(connector, body, dict(signed, Authorization="Bearer api-key-123"))
                self.assertEqual(response.status_code, 202)
                message = self.env["shipment.inbox"].browse(response.json()["message_id"])
                stored = {name.lower(): value for name, value in message.headers.items()}
                self.assertEqual(stored[signature_header.lower()], REDACTED)
                self.assertEqual(stored["authorization"], REDACTED)
                self.assertEqual(stored["content-type"], "application/json")
                if "webhook-id" in signed:
                    self.assertEqual(stored["webhook-id"], signed["webhook-id"])
                row = str(message.read()[0]) + json.dumps(message.headers)
                self.assertNotIn(signed[signature_header], row)
                self.assertNotIn("api-key-123", row)
                for secret in SECRETS.values():
                    self.assertNotIn(secret, row)
                self.assertNotIn(secret_marker(connector), row)

    def test_no_answer_repeats_a_secret_or_a_signature(self):
        connector = self.generic["hmac_sha256_hex"]
        body = b'{"leak": 1}'
        signed = sign_for(connector, body)
        responses = [
            self.post(connector, body, sign_for(connector, body, secret="wrong")),
            self.post(connector, body, {}),
            self.post(connector, body, signed, content_type="text/plain"),
            self.post(connector, body, signed),
        ]
        for response in responses:
            text = response.text + json.dumps(dict(response.headers))
            self.assertNotIn(SECRETS["hmac_sha256_hex"], text)
            self.assertNotIn(signed["X-Signature"], text)
            self.assertNoTraceback(response)

    # ------------------------------------------------------------ robustness

    def test_fuzzed_requests_never_break_the_route(self):
        """A few hundred hostile or broken requests: never a 500, never a traceback."""
        rnd = random.Random(20261128)
        connector = self.generic["hmac_sha256_hex"]
        standard = self.generic["standard_webhooks"]
        token = self.token(connector)
        content_types = ["application/json", "application/json; charset=latin-1", "text/plain", "", "*/*",
                         "application/", "application/+json", "application/json;;;;", "multipart/form-data",
                         "multipart/form-data; boundary=----x", "application/x-www-form-urlencoded",
                         "application/octet-stream", "application/merge-patch+json", "json", "a/b/c"]

        def random_bytes(size):
            return bytes(rnd.getrandbits(8) for _ in range(size))

        def random_text(size):
            # Any latin-1 text a client library lets through (no CR/LF, no leading blank).
            alphabet = "abcXYZ019 _-=,.;:/+\t\"'{}[]\u00e9\u00ff\x7f\x01"
            return "".join(rnd.choice(alphabet) for _ in range(size)).lstrip(" \t")

        accepted, statuses = {}, {}
        for case in range(300):
            kind = case % 10
            target, body, headers, content_type = token, random_bytes(rnd.randint(0, 1500)), {}, "application/json"
            if kind == 0:  # random bytes, unsigned, odd content types
                content_type = rnd.choice(content_types)
            elif kind == 1:  # random bytes, correctly signed: stored if UTF-8, else 400
                headers = sign_for(connector, body)
            elif kind == 2:  # invalid UTF-8 inside otherwise valid JSON, signed
                body = b'{"x": "' + random_bytes(rnd.randint(1, 40)) + b'\xff\xfe"}'
                headers = sign_for(connector, body)
            elif kind == 3:  # huge and garbage signature headers
                headers = {"X-Signature": random_text(rnd.choice([10, 64, 5000, 20000]))}
            elif kind == 4:  # broken Standard Webhooks headers
                target = self.token(standard)
                body = dump({"case": case, "junk": random_text(50)})
                headers = sign_for(standard, body)
                victim = rnd.choice(list(headers))
                headers[victim] = rnd.choice([random_text(rnd.randint(0, 300)), "v1," + "A" * 5000,
                                              "99999999999999999999", "-1", "v2,abc v1,", "v1, ", "\u00ff" * 10])
            elif kind == 5:  # odd tokens in the path
                target = rnd.choice([random_text(rnd.randint(1, 80)).replace("/", "").replace("?", "")
                                     .replace("#", "").replace("%", "") or "z",
                                     "%00", "%ff%fe", "a%00b", "x" * 2000, "..", "%2e%2e", "%C3%A9t%C3%A9"])
                headers = sign_for(connector, body)
            elif kind == 6:  # many and odd extra headers, stored (redacted) on acceptance
                body = dump({"case": case})
                headers = sign_for(connector, body)
                for _n in range(rnd.randint(1, 30)):
                    headers[f"X-Fuzz-{rnd.randint(0, 10**6)}"] = random_text(rnd.randint(0, 2000))
                headers["X-Correlation-ID"] = random_text(rnd.randint(0, 100))
            elif kind == 7:  # NUL characters in the body and in header values
                body = b'{"nul": "a\x00b", "case": ' + str(case).encode() + b"}"
                headers = sign_for(connector, body)
                headers["X-Fuzz-Nul"] = "before\x00after"
            elif kind == 8:  # deep and big JSON, signed
                depth = rnd.randint(1, 400)
                body = b"[" * depth + str(case).encode() + b"]" * depth
                headers = sign_for(connector, body)
                content_type = rnd.choice(["application/json", "application/problem+json"])
            else:  # timestamped scheme with absurd timestamps
                target = self.token(self.generic["timestamped_hmac"])
                body = dump({"case": case})
                stamp = rnd.choice(["0", "9" * 15, "-5", "1e9", "", "t=1", "nan"])
                headers = {"Signature": f"t={stamp},v1={'0' * 64}"}
            response = self.post(target, body, headers, content_type=content_type or None)
            with self.subTest(case=case, kind=kind, status=response.status_code):
                self.assertNotEqual(response.status_code, 500)
                self.assertIn(response.status_code, {200, 202, 400, 401, 403, 404, 413, 415, 429})
                self.assertNoTraceback(response)
                if response.status_code in (200, 202):
                    accepted[response.json()["message_id"]] = body
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        # Every family of answer was exercised, and what was stored is exactly what was sent.
        self.assertTrue({202, 400, 401, 415} <= set(statuses), statuses)
        for message_id, body in accepted.items():
            message = self.env["shipment.inbox"].browse(message_id)
            self.assertEqual(message.body.encode("utf-8"), body)
        stored = self.env["shipment.inbox"].search([("connector_id", "in", [connector.id, standard.id])])
        self.assertEqual(set(stored.ids), set(accepted))

    def test_same_webhook_from_several_threads_is_stored_and_processed_once(self):
        """Parallel redeliveries of one AfterShip webhook: one message, one set of events."""
        connector = self.partners["aftership"]
        body = sample_body("aftership")
        url = self.base_url() + WEBHOOK_PATH + self.token(connector)
        headers = dict(sign_for(connector, body), **{"Content-Type": "application/json"})
        self.env.flush_all()
        results = [None] * 6
        barrier = threading.Barrier(len(results))

        def deliver(index):
            session = requests.Session()
            session.cookies[TEST_CURSOR_COOKIE_NAME] = self.canonical_tag
            barrier.wait(timeout=30)
            try:
                response = session.post(url, data=body, headers=headers, timeout=60)
                results[index] = (response.status_code, response.json())
            except Exception as exc:  # reported below
                results[index] = (None, repr(exc))

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(len(results))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        self.env.invalidate_all()
        statuses = sorted(status for status, _payload in results)
        self.assertEqual(statuses, [200] * (len(results) - 1) + [202], results)
        message_ids = {payload["message_id"] for _status, payload in results}
        self.assertEqual(len(message_ids), 1)
        message = self.inbox(connector)
        self.assertEqual(message.ids, list(message_ids))

        self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(message.state, "done")
        shipment = message.shipment_ids
        self.assertEqual(shipment.tracking_number, "7391852046")
        # 9 checkpoints, the latest estimate and the promised date.
        self.assertEqual(len(shipment.event_ids), 11)
        self.assertEqual(shipment.status, "delivered")


def secret_marker(connector):
    """The plaintext secret of a connector as the tests created it ('' for ShipEngine)."""
    return SECRETS.get(connector.connector_type) or SECRETS.get(connector.signature_scheme) or "\x00never"


@tagged("post_install", "-at_install")
class TestWebhookDatabaseUnavailable(WebhookHttpCase):
    """A database that cannot take the message now gives 503 + Retry-After, never a 500."""

    def test_lock_timeout_while_storing_gives_503(self):
        connector = self.generic["hmac_sha256_hex"]
        body = b'{"locked": true}'
        self.env.flush_all()
        # A second, real connection holds a lock that conflicts with the INSERT of a message.
        blocker = db_connect(self.env.cr.dbname).cursor()
        try:
            blocker.execute("SET lock_timeout = '5s'")
            blocker.execute("LOCK TABLE shipment_inbox IN SHARE MODE")
            self.env.cr.execute("SET lock_timeout = '300ms'")
            try:
                with mute_logger("odoo.sql_db", CONTROLLER_LOGGER):
                    response = self.post_signed(connector, body)
            finally:
                self.env.cr.execute("RESET lock_timeout")
        finally:
            blocker.rollback()
            blocker.close()
        self.assertEqual(response.status_code, 503, response.text)
        self.assertEqual(response.json()["error"], "unavailable")
        self.assertEqual(response.headers["Retry-After"], "30")
        self.assertTrue(response.headers["X-Correlation-ID"])
        self.assertNoTraceback(response)
        self.assertFalse(self.inbox(connector))
        # Once the lock is gone the partner's retry is accepted.
        response = self.post_signed(connector, body)
        self.assertEqual(response.status_code, 202)
        self.assertEqual(len(self.inbox(connector)), 1)


@tagged("post_install", "-at_install")
class TestRejectionCounterConcurrency(RealCursorCase):
    """Refusals counted from many workers at once: every one counted, no replay, no error."""

    def test_concurrent_refusals_all_count(self):
        connector_id = self.commit_connector(f"Refusals {token_generator.token_hex(4)}")
        threads_count, rounds = 6, 10
        barrier = threading.Barrier(threads_count)
        failures = []

        def refuse():
            try:
                for _round in range(rounds):
                    with self.registry.cursor() as cr:
                        env = self.env_on(cr)
                        # Each request reads first, as the route does: its snapshot is taken
                        # before the others' increments commit.
                        connector = env["shipment.connector"].browse(connector_id)
                        connector.company_id.id  # noqa: B018
                        barrier.wait(timeout=30)
                        env["shipment.webhook.rejection"]._count(connector, "rate_limited")
            except Exception as exc:  # reported below, with its type
                failures.append(repr(exc))

        workers = [threading.Thread(target=refuse) for _ in range(threads_count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        self.assertEqual(failures, [])
        with self.real_env() as env:
            counter = env["shipment.webhook.rejection"].search([("connector_id", "=", connector_id)])
            self.assertEqual(counter.mapped("count"), [threads_count * rounds])


@tagged("post_install", "-at_install")
class TestWebhookRateLimitConcurrency(RealCursorCase):
    """One connector's limit taken from many connections at once, as several servers do."""

    def test_connections_in_parallel_share_one_exact_budget(self):
        connector_id = self.commit_connector(f"Rate {token_generator.token_hex(4)}")
        per_minute, threads_count, rounds = 600, 6, 30  # a burst of 100, then 10 a second
        started = time.monotonic()

        def take(_index, env):
            return sum(env["shipment.webhook.rate"]._take(connector_id, per_minute) == 0.0 for _ in range(rounds))

        outcomes = self.run_in_threads(threads_count, take)
        elapsed = time.monotonic() - started
        self.assertEqual([exc for _taken, exc in outcomes], [None] * threads_count,
                         "no serialization error, no replay")
        taken = sum(count for count, _exc in outcomes)
        # 180 tries: the burst, plus what the bucket refilled while they ran, no more.
        self.assertGreaterEqual(taken, 100)
        self.assertLessEqual(taken, 100 + math.ceil(elapsed * per_minute / 60))
        with self.real_env() as env:
            bucket = env["shipment.webhook.rate"].search([("connector_id", "=", connector_id)])
            self.assertEqual(len(bucket), 1)
            self.assertLess(bucket.tokens, 1 + elapsed * per_minute / 60)
