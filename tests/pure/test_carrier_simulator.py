"""The carrier simulator: partner-format bodies, real signatures, real HTTP on loopback.

Every body is read back by the production adapter of its format and every header by the
production verifier, so the simulator cannot drift from what the webhook route accepts.
"""

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integration import signatures, taxonomy
from integration.adapters import AdapterContext, get_adapter
from tools import carrier_simulator as sim
from tools import shipengine_signing

UTC = timezone.utc
NOW = datetime(2026, 7, 20, 12, 0, tzinfo=UTC)
TRACKING = "1Z999AA10123456784"
SECRET = "s3cr3t-shared-with-the-partner"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KID = "simulator-test-1"
CASES = [(fmt, story) for fmt in sim.FORMATS for story in sim.STORIES]


@pytest.fixture(scope="module")
def rsa_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def updates(fmt, story="delivered", **kwargs):
    kwargs.setdefault("now", NOW)
    return sim.build_updates(fmt, TRACKING, story, reference="WH/OUT/00042", **kwargs)


def parse(fmt, update):
    return get_adapter(fmt).parse(update.body, AdapterContext(received_at=NOW))


def actual(result):
    events = sorted(result.events, key=lambda event: event.occurred_at)
    return [event for event in events if event.event_class == taxonomy.ACTUAL]


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("fmt,story", CASES)
def test_every_update_parses_into_the_story_so_far(fmt, story):
    milestones = sim.story_milestones(fmt, story)
    scans = sim.story_scans(milestones, NOW)
    built = updates(fmt, story)
    assert [update.milestone for update in built] == list(milestones)
    for update in built:
        result = parse(fmt, update)
        events = actual(result)
        assert [(e.milestone, e.reason) for e in events] == list(update.expected)
        assert [e.milestone for e in events] == list(milestones[: update.index])
        # The times the adapter reads back are the scan times, whatever the partner's notation.
        assert [e.occurred_at for e in events] == [scan.occurred_at for scan in scans[: update.index]]
        assert result.tracking_numbers == [TRACKING]
        assert result.unmapped_codes == []


def test_the_delivered_story_ends_delivered_everywhere():
    for fmt in sim.FORMATS:
        final = actual(parse(fmt, updates(fmt)[-1]))
        assert final[-1].milestone == "delivered", fmt


def test_the_exception_story_reports_damage_with_its_reason():
    for fmt in sim.FORMATS:
        final = actual(parse(fmt, updates(fmt, "exception")[-1]))[-1]
        assert (final.milestone, final.reason) == ("exception", "damaged"), fmt


def test_return_story_comes_back_to_the_sender_where_the_format_can_say_it():
    for fmt in sim.FORMATS:
        final = actual(parse(fmt, updates(fmt, "return")[-1]))[-1]
        expected = "returning_to_sender" if fmt == "shippo" else "returned_to_sender"
        assert final.milestone == expected, fmt
    assert "returned_to_sender" not in sim.story_milestones("shippo", "return")


@pytest.mark.parametrize("fmt", sim.FORMATS)
def test_open_shipments_carry_an_estimate_and_finished_ones_do_not(fmt):
    built = updates(fmt)
    first = [e for e in parse(fmt, built[0]).events if e.event_class == taxonomy.ESTIMATED]
    last = [e for e in parse(fmt, built[-1]).events if e.event_class == taxonomy.ESTIMATED]
    assert len(first) == 1 and first[0].milestone == "delivered"
    assert first[0].occurred_at > NOW
    assert last == []


@pytest.mark.parametrize("fmt", sim.FORMATS)
def test_bodies_are_json_in_the_partner_envelope(fmt):
    body = json.loads(updates(fmt)[0].body)
    envelope = {
        "aftership": {"event", "event_id", "is_tracking_first_tag", "msg", "ts"},
        "easypost": {"id", "object", "description", "result", "created_at"},
        "shippo": {"event", "test", "data"},
        "seventeentrack": {"event", "data"},
        "shipengine": {"resource_url", "resource_type", "data"},
        "generic_json": {"type", "timestamp", "data"},
    }[fmt]
    assert envelope <= set(body)


