"""Webhook signatures: every scheme against vectors computed here, independently.

The ``_partner_headers`` oracle below re-implements each partner's documented signing
rules with ``hmac``/``hashlib``/``cryptography`` directly, so that a mistake shared by
``sign()`` and ``verify()`` cannot pass unnoticed.
"""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration import partners
from integration.signatures import (
    REASONS,
    SCHEMES,
    SignatureError,
    Verified,
    default_header,
    generate_webhook_secret,
    ip_allowed,
    sign,
    verify,
)
from tools import shipengine_signing

NOW = 1_784_222_744
NOW_ISO = "2026-07-16T17:25:44Z"
BODY = b'{"event":"tracking_update","event_id":"5b5a1d0e","msg":{"tag":"InTransit"}}'
CURRENT = "whsec_" + base64.b64encode(bytes(range(32))).decode()
PREVIOUS = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
MSG_ID = "msg_2ZkqVb0lxyMyJlP8eDk4ObIG"
KID = "se-key-1"

TIMESTAMPED = ("standard_webhooks", "timestamped_hmac", "shippo", "shipengine")
SHARED_SECRET = tuple(scheme for scheme in SCHEMES if scheme != "shipengine")


def _b64url(number):
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(private_key, kid):
    numbers = private_key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "n": _b64url(numbers.n), "e": _b64url(numbers.e)}


def _pem(private_key):
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


RSA_KEY = _rsa_key()
OTHER_RSA_KEY = _rsa_key()
JWKS = {"keys": [_jwk(OTHER_RSA_KEY, "se-key-0"), _jwk(RSA_KEY, KID)]}


def _hmac(key, data):
    return hmac.new(key, data, hashlib.sha256)


def _partner_headers(scheme, body=BODY, secret=CURRENT, ts=NOW, iso=NOW_ISO, rsa_key=RSA_KEY):
    """What each partner sends, straight from its documentation (the reference's sections 1–9)."""
    text_key = secret.encode()
    if scheme == "hmac_sha256_hex":
        return {"X-Signature": _hmac(text_key, body).hexdigest()}
    if scheme == "hmac_sha256_base64":
        return {"X-Signature": base64.b64encode(_hmac(text_key, body).digest()).decode()}
    if scheme == "aftership":
        return {"aftership-hmac-sha256": base64.b64encode(_hmac(text_key, body).digest()).decode()}
    if scheme == "easypost":
        # Test secrets are ASCII, so NFKD leaves them unchanged (NFKD has its own test).
        return {"X-Hmac-Signature": "hmac-sha256-hex=" + _hmac(text_key, body).hexdigest()}
    if scheme == "seventeentrack":
        return {"sign": hashlib.sha256(body + b"/" + text_key).hexdigest()}
    if scheme == "timestamped_hmac":
        return {"Signature": f"t={ts},v1={_hmac(text_key, f'{ts}.'.encode() + body).hexdigest()}"}
    if scheme == "shippo":
        return {"Shippo-Auth-Signature": f"t={ts},v1={_hmac(text_key, f'{ts}.'.encode() + body).hexdigest()}"}
    if scheme == "standard_webhooks":
        key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = _hmac(key, f"{MSG_ID}.{ts}.".encode() + body).digest()
        return {
            "webhook-id": MSG_ID,
            "webhook-timestamp": str(ts),
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }
    if scheme == "shipengine":
        signature = rsa_key.sign(f"{iso}.".encode() + body, padding.PKCS1v15(), hashes.SHA256())
        return {
            "x-shipengine-rsa-sha256-signature": base64.b64encode(signature).decode(),
            "x-shipengine-rsa-sha256-key-id": KID,
            "x-shipengine-timestamp": iso,
        }
    raise AssertionError(scheme)


