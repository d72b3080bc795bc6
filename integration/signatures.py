"""Webhook signatures: verify what partners send us, sign what we send.

Every scheme is checked on the exact bytes received, before anything is parsed or
stored: nothing unauthenticated reaches the inbox. The schemes differ in details that
are easy to get wrong (which bytes are signed, how the key is derived from the secret,
hex or base64, whether a timestamp is signed), so each one is written down here once and
shared by the webhook route, the carrier simulator, the connector form and the outbound
fan-out.

Failures raise :class:`SignatureError` whose :attr:`~SignatureError.reason` is a short
machine code. Messages never contain a secret or the body, so they can be logged and
stored on the connector as they are.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HMAC_SHA256_HEX = "hmac_sha256_hex"
HMAC_SHA256_BASE64 = "hmac_sha256_base64"
STANDARD_WEBHOOKS = "standard_webhooks"
TIMESTAMPED_HMAC = "timestamped_hmac"
AFTERSHIP = "aftership"
EASYPOST = "easypost"
SHIPPO = "shippo"
SEVENTEENTRACK = "seventeentrack"
SHIPENGINE = "shipengine"

SCHEMES = (
    HMAC_SHA256_HEX,
    HMAC_SHA256_BASE64,
    STANDARD_WEBHOOKS,
    TIMESTAMPED_HMAC,
    AFTERSHIP,
    EASYPOST,
    SHIPPO,
    SEVENTEENTRACK,
    SHIPENGINE,
)

REASONS = frozenset(
    {
        "missing_header",
        "malformed_header",
        "bad_signature",
        "stale_timestamp",
        "future_timestamp",
        "no_secret",
        "unknown_key_id",
        "unsupported_scheme",
    }
)

_DEFAULT_HEADERS = {
    # No standard exists for plain HMAC headers; this is what our own documentation and
    # the connector form propose, and every connector can override it.
    HMAC_SHA256_HEX: "X-Signature",
    HMAC_SHA256_BASE64: "X-Signature",
    STANDARD_WEBHOOKS: "webhook-signature",
    TIMESTAMPED_HMAC: "Signature",
    AFTERSHIP: "aftership-hmac-sha256",
    EASYPOST: "X-Hmac-Signature",
    SHIPPO: "Shippo-Auth-Signature",
    SEVENTEENTRACK: "sign",
    SHIPENGINE: "x-shipengine-rsa-sha256-signature",
}

_SW_ID = "webhook-id"
_SW_TIMESTAMP = "webhook-timestamp"
_SE_KEY_ID = "x-shipengine-rsa-sha256-key-id"
_SE_TIMESTAMP = "x-shipengine-timestamp"

_WHSEC_PREFIX = "whsec_"
_EASYPOST_PREFIX = "hmac-sha256-hex="

# Real signature headers are well under 1 KB; the cap keeps hostile input from costing
# more than a regex pass (several rotation entries still fit easily).
_MAX_HEADER_LENGTH = 4096
_DIGEST_SIZE = 32

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_UNIX_SECONDS = re.compile(r"[0-9]{1,15}")
# A label such as ``sha256=`` in front of the digest; base64 padding never has anything
# but more padding after its first ``=``, so it cannot be mistaken for a label.
_LABEL = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=([^=].*)", re.DOTALL)
_PRINTABLE_ID = re.compile(r"[\x21-\x7e]{1,256}")
_ISO_8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)


class SignatureError(Exception):
    """A webhook failed authentication.

    :ivar str reason: one of :data:`REASONS`; stable, meant for counters, logs and tests.
    """

    def __init__(self, reason, detail=""):
        if reason not in REASONS:
            raise ValueError(f"unknown signature failure reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """What a successful verification established.

    :ivar str scheme: the scheme that was checked.
    :ivar message_id: the sender's message id (``webhook-id``) for Standard Webhooks,
        else ``None``; a dedup key that is covered by the signature.
    :ivar timestamp: the signed send time as an aware UTC datetime for schemes that sign
        one, else ``None``.
    :ivar matched_secret_index: index in ``secrets`` of the secret that matched (``0`` =
        current, higher = older secrets still accepted during rotation); ``None`` for
        ShipEngine, which uses a public key.
    """

    scheme: str
    message_id: str | None = None
    timestamp: datetime | None = None
    matched_secret_index: int | None = None


@dataclass(frozen=True)
class _Request:
    body: bytes
    headers: dict
    header: str
    now: float
    tolerance: float


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def default_header(scheme):
    """Name of the header that carries the signature for ``scheme``.

    :param str scheme: one of :data:`SCHEMES`.
    :rtype: str
    :raises SignatureError: ``unsupported_scheme`` for anything else.
    """
    try:
        return _DEFAULT_HEADERS[scheme]
    except (KeyError, TypeError):
        raise SignatureError("unsupported_scheme", f"unknown scheme {str(scheme)[:40]!r}") from None


def verify(scheme, body, headers, secrets, *, header=None, now=None, tolerance=300, jwks=None):
    """Authenticate one inbound webhook.

    :param str scheme: one of :data:`SCHEMES`.
    :param bytes body: the raw request body, exactly as received.
    :param headers: any mapping of request headers; names are matched case-insensitively.
    :param list secrets: candidate secrets (``str`` or ``bytes``), current first, then
        older ones still accepted while a rotation is under way. Ignored by ShipEngine.
    :param str header: name of the signature header when it differs from
        :func:`default_header` (the other headers of a scheme keep their names).
    :param now: current time (aware or naive-UTC datetime, or unix seconds); defaults to
        the system clock.
    :param tolerance: accepted clock difference, past and future, for schemes that sign a
        timestamp (seconds or :class:`~datetime.timedelta`).
    :param dict jwks: ShipEngine public keys, ``{"keys": [{"kty": "RSA", "kid", "n",
        "e"}]}``; refetch it when ``unknown_key_id`` is raised.
    :return: what was authenticated.
    :rtype: Verified
    :raises SignatureError: when the request is not authentic (see :data:`REASONS`).
    :raises TypeError: when ``body`` is not bytes (a decoded body cannot be verified).
    """
    handler = _VERIFIERS.get(scheme) if isinstance(scheme, str) else None
    if handler is None:
        raise SignatureError("unsupported_scheme", f"unknown scheme {str(scheme)[:40]!r}")
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError("signatures are verified on the raw body bytes")
    request = _Request(
        body=bytes(body),
        headers=_lower_headers(headers),
        header=(header or _DEFAULT_HEADERS[scheme]).lower(),
        now=_unix_now(now),
        tolerance=tolerance.total_seconds() if isinstance(tolerance, timedelta) else float(tolerance),
    )
    if scheme == SHIPENGINE:
        return handler(request, jwks)
    return handler(request, _candidates(secrets))


def sign(scheme, body, secret, *, header=None, timestamp=None, message_id=None):
    """Headers a sender of ``scheme`` would set for ``body``: the example requests of the
    connector form, our own outgoing webhooks, the carrier simulator.

    :param str scheme: one of :data:`SCHEMES` but ShipEngine, which signs with its own
        RSA key (``tools/shipengine_signing.py`` plays that part for tests).
    :param bytes body: the exact body that will be sent.
    :param secret: the shared secret (``str`` or ``bytes``).
    :param str header: signature header name when not :func:`default_header`.
    :param timestamp: send time (unix seconds or datetime) for timestamped schemes;
        defaults to now.
    :param str message_id: Standard Webhooks ``webhook-id``; a random one by default.
    :return: header name → value.
    :rtype: dict
    :raises SignatureError: ``no_secret`` without a secret, ``unsupported_scheme`` for an
        unknown scheme or ShipEngine.
    """
    if scheme not in _VERIFIERS or scheme == SHIPENGINE:
        raise SignatureError("unsupported_scheme", f"cannot sign with scheme {str(scheme)[:40]!r}")
    name = header or default_header(scheme)
    body = bytes(body)
    if secret is None or secret == "" or secret == b"":
        raise SignatureError("no_secret", "nothing to sign with")

    if scheme in (HMAC_SHA256_HEX, HMAC_SHA256_BASE64, AFTERSHIP, EASYPOST):
        key = _nfkd_key(secret) if scheme == EASYPOST else _text_key(secret)
        digest = hmac.new(key, body, hashlib.sha256).digest()
        value = {
            HMAC_SHA256_HEX: digest.hex(),
            HMAC_SHA256_BASE64: _b64(digest),
            AFTERSHIP: _b64(digest),
            EASYPOST: _EASYPOST_PREFIX + digest.hex(),
        }[scheme]
        return {name: value}
    if scheme == SEVENTEENTRACK:
        return {name: hashlib.sha256(body + b"/" + _text_key(secret)).hexdigest()}
    if scheme in (TIMESTAMPED_HMAC, SHIPPO):
        ts = _sign_time(timestamp)
        digest = hmac.new(_text_key(secret), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        return {name: f"t={ts},v1={digest}"}
    # Standard Webhooks, the only scheme left.
    key = _whsec_key(secret)
    if key is None:
        raise SignatureError("no_secret", "the secret is not base64 after its whsec_ prefix")
    ts = _sign_time(timestamp)
    msg_id = message_id or f"msg_{uuid.uuid4().hex}"
    if not _PRINTABLE_ID.fullmatch(msg_id):
        raise ValueError("a webhook-id is printable ASCII without spaces")
    digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {_SW_ID: msg_id, _SW_TIMESTAMP: str(ts), name: f"v1,{_b64(digest)}"}


def generate_webhook_secret():
    """A fresh shared secret in the Standard Webhooks format.

    :return: ``whsec_`` + base64 of 32 random bytes.
    :rtype: str
    """
    return _WHSEC_PREFIX + _b64(os.urandom(32))


def ip_allowed(remote_addr, cidrs):
    """Whether ``remote_addr`` is inside one of the allowed networks.

    An allow-list is a second line of defence next to the signature, so an empty list
    allows everyone while a list with only unusable entries allows no one.

    :param str remote_addr: the peer address (IPv4 or IPv6, IPv4-mapped IPv6 accepted).
    :param cidrs: networks or single addresses, as a list or a comma/space separated string.
    :rtype: bool
    """
    if isinstance(cidrs, str):
        cidrs = re.split(r"[\s,]+", cidrs)
    entries = [str(entry).strip() for entry in (cidrs or ()) if entry is not None and str(entry).strip()]
    if not entries:
        return True
    try:
        address = ipaddress.ip_address(str(remote_addr).strip().strip("[]"))
    except ValueError:
        return False
    candidates = [address]
    if address.version == 6 and address.ipv4_mapped:
        candidates.append(address.ipv4_mapped)
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if any(candidate in network for candidate in candidates):
            return True
    return False


# ---------------------------------------------------------------------------
# Verifiers, one per scheme
# ---------------------------------------------------------------------------


def _verify_plain_hmac(scheme, encoding):
    def verifier(request, candidates):
        keys = _derive(candidates, _text_keys)
        value = _label_stripped(_header(request, request.header))
        provided = _decode_hex(value) if encoding == "hex" else _decode_b64(value, _DIGEST_SIZE)
        index = _match(keys, lambda key: hmac.new(key, request.body, hashlib.sha256).digest(), [provided])
        return Verified(scheme=scheme, matched_secret_index=index)

    return verifier


def _verify_easypost(request, candidates):
    keys = _derive(candidates, _nfkd_keys)
    value = _header(request, request.header)
    if value[: len(_EASYPOST_PREFIX)].lower() != _EASYPOST_PREFIX:
        raise SignatureError("malformed_header", f"{request.header} lacks the {_EASYPOST_PREFIX} prefix")
    provided = _decode_hex(value[len(_EASYPOST_PREFIX) :])
    index = _match(keys, lambda key: hmac.new(key, request.body, hashlib.sha256).digest(), [provided])
    return Verified(scheme=EASYPOST, matched_secret_index=index)


def _verify_seventeentrack(request, candidates):
    # 17TRACK publishes a plain digest of body + "/" + key, not an HMAC.
    keys = _derive(candidates, _text_keys)
    provided = _decode_hex(_header(request, request.header))
    index = _match(keys, lambda key: hashlib.sha256(request.body + b"/" + key).digest(), [provided])
    return Verified(scheme=SEVENTEENTRACK, matched_secret_index=index)


def _verify_timestamped(scheme):
    def verifier(request, candidates):
        # The key is the secret's text even when it looks like ``whsec_<base64>``:
        # Stripe-style senders never decode it (Standard Webhooks does).
        keys = _derive(candidates, _text_keys)
        raw_ts, signatures = _parse_t_v1(request)
        signed = f"{raw_ts}.".encode() + request.body
        index = _match(keys, lambda key: hmac.new(key, signed, hashlib.sha256).digest(), signatures)
        # Freshness only once the signature holds: judged earlier, a forged request to a
        # real token would learn that the token exists from a "stale timestamp" answer.
        timestamp = _fresh(int(raw_ts), request)
        return Verified(scheme=scheme, timestamp=timestamp, matched_secret_index=index)

    return verifier


def _verify_standard_webhooks(request, candidates):
    keys = _derive(candidates, _whsec_keys)
    msg_id = _header(request, _SW_ID)
    raw_ts = _header(request, _SW_TIMESTAMP)
    value = _header(request, request.header)
    if not _PRINTABLE_ID.fullmatch(msg_id):
        raise SignatureError("malformed_header", f"{_SW_ID} is not a printable ASCII token")
    if not _UNIX_SECONDS.fullmatch(raw_ts):
        raise SignatureError("malformed_header", f"{_SW_TIMESTAMP} is not unix seconds")
    versioned = [entry.partition(",") for entry in value.split()]
    signatures = [_try(_decode_b64, sig, _DIGEST_SIZE) for version, sep, sig in versioned if sep and version == "v1"]
    _require_signatures(signatures, [version for version, sep, _sig in versioned if sep], request.header)
    signed = f"{msg_id}.{raw_ts}.".encode() + request.body
    index = _match(keys, lambda key: hmac.new(key, signed, hashlib.sha256).digest(), signatures)
    timestamp = _fresh(int(raw_ts), request)  # after the signature, as above
    return Verified(scheme=STANDARD_WEBHOOKS, message_id=msg_id, timestamp=timestamp, matched_secret_index=index)


def _verify_shipengine(request, jwks):
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not keys or not isinstance(keys, (list, tuple)):
        raise SignatureError("no_secret", "no ShipEngine JWKS configured")
    value = _header(request, request.header)
    key_id = _header(request, _SE_KEY_ID)
    raw_ts = _header(request, _SE_TIMESTAMP)
    sent_at = _parse_iso_8601(raw_ts)
    signature = _decode_b64(value)
    public_key = _public_key_for(keys, key_id)
    try:
        public_key.verify(signature, f"{raw_ts}.".encode() + request.body, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise SignatureError("bad_signature", "RSA signature does not match") from None
    timestamp = _fresh(sent_at.timestamp(), request)  # after the signature, as above
    return Verified(scheme=SHIPENGINE, timestamp=timestamp)


_VERIFIERS = {
    HMAC_SHA256_HEX: _verify_plain_hmac(HMAC_SHA256_HEX, "hex"),
    HMAC_SHA256_BASE64: _verify_plain_hmac(HMAC_SHA256_BASE64, "base64"),
    STANDARD_WEBHOOKS: _verify_standard_webhooks,
    TIMESTAMPED_HMAC: _verify_timestamped(TIMESTAMPED_HMAC),
    AFTERSHIP: _verify_plain_hmac(AFTERSHIP, "base64"),
    EASYPOST: _verify_easypost,
    SHIPPO: _verify_timestamped(SHIPPO),
    SEVENTEENTRACK: _verify_seventeentrack,
    SHIPENGINE: _verify_shipengine,
}


# ---------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------


def _lower_headers(headers):
    lowered = {}
    for name, value in (headers or {}).items():
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if not isinstance(name, str):
            continue
        if isinstance(value, bytes):
            # HTTP header bytes are latin-1 by definition; servers decode them the same way.
            value = value.decode("latin-1")
        lowered[name.lower()] = value if isinstance(value, str) else str(value)
    return lowered


def _header(request, name):
    value = request.headers.get(name.lower())
    if value is None or not value.strip():
        raise SignatureError("missing_header", f"{name} header is missing")
    if len(value) > _MAX_HEADER_LENGTH:
        raise SignatureError("malformed_header", f"{name} header is too long")
    return value.strip()


def _candidates(secrets):
    if isinstance(secrets, (str, bytes)):
        secrets = [secrets]
    found = [
        (index, secret) for index, secret in enumerate(secrets or ()) if isinstance(secret, (str, bytes)) and secret
    ]
    if not found:
        raise SignatureError("no_secret", "no webhook secret configured")
    return found


def _derive(candidates, key_of):
    keys = [(index, key) for index, secret in candidates for key in key_of(secret)]
    if not keys:
        raise SignatureError("no_secret", "no configured secret is usable with this scheme")
    return keys


def _match(keys, digest_of, provided):
    """Index of the first secret whose digest equals one of the provided signatures."""
    provided = [signature for signature in provided if signature is not None]
    for index, key in keys:
        expected = digest_of(key)
        for signature in provided:
            if hmac.compare_digest(expected, signature):
                return index
    raise SignatureError("bad_signature", "signature does not match any configured secret")


def _require_signatures(signatures, versions, header):
    if any(signature is not None for signature in signatures):
        return
    if signatures:
        raise SignatureError("malformed_header", f"{header} holds no decodable v1 signature")
    if versions:
        raise SignatureError("unsupported_scheme", f"{header} holds no v1 signature")
    raise SignatureError("malformed_header", f"{header} holds no signature entry")


def _parse_t_v1(request):
    raw_ts = None
    signatures = []
    versions = []
    for item in _header(request, request.header).split(","):
        label, sep, value = item.partition("=")
        label, value = label.strip(), value.strip()
        if not sep:
            continue
        if label == "t":
            if raw_ts is not None:
                raise SignatureError("malformed_header", f"{request.header} has several timestamps")
            raw_ts = value
        elif label == "v1":
            signatures.append(_try(_decode_hex, value))
        else:
            versions.append(label)
    if raw_ts is None or not _UNIX_SECONDS.fullmatch(raw_ts):
        raise SignatureError("malformed_header", f"{request.header} lacks a t=<unix seconds> entry")
    _require_signatures(signatures, versions, request.header)
    return raw_ts, signatures


def _fresh(sent_at, request):
    if sent_at < request.now - request.tolerance:
        raise SignatureError("stale_timestamp", "signed timestamp is older than the tolerance")
    if sent_at > request.now + request.tolerance:
        raise SignatureError("future_timestamp", "signed timestamp is ahead of the tolerance")
    try:
        return datetime.fromtimestamp(sent_at, timezone.utc)
    except (OverflowError, ValueError, OSError):
        # Only reachable with a clock set beyond what datetime represents.
        raise SignatureError("malformed_header", "signed timestamp is out of range") from None


def _parse_iso_8601(value):
    match = _ISO_8601.fullmatch(value)
    if not match:
        raise SignatureError("malformed_header", f"{_SE_TIMESTAMP} is not an ISO 8601 date-time")
    year, month, day, hour, minute, second, fraction, zulu, sign_, off_h, off_m = match.groups()
    # A signature timestamp without a zone is taken as UTC: if that is wrong the
    # tolerance check fails closed rather than accepting a shifted time.
    zone = timezone.utc
    if sign_:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        try:
            zone = timezone(-offset if sign_ == "-" else offset)
        except ValueError:
            raise SignatureError("malformed_header", f"{_SE_TIMESTAMP} has an invalid offset") from None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=zone)
    except ValueError:
        raise SignatureError("malformed_header", f"{_SE_TIMESTAMP} is not a valid date-time") from None


def _public_key_for(keys, key_id):
    for jwk in keys:
        if not isinstance(jwk, Mapping) or jwk.get("kid") != key_id or jwk.get("kty", "RSA") != "RSA":
            continue
        try:
            return _rsa_public_key(str(jwk["n"]), str(jwk["e"]))
        except (KeyError, ValueError, TypeError, UnsupportedAlgorithm):
            continue
    raise SignatureError("unknown_key_id", "no usable RSA key with this key id in the JWKS")


@functools.lru_cache(maxsize=32)
def _rsa_public_key(n, e):
    return rsa.RSAPublicNumbers(_b64url_uint_decode(e), _b64url_uint_decode(n)).public_key()


def _sign_time(timestamp):
    if timestamp is None:
        return int(time.time())
    if isinstance(timestamp, str):
        if not _UNIX_SECONDS.fullmatch(timestamp):
            raise ValueError("timestamp must be unix seconds")
        return int(timestamp)
    return int(_unix_now(timestamp))


def _unix_now(now):
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        # Odoo hands out naive datetimes that are UTC.
        return (now if now.tzinfo else now.replace(tzinfo=timezone.utc)).timestamp()
    return float(now)


def _text_key(secret):
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def _text_keys(secret):
    return [_text_key(secret)]


def _nfkd_keys(secret):
    return [_nfkd_key(secret)]


def _nfkd_key(secret):
    # EasyPost's own client libraries normalise the secret before keying the HMAC, so
    # a secret holding compatibility characters only matches in its NFKD form.
    if isinstance(secret, bytes):
        try:
            secret = secret.decode("utf-8")
        except UnicodeDecodeError:
            return secret
    return unicodedata.normalize("NFKD", secret).encode("utf-8")


def _whsec_key(secret):
    if isinstance(secret, bytes):
        return secret
    encoded = secret[len(_WHSEC_PREFIX) :] if secret.startswith(_WHSEC_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True) or None
    except (binascii.Error, ValueError):
        return None


def _whsec_keys(secret):
    key = _whsec_key(secret)
    return [key] if key is not None else []


def _label_stripped(value):
    match = _LABEL.fullmatch(value)
    return match.group(2).strip() if match else value


def _decode_hex(value):
    value = value.strip()
    if not _HEX_DIGEST.fullmatch(value):
        raise SignatureError("malformed_header", "signature is not a hex SHA-256 digest")
    return bytes.fromhex(value)


def _decode_b64(value, size=None):
    # Senders differ on the alphabet and on padding; the bytes are what count.
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SignatureError("malformed_header", "signature is not base64") from None
    if not decoded or (size is not None and len(decoded) != size):
        raise SignatureError("malformed_header", "signature has the wrong length")
    return decoded


def _try(decoder, *args):
    try:
        return decoder(*args)
    except SignatureError:
        return None


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def _b64url_uint_decode(text):
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if not raw:
        raise ValueError("empty JWK integer")
    return int.from_bytes(raw, "big")