@pytest.mark.parametrize("fmt", sim.FORMATS)
def test_each_update_is_a_distinct_message(fmt):
    built = updates(fmt)
    assert len({update.body for update in built}) == len(built)
    assert len({update.message_id for update in built}) == len(built)
    adapter = get_adapter(fmt)
    ids = [adapter.external_id(u.body, {"webhook-id": u.message_id}) for u in built]
    if fmt in ("aftership", "easypost", "generic_json"):
        assert len(set(ids)) == len(built) and None not in ids


def test_same_clock_same_bytes_and_a_nonce_gives_new_message_ids():
    assert [u.body for u in updates("aftership")] == [u.body for u in updates("aftership")]
    again = updates("aftership", nonce="replay")
    assert {u.message_id for u in again}.isdisjoint({u.message_id for u in updates("aftership")})
    assert json.loads(again[0].body)["event_id"] != json.loads(updates("aftership")[0].body)["event_id"]


def test_the_tracking_number_is_sent_as_given():
    built = sim.build_updates("shippo", "1z 999 aa1", now=NOW)
    assert json.loads(built[0].body)["data"]["tracking_number"] == "1z 999 aa1"
    assert parse("shippo", built[0]).tracking_numbers == ["1Z999AA1"]


def test_unknown_format_or_story_is_refused():
    with pytest.raises(ValueError, match="unknown format"):
        sim.build_updates("dhl", TRACKING)
    with pytest.raises(ValueError, match="unknown story"):
        sim.build_updates("aftership", TRACKING, "lost_at_sea")


# --------------------------------------------------------------------------- signatures


def test_adapter_scheme_is_the_partners_own():
    assert sim.resolve_scheme("aftership", "adapter") == signatures.AFTERSHIP
    assert sim.resolve_scheme("seventeentrack", "adapter") == signatures.SEVENTEENTRACK
    assert sim.resolve_scheme("generic_json", "adapter") == signatures.STANDARD_WEBHOOKS
    assert sim.resolve_scheme("easypost", "hmac_sha256_hex") == signatures.HMAC_SHA256_HEX
    assert sim.resolve_scheme("easypost", "none") is None
    with pytest.raises(ValueError):
        sim.resolve_scheme("easypost", "md5")


def _signer(fmt, scheme, rsa_pem, header=None):
    resolved = sim.resolve_scheme(fmt, scheme)
    secret = WHSEC if resolved == signatures.STANDARD_WEBHOOKS else SECRET
    return sim.Signer(resolved, secret, header, rsa_pem, KID)


def _verify(signer, body, headers, rsa_pem):
    jwks = {"keys": [shipengine_signing.public_jwk(rsa_pem, KID)]}
    return signatures.verify(signer.scheme, body, headers, [signer.secret], header=signer.header, jwks=jwks)


@pytest.mark.parametrize("fmt", sim.FORMATS)
def test_partner_signatures_verify(fmt, rsa_pem):
    signer = _signer(fmt, "adapter", rsa_pem)
    for update in updates(fmt):
        headers = signer.headers(update)
        verified = _verify(signer, update.body, headers, rsa_pem)
        assert verified.scheme == signer.scheme
        assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "scheme,header",
    [
        ("standard_webhooks", None),
        ("hmac_sha256_hex", None),
        ("hmac_sha256_base64", "X-Partner-Signature"),
        ("timestamped_hmac", None),
    ],
)
def test_generic_schemes_verify_and_honour_a_custom_header(scheme, header, rsa_pem):
    signer = _signer("generic_json", scheme, rsa_pem, header)
    update = updates("generic_json")[0]
    headers = signer.headers(update)
    if header:
        assert header in headers
    assert _verify(signer, update.body, headers, rsa_pem).scheme == scheme


