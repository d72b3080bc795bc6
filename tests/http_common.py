"""Shared tools for tests that talk to the webhook route or use real database cursors.

Partners are faked only the way a real partner would talk to us: real fixture bodies,
signed by :func:`integration.signatures.sign` with the connector's secret (or a real
RSA key pair for ShipEngine), posted over real HTTP.
"""

import base64
import json
import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, TransactionCase

from ..integration import partners, signatures
from ..models.shipment_connector_secrets import secret_box
from ..tools import shipengine_signing

FIXTURES = Path(__file__).resolve().parent / "pure" / "fixtures"
WEBHOOK_PATH = "/shipment_visibility/webhook/"

# One secret per scheme, each distinct, so that a secret leaking into a row, a log line or
# an answer is recognisable wherever it shows up.
SECRETS = {
    "hmac_sha256_hex": "hex-shared-secret-9f3b1c",
    "hmac_sha256_base64": "b64-shared-secret-27ad4e",
    "standard_webhooks": "whsec_" + base64.b64encode(b"standard-webhooks-secret-32bytes").decode(),
    "timestamped_hmac": "ts-shared-secret-5c8e0a",
    "aftership": "aftership-shared-secret-7b21",
    "easypost": "easypost-shared-secret-40d9",
    "shippo": "shippo-shared-secret-e63f",
    "seventeentrack": "seventeentrack-secret-a1c7",
}
PARTNER_TYPES = ("aftership", "easypost", "shippo", "seventeentrack", "shipengine")
GENERIC_SCHEMES = ("hmac_sha256_hex", "hmac_sha256_base64", "standard_webhooks", "timestamped_hmac")
# A realistic webhook body per connector type (the partner's documented payload).
SAMPLE_FIXTURES = {
    "generic_json": ("generic_json", "native_tracking_updated.json"),
    "aftership": ("aftership", "tracking_update_delivered.json"),
    "easypost": ("easypost", "tracker_updated_delivered.json"),
    "shippo": ("shippo", "track_updated_attempted.json"),
    "seventeentrack": ("seventeentrack", "tracking_updated.json"),
    "shipengine": ("shipengine", "track_webhook.json"),
}
SHIPENGINE_KID = "se-test-key-1"

_RSA_KEYS = {}
_RSA_LOCK = threading.Lock()


def fixture_bytes(folder, name):
    return (FIXTURES / folder / name).read_bytes()


def fixture_json(folder, name):
    return json.loads(fixture_bytes(folder, name))


def dump(data):
    return json.dumps(data).encode()


def rsa_private_pem(label="main"):
    """An RSA private key (PEM), generated once per process and label."""
    with _RSA_LOCK:
        if label not in _RSA_KEYS:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _RSA_KEYS[label] = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()).decode()
        return _RSA_KEYS[label]


def shipengine_jwks(label="main", kid=SHIPENGINE_KID):
    return json.dumps({"keys": [shipengine_signing.public_jwk(rsa_private_pem(label), kid)]})


def sign_for(connector, body, secret=None, rsa_label="main", kid=SHIPENGINE_KID, **kwargs):
    """Headers a genuine sender of ``connector`` would send with ``body``.

    :param secret: sign with this secret instead of the connector's own (wrong secrets,
        rotation); ignored by ShipEngine, which signs with the RSA key ``rsa_label``.
    """
    connector = connector.sudo()
    scheme = connector._effective_scheme()
    if scheme == signatures.SHIPENGINE:
        return shipengine_signing.sign(body, rsa_private_pem(rsa_label), kid, kwargs.get("timestamp"),
                                       header=connector.signature_header or None)
    if secret is None:
        secret = connector._webhook_secrets()[0]
    return signatures.sign(scheme, body, secret, header=connector.signature_header or None, **kwargs)


def sample_body(connector_type):
    return fixture_bytes(*SAMPLE_FIXTURES[connector_type])


class ConnectorFactory:
    """Creates webhook connectors the way an integration administrator would."""

    @classmethod
    def _make_connector(cls, env, name, connector_type="generic_json", signature_scheme="adapter", **values):
        vals = {
            "name": name,
            "connector_type": connector_type,
            "signature_scheme": signature_scheme,
            # The token bucket outlives a test's transaction: only the rate-limit tests opt in.
            "rate_limit_per_minute": 0,
            # A partner in production, whose messages act on the delivery orders' shipments
            # (a shadow connector keeps shipments of its own).
            "mode": "live",
        }
        scheme = signature_scheme if signature_scheme != "adapter" else (
            partners.get(connector_type).signature_scheme or "standard_webhooks")
        if scheme == signatures.SHIPENGINE:
            vals["jwks"] = shipengine_jwks()
        elif scheme == signatures.STANDARD_WEBHOOKS:
            vals["webhook_secret"] = SECRETS[scheme]
        else:
            vals["webhook_secret"] = SECRETS.get(connector_type, SECRETS.get(scheme))
        vals.update(values)
        return env["shipment.connector"].with_context(tracking_disable=True).create(vals)


