"""ShipEngine's side of its webhook signatures, for tests and the carrier simulator.

ShipEngine signs each webhook with its own RSA key and publishes the public half as a
JSON Web Key Set; our route only verifies (``integration/signatures.py``). To test that
verification with real signatures, this module plays ShipEngine: it signs
``<timestamp>.<body>`` with RSA-SHA256 (PKCS#1 v1.5) and builds the JWK of the key.
"""

import base64
from datetime import datetime, timezone

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Imports nothing of the addon: tests load it inside Odoo, the simulator outside.
SIGNATURE_HEADER = "x-shipengine-rsa-sha256-signature"
KEY_ID_HEADER = "x-shipengine-rsa-sha256-key-id"
TIMESTAMP_HEADER = "x-shipengine-timestamp"


def load_private_key(private_key_pem):
    """An RSA private key from unencrypted PEM (``str`` or ``bytes``).

    :raises ValueError: when it is missing, encrypted or not RSA.
    """
    if not private_key_pem:
        raise ValueError("no RSA private key to sign with")
    data = private_key_pem.encode() if isinstance(private_key_pem, str) else bytes(private_key_pem)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("the private key is not an unencrypted PEM key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("ShipEngine signatures need an RSA key")
    return key


def sign(body, private_key_pem, key_id, timestamp=None, header=None):
    """The headers ShipEngine sends with ``body``.

    :param bytes body: the exact body.
    :param private_key_pem: the signing key (unencrypted PEM).
    :param str key_id: the ``kid`` of that key in the published JWKS.
    :param timestamp: unix seconds, an aware datetime, or a string sent verbatim;
        now by default.
    :param str header: the signature header when not the default one.
    :rtype: dict
    """
    key = load_private_key(private_key_pem)
    if not key_id:
        raise ValueError("ShipEngine signing needs the key id published in the JWKS")
    if isinstance(timestamp, str):
        raw_ts = timestamp
    else:
        if timestamp is None:
            moment = datetime.now(timezone.utc)
        elif isinstance(timestamp, datetime):
            moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)
        else:
            moment = datetime.fromtimestamp(int(timestamp), timezone.utc)
        raw_ts = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = key.sign(f"{raw_ts}.".encode() + bytes(body), padding.PKCS1v15(), hashes.SHA256())
    return {header or SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            KEY_ID_HEADER: key_id, TIMESTAMP_HEADER: raw_ts}


def public_jwk(private_key_pem, key_id):
    """The JWK ShipEngine publishes for its signing key.

    :rtype: dict
    """
    numbers = load_private_key(private_key_pem).public_key().public_numbers()
    return {"kty": "RSA", "kid": key_id, "use": "sig", "alg": "RS256",
            "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


def _b64url_uint(number):
    raw = number.to_bytes((number.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