def test_standard_webhooks_id_is_the_update_message_id(rsa_pem):
    signer = _signer("generic_json", "adapter", rsa_pem)
    update = updates("generic_json")[2]
    headers = signer.headers(update)
    assert headers["webhook-id"] == update.message_id
    assert _verify(signer, update.body, headers, rsa_pem).message_id == update.message_id


def test_a_signature_never_covers_another_body(rsa_pem):
    signer = _signer("aftership", "adapter", rsa_pem)
    first, second = updates("aftership")[:2]
    with pytest.raises(signatures.SignatureError) as info:
        _verify(signer, second.body, signer.headers(first), rsa_pem)
    assert info.value.reason == "bad_signature"


def test_unsigned_requests_carry_only_content_headers():
    headers = sim.Signer(None).headers(updates("generic_json")[0])
    assert headers == {"Content-Type": "application/json", "User-Agent": sim.USER_AGENT}


# --------------------------------------------------------------------------- HTTP


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        with server.lock:
            server.received.append((self.path, dict(self.headers.items()), body))
            number = len(server.received)
        status, answer = server.reply(number, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    httpd.received = []
    httpd.lock = threading.Lock()
    seen = {}

    def reply(number, body):
        if body in seen:
            return 200, {"status": "duplicate", "message_id": seen[body]}
        seen[body] = number
        return 202, {"status": "accepted", "message_id": number, "correlation_id": f"corr-{number}"}

    httpd.reply = reply
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _url(server):
    return f"http://127.0.0.1:{server.server_address[1]}/shipment_visibility/webhook/tok3n"


def _header(headers, name):
    return next(value for key, value in headers.items() if key.lower() == name.lower())


@pytest.mark.parametrize("fmt", sim.FORMATS)
def test_posting_delivers_exactly_the_signed_bytes(fmt, server, rsa_pem):
    signer = _signer(fmt, "adapter", rsa_pem)
    built = updates(fmt)
    lines = []
    results = sim.run_story(_url(server), built, signer, interval=0, out=lines.append)
    assert [r.status for r in results] == [202] * len(built)
    assert [r.answer["message_id"] for r in results] == list(range(1, len(built) + 1))
    assert len(server.received) == len(built)
    for update, (path, headers, body) in zip(built, server.received):
        assert path == "/shipment_visibility/webhook/tok3n"
        assert body == update.body
        assert _header(headers, "Content-Type") == "application/json"
        assert _verify(signer, body, headers, rsa_pem).scheme == signer.scheme
    if fmt == "aftership":
        # No timestamp in this scheme: the header on the wire is exactly the one computed here.
        for update, (_path, headers, _body) in zip(built, server.received):
            expected = signatures.sign(signatures.AFTERSHIP, update.body, SECRET)
            assert _header(headers, "aftership-hmac-sha256") == expected["aftership-hmac-sha256"]
    assert "message_id=1" in lines[0] and "202 accepted" in lines[0]


def test_duplicate_resends_identical_bytes_and_reports_the_duplicate(server, rsa_pem):
    signer = _signer("easypost", "adapter", rsa_pem)
    built = updates("easypost")[:2]
    results = sim.run_story(_url(server), built, signer, interval=0, duplicate=True, out=lambda line: None)
    assert [r.status for r in results] == [202, 200, 202, 200]
    assert [r.answer["status"] for r in results] == ["accepted", "duplicate"] * 2
    bodies = [body for _path, _headers, body in server.received]
    assert bodies == [built[0].body, built[0].body, built[1].body, built[1].body]
    headers = [h for _path, h, _body in server.received]
    assert _header(headers[0], "X-Hmac-Signature") == _header(headers[1], "X-Hmac-Signature")


def test_refusals_and_network_errors_are_reported_not_raised(server, rsa_pem):
    server.reply = lambda number, body: (401, {"error": "bad_signature", "message": "signature mismatch"})
    signer = _signer("shippo", "adapter", rsa_pem)
    lines = []
    results = sim.run_story(_url(server), updates("shippo")[:1], signer, interval=0, out=lines.append)
    assert results[0].status == 401 and not results[0].ok
    assert "401 bad_signature signature mismatch" in lines[0]
    dead = sim.run_story("http://127.0.0.1:9/nowhere", updates("shippo")[:1], signer, interval=0, out=lines.append)
    assert dead[0].status is None and "FAILED" in lines[-1]


# --------------------------------------------------------------------------- command line


def test_cli_sends_a_whole_story(server):
    lines = []
    code = sim.main(
        ["--url", _url(server), "--format", "seventeentrack", "--secret", SECRET, "--tracking", TRACKING,
         "--story", "exception", "--interval", "0"],
        out=lines.append,
    )
    assert code == 0
    assert len(server.received) == 5
    assert lines[0].startswith("seventeentrack story 'exception' for 1Z999AA10123456784: 5 updates")
    assert all(" 202 accepted message_id=" in line for line in lines[1:])
    for _path, headers, body in server.received:
        signatures.verify("seventeentrack", body, headers, [SECRET])
        assert json.loads(body)["data"]["number"] == TRACKING


def test_cli_exit_code_says_when_something_was_refused(server):
    server.reply = lambda number, body: (503, {"error": "overloaded", "message": "try later"})
    code = sim.main(
        ["--url", _url(server), "--format", "aftership", "--secret", SECRET, "--interval", "0"], out=lambda line: None
    )
    assert code == 1


def test_cli_dry_run_prints_headers_and_bodies_and_sends_nothing(server):
    lines = []
    code = sim.main(
        ["--dry-run", "--format", "generic_json", "--secret", WHSEC, "--tracking", "NF000123456"], out=lines.append
    )
    assert code == 0 and server.received == []
    bodies = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(bodies) == 6
    assert all(body["data"]["tracking_number"] == "NF000123456" for body in bodies)
    assert sum(line.startswith("webhook-signature: v1,") for line in lines) == 6


def test_cli_shipengine_key_round_trip(tmp_path, server):
    pem_path = tmp_path / "se.pem"
    lines = []
    assert sim.main(["--generate-key", str(pem_path), "--key-id", KID], out=lines.append) == 0
    jwks = json.loads(lines[0])
    assert jwks["keys"][0]["kid"] == KID
    assert pem_path.stat().st_mode & 0o077 == 0
    code = sim.main(
        ["--url", _url(server), "--format", "shipengine", "--private-key", str(pem_path), "--key-id", KID,
         "--interval", "0", "--story", "return"],
        out=lambda line: None,
    )
    assert code == 0 and len(server.received) == 7
    for _path, headers, body in server.received:
        assert signatures.verify("shipengine", body, headers, [], jwks=jwks).scheme == "shipengine"


@pytest.mark.parametrize(
    "argv",
    [
        ["--format", "aftership", "--url", "http://127.0.0.1:9/x"],  # no secret
        ["--format", "shipengine", "--url", "http://127.0.0.1:9/x"],  # no key
        ["--format", "aftership", "--secret", SECRET],  # no url
        ["--url", "http://127.0.0.1:9/x", "--secret", SECRET],  # no format
    ],
)
def test_cli_refuses_incomplete_arguments(argv, monkeypatch, capsys):
    monkeypatch.delenv("SV_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SystemExit) as info:
        sim.main(argv)
    assert info.value.code == 2


def test_cli_unsigned_needs_no_secret(server, monkeypatch):
    monkeypatch.delenv("SV_WEBHOOK_SECRET", raising=False)
    code = sim.main(
        ["--url", _url(server), "--format", "generic_json", "--scheme", "none", "--interval", "0"],
        out=lambda line: None,
    )
    assert code == 0
    assert all("webhook-signature" not in {k.lower() for k in h} for _p, h, _b in server.received)


def test_scans_are_spaced_and_never_in_the_future():
    scans = sim.story_scans(sim.STORIES["delivered"], NOW, timedelta(hours=2))
    assert scans[-1].occurred_at < NOW
    assert {b.occurred_at - a.occurred_at for a, b in zip(scans, scans[1:])} == {timedelta(hours=2)}