def _verify(scheme, headers, body=BODY, secrets=(CURRENT,), **kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("jwks", JWKS)
    return verify(scheme, body, headers, None if secrets is None else list(secrets), **kwargs)


def _reason(scheme, headers, **kwargs):
    with pytest.raises(SignatureError) as caught:
        _verify(scheme, headers, **kwargs)
    return caught.value.reason


def _sign(scheme, body=BODY, secret=CURRENT, **kwargs):
    kwargs.setdefault("timestamp", NOW)
    kwargs.setdefault("message_id", MSG_ID)
    if scheme == "shipengine":  # ShipEngine signs with its own key: tools/ plays its part
        return shipengine_signing.sign(body, _pem(RSA_KEY), KID, kwargs["timestamp"])
    return sign(scheme, body, secret, **kwargs)


# -- Known answers and round trips -----------------------------------------------------


def test_standard_webhooks_published_vector():
    """The example in the Standard Webhooks reference library's tests."""
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    result = verify(
        "standard_webhooks",
        b'{"test": 2432232314}',
        headers,
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        now=1614265330,
    )
    assert result == Verified(
        "standard_webhooks",
        message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=datetime(2021, 2, 25, 15, 2, 10, tzinfo=timezone.utc),
        matched_secret_index=0,
    )


def test_fixed_hex_vector():
    """HMAC-SHA256 of a fixed text under a fixed key, as any HMAC tool prints it."""
    digest = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert _hmac(b"key", b"The quick brown fox jumps over the lazy dog").hexdigest() == digest
    headers = {"X-Signature": digest}
    result = verify("hmac_sha256_hex", b"The quick brown fox jumps over the lazy dog", headers, ["key"])
    assert result.matched_secret_index == 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_partner_signature_is_accepted(scheme):
    result = _verify(scheme, _partner_headers(scheme))
    assert result.scheme == scheme
    expected_index = None if scheme == "shipengine" else 0
    assert result.matched_secret_index == expected_index


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sign_produces_what_the_partner_sends(scheme):
    assert _sign(scheme) == _partner_headers(scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_round_trip_with_default_time(scheme):
    headers = shipengine_signing.sign(BODY, _pem(RSA_KEY), KID) if scheme == "shipengine" else \
        sign(scheme, BODY, CURRENT)
    result = verify(scheme, BODY, headers, [CURRENT], jwks=JWKS)
    assert result.scheme == scheme


@pytest.mark.parametrize("scheme", TIMESTAMPED)
def test_timestamp_is_reported(scheme):
    result = _verify(scheme, _partner_headers(scheme))
    assert result.timestamp == datetime.fromtimestamp(NOW, timezone.utc)


@pytest.mark.parametrize("scheme", sorted(set(SCHEMES) - set(TIMESTAMPED)))
def test_schemes_without_timestamp_report_none(scheme):
    result = _verify(scheme, _partner_headers(scheme))
    assert result.timestamp is None
    assert result.message_id is None


def test_standard_webhooks_reports_the_message_id():
    assert _verify("standard_webhooks", _partner_headers("standard_webhooks")).message_id == MSG_ID


def test_sign_refuses_a_message_id_receivers_would_reject():
    with pytest.raises(ValueError):
        sign("standard_webhooks", BODY, CURRENT, message_id="two words")


def test_random_message_id_when_none_given():
    first = sign("standard_webhooks", BODY, CURRENT)
    second = sign("standard_webhooks", BODY, CURRENT)
    assert first["webhook-id"] != second["webhook-id"]
    assert verify("standard_webhooks", BODY, first, [CURRENT]).message_id == first["webhook-id"]


# -- Failures common to every scheme ---------------------------------------------------


@pytest.mark.parametrize("scheme", SHARED_SECRET)
def test_wrong_secret_is_rejected(scheme):
    headers = _partner_headers(scheme, secret="whsec_" + base64.b64encode(b"\x07" * 32).decode())
    assert _reason(scheme, headers) == "bad_signature"


def test_shipengine_signature_by_another_key_is_rejected():
    headers = _partner_headers("shipengine", rsa_key=OTHER_RSA_KEY)
    assert _reason("shipengine", headers) == "bad_signature"


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
def test_one_changed_body_byte_is_rejected(scheme, position):
    tampered = bytearray(BODY)
    tampered[position] ^= 0x01
    assert _reason(scheme, _partner_headers(scheme), body=bytes(tampered)) == "bad_signature"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_appended_byte_is_rejected(scheme):
    assert _reason(scheme, _partner_headers(scheme), body=BODY + b" ") == "bad_signature"


MISSING = [(scheme, name) for scheme in SCHEMES for name in _partner_headers(scheme)]


@pytest.mark.parametrize(("scheme", "name"), MISSING)
def test_missing_header_is_rejected(scheme, name):
    headers = _partner_headers(scheme)
    del headers[name]
    assert _reason(scheme, headers) == "missing_header"


@pytest.mark.parametrize(("scheme", "name"), MISSING)
def test_blank_header_counts_as_missing(scheme, name):
    headers = _partner_headers(scheme)
    headers[name] = "   "
    assert _reason(scheme, headers) == "missing_header"


_HEX = "ab" * 32
_B64 = base64.b64encode(b"\x01" * 32).decode()
MALFORMED = [
    ("hmac_sha256_hex", "X-Signature", "zz" * 32),
    ("hmac_sha256_hex", "X-Signature", "abc123"),
    ("hmac_sha256_hex", "X-Signature", _B64),
    ("hmac_sha256_base64", "X-Signature", "not base64!"),
    ("hmac_sha256_base64", "X-Signature", base64.b64encode(b"\x01" * 16).decode()),
    ("aftership", "aftership-hmac-sha256", "%%%"),
    ("aftership", "aftership-hmac-sha256", _HEX),
    ("easypost", "X-Hmac-Signature", _HEX),
    ("easypost", "X-Hmac-Signature", "hmac-sha256-hex=xyz"),
    ("easypost", "X-Hmac-Signature", "hmac-sha1-hex=" + _HEX),
    ("seventeentrack", "sign", "not-hex"),
    ("seventeentrack", "sign", _HEX[:-1]),
    ("timestamped_hmac", "Signature", f"v1={_HEX}"),
    ("timestamped_hmac", "Signature", f"t=soon,v1={_HEX}"),
    ("timestamped_hmac", "Signature", f"t={NOW}"),
    ("timestamped_hmac", "Signature", f"t={NOW},t={NOW},v1={_HEX}"),
    ("timestamped_hmac", "Signature", f"t={NOW},v1=zz"),
    ("timestamped_hmac", "Signature", "garbage"),
    ("shippo", "Shippo-Auth-Signature", f"v1={_HEX}"),
    ("shippo", "Shippo-Auth-Signature", f"t=-5,v1={_HEX}"),
    ("standard_webhooks", "webhook-signature", "no-comma-here"),
    ("standard_webhooks", "webhook-signature", "v1,!!!"),
    ("standard_webhooks", "webhook-signature", "v1," + base64.b64encode(b"short").decode()),
    ("standard_webhooks", "webhook-timestamp", "yesterday"),
    ("standard_webhooks", "webhook-timestamp", "١٧٨٤٢٢٢٧٤٤"),
    ("standard_webhooks", "webhook-id", "two words"),
    ("shipengine", "x-shipengine-timestamp", "yesterday"),
    ("shipengine", "x-shipengine-timestamp", "2026-13-45T00:00:00Z"),
    ("shipengine", "x-shipengine-timestamp", "2026-07-16T17:25:44+25:00"),
    ("shipengine", "x-shipengine-rsa-sha256-signature", "%%%"),
    ("shipengine", "x-shipengine-rsa-sha256-signature", "x" * 5000),
]


@pytest.mark.parametrize(("scheme", "name", "value"), MALFORMED)
def test_malformed_header_is_rejected(scheme, name, value):
    headers = _partner_headers(scheme)
    headers[name] = value
    assert _reason(scheme, headers) == "malformed_header"


def test_malformed_cases_cover_every_scheme():
    assert {scheme for scheme, _name, _value in MALFORMED} == set(SCHEMES)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("case", [str.upper, str.lower, str.title])
def test_header_names_are_case_insensitive(scheme, case):
    headers = {case(name): value for name, value in _partner_headers(scheme).items()}
    assert _verify(scheme, headers).scheme == scheme


@pytest.mark.parametrize("scheme", SCHEMES)
def test_header_values_may_be_bytes(scheme):
    headers = {name.encode(): value.encode() for name, value in _partner_headers(scheme).items()}
    assert _verify(scheme, headers).scheme == scheme


@pytest.mark.parametrize("scheme", SHARED_SECRET)
@pytest.mark.parametrize("secrets", [[], [""], [None, ""], None])
def test_no_secret_is_a_configuration_error(scheme, secrets):
    assert _reason(scheme, _partner_headers(scheme), secrets=secrets) == "no_secret"


@pytest.mark.parametrize("jwks", [None, {}, {"keys": []}, "not a dict"])
def test_shipengine_without_jwks_is_a_configuration_error(jwks):
    assert _reason("shipengine", _partner_headers("shipengine"), jwks=jwks) == "no_secret"


@pytest.mark.parametrize("scheme", ["none", "adapter", "", None, "HMAC_SHA256_HEX"])
def test_unknown_scheme_is_refused(scheme):
    with pytest.raises(SignatureError) as caught:
        verify(scheme, BODY, {}, [CURRENT])
    assert caught.value.reason == "unsupported_scheme"


def test_sign_refuses_unknown_scheme_and_missing_secret():
    with pytest.raises(SignatureError) as unknown:
        sign("none", BODY, CURRENT)
    assert unknown.value.reason == "unsupported_scheme"
    with pytest.raises(SignatureError) as empty:
        sign("hmac_sha256_hex", BODY, "")
    assert empty.value.reason == "no_secret"


def test_decoded_body_is_refused():
    with pytest.raises(TypeError):
        verify("hmac_sha256_hex", BODY.decode(), _partner_headers("hmac_sha256_hex"), [CURRENT])


@pytest.mark.parametrize("scheme", SHARED_SECRET)
def test_error_messages_never_contain_secret_or_body(scheme):
    wrong = "whsec_" + base64.b64encode(b"\x09" * 32).decode()
    with pytest.raises(SignatureError) as caught:
        _verify(scheme, _partner_headers(scheme, secret=wrong), secrets=[CURRENT, PREVIOUS])
    message = str(caught.value) + repr(caught.value)
    for secret in (CURRENT, PREVIOUS, wrong):
        assert secret not in message
        assert secret.removeprefix("whsec_") not in message
    assert "tracking_update" not in message
    assert caught.value.reason in message


def test_signature_error_only_takes_known_reasons():
    assert SignatureError("bad_signature").reason == "bad_signature"
    with pytest.raises(ValueError):
        SignatureError("oops")


# -- Rotation ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SHARED_SECRET)
def test_previous_secret_is_accepted_and_reported(scheme):
    headers = _partner_headers(scheme, secret=PREVIOUS)
    assert _verify(scheme, headers, secrets=[CURRENT, PREVIOUS]).matched_secret_index == 1
    headers = _partner_headers(scheme, secret=CURRENT)
    assert _verify(scheme, headers, secrets=[CURRENT, PREVIOUS]).matched_secret_index == 0


@pytest.mark.parametrize("scheme", SHARED_SECRET)
def test_index_counts_skipped_empty_entries(scheme):
    headers = _partner_headers(scheme, secret=PREVIOUS)
    assert _verify(scheme, headers, secrets=["", PREVIOUS]).matched_secret_index == 1


def test_standard_webhooks_header_with_several_signatures():
    good = _partner_headers("standard_webhooks")["webhook-signature"]
    stale = _partner_headers("standard_webhooks", secret=PREVIOUS)["webhook-signature"]
    headers = _partner_headers("standard_webhooks")
    headers["webhook-signature"] = f"{stale} v1a,{_B64} {good}"
    assert _verify("standard_webhooks", headers).matched_secret_index == 0
    headers["webhook-signature"] = f"{stale} v1,!!! {good}"
    assert _verify("standard_webhooks", headers).matched_secret_index == 0
    headers["webhook-signature"] = stale
    assert _reason("standard_webhooks", headers) == "bad_signature"


def test_standard_webhooks_asymmetric_only_is_unsupported():
    headers = _partner_headers("standard_webhooks")
    headers["webhook-signature"] = f"v1a,{base64.b64encode(b'x' * 64).decode()}"
    assert _reason("standard_webhooks", headers) == "unsupported_scheme"


@pytest.mark.parametrize("scheme", ["timestamped_hmac", "shippo"])
def test_timestamped_header_with_several_v1_and_unknown_versions(scheme):
    name, good = next(iter(_partner_headers(scheme).items()))
    other = _partner_headers(scheme, secret=PREVIOUS)[name]
    headers = {name: f"t={NOW},v0={_HEX},v1={other.split('v1=')[1]},{good.split(',')[1]}"}
    assert _verify(scheme, headers).matched_secret_index == 0
    headers = {name: f" t = {NOW} , v1 = {good.split('v1=')[1]} "}
    assert _verify(scheme, headers).matched_secret_index == 0
    headers = {name: f"t={NOW},v0={_HEX}"}
    assert _reason(scheme, headers) == "unsupported_scheme"


# -- Freshness --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", TIMESTAMPED)
def test_stale_timestamp_is_rejected(scheme):
    headers = _partner_headers(scheme)
    assert _reason(scheme, headers, now=NOW + 301) == "stale_timestamp"
    assert _verify(scheme, headers, now=NOW + 300).scheme == scheme


@pytest.mark.parametrize("scheme", TIMESTAMPED)
def test_future_timestamp_is_rejected(scheme):
    headers = _partner_headers(scheme)
    assert _reason(scheme, headers, now=NOW - 301) == "future_timestamp"
    assert _verify(scheme, headers, now=NOW - 300).scheme == scheme


@pytest.mark.parametrize("scheme", TIMESTAMPED)
def test_tolerance_and_clock_types(scheme):
    headers = _partner_headers(scheme)
    assert _reason(scheme, headers, now=NOW + 61, tolerance=timedelta(seconds=60)) == "stale_timestamp"
    aware = datetime.fromtimestamp(NOW + 60, timezone.utc)
    assert _verify(scheme, headers, now=aware, tolerance=60).scheme == scheme
    naive_utc = aware.replace(tzinfo=None)
    assert _verify(scheme, headers, now=naive_utc, tolerance=60).scheme == scheme
    assert _reason(scheme, headers, now=naive_utc + timedelta(seconds=1), tolerance=60) == "stale_timestamp"


@pytest.mark.parametrize("scheme", ["aftership", "easypost", "seventeentrack", "hmac_sha256_hex"])
def test_schemes_without_timestamp_ignore_the_clock(scheme):
    assert _verify(scheme, _partner_headers(scheme), now=NOW + 10**8).scheme == scheme


def test_replayed_old_signature_with_new_timestamp_is_rejected():
    headers = _partner_headers("timestamped_hmac", ts=NOW - 3600)
    headers["Signature"] = headers["Signature"].replace(f"t={NOW - 3600}", f"t={NOW}")
    assert _reason("timestamped_hmac", headers) == "bad_signature"
    headers = _partner_headers("standard_webhooks", ts=NOW - 3600)
    headers["webhook-timestamp"] = str(NOW)
    assert _reason("standard_webhooks", headers) == "bad_signature"


def test_standard_webhooks_message_id_is_signed():
    headers = _partner_headers("standard_webhooks")
    headers["webhook-id"] = "msg_someone_else"
    assert _reason("standard_webhooks", headers) == "bad_signature"


# -- Key derivation differences -----------------------------------------------------------


def test_stripe_style_keys_with_the_whsec_text_standard_webhooks_with_its_bytes():
    decoded = base64.b64decode(CURRENT.removeprefix("whsec_"))
    signed = f"{NOW}.".encode() + BODY
    text_sig = _hmac(CURRENT.encode(), signed).hexdigest()
    bytes_sig = _hmac(decoded, signed).hexdigest()
    assert _verify("timestamped_hmac", {"Signature": f"t={NOW},v1={text_sig}"}).matched_secret_index == 0
    assert _reason("timestamped_hmac", {"Signature": f"t={NOW},v1={bytes_sig}"}) == "bad_signature"

    sw_signed = f"{MSG_ID}.{NOW}.".encode() + BODY
    sw_headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(NOW)}
    sw_text = base64.b64encode(_hmac(CURRENT.encode(), sw_signed).digest()).decode()
    sw_bytes = base64.b64encode(_hmac(decoded, sw_signed).digest()).decode()
    assert _verify("standard_webhooks", {**sw_headers, "webhook-signature": f"v1,{sw_bytes}"}).scheme
    assert _reason("standard_webhooks", {**sw_headers, "webhook-signature": f"v1,{sw_text}"}) == "bad_signature"


def test_standard_webhooks_secret_without_prefix_and_raw_bytes():
    raw = base64.b64decode(CURRENT.removeprefix("whsec_"))
    headers = _partner_headers("standard_webhooks")
    assert _verify("standard_webhooks", headers, secrets=[CURRENT.removeprefix("whsec_")]).scheme
    assert _verify("standard_webhooks", headers, secrets=[raw]).scheme


def test_standard_webhooks_undecodable_secret_is_skipped():
    headers = _partner_headers("standard_webhooks")
    assert _verify("standard_webhooks", headers, secrets=["whsec_%%%", CURRENT]).matched_secret_index == 1
    assert _reason("standard_webhooks", headers, secrets=["whsec_%%%"]) == "no_secret"


def test_easypost_normalises_the_secret_with_nfkd():
    # U+FB01 (the "fi" ligature) and full-width digits decompose under NFKD.
    secret = "\ufb01le-\uff11\uff12\uff13"
    normalised = "file-123"
    partner = {"X-Hmac-Signature": "hmac-sha256-hex=" + _hmac(normalised.encode(), BODY).hexdigest()}
    assert _verify("easypost", partner, secrets=[secret]).matched_secret_index == 0
    unnormalised = {"X-Hmac-Signature": "hmac-sha256-hex=" + _hmac(secret.encode(), BODY).hexdigest()}
    assert _reason("easypost", unnormalised, secrets=[secret]) == "bad_signature"
    assert sign("easypost", BODY, secret) == partner


def test_other_schemes_do_not_normalise_the_secret():
    secret = "\ufb01le-\uff11\uff12\uff13"
    raw = {"aftership-hmac-sha256": base64.b64encode(_hmac(secret.encode(), BODY).digest()).decode()}
    assert _verify("aftership", raw, secrets=[secret]).scheme == "aftership"
    normalised = {"aftership-hmac-sha256": base64.b64encode(_hmac(b"file-123", BODY).digest()).decode()}
    assert _reason("aftership", normalised, secrets=[secret]) == "bad_signature"


def test_easypost_prefix_is_case_insensitive_and_digest_may_be_upper_case():
    digest = _hmac(CURRENT.encode(), BODY).hexdigest()
    headers = {"X-Hmac-Signature": "HMAC-SHA256-HEX=" + digest.upper()}
    assert _verify("easypost", headers).scheme == "easypost"


def test_seventeentrack_is_a_plain_digest_not_an_hmac():
    headers = {"sign": _hmac(CURRENT.encode(), BODY + b"/" + CURRENT.encode()).hexdigest()}
    assert _reason("seventeentrack", headers) == "bad_signature"
    headers = {"sign": hashlib.sha256(CURRENT.encode() + b"/" + BODY).hexdigest()}
    assert _reason("seventeentrack", headers) == "bad_signature"


def test_aftership_signature_is_base64_not_hex():
    headers = {"aftership-hmac-sha256": _hmac(CURRENT.encode(), BODY).hexdigest()}
    assert _reason("aftership", headers) == "malformed_header"


# -- Generic HMAC schemes -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["hmac_sha256_hex", "hmac_sha256_base64"])
def test_textual_prefix_is_tolerated(scheme):
    value = _partner_headers(scheme)["X-Signature"]
    assert _verify(scheme, {"X-Signature": f"sha256={value}"}).scheme == scheme
    assert _verify(scheme, {"X-Signature": f"  {value}  "}).scheme == scheme


def test_base64_without_padding_or_url_safe_is_accepted():
    digest = _hmac(CURRENT.encode(), BODY).digest()
    for value in (base64.b64encode(digest).rstrip(b"=").decode(), base64.urlsafe_b64encode(digest).decode()):
        assert _verify("hmac_sha256_base64", {"X-Signature": value}).scheme == "hmac_sha256_base64"


@pytest.mark.parametrize("scheme", ["hmac_sha256_hex", "hmac_sha256_base64", "timestamped_hmac"])
def test_configured_header_name(scheme):
    headers = _sign(scheme, header="X-Carrier-Auth")
    assert list(headers) == ["X-Carrier-Auth"]
    assert _verify(scheme, headers, header="x-carrier-auth").scheme == scheme
    assert _reason(scheme, headers) == "missing_header"


def test_standard_webhooks_configured_header_keeps_id_and_timestamp_names():
    headers = _sign("standard_webhooks", header="X-Sig")
    assert set(headers) == {"webhook-id", "webhook-timestamp", "X-Sig"}
    assert _verify("standard_webhooks", headers, header="X-Sig").message_id == MSG_ID


# -- ShipEngine ---------------------------------------------------------------------------


def test_shipengine_unknown_key_id():
    headers = _partner_headers("shipengine")
    headers["x-shipengine-rsa-sha256-key-id"] = "rotated-away"
    assert _reason("shipengine", headers) == "unknown_key_id"


def test_shipengine_picks_the_key_by_id():
    headers = _partner_headers("shipengine", rsa_key=OTHER_RSA_KEY)
    headers["x-shipengine-rsa-sha256-key-id"] = "se-key-0"
    assert _verify("shipengine", headers).scheme == "shipengine"


def test_shipengine_skips_unusable_jwk_entries():
    jwks = {"keys": [{"kid": KID, "kty": "EC"}, {"kid": KID, "kty": "RSA", "n": "%%", "e": "AQAB"}, JWKS["keys"][1]]}
    assert _verify("shipengine", _partner_headers("shipengine"), jwks=jwks).scheme == "shipengine"
    assert _reason("shipengine", _partner_headers("shipengine"), jwks={"keys": jwks["keys"][:2]}) == "unknown_key_id"


@pytest.mark.parametrize(
    "iso",
    ["2026-07-16T19:25:44+02:00", "2026-07-16T17:25:44.123456Z", "2026-07-16T17:25:44.1Z", "2026-07-16T17:25:44"],
)
def test_shipengine_iso_8601_variants(iso):
    headers = _partner_headers("shipengine", iso=iso)
    result = _verify("shipengine", headers)
    assert abs(result.timestamp - datetime.fromtimestamp(NOW, timezone.utc)) < timedelta(seconds=1)


def test_shipengine_signs_the_timestamp_text_as_sent():
    headers = _partner_headers("shipengine", iso="2026-07-16T19:25:44+02:00")
    headers["x-shipengine-timestamp"] = "2026-07-16T17:25:44Z"  # same instant, other bytes
    assert _reason("shipengine", headers) == "bad_signature"


def test_shipengine_sign_keeps_a_textual_timestamp():
    iso = "2026-07-16T19:25:44.500+02:00"
    assert _sign("shipengine", timestamp=iso) == _partner_headers("shipengine", iso=iso)


def test_shipengine_is_signed_by_shipengine_only():
    with pytest.raises(SignatureError) as caught:
        sign("shipengine", BODY, CURRENT)
    assert caught.value.reason == "unsupported_scheme"
    with pytest.raises(ValueError):
        shipengine_signing.sign(BODY, None, KID)
    with pytest.raises(ValueError):
        shipengine_signing.sign(BODY, _pem(RSA_KEY), None)


def test_rsa_public_jwk_matches_the_public_numbers():
    jwk = shipengine_signing.public_jwk(_pem(RSA_KEY).decode(), KID)
    assert (jwk["kid"], jwk["kty"], jwk["n"], jwk["e"]) == (KID, "RSA", JWKS["keys"][1]["n"], "AQAB")


# -- Scheme table and utilities -------------------------------------------------------------


def test_default_headers():
    assert {scheme: default_header(scheme) for scheme in SCHEMES} == {
        "hmac_sha256_hex": "X-Signature",
        "hmac_sha256_base64": "X-Signature",
        "standard_webhooks": "webhook-signature",
        "timestamped_hmac": "Signature",
        "aftership": "aftership-hmac-sha256",
        "easypost": "X-Hmac-Signature",
        "shippo": "Shippo-Auth-Signature",
        "seventeentrack": "sign",
        "shipengine": "x-shipengine-rsa-sha256-signature",
    }
    with pytest.raises(SignatureError) as caught:
        default_header("none")
    assert caught.value.reason == "unsupported_scheme"


def test_partner_schemes():
    """Each partner's documented scheme, as its descriptor declares it."""
    assert {d.code: d.signature_scheme for d in partners.descriptors()} == {
        "generic_json": "standard_webhooks",
        "aftership": "aftership",
        "easypost": "easypost",
        "shippo": "shippo",
        "seventeentrack": "seventeentrack",
        "shipengine": "shipengine",
        "edi_x12_214": None,
        "csv": None,
        "manual": None,
        # Polled: TNT 2.2 does not say how its callback signature is keyed.
        "dcsa_tnt": None,
    }
    assert {d.signature_scheme for d in partners.descriptors()} - {None} <= set(SCHEMES)


def test_generated_webhook_secret():
    secret = generate_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert generate_webhook_secret() != secret
    headers = sign("standard_webhooks", BODY, secret)
    assert verify("standard_webhooks", BODY, headers, [secret]).matched_secret_index == 0


@pytest.mark.parametrize(
    ("remote", "cidrs", "allowed"),
    [
        ("203.0.113.9", [], True),
        ("203.0.113.9", None, True),
        ("not an ip", [], True),
        ("52.4.41.98", ["52.4.41.98", "52.23.121.194"], True),
        ("52.4.41.99", ["52.4.41.98", "52.23.121.194"], False),
        ("10.1.2.3", ["10.0.0.0/8"], True),
        ("11.1.2.3", ["10.0.0.0/8"], False),
        ("10.1.2.3", "192.168.0.0/16, 10.0.0.0/8", True),
        ("10.1.2.3", "192.168.0.0/16 172.16.0.0/12", False),
        ("10.1.2.3", ["10.1.2.0/24 "], True),
        ("10.1.2.3", ["10.1.2.1/24"], True),
        ("2001:db8::1", ["2001:db8::/32"], True),
        ("2001:db9::1", ["2001:db8::/32"], False),
        ("::ffff:10.1.2.3", ["10.0.0.0/8"], True),
        ("[2001:db8::1]", ["2001:db8::/32"], True),
        ("10.1.2.3", ["2001:db8::/32"], False),
        ("not an ip", ["10.0.0.0/8"], False),
        ("", ["10.0.0.0/8"], False),
        (None, ["10.0.0.0/8"], False),
        ("10.1.2.3", ["garbage", "10.0.0.0/8"], True),
        ("10.1.2.3", ["garbage"], False),
    ],
)
def test_ip_allowed(remote, cidrs, allowed):
    assert ip_allowed(remote, cidrs) is allowed


# -- Hostile input ----------------------------------------------------------------------------

_NAMES = sorted({name for scheme in SCHEMES for name in _partner_headers(scheme)} | {"x-other"})
_header_names = st.sampled_from(_NAMES).flatmap(lambda name: st.sampled_from([name, name.upper(), name.title()]))
_header_values = st.one_of(
    st.text(max_size=120),
    st.binary(max_size=80),
    st.from_regex(r"[ ]?t=[0-9]{1,16},v[0-9a]{1,2}=[0-9a-fA-F]{0,66}", fullmatch=True),
    st.from_regex(r"(v1a?,[A-Za-z0-9+/=_-]{0,90} ?){1,3}", fullmatch=True),
    st.from_regex(r"(sha256|hmac-sha256-hex)=[0-9a-f]{60,66}", fullmatch=True),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,12})?([+-][0-9]{2}:?[0-9]{2}|Z)?"),
    st.sampled_from([KID, "se-key-0", MSG_ID, str(NOW)]),
)
_secrets = st.one_of(
    st.none(),
    st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=40), st.just(CURRENT), st.none()), max_size=3),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scheme=st.sampled_from(SCHEMES + ("bogus",)),
    body=st.binary(max_size=300),
    headers=st.dictionaries(_header_names, _header_values, max_size=6),
    secrets=_secrets,
    now=st.one_of(st.integers(min_value=0, max_value=2**40), st.just(NOW)),
    header=st.one_of(st.none(), st.sampled_from(_NAMES)),
    jwks=st.one_of(st.just(JWKS), st.none(), st.just({"keys": [{"kid": KID}]})),
)
def test_hostile_input_only_raises_signature_error(scheme, body, headers, secrets, now, header, jwks):
    try:
        result = verify(scheme, body, headers, secrets, header=header, now=now, jwks=jwks)
    except SignatureError as exc:
        assert exc.reason in REASONS
    else:
        assert isinstance(result, Verified)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(SCHEMES),
    data=st.data(),
)
def test_any_single_character_change_to_a_signature_header_is_rejected(scheme, data):
    headers = _partner_headers(scheme)
    name = data.draw(st.sampled_from(sorted(headers)))
    value = headers[name]
    position = data.draw(st.integers(min_value=0, max_value=len(value) - 1))
    replacement = data.draw(st.characters(codec="utf-8").filter(lambda char: char != value[position]))
    headers[name] = value[:position] + replacement + value[position + 1 :]
    try:
        result = _verify(scheme, headers)
    except SignatureError as exc:
        assert exc.reason in REASONS
    else:
        # Only changes that keep the signed bytes and the digest bytes may pass: letter
        # case in hex and in textual prefixes, the url-safe base64 alphabet, padding.
        assert result.scheme == scheme
        is_base64 = scheme in ("hmac_sha256_base64", "aftership") or name in (
            "webhook-signature",
            "x-shipengine-rsa-sha256-signature",
        )
        assert _equivalent(is_base64, value[position], replacement, value, headers[name])


