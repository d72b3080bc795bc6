#!/usr/bin/env python3
"""Drill: thousands of malformed, hostile and careless webhook requests against a real server.

One command: ``python3 benchmarks/drill_malformed_webhooks.py``. It creates a fresh
database with the module, starts Odoo in prefork mode (2 workers and a cron worker) on
a free port, creates live connectors (AfterShip, 17TRACK, our native format with
Standard Webhooks), then sends every request of the corpus below over real sockets:

* sizes: empty, one byte, at and over the connector's limit, chunked without length;
* encodings: Latin-1, UTF-16, invalid and overlong UTF-8, raw NUL bytes, a UTF-8 BOM;
* methods: GET, PUT, PATCH, DELETE, HEAD, OPTIONS on the webhook URL;
* headers: no or wrong content type, huge and repeated headers, odd correlation ids;
* nesting: arrays and objects 10 to 100,000 deep, in the body and in message ids;
* numbers: 1e999, NaN, Infinity, 5,000-digit integers, hex, -0;
* dates: year 1 and 9999, February 30, offsets beyond ±24 h, non-dates;
* Unicode: lone surrogates, NUL escapes, right-to-left overrides, a megabyte of accents;
* tokens: unknown, 10 KB, path traversal, percent-encoded NUL;
* signatures: missing, wrong secret, undecodable, stale and future timestamps;

half of them correctly signed, so that they reach the processor too. It then waits for
the inbox to drain and checks that no response was a 5xx, that no message was left
``processing``, that every failed message holds a reason, and that the server logged
no traceback. It prints the histogram of status codes per category and exits 1 on any
breach. ``--url/--secret`` run the same corpus against a server of your own instead.
"""

