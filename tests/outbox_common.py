"""A loopback webhook consumer and helpers shared by the outbox tests."""

import http.server
import json
import threading
import time
from collections import Counter

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from ..integration import canonical, outbound
from .common import ShipmentCommon
from .test_inbox_processor import aftership_body, enqueue

_REGISTRY = Registry().with_resources(
    [(uri, Resource.from_contents(schema)) for uri, schema in canonical.schema_registry().items()])
VALIDATORS = {event_type: Draft202012Validator(schema, registry=_REGISTRY, format_checker=FormatChecker())
              for event_type, schema in outbound.outbound_schemas().items()}


class Receiver:
    """A real HTTP server on 127.0.0.1 recording what it receives.

    ``script`` decides each answer: a callable ``(request number, headers, body) →
    (status, headers, delay seconds)``; by default every request gets 204.
    """

    def __init__(self, script=None):
        self.requests = []
        self.script = script or (lambda number, headers, body: (204, {}, 0))
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                with receiver.lock:
                    number = len(receiver.requests)
                    receiver.requests.append((self.path, headers, body))
                status, extra, delay = receiver.script(number, headers, body)
                if delay:
                    time.sleep(delay)
                # 204 and 304 answers have no body; a stray one would corrupt the keep-alive stream.
                reply = b"" if status in (204, 304) else b'{"ok": true}' if status < 300 else b'{"error": "nope"}'
                try:
                    self.send_response(status)
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the sender gave up waiting (timeout test)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def messages(self):
        return [json.loads(body) for _path, _headers, body in self.requests]

    def duplicates(self):
        ids = Counter(headers["webhook-id"] for _path, headers, _body in self.requests)
        return sum(count - 1 for count in ids.values())


class OutboxCommon(ShipmentCommon):
    """A live connector, a processor run helper and schema checks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Outbox = cls.env["shipment.outbox"]
        cls.Delivery = cls.env["shipment.outbox.delivery"]
        cls.Subscription = cls.env["shipment.subscription"]

    def process(self, tracking_number, checkpoints=None, event_id=None, **values):
        """A partner message through the whole inbox path (enqueue, claim, process)."""
        body = aftership_body(tracking_number, event_id=event_id or f"evt-{tracking_number}-{checkpoints}",
                              checkpoints=checkpoints, **values)
        message_id, created, _correlation = enqueue(self.connector, body)
        self.assertTrue(created)
        self.env["shipment.inbox"]._cron_process_inbox()
        message = self.env["shipment.inbox"].browse(message_id)
        self.assertEqual(message.state, "done", message.last_error)
        return message

    def messages_of(self, tracking_number):
        return self.Outbox.search([("shipment_id.tracking_number", "=", tracking_number)], order="sequence")

    def assertValidMessages(self, messages):
        for message in messages:
            document = json.loads(message.payload)
            errors = [error.message for error in VALIDATORS[message.event_type].iter_errors(document)]
            self.assertFalse(errors, f"{message.event_type}: {errors[:3]}")
            self.assertEqual(document["data"]["sequence"], message.sequence)
            self.assertLess(message.payload_size, outbound.MAX_PAYLOAD_BYTES)