class WebhookHttpCase(HttpCase, ConnectorFactory):
    """HTTP tests of the webhook route, with one connector per signature scheme."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.generic = {
            scheme: cls._make_connector(cls.env, f"Generic {scheme}", "generic_json", scheme)
            for scheme in GENERIC_SCHEMES
        }
        cls.partners = {
            code: cls._make_connector(cls.env, f"Partner {code}", code, "adapter")
            for code in PARTNER_TYPES
        }
        cls.all_connectors = list(cls.generic.values()) + list(cls.partners.values())

    # -------------------------------------------------------------- requests and lookups

    @staticmethod
    def token(connector):
        return connector.sudo().webhook_token

    def post(self, token, body, headers=None, content_type="application/json", timeout=30):
        """POST ``body`` as is to the webhook of ``token`` (a connector or a raw token)."""
        if not isinstance(token, str):
            token = self.token(token)
        all_headers = {"Content-Type": content_type} if content_type is not None else {}
        all_headers.update(headers or {})
        response = self.opener.post(self.base_url() + WEBHOOK_PATH + token, data=body, headers=all_headers,
                                    timeout=timeout, allow_redirects=False)
        # The request ran on a test cursor with its own cache.
        self.env.invalidate_all()
        return response

    def post_signed(self, connector, body, extra_headers=None, **sign_kwargs):
        headers = sign_for(connector, body, **sign_kwargs)
        headers.update(extra_headers or {})
        return self.post(connector, body, headers)

    def inbox(self, connector):
        return self.env["shipment.inbox"].search([("connector_id", "=", connector.id)])

    def rejections(self, connector):
        rows = self.env["shipment.webhook.rejection"].search([("connector_id", "=", connector.id)])
        return {row.reason: row.count for row in rows}

    def assertUnauthorized(self, response, error="unauthorized"):
        self.assertEqual(response.status_code, 401, response.text[:300])
        self.assertEqual(response.json()["error"], error)

    def assertNoTraceback(self, response):
        text = response.content.decode("latin-1")
        for marker in ("Traceback", 'File "', "psycopg2", "odoo.addons", "Internal Server Error"):
            self.assertNotIn(marker, text)


class RealCursorCase(TransactionCase, ConnectorFactory):
    """Tests that need several real, committing database connections.

    ``self.registry.cursor()`` is a real connection in a TransactionCase: it does not see
    the test's own transaction and what it commits persists, so every committed
    connector is deleted again with everything hanging off it.
    """

    def setUp(self):
        super().setUp()
        self._committed_connectors = []
        self._saved_params = {}
        self.addCleanup(self._cleanup_committed)

    def env_on(self, cr):
        """A superuser environment on ``cr``, usable from any thread.

        ``Environment`` looks its registry up by name under the registry lock, which the
        thread running the tests holds: give the cursor its transaction first.
        """
        if cr.transaction is None:
            cr.transaction = api.Transaction(self.registry)
        return api.Environment(cr, SUPERUSER_ID, {})

    @contextmanager
    def real_env(self):
        """A superuser environment on a new real connection, committed on success."""
        with self.registry.cursor() as cr:
            yield self.env_on(cr)

    def commit_connector(self, name, connector_type="aftership", signature_scheme="adapter", **values):
        with self.real_env() as env:
            connector = self._make_connector(env, name, connector_type, signature_scheme, **values)
            connector_id = connector.id
        self._committed_connectors.append(connector_id)
        return connector_id

    def set_committed_param(self, key, value):
        with self.real_env() as env:
            params = env["ir.config_parameter"]
            if key not in self._saved_params:
                self._saved_params[key] = params.get_param(key)
            params.set_param(key, value)

    def run_in_threads(self, count, target):
        """Run ``target(index, env)`` in ``count`` threads, each with its own real cursor.

        All threads start together (barrier); a thread that raises gets its transaction
        rolled back, like a cron worker. :return: list of (result, exception) per thread.
        """
        barrier = threading.Barrier(count)
        outcomes = [None] * count

        def work(index):
            try:
                with self.registry.cursor() as cr:
                    env = self.env_on(cr)
                    barrier.wait(timeout=30)
                    outcomes[index] = (target(index, env), None)
            except Exception as exc:  # reported to the test, which asserts on it
                outcomes[index] = (None, exc)

        threads = [threading.Thread(target=work, args=(index,), name=f"sv-test-worker-{index}")
                   for index in range(count)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            self.assertFalse(thread.is_alive(), "a worker thread hung")
        return outcomes

    def _cleanup_committed(self):
        with self.registry.cursor() as cr:
            for key, value in self._saved_params.items():
                cr.execute("DELETE FROM ir_config_parameter WHERE key = %s", [key])
                if value is not None:
                    cr.execute("INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", [key, value])
            ids = tuple(self._committed_connectors)
            if not ids:
                return
            cr.execute("DELETE FROM shipment_event WHERE shipment_id IN "
                       "(SELECT id FROM shipment_shipment WHERE connector_id IN %s)", [ids])
            cr.execute("DELETE FROM shipment_inbox WHERE connector_id IN %s", [ids])
            cr.execute("DELETE FROM shipment_shipment WHERE connector_id IN %s", [ids])
            cr.execute("DELETE FROM mail_activity WHERE res_model = 'shipment.connector' AND res_id IN %s", [ids])
            cr.execute("DELETE FROM mail_message WHERE model = 'shipment.connector' AND res_id IN %s", [ids])
            cr.execute("DELETE FROM mail_followers WHERE res_model = 'shipment.connector' AND res_id IN %s", [ids])
            cr.execute("DELETE FROM shipment_connector WHERE id IN %s", [ids])
        self.registry.clear_cache()


class LogCapture(logging.Handler):
    """Collects every formatted record of the ``odoo`` logger tree, DEBUG included."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted is still worth seeing
            text = f"{record.name} {record.msg!r} {record.args!r}"
        self.lines.append(text)

    @contextmanager
    def capture(self, logger_name="odoo"):
        """Capture at DEBUG without printing: the logger stops propagating meanwhile."""
        logger = logging.getLogger(logger_name)
        level, propagate = logger.level, logger.propagate
        logger.addHandler(self)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)
            logger.propagate = propagate


def current_keys():
    """The encryption keys in use now (current first)."""
    return secret_box()[1].keys