import argparse
import json
import os
import random
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for entry in (str(HERE), str(REPO / "tools"), str(REPO)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import devenv  # noqa: E402  (tools/devenv.py: standard library only)

SEED = 20261207
SECRETS = {"aftership": "drill-aftership-secret", "seventeentrack": "drill-17track-key",
           "generic_json": "whsec_" + "ZHJpbGwtbmF0aXZlLXNlY3JldC0xMjM0NTY3ODkwMTI="}


def say(message):
    print(f"[drill] {message}", flush=True)


# --------------------------------------------------------------------------- #
# The corpus
# --------------------------------------------------------------------------- #


def _deep(depth, open_="[", close="]", leaf=b'"x"'):
    return open_.encode() * depth + leaf + close.encode() * depth


def _aftership(rng, **overrides):
    checkpoint = {"checkpoint_time": "2026-07-14T08:10:00+02:00", "tag": "InTransit", "subtag": "InTransit_002",
                  "message": "Departed", "city": "Utrecht", "country_region": "NLD"}
    msg = {"tracking_number": f"DRILL{rng.randrange(10**9)}", "slug": "postnl", "tag": "InTransit",
           "checkpoints": [checkpoint]}
    body = {"event": "tracking_update", "event_id": f"drill-{rng.randrange(10**12)}", "msg": msg,
            "ts": int(time.time())}
    for path, value in overrides.items():
        target = body
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[int(leaf) if isinstance(target, list) else leaf] = value
    return body


def corpus(rng, max_body):
    """``(category, kind, body bytes, options)`` for every request; options say how to send it."""
    items = []

    def add(category, body, **options):
        items.append((category, body, options))

    # sizes
    for size in (0, 1, 2, max_body - 1, max_body, max_body + 1, 2 * max_body):
        for signed in (True, False):
            add("sizes", b"{" + b" " * max(0, size - 2) + b"}" if size >= 2 else b"{"[:size], signed=signed)
    for _index in range(40):
        add("sizes", b'{"pad":"' + b"x" * (max_body + rng.randrange(1, 1000)) + b'"}', chunked=True, signed=True)
    # encodings
    samples = [_aftership(rng) for _index in range(80)]
    for body in samples:
        text = json.dumps(body, ensure_ascii=False)
        for encoded in (text.encode("latin-1", "replace") + b"\xe9", text.encode("utf-16"), b"\xef\xbb\xbf" +
                        text.encode(), text.encode().replace(b"Departed", b"Dep\xc0\xafarted"),
                        text.encode().replace(b"Utrecht", b"Utr\x00echt"), b"\xff\xfe\xfd" + text.encode()):
            add("encodings", encoded, signed=rng.random() < 0.7)
    # methods
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"):
        for _index in range(30):
            add("methods", json.dumps(_aftership(rng)).encode(), method=method, signed=True)
    # headers
    content_types = [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                     "application/json; charset=latin-1", "application/vnd.api+json", "APPLICATION/JSON",
                     "application/json\x00", "application/" + "j" * 5000]
    for content_type in content_types:
        for _index in range(25):
            add("headers", json.dumps(_aftership(rng)).encode(), content_type=content_type, signed=True)
    for _index in range(150):
        extra = rng.choice([{"X-Correlation-ID": "x" * 10_000}, {"X-Correlation-ID": "../../etc\x7f"},
                            {"X-Filler": "v" * 7000}, {"X-Credential": "secret-value"},
                            {"aftership-hmac-sha256": "AAAA"}, {"User-Agent": "é" * 100}])
        add("headers", json.dumps(_aftership(rng)).encode(), extra_headers=extra, signed=True)
    # nesting
    for depth in (2, 10, 32, 63, 64, 65, 100, 500, 1000, 5000, 10_000, 100_000):
        for leaf_kind in ("array", "object", "event_id", "msg", "checkpoints"):
            if leaf_kind == "array":
                body = _deep(depth)
            elif leaf_kind == "object":
                body = b'{"a":' * depth + b"1" + b"}" * depth
            else:
                nested = _deep(depth).decode()
                base = json.dumps(_aftership(rng))
                key = {"event_id": '"event_id": ', "msg": '"msg": ', "checkpoints": '"checkpoints": '}[leaf_kind]
                head, _sep, _rest = base.partition(key)
                body = (head + key + nested + "}" * (leaf_kind != "event_id") + "}").encode()
            for signed in (True, False):
                add("nesting", body, signed=signed)
    # numbers
    for literal in ("1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1" + "0" * 5000, "-0", "0x10", "1e-999",
                    "00012", "1.", ".5", "+1"):
        for place in ("ts", "event_id", "msg.checkpoints.0.checkpoint_time", "msg.tracking_number", "msg.tag",
                  "msg.checkpoints.0.city", "msg.checkpoints", "msg"):
            body = json.dumps(_aftership(rng, **{place: "__NUM__"})).replace('"__NUM__"', literal).encode()
            add("numbers", body, signed=True)
            add("numbers", body, signed=False)
    # dates
    for moment in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "2026-02-30T10:00:00Z",
                   "2026-07-14T24:00:00Z", "2026-07-14T10:00:00+25:00", "not a date", "1784055900", "",
                   "2026-07-14", "2026-07-14T10:00:00", "T10:00", "2026-13-01T00:00:00Z", "-2026-07-14T00:00:00Z"):
        for field in ("msg.checkpoints.0.checkpoint_time", "msg.expected_delivery", "msg.updated_at"):
            for _index in range(4):
                add("dates", json.dumps(_aftership(rng, **{field: moment})).encode(), signed=True)
    # Unicode
    texts = ["\ud800", "\udfff", "\u0000", "x\u0000y", "\u202eevil", "\U0001F4E6" * 50, "\u200b" * 100,
             "e\u0301" * 200, "é" * 300_000, "\\uZZZZ", "\ufffe", "\x7f\x1b[31m"]
    for text in texts:
        for field in ("event_id", "msg.tracking_number", "msg.checkpoints.0.message", "msg.checkpoints.0.city",
                      "msg.tag", "msg.checkpoints.0.subtag"):
            raw = json.dumps(_aftership(rng, **{field: text}))
            if text == "\\uZZZZ":
                raw = raw.replace("\\\\uZZZZ", "\\uZZZZ")
            add("unicode", raw.encode(), signed=True)
            add("unicode", raw.encode(), signed=False)
            # Raw surrogates and NULs in the bytes themselves, not as JSON escapes.
            literal = json.dumps(_aftership(rng, **{field: text}), ensure_ascii=False)
            add("unicode", literal.encode("utf-8", "surrogatepass"), signed=True)
            add("unicode", literal.encode("utf-8", "surrogatepass"), signed=False)
    # tokens
    for token in ("unknown-token", "x" * 10_000, "../../web/database/manager", "%00", "tok%2F..%2F",
                  "é" * 40, "", "A" * 43):
        for _index in range(25):
            add("tokens", json.dumps(_aftership(rng)).encode(), token=token, signed=True)
    # signatures
    for _index in range(150):
        body = json.dumps(_aftership(rng)).encode()
        add("signatures", body, signed=False)
        add("signatures", body, signature="wrong-secret")
        add("signatures", body, extra_headers={"aftership-hmac-sha256": "%%%not-base64%%%"})
        add("signatures", body, extra_headers={"aftership-hmac-sha256": "A" * 5000})
    for offset in (-3600, 3600, -301, 10**9):
        for _index in range(15):
            add("signatures", json.dumps({"type": "shipment.tracking.updated", "timestamp": "2026-07-14T10:00:00Z",
                                          "data": {"tracking_number": "SW1", "events": []}}).encode(),
                connector="generic_json", timestamp_offset=offset, signed=True)
    # 17TRACK's own shapes, including the poison code that once stalled the processor
    for code in ('"\\u0000"', '"\\ud800"', "0", "-18010014", "null", '{"a":1}', "[]"):
        for _index in range(15):
            add("partner-shapes", f'{{"code":{code},"data":{{"accepted":[],"rejected":[]}}}}'.encode(),
                connector="seventeentrack", signed=True)
    for _index in range(150):
        shape = rng.choice([
            {"event": "TRACKING_UPDATED", "data": None}, {"event": "TRACKING_UPDATED", "data": {"number": ""}},
            {"event": "UNKNOWN"}, {"event": "TRACKING_UPDATED", "data": {"number": "N1", "track_info": {
                "tracking": {"providers": [{"events": [{"time_iso": "9999-12-31T23:00:00-05:00"}]}]}}}}])
        add("partner-shapes", json.dumps(shape).encode(), connector="seventeentrack", signed=True)
    rng.shuffle(items)
    return items