def _equivalent(is_base64, original, replacement, value=None, changed=None):
    if is_base64:
        if (original, replacement) in {("+", "-"), ("/", "_")} or (original == "=" and not replacement.strip()):
            return True
        # The last character of a 32-byte digest carries two unused bits: a change there
        # decodes to the very same digest bytes.
        return value is not None and _b64_bytes(value) == _b64_bytes(changed)
    return original.lower() == replacement.lower()


def _b64_bytes(text):
    text = text.strip().split(",")[-1].replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError:
        return None


@pytest.mark.parametrize("scheme", TIMESTAMPED)
def test_forged_requests_learn_nothing_from_their_timestamp(scheme):
    """A stale or future timestamp is only reported once the signature holds: a forger
    must get ``bad_signature`` whatever its timestamp, or it learns the token is real."""
    for moment in (NOW - 3600, NOW + 3600):
        forged = _partner_headers(scheme, secret=PREVIOUS, ts=moment,
                                  iso=datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  rsa_key=OTHER_RSA_KEY)
        assert _reason(scheme, forged) == "bad_signature"
    genuine = _partner_headers(scheme, ts=NOW - 3600,
                               iso=datetime.fromtimestamp(NOW - 3600, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert _reason(scheme, genuine) == "stale_timestamp"
