"""Sending a batch of signed webhooks with several requests in flight.

The dispatcher cron reads a claimed batch from the database, hands it here as plain
values, waits, and writes every outcome back from its own thread: an Odoo environment
is not thread-safe, so the worker threads of this module only ever do HTTP. Nothing
here imports Odoo.

Order: a *lane* is a list of messages sent one after the other, each only once the
previous one was answered with a 2xx; a failure leaves the rest of its lane untried.
A subscription with strict per-shipment ordering gets one lane per shipment (sequence
order); any other subscription one lane per message, so its messages overlap freely.

Fairness: one destination never holds more than ``per_destination`` worker threads
while other destinations share the batch, and nobody starts a new lane after the
batch's time budget: a slow consumer delays the others by at most one timeout, never
by its whole share of the batch. What was not tried goes back to the queue untouched.
"""

import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from . import netguard, outbound

#: Requests in flight per dispatcher (worker threads of the pool).
DEFAULT_WORKERS = 8
#: Seconds after which no new lane is started in a batch (in-flight requests finish).
DEFAULT_BATCH_BUDGET_SECONDS = 10

_SESSIONS = threading.local()


def session(policy_text):
    """The guarded HTTP session of this thread for an outbound policy: keep-alive per thread.

    ``requests`` sessions are not meant to be shared between threads; one per thread
    keeps one keep-alive connection per thread and destination.
    """
    sessions = getattr(_SESSIONS, "by_policy", None)
    if sessions is None:
        sessions = _SESSIONS.by_policy = {}
    if policy_text not in sessions:
        sessions[policy_text] = netguard.AddressPolicy.from_text(policy_text).session()
    return sessions[policy_text]


def post(policy_text, url, body, message_id, secrets, timeout=outbound.TIMEOUT_SECONDS):
    """POST one signed message; never raises.

    :return: ``(Outcome, seconds, response excerpt)``.
    """
    started = time.monotonic()
    try:
        if not secrets:
            raise ValueError("the subscription has no signing secret: rotate it to generate one")
        headers = outbound.signed_headers(body, message_id, secrets)
        response = session(policy_text).post(url, data=body, headers=headers, timeout=timeout)
        excerpt = response.text[:outbound.RESPONSE_EXCERPT_CHARS] if response.content else ""
        return outbound.judge_response(response.status_code, response.headers), time.monotonic() - started, excerpt
    except netguard.BlockedDestination as exc:
        error = f"refused destination ({exc.reason}): {exc}"
    except requests.Timeout:
        error = f"no answer within {timeout} s"
    except requests.RequestException as exc:
        cause = exc
        while cause.__context__ is not None and not isinstance(cause, netguard.BlockedDestination):
            cause = cause.__context__
        if isinstance(cause, netguard.BlockedDestination):
            error = f"refused destination ({cause.reason}): {cause}"
        else:
            error = f"{exc.__class__.__name__}: {str(exc)[:300]}"
    except ValueError as exc:
        error = str(exc)
    return outbound.Outcome(False, error=error), time.monotonic() - started, ""


@dataclass(frozen=True)
class Message:
    """One message for one destination. ``key`` is the caller's (a delivery id)."""

    key: int
    body: bytes
    message_id: str


@dataclass(frozen=True)
class Attempt:
    """One request made: its outcome, its duration in seconds and the answer's excerpt."""

    key: int
    outcome: outbound.Outcome
    seconds: float
    excerpt: str


@dataclass
class Destination:
    """One subscription's part of a batch.

    :ivar lanes: lists of :class:`Message`, each sent in its order (see the module doc).
    :ivar attempts: filled by :meth:`Sender.send`, in the order the answers came.
    :ivar untried: keys of the messages not sent (410, an earlier failure in the lane,
        the time budget): they were not attempted and go back to the queue as they were.
    """

    url: str
    secrets: list
    lanes: list
    policy_text: str = ""
    timeout: float = outbound.TIMEOUT_SECONDS
    attempts: list = field(default_factory=list)
    untried: list = field(default_factory=list)
    gone: bool = False


class Sender:
    """A pool of HTTP worker threads shared by the batches of one dispatcher process."""

    def __init__(self, workers=DEFAULT_WORKERS, post=post, clock=time.monotonic):
        self.workers = max(1, int(workers))
        self._post = post
        self._clock = clock
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="shipment-webhook")

    def send(self, destinations, budget=DEFAULT_BATCH_BUDGET_SECONDS):
        """Send every destination's lanes and wait until all answers are in (or the budget is spent).

        The policy check of each destination (resolve and refuse internal addresses) is
        made before anything is sent to it; a refused destination gets a refused
        attempt for every message, without any connection.
        """
        deadline = self._clock() + budget
        per_destination = self.workers if len(destinations) == 1 else max(1, self.workers // 2)
        runners = []
        for destination in destinations:
            refusal = self._refusal(destination)
            if refusal is not None:
                destination.attempts.extend(Attempt(message.key, refusal, 0.0, "")
                                            for lane in destination.lanes for message in lane)
                continue
            queue, lock = deque(destination.lanes), threading.Lock()
            count = min(per_destination, len(queue))
            runners.append([(destination, queue, lock) for _index in range(count)])
        # Round robin: every destination's first runner is queued before anyone's second,
        # so that a destination with many lanes does not take every thread first.
        order = [runner for rank in range(max(map(len, runners), default=0))
                 for batch in runners if rank < len(batch) for runner in [batch[rank]]]
        futures = [self._pool.submit(self._run, destination, queue, lock, deadline)
                   for destination, queue, lock in order]
        for future in futures:
            future.result()
        return destinations

    @staticmethod
    def _refusal(destination):
        try:
            # Resolved and checked once per batch before any connection (each connection
            # checks its peer address again, against DNS rebinding).
            netguard.AddressPolicy.from_text(destination.policy_text).check_url(destination.url)
        except (netguard.BlockedDestination, ValueError) as exc:
            return outbound.Outcome(False, error=f"refused destination: {exc}")
        return None

    def _run(self, destination, queue, lock, deadline):
        while True:
            with lock:
                if not queue:
                    return
                if destination.gone or self._clock() >= deadline:
                    destination.untried.extend(message.key for lane in queue for message in lane)
                    queue.clear()
                    return
                lane = queue.popleft()
            for index, message in enumerate(lane):
                outcome, seconds, excerpt = self._post(destination.policy_text, destination.url, message.body,
                                                       message.message_id, destination.secrets,
                                                       destination.timeout)
                with lock:
                    destination.attempts.append(Attempt(message.key, outcome, seconds, excerpt))
                    if outcome.gone:
                        destination.gone = True
                if not outcome.success:
                    # Message n+1 of a lane never leaves before n was taken.
                    with lock:
                        destination.untried.extend(later.key for later in lane[index + 1:])
                    break

    def shutdown(self):
        self._pool.shutdown(wait=True)


_SENDERS = {}
_SENDERS_LOCK = threading.Lock()


def sender(workers=DEFAULT_WORKERS):
    """The process's sender with ``workers`` threads (created on first use).

    Keyed by process id too: a pool inherited through a fork (Odoo's prefork workers)
    has no threads left in the child.
    """
    key = (os.getpid(), workers)
    with _SENDERS_LOCK:
        existing = _SENDERS.get(key)
        if existing is None:
            existing = _SENDERS[key] = Sender(workers)
        return existing
