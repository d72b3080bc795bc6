"""Connector secrets: encrypted at rest, write-only, rotatable, and never shown again."""

import json
import os
import tempfile
from contextlib import contextmanager

from odoo.tests import new_test_user, tagged
from odoo.tools import config, mute_logger

from ..integration import secretbox
from ..models import shipment_connector_secrets as shipment_connector
from ..models.shipment_connector_secrets import CIPHER_COLUMNS as ENCRYPTED_FIELDS
from ..models.shipment_connector_secrets import secret_box
from .common import ShipmentCommon
from .http_common import LogCapture, WebhookHttpCase, current_keys, sample_body, sign_for

ADMIN_GROUP = "shipment_visibility.group_shipment_integration_admin"
CONTROLLER_LOGGER = "odoo.addons.shipment_visibility.controllers.webhook"
PLAIN = "plain-secret-never-to-be-seen-4f7a"
API_KEY = "api-key-never-to-be-seen-91c2"


@contextmanager
def key_option(value):
    """Run with the server option ``shipment_visibility_key`` set to ``value``, then restore it."""
    option = secretbox.CONFIG_OPTION
    had, old = option in config.options, config.options.get(option)
    config[option] = value
    shipment_connector._SECRET_BOX.clear()
    try:
        yield
    finally:
        if had:
            config[option] = old
        else:
            config.options.pop(option, None)
        shipment_connector._SECRET_BOX.clear()


def raw_columns(env, connector):
    env.flush_all()
    env.cr.execute(f"SELECT {', '.join(ENCRYPTED_FIELDS)} FROM shipment_connector WHERE id = %s", [connector.id])
    return dict(zip(ENCRYPTED_FIELDS, env.cr.fetchone()))


def all_tokens(env):
    """Every stored secret token: (connector id, column) → token."""
    env.flush_all()
    env.cr.execute(f"SELECT id, {', '.join(ENCRYPTED_FIELDS)} FROM shipment_connector")
    return {(row[0], name): token for row in env.cr.fetchall()
            for name, token in zip(ENCRYPTED_FIELDS, row[1:]) if token}