# --------------------------------------------------------------------------- #
# Sending
# --------------------------------------------------------------------------- #


def _raw_request(host, port, method, path, headers, body, chunked=False, timeout=30):
    """One HTTP/1.1 request over a plain socket: headers and bodies no client library would send."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        payload = b"".join(f"{len(body[i:i + 8192]):x}\r\n".encode() + body[i:i + 8192] + b"\r\n"
                           for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) before reading everything
        response = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            response += chunk
    status_line = response.split(b"\r\n", 1)[0].decode("latin-1")
    try:
        return int(status_line.split()[1]), response
    except (IndexError, ValueError):
        return 0, response


def send_all(items, base_url, tokens, out=say):
    from integration import signatures

    parts = urlsplit(base_url)
    host, port = parts.hostname, parts.port
    histogram = defaultdict(Counter)
    five_hundreds = []
    started = time.monotonic()
    for index, (category, body, options) in enumerate(items):
        connector = options.get("connector", "aftership")
        token = options.get("token", tokens[connector])
        headers = {}
        content_type = options.get("content_type", "application/json")
        if content_type is not None:
            headers["Content-Type"] = content_type
        if options.get("signed") or options.get("signature"):
            scheme = {"aftership": "aftership", "seventeentrack": "seventeentrack",
                      "generic_json": "standard_webhooks"}[connector]
            secret = options.get("signature") or SECRETS[connector]
            if scheme == "standard_webhooks" and options.get("signature"):
                secret = signatures.generate_webhook_secret()
            stamp = int(time.time()) + options.get("timestamp_offset", 0)
            headers.update(signatures.sign(scheme, body, secret, timestamp=stamp,
                                           message_id=f"msg_drill_{index}"))
        headers.update(options.get("extra_headers", {}))
        status, raw = _raw_request(host, port, options.get("method", "POST"),
                                   f"/shipment_visibility/webhook/{token}", headers, body,
                                   chunked=options.get("chunked", False))
        histogram[category][status] += 1
        if status >= 500 or status == 0:
            five_hundreds.append((category, status, raw[:300]))
        if (index + 1) % 500 == 0:
            out(f"{index + 1}/{len(items)} requests sent ({time.monotonic() - started:.0f} s)")
    return histogram, five_hundreds


def print_histogram(histogram, out=print):
    statuses = sorted({status for counts in histogram.values() for status in counts})
    out(f"{'category':<16}" + "".join(f"{status:>7}" for status in statuses) + f"{'total':>8}")
    totals = Counter()
    for category in sorted(histogram):
        counts = histogram[category]
        totals.update(counts)
        out(f"{category:<16}" + "".join(f"{counts.get(status, 0):>7}" for status in statuses)
            + f"{sum(counts.values()):>8}")
    out(f"{'all':<16}" + "".join(f"{totals.get(status, 0):>7}" for status in statuses)
        + f"{sum(totals.values()):>8}")
    return totals


# --------------------------------------------------------------------------- #
# Own server
# --------------------------------------------------------------------------- #


def _own_server():
    import run as bench  # benchmarks/run.py: its Odoo process handling
    from cryptography.fernet import Fernet

    tree = devenv.bootstrap()
    workdir = Path(tempfile.mkdtemp(prefix="sv_drill_"))
    env = dict(os.environ, SHIPMENT_VISIBILITY_KEY=Fernet.generate_key().decode())
    odoo = bench.Odoo(tree, f"sv_drill_{os.getpid()}", workdir, env)
    return odoo


def _make_connectors(rpc):
    group = rpc.call("ir.model.data", "check_object_reference", "shipment_visibility",
                     "group_shipment_integration_admin")[1]
    rpc.call("res.users", "write", [rpc.uid], {"groups_id": [(4, group)]})
    tokens, ids = {}, {}
    for code, secret in SECRETS.items():
        connector_id = rpc.call("shipment.connector", "create", {
            "name": f"Drill {code}", "connector_type": code, "mode": "live", "webhook_secret": secret,
            "rate_limit_per_minute": 0})
        connector_id = connector_id[0] if isinstance(connector_id, list) else connector_id
        ids[code] = connector_id
        tokens[code] = rpc.call("shipment.connector", "read", [connector_id], ["webhook_token"])[0]["webhook_token"]
    max_body = rpc.call("shipment.connector", "read", [ids["aftership"]], ["max_body_bytes"])[0]["max_body_bytes"]
    return tokens, ids, max_body


def _drain(rpc, connector_ids, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        open_ = rpc.call("shipment.inbox", "search_count",
                         [("connector_id", "in", connector_ids), ("state", "in", ["pending", "processing"]),
                          ("next_attempt_at", "<=", time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))])
        if not open_:
            return True
        time.sleep(2)
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="base URL of a running server (default: start one)")
    parser.add_argument("--tokens", help="JSON {aftership, seventeentrack, generic_json: token} for --url")
    parser.add_argument("--max-body", type=int, default=1024 * 1024)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    if not args.url and os.path.realpath(sys.prefix) != os.path.realpath(devenv.VENV):
        devenv.bootstrap()
        os.execv(str(devenv.venv_python()), [str(devenv.venv_python()), str(Path(__file__).resolve()),
                                             *sys.argv[1:]])
    rng = random.Random(args.seed)
    if args.url:
        tokens = json.loads(args.tokens)
        items = corpus(rng, args.max_body)
        say(f"{len(items)} requests against {args.url}")
        histogram, bad = send_all(items, args.url, tokens)
        print_histogram(histogram)
        return 1 if bad else 0

    import loadgen

    odoo = _own_server()
    breaches = []
    try:
        odoo.create_database()
        odoo.start()
        rpc = loadgen.OdooRpc(odoo.base_url, odoo.db)
        tokens, ids, max_body = _make_connectors(rpc)
        items = corpus(rng, max_body)
        say(f"{len(items)} requests against {odoo.base_url} (seed {args.seed})")
        histogram, bad = send_all(items, odoo.base_url, tokens)
        totals = print_histogram(histogram)
        breaches += [f"{category}: status {status}: {raw[:120]!r}" for category, status, raw in bad]
        say("waiting for the processor to work every accepted message")
        if not _drain(rpc, list(ids.values())):
            breaches.append("the inbox did not drain within 10 minutes")
        states = rpc.call("shipment.inbox", "read_group", [("connector_id", "in", list(ids.values()))],
                          ["state"], ["state"], lazy=False)
        say("inbox after processing: " + ", ".join(f"{row['state']} {row['__count']}" for row in states))
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        # Held by a worker past its lease: nobody is processing it any more.
        stuck = rpc.call("shipment.inbox", "search_count", [("connector_id", "in", list(ids.values())),
                                                             ("state", "=", "processing"), ("lease_until", "<", now)])
        for row in rpc.call("shipment.inbox", "search_read", [("connector_id", "in", list(ids.values())),
                                                              ("state", "=", "pending")], ["attempts", "last_error"]):
            say(f"scheduled for a retry (attempt {row['attempts']}): {str(row['last_error'])[:200]}")
        silent = rpc.call("shipment.inbox", "search_count", [("connector_id", "in", list(ids.values())),
                                                             ("state", "in", ["failed", "dead"]),
                                                             ("last_error", "=", False)])
        if stuck:
            breaches.append(f"{stuck} message(s) left processing")
        if silent:
            breaches.append(f"{silent} failed message(s) without a reason")
        rpc.close()
        problems = odoo.server_log_problems()
        breaches += [f"server log: {line}" for line in problems]
        say(f"{sum(totals.values())} requests, {sum(totals[s] for s in totals if s >= 500 or s == 0)} 5xx")
    finally:
        odoo.stop()
        devenv.drop_db(odoo.db)
    for breach in breaches:
        say(f"BREACH {breach}")
    say("no 5xx, nothing stuck, every failure explained" if not breaches else f"{len(breaches)} breach(es)")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
