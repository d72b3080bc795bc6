"""Several webhooks in flight: lanes keep their order, a slow consumer keeps to its share.

The consumer is a real HTTP server on loopback; the sender is the dispatcher's own.
"""

import http.server
import json
import threading
import time

import pytest

from integration import signatures, webhook_sender

SECRET = signatures.generate_webhook_secret()


class Consumer:
    """Records (start, end, lane, position) of every request; ``script(lane, position)`` → (status, delay)."""

    def __init__(self, script=None):
        self.script = script or (lambda lane, position: (204, 0))
        self.calls, self.lock, self.in_flight, self.max_in_flight = [], threading.Lock(), 0, 0
        consumer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                started = time.monotonic()
                with consumer.lock:
                    consumer.in_flight += 1
                    consumer.max_in_flight = max(consumer.max_in_flight, consumer.in_flight)
                status, delay = consumer.script(body["lane"], body["position"])
                time.sleep(delay)
                with consumer.lock:
                    consumer.in_flight -= 1
                    consumer.calls.append((started, time.monotonic(), body["lane"], body["position"]))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def destination(self, lanes, lengths, base=0):
        """``lanes`` lanes of ``lengths`` messages; keys are ``base + lane * 100 + position``."""
        return webhook_sender.Destination(
            url=f"http://127.0.0.1:{self.port}/hook", secrets=[SECRET], policy_text=f"127.0.0.1:{self.port}",
            lanes=[[webhook_sender.Message(base + lane * 100 + position,
                                           json.dumps({"lane": lane, "position": position}).encode(),
                                           f"msg_{base}_{lane}_{position}")
                    for position in range(lengths)] for lane in range(lanes)])

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sender():
    made = []

    def make(workers):
        made.append(webhook_sender.Sender(workers))
        return made[-1]

    yield make
    for each in made:
        each.shutdown()


def keys(destination):
    return sorted([attempt.key for attempt in destination.attempts] + destination.untried)


def test_a_lane_is_sent_in_order_while_lanes_overlap(sender):
    consumer = Consumer(lambda lane, position: (204, 0.03))
    destination = consumer.destination(lanes=4, lengths=5)
    sender(8).send([destination])
    consumer.close()
    assert len(destination.attempts) == 20 and not destination.untried
    assert all(attempt.outcome.success for attempt in destination.attempts)
    for lane in range(4):
        calls = sorted((call for call in consumer.calls if call[2] == lane), key=lambda call: call[0])
        assert [call[3] for call in calls] == list(range(5)), "each lane in its order"
        for earlier, later in zip(calls, calls[1:]):
            assert earlier[1] <= later[0], "message n+1 of a lane leaves only once n was answered"
    assert consumer.max_in_flight > 1, "different lanes are in flight together"
    assert consumer.max_in_flight <= 4, "never two messages of one lane at once"


def test_a_failure_leaves_the_rest_of_its_lane_untried(sender):
    consumer = Consumer(lambda lane, position: (500, 0) if (lane, position) == (1, 2) else (204, 0))
    destination = consumer.destination(lanes=3, lengths=5)
    sender(4).send([destination])
    consumer.close()
    assert sorted(destination.untried) == [103, 104]
    assert keys(destination) == sorted(lane * 100 + position for lane in range(3) for position in range(5))
    failed = [attempt for attempt in destination.attempts if not attempt.outcome.success]
    assert [(attempt.key, attempt.outcome.status_code) for attempt in failed] == [(102, 500)]


def test_a_slow_consumer_keeps_to_its_threads_and_the_batch_budget(sender):
    slow = Consumer(lambda lane, position: (204, 0.3))
    fast = Consumer(lambda lane, position: (204, 0.01))
    slow_part, fast_part = slow.destination(lanes=20, lengths=1), fast.destination(lanes=20, lengths=1, base=10000)
    started = time.monotonic()
    sender(4).send([slow_part, fast_part], budget=0.5)
    took = time.monotonic() - started
    slow.close()
    fast.close()
    assert len(fast_part.attempts) == 20 and not fast_part.untried, "the fast consumer got all of its share"
    assert max(call[1] for call in fast.calls) - started < 0.45, "without waiting behind the slow one"
    assert slow.max_in_flight <= 2, "a slow consumer holds at most half of the threads"
    assert slow_part.untried, "lanes not started within the budget go back untried"
    assert keys(slow_part) == list(range(0, 2000, 100)), "every message either tried or untried, once"
    assert took < 0.5 + 0.3 + 0.3, "the budget, then the requests in flight"


def test_410_stops_the_destination(sender):
    consumer = Consumer(lambda lane, position: (410, 0.02))
    destination = consumer.destination(lanes=10, lengths=1)
    sender(2).send([destination])
    consumer.close()
    assert destination.gone
    assert 1 <= len(destination.attempts) <= 2, "only what was already in flight"
    assert len(consumer.calls) == len(destination.attempts)
    assert keys(destination) == list(range(0, 1000, 100))


def test_a_refused_destination_is_never_connected_to(sender):
    consumer = Consumer()
    destination = consumer.destination(lanes=3, lengths=2)
    destination.policy_text = ""  # loopback is no longer allowed
    sender(2).send([destination])
    consumer.close()
    assert not consumer.calls
    assert len(destination.attempts) == 6
    assert all("refused destination" in attempt.outcome.error for attempt in destination.attempts)