@tagged("post_install", "-at_install")
class TestSecrets(ShipmentCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = new_test_user(cls.env, "sv_secret_admin", groups=f"{ADMIN_GROUP},base.group_allow_export")
        cls.clerk = new_test_user(cls.env, "sv_secret_clerk", groups="shipment_visibility.group_shipment_user")
        cls.secret_connector = cls.env["shipment.connector"].create({
            "name": "Secret keeper", "connector_type": "aftership", "webhook_secret": PLAIN, "api_key": API_KEY})

    def test_secret_is_encrypted_at_rest_and_decrypts_back(self):
        stored = raw_columns(self.env, self.secret_connector)
        for column, plaintext in (("webhook_secret_cipher", PLAIN), ("api_key_cipher", API_KEY)):
            token = stored[column]
            self.assertTrue(token)
            self.assertNotIn(plaintext, token)
            self.assertEqual(secret_box()[0].decrypt(token), plaintext)
        self.assertEqual(self.secret_connector._webhook_secrets(), [PLAIN])
        self.assertEqual(self.secret_connector._api_key(), API_KEY)
        # Fernet tokens are randomised: the same secret set twice is stored differently.
        other = self.env["shipment.connector"].create({"name": "Same secret", "webhook_secret": PLAIN})
        self.assertNotEqual(raw_columns(self.env, other)["webhook_secret_cipher"],
                            stored["webhook_secret_cipher"])

    def test_secrets_are_write_only_even_for_admins(self):
        for env in (self.env, self.secret_connector.with_user(self.admin).env):
            connector = self.secret_connector.with_env(env)
            connector.invalidate_recordset()
            self.assertFalse(connector.webhook_secret)
            self.assertFalse(connector.api_key)
            values = connector.read(["webhook_secret", "api_key", "has_webhook_secret", "has_api_key"])[0]
            self.assertEqual((values["webhook_secret"], values["api_key"]), (False, False))
            self.assertTrue(values["has_webhook_secret"] and values["has_api_key"])
            found = env["shipment.connector"].search_read([("id", "=", connector.id)], ["webhook_secret"])
            self.assertFalse(found[0]["webhook_secret"])
        # Nobody reads the ciphertext through the ORM: it is no field at all.
        for user in (self.clerk, self.admin):
            connector = self.secret_connector.with_user(user)
            with self.assertRaises(ValueError):
                connector.read(["webhook_secret_cipher"])
            described = connector.fields_get(attributes=["type"])
            self.assertNotIn("webhook_secret_cipher", described)
            names = [name for name, field in described.items() if field["type"] not in ("one2many", "many2many")]
            for row in (connector.read(names)[0], connector.search_read([("id", "=", connector.id)], names)[0]):
                self.assertFalse(set(ENCRYPTED_FIELDS) & set(row))
                self.assertNotIn(raw_columns(self.env, self.secret_connector)["webhook_secret_cipher"],
                                 json.dumps(row, default=str))
        self.assertTrue(self.secret_connector.with_user(self.clerk).has_webhook_secret)

    def test_invalid_key_gives_a_clear_error_without_the_key(self):
        bad_key = "this-is-not-a-fernet-key"
        with key_option(bad_key):
            with self.assertRaises(secretbox.SecretBoxError) as caught:
                self.env["shipment.connector"].create({"name": "Needs a key", "webhook_secret": "x"})
            message = str(caught.exception)
            self.assertIn(secretbox.CONFIG_OPTION, message)
            self.assertIn("not a Fernet key", message)
            self.assertNotIn(bad_key, message)
            connector = self.secret_connector.with_user(self.admin)
            connector.invalidate_recordset(["key_source"])
            self.assertIn("No usable key", connector.key_source)
            self.assertNotIn(bad_key, connector.key_source)
            with self.assertRaises(secretbox.SecretBoxError):
                self.secret_connector._webhook_secrets()
        # Back to the real key: everything decrypts again.
        self.assertEqual(self.secret_connector._webhook_secrets(), [PLAIN])

    def test_key_file_readable_by_others_is_refused_clearly(self):
        """Without option or variable the key file is used, and only if it is private."""
        with tempfile.TemporaryDirectory() as data_dir, key_option(""):
            key_dir = os.path.join(data_dir, secretbox.KEY_DIR)
            os.makedirs(key_dir, mode=0o700)
            key_path = os.path.join(key_dir, secretbox.KEY_FILE)
            with open(key_path, "w", encoding="ascii") as handle:
                handle.write(secretbox.generate_key())
            os.chmod(key_path, 0o644)
            old_data_dir = config["data_dir"]
            old_env = os.environ.pop(secretbox.ENV_VAR, None)
            config["data_dir"] = data_dir
            try:
                shipment_connector._SECRET_BOX.clear()
                with self.assertRaises(secretbox.SecretBoxError) as caught:
                    self.env["shipment.connector"].create({"name": "Key file", "webhook_secret": "x"})
                self.assertIn("chmod 600", str(caught.exception))
                os.chmod(key_path, 0o600)
                shipment_connector._SECRET_BOX.clear()
                connector = self.env["shipment.connector"].create({"name": "Key file", "webhook_secret": "x"})
                self.assertEqual(connector._webhook_secrets(), ["x"])
                self.assertEqual(secret_box()[1].source, secretbox.SOURCE_KEY_FILE)
            finally:
                config["data_dir"] = old_data_dir
                if old_env is not None:
                    os.environ[secretbox.ENV_VAR] = old_env
                shipment_connector._SECRET_BOX.clear()

    def test_wrong_key_says_it_cannot_decrypt(self):
        with key_option(secretbox.generate_key()):
            with self.assertRaises(secretbox.SecretBoxError) as caught:
                self.secret_connector._webhook_secrets()
        self.assertIn("cannot decrypt", str(caught.exception))
        self.assertNotIn(PLAIN, str(caught.exception))

    def test_key_rotation_re_encrypts_every_secret(self):
        old_keys = current_keys()
        new_key = secretbox.generate_key()
        before = all_tokens(self.env)
        self.assertIn((self.secret_connector.id, "api_key_cipher"), before)
        old_box = secretbox.SecretBox(old_keys)
        plaintexts = {where: old_box.decrypt(token) for where, token in before.items()}
        with key_option(",".join((new_key, *old_keys))):
            self.assertEqual(secret_box()[0].fingerprint, secretbox.fingerprint(new_key))
            count = self.env["shipment.connector"]._rotate_encryption_key()
            self.assertEqual(count, len(before))
            after = all_tokens(self.env)
            self.assertEqual(set(after), set(before))
            for where, token in after.items():
                self.assertNotEqual(token, before[where], f"{where} was not re-encrypted")
        with key_option(new_key):  # the old key is gone
            box = secret_box()[0]
            for where, token in after.items():
                self.assertEqual(box.decrypt(token), plaintexts[where])
            self.assertEqual(self.secret_connector._webhook_secrets(), [PLAIN])
            self.assertEqual(self.secret_connector._api_key(), API_KEY)
        with self.assertRaises(secretbox.SecretBoxError):
            old_box.decrypt(after[(self.secret_connector.id, "webhook_secret_cipher")])

    def test_rotation_keeps_the_previous_secret_usable(self):
        self.secret_connector.webhook_secret = "the-next-secret"
        old_keys = current_keys()
        new_key = secretbox.generate_key()
        with key_option(",".join((new_key, *old_keys))):
            self.env["shipment.connector"]._rotate_encryption_key()
        with key_option(new_key):
            self.assertEqual(self.secret_connector._webhook_secrets(), ["the-next-secret", PLAIN])

    def test_export_never_contains_a_secret(self):
        Connector = self.env["shipment.connector"].with_user(self.admin)
        described = Connector.fields_get(attributes=["exportable", "type"])
        for column in ENCRYPTED_FIELDS:
            self.assertNotIn(column, described, f"{column} is offered for export")
        exportable = [name for name, field in described.items()
                      if field.get("exportable", True) and field["type"] not in ("one2many", "many2many")]
        self.assertIn("webhook_secret", exportable)
        connectors = Connector.search([("id", "=", self.secret_connector.id)])
        exported = connectors.export_data(exportable + ["api_key", "webhook_secret"])["datas"]
        text = json.dumps(exported, default=str)
        self.assertIn("Secret keeper", text)
        self.assertNotIn(PLAIN, text)
        self.assertNotIn(API_KEY, text)

    def test_chatter_never_contains_a_secret(self):
        env = self.env(context={})  # with tracking, as in the interface
        connector = env["shipment.connector"].create({"name": "Chatty", "connector_type": "generic_json",
                                                      "signature_scheme": "hmac_sha256_hex"})
        env.cr.flush()  # creation is not tracked; the changes below are
        connector.webhook_secret = PLAIN
        connector.webhook_secret = "second-plain-secret-77"
        connector.api_key = API_KEY
        generated = connector.action_generate_webhook_secret()["params"]["message"]
        self.assertTrue(generated.startswith("whsec_"))
        connector.signature_scheme = "standard_webhooks"  # a tracked change
        connector.action_clear_api_key()
        env.cr.flush()
        messages = env["mail.message"].search([("model", "=", "shipment.connector"), ("res_id", "=", connector.id)])
        bodies = " ".join(str(body) for body in messages.mapped("body"))
        self.assertIn("Webhook secret set", bodies)
        self.assertIn("previous one is accepted until", bodies)
        tracked = messages.tracking_value_ids
        self.assertTrue(tracked, "the scheme change is tracked")
        trail = bodies + json.dumps(tracked.read(["old_value_char", "new_value_char", "old_value_text",
                                                  "new_value_text"]), default=str)
        for secret in (PLAIN, "second-plain-secret-77", API_KEY, generated):
            self.assertNotIn(secret, trail)


@tagged("post_install", "-at_install")
class TestSecretsOverHttp(WebhookHttpCase):
    """What leaves the server (logs, answers, stored rows) never holds a secret."""

    def test_no_secret_in_logs_answers_or_stored_rows(self):
        connector = self.generic["hmac_sha256_hex"]
        body = sample_body("generic_json")
        capture = LogCapture()
        with capture.capture():
            connector.webhook_secret = PLAIN
            connector.api_key = API_KEY
            accepted = self.post_signed(connector, body)
            refused = [
                self.post_signed(connector, b'{"wrong": 1}', secret="not-the-secret"),
                self.post(connector, body, {}),
                self.post(connector, body, sign_for(connector, body), content_type="text/plain"),
            ]
            self.env["shipment.inbox"]._cron_process_inbox()
        self.assertEqual(accepted.status_code, 202, accepted.text)
        self.assertEqual([response.status_code for response in refused], [401, 401, 415])
        logged = "\n".join(capture.lines)
        # The capture saw the request thread and the processor (at DEBUG, SQL included).
        self.assertIn("webhook rejected", logged)
        self.assertIn("INSERT INTO shipment_inbox", logged)
        self.assertIn("shipment_event", logged)
        for secret in (PLAIN, API_KEY, *current_keys()):
            self.assertNotIn(secret, logged)
        for response in [accepted, *refused]:
            self.assertNotIn(PLAIN, response.text + json.dumps(dict(response.headers)))
        message = self.env["shipment.inbox"].browse(accepted.json()["message_id"])
        self.assertEqual(message.state, "done", message.last_error)
        row = json.dumps(message.read()[0], default=str)
        self.assertNotIn(PLAIN, row)
        self.assertNotIn(sign_for(connector, body)["X-Signature"], row)

    def test_misconfigured_key_answers_503_and_stores_nothing(self):
        connector = self.partners["aftership"]
        body = sample_body("aftership")
        headers = sign_for(connector, body)
        bad_key = "misconfigured-key-value"
        with key_option(bad_key), mute_logger(CONTROLLER_LOGGER):
            response = self.post(connector, body, headers)
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["error"], "unavailable")
        self.assertEqual(response.headers["Retry-After"], "300")
        self.assertNotIn(bad_key, response.text)
        self.assertNoTraceback(response)
        self.assertFalse(self.inbox(connector))
        # Fixed key: the partner's retry goes through.
        self.assertEqual(self.post(connector, body, headers).status_code, 202)

    def test_webhooks_verify_after_rotation_with_only_the_new_key(self):
        connector = self.partners["shippo"]
        old_keys = current_keys()
        new_key = secretbox.generate_key()
        with key_option(",".join((new_key, *old_keys))):
            self.env["shipment.connector"]._rotate_encryption_key()
        with key_option(new_key):
            response = self.post_signed(connector, sample_body("shippo"))
        self.assertEqual(response.status_code, 202, response.text)
