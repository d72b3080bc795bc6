"""Outbound HTTP for one connector: timeouts, retries, rate limit and circuit breaker.

Every call a connector makes to its partner (polling, registering numbers) goes
through one :class:`Transport`, so that resilience rules live in one place:

* timeouts on connect and read, TLS verification always on, no redirects followed;
* retries with exponential back-off and jitter, but only for idempotent calls;
* ``Retry-After`` honoured on 429/503;
* a client-side :class:`TokenBucket` so that a batch never exceeds the partner's rate;
* a :class:`CircuitBreaker` so that a partner that is down is left alone for a while;
* typed :class:`TransportError` subclasses the Odoo side maps to retry / dead-letter;
* API keys never appear in a repr, a log line or an exception message.

Clocks and sleeps are injectable so that tests can drive every transition without
waiting. Nothing here imports Odoo.
"""

import base64
import email.utils
import json as jsonlib
import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from .netguard import AddressPolicy, BlockedDestination
from .ratelimit import TokenBucket
from .redaction import REDACTED, redact_headers

_logger = logging.getLogger(__name__)

#: Methods that may be repeated without changing the outcome (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Answers worth another try: the partner is overloaded or briefly broken.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: Headers of our own configuration that may show in logs as they are.
NON_SECRET_CONFIG_HEADERS = ("accept", "user-agent", "aftership-api-version", "content-type")
#: Header names whose values are credentials even when passed as ordinary headers.
SENSITIVE_HEADER_WORDS = ("authorization", "token", "key", "secret", "cookie", "signature", "password")
_EXCERPT_CHARS = 300


# ----------------------------------------------------------------------------- errors


class TransportError(Exception):
    """Base class of every failure of an outbound call.

    :ivar retryable: whether the same call may succeed later without any change on
        our side (the Odoo side schedules a retry instead of dead-lettering).
    """

    retryable = True


class TransportConfigError(TransportError, ValueError):
    """The connector configuration cannot be used (bad URL, plain HTTP to a remote host…)."""

    retryable = False


class CircuitOpenError(TransportError):
    """The breaker is open: the call was not attempted.

    :ivar next_attempt_at: clock time (seconds) after which a trial call is allowed.
    """

    def __init__(self, message, next_attempt_at=None):
        super().__init__(message)
        self.next_attempt_at = next_attempt_at


class RemoteError(TransportError):
    """The partner answered with an unexpected HTTP status.

    :ivar status: HTTP status code.
    :ivar body_excerpt: start of the answer body, with known secrets removed.
    """

    def __init__(self, message, status, body_excerpt=""):
        super().__init__(message)
        self.status = status
        self.body_excerpt = body_excerpt
        # A 4xx other than a throttle means our request is wrong: repeating it is useless.
        self.retryable = status >= 500 or status in RETRYABLE_STATUSES


class RateLimitedError(RemoteError):
    """The partner asked us to slow down (429, or 503 with ``Retry-After``).

    :ivar retry_after: seconds to wait before calling again, or ``None`` when the
        partner did not say.
    """

    def __init__(self, message, status, body_excerpt="", retry_after=None):
        super().__init__(message, status, body_excerpt)
        self.retry_after = retry_after
        self.retryable = True


class TransportTimeout(TransportError):
    """Connecting to, or reading from, the partner took longer than configured."""


class TransportConnectionError(TransportError):
    """The connection could not be made or broke (DNS, refused, reset, TLS failure)."""


class MalformedResponseError(TransportError):
    """The partner answered 2xx with a body that is not the JSON it documents."""

    def __init__(self, message, body_excerpt=""):
        super().__init__(message)
        self.body_excerpt = body_excerpt


# ----------------------------------------------------------------------------- config


def basic_auth_header(username, password=""):
    """``Authorization`` header value for HTTP basic auth (EasyPost: key as user name).

    :rtype: str
    """
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def is_sensitive_header(name):
    """True when a header name suggests its value is a credential."""
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_HEADER_WORDS)


@dataclass(frozen=True)
class TransportConfig:
    """Settings of one connector's HTTP client.

    :ivar base_url: partner API root, e.g. ``https://api.aftership.com``. It must be
        allowed by ``address_policy``: https to a public address, or a host an
        administrator allowed explicitly (which may also use plain http).
    :ivar connect_timeout: seconds to establish the connection.
    :ivar read_timeout: seconds to wait for each chunk of the answer.
    :ivar max_retries: extra attempts after the first one, for idempotent calls only.
    :ivar backoff_base: first back-off delay, doubled at each retry.
    :ivar backoff_max: ceiling of a single back-off delay.
    :ivar retry_after_max: longest ``Retry-After`` we sleep through; beyond it the
        call fails with :class:`RateLimitedError` so that a cron worker is not held.
    :ivar rate_per_second: sustained client-side call rate; ``0`` disables the limit.
    :ivar burst: calls allowed at once before the rate applies.
    :ivar breaker_threshold: consecutive failures that open the circuit.
    :ivar breaker_cooldown: seconds the circuit stays open before one trial call.
    :ivar headers: headers sent with every call (``Accept``, API version…).
    :ivar auth_headers: credential headers; their values never leave this object
        except on the wire.
    :ivar address_policy: :class:`~integration.netguard.AddressPolicy` applied to the
        base URL and to every connection; the default allows public https only.
    """

    base_url: str
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    rate_per_second: float = 0.0
    burst: int = 1
    breaker_threshold: int = 5
    breaker_cooldown: float = 60.0
    headers: dict = field(default_factory=dict)
    auth_headers: dict = field(default_factory=dict, repr=False)
    address_policy: AddressPolicy = field(default_factory=AddressPolicy, repr=False, compare=False)

    def __post_init__(self):
        parts = urlsplit(self.base_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportConfigError(f"base URL must be an absolute http(s) URL, got {self._safe_url()!r}")
        if parts.username or parts.password:
            raise TransportConfigError("put credentials in auth headers, not in the base URL")
        try:
            self.address_policy.check_url(self.base_url)
        except BlockedDestination as exc:
            raise TransportConfigError(f"refusing to call {self._safe_url()}: {exc}") from None
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise TransportConfigError("timeouts must be positive")
        if self.max_retries < 0 or self.burst < 1 or self.breaker_threshold < 1:
            raise TransportConfigError("max_retries must be >= 0, burst and breaker_threshold >= 1")

    def _safe_url(self):
        parts = urlsplit(self.base_url or "")
        return f"{parts.scheme}://{parts.hostname or ''}{parts.path}" if parts.scheme else ""

    def __repr__(self):
        # Names of the auth headers help debugging; their values must never show.
        auth = ", ".join(f"{name}={REDACTED}" for name in self.auth_headers)
        return (
            f"TransportConfig(base_url={self._safe_url()!r}, connect_timeout={self.connect_timeout}, "
            f"read_timeout={self.read_timeout}, max_retries={self.max_retries}, "
            f"rate_per_second={self.rate_per_second}, burst={self.burst}, "
            f"breaker_threshold={self.breaker_threshold}, breaker_cooldown={self.breaker_cooldown}, "
            f"headers={redact_headers(self.headers, keep=NON_SECRET_CONFIG_HEADERS)}, auth_headers={{{auth}}})"
        )

    __str__ = __repr__

    def secrets(self):
        """Values that must never be logged: auth headers and sensitive plain headers.

        :rtype: list[str]
        """
        values = list(self.auth_headers.values())
        values += [value for name, value in self.headers.items() if is_sensitive_header(name)]
        found = set()
        for value in values:
            text = str(value)
            found.add(text)
            # The bare token of "Basic xxx" / "Bearer xxx" is as secret as the whole value.
            scheme, _, token = text.partition(" ")
            if token and scheme.lower() in ("basic", "bearer", "token"):
                found.add(token)
                if scheme.lower() == "basic":
                    found.update(_decoded_basic(token))
        # Longest first, so that a value containing another is scrubbed whole.
        return sorted((value for value in found if len(value) >= 4), key=len, reverse=True)


def _decoded_basic(token):
    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return []
    return [part for part in (user, password) if part]


# ----------------------------------------------------------------------------- circuit breaker


class CircuitBreaker:
    """Stops calling a partner after repeated failures, then probes it again.

    ``closed`` → ``open`` after :attr:`threshold` consecutive failures; ``open`` →
    ``half_open`` once :attr:`cooldown` seconds have passed (on the next
    :meth:`allow`); ``half_open`` → ``closed`` on the trial's success, or back to
    ``open`` on its failure.

    The state can be restored from the connector record (``state``,
    ``failure_count``, ``opened_at``), so the default clock is wall time.

    :param on_change: called as ``on_change(breaker, old_state, new_state)`` after each
        transition, e.g. for the Odoo side to post a note or schedule an activity.
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    STATES = (CLOSED, OPEN, HALF_OPEN)

    def __init__(
        self,
        threshold=5,
        cooldown=60.0,
        *,
        clock=time.time,
        on_change=None,
        state=CLOSED,
        failure_count=0,
        opened_at=None,
    ):
        if state not in self.STATES:
            raise ValueError(f"unknown breaker state {state!r}")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.on_change = on_change
        self.state = state
        self.failure_count = failure_count
        self.opened_at = opened_at
        self._trial_in_flight = False
        self._lock = threading.RLock()

    @property
    def next_attempt_at(self):
        """Clock time from which a trial call is allowed; ``None`` unless open."""
        if self.state != self.OPEN or self.opened_at is None:
            return None
        return self.opened_at + self.cooldown

    def allow(self):
        """Whether a call may be attempted now (moves ``open`` → ``half_open`` when due).

        In ``half_open`` only one trial call is allowed until its outcome is recorded.

        :rtype: bool
        """
        with self._lock:
            if self.state == self.CLOSED:
                return True
            if self.state == self.OPEN:
                if self._clock() < self.next_attempt_at:
                    return False
                self._transition(self.HALF_OPEN)
            if self._trial_in_flight:
                return False
            self._trial_in_flight = True
            return True

    def record_success(self):
        """The call reached a healthy partner."""
        with self._lock:
            self.failure_count = 0
            self._trial_in_flight = False
            if self.state != self.CLOSED:
                self.opened_at = None
                self._transition(self.CLOSED)

    def record_failure(self):
        """The call failed in a way that says the partner is unhealthy."""
        with self._lock:
            self.failure_count += 1
            self._trial_in_flight = False
            if self.state == self.HALF_OPEN or (self.state == self.CLOSED and self.failure_count >= self.threshold):
                self.opened_at = self._clock()
                self._transition(self.OPEN)

    def release(self):
        """Forget a trial call that ended without telling anything about the partner.

        Without this, a call aborted by a bug on our side would leave ``half_open``
        waiting forever for the outcome of its trial.
        """
        with self._lock:
            self._trial_in_flight = False

    def snapshot(self):
        """State to persist on the connector, accepted back by the constructor.

        :rtype: dict
        """
        return {"state": self.state, "failure_count": self.failure_count, "opened_at": self.opened_at}

    def _transition(self, new_state):
        old_state, self.state = self.state, new_state
        _logger.info("circuit breaker %s -> %s after %d failure(s)", old_state, new_state, self.failure_count)
        if self.on_change is None:
            return
        try:
            self.on_change(self, old_state, new_state)
        except Exception:
            # A failing notification must not turn a good answer into an error, nor
            # hide the partner's own failure behind ours.
            _logger.exception("circuit breaker state-change callback failed")


# ----------------------------------------------------------------------------- transport


def parse_retry_after(value, now):
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date).

    :param str value: the header value.
    :param float now: current wall-clock time (epoch seconds), for HTTP-dates.
    :return: seconds, never negative; ``None`` when absent or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None or moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - now
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


class Transport:
    """HTTP client of one connector, around one :class:`requests.Session`.

    :param TransportConfig config: connector settings.
    :param session: a ``requests.Session`` to use (one is created otherwise).
    :param breaker: a :class:`CircuitBreaker` (e.g. restored from the connector);
        one is built from the config otherwise.
    :param on_breaker_change: state-change callback of the breaker built here.
    :param clock: wall-clock seconds, used for the breaker and HTTP-date ``Retry-After``.
    :param sleep: blocks for back-off and ``Retry-After`` delays.
    :param rand: returns a float in [0, 1) for jitter.
    :param bucket: a :class:`TokenBucket`; built from ``rate_per_second`` otherwise.
    """

    def __init__(
        self,
        config,
        *,
        session=None,
        breaker=None,
        on_breaker_change=None,
        clock=time.time,
        sleep=time.sleep,
        rand=random.random,
        bucket=None,
    ):
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        # Every connection is checked against the address policy, also after DNS.
        self.session = config.address_policy.guard(session or requests.Session())
        # Fixed on the session too, so that nothing built on it can switch TLS checks off.
        self.session.verify = True
        self.session.headers.update(config.headers)
        self.breaker = breaker or CircuitBreaker(
            config.breaker_threshold, config.breaker_cooldown, clock=clock, on_change=on_breaker_change
        )
        if bucket is None and config.rate_per_second > 0:
            bucket = TokenBucket(config.rate_per_second, config.burst, sleep=sleep)
        self.bucket = bucket
        self._secrets = config.secrets()

    def __repr__(self):
        return f"Transport({self.config!r}, breaker={self.breaker.state})"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        """Release pooled connections."""
        self.session.close()

    # -- public API

    def request(self, method, path, *, json=None, params=None, headers=None, idempotent=None):
        """Send one call, retrying when safe, and return the 2xx answer.

        :param str method: HTTP method.
        :param str path: path below ``base_url`` (never an absolute URL: credentials
            must only go to the configured host).
        :param json: JSON-serialisable body.
        :param dict params: query string parameters.
        :param dict headers: extra headers for this call.
        :param idempotent: force retry behaviour; by default GET/HEAD/OPTIONS/PUT/DELETE
            are retried and POST/PATCH are not. Pass ``True`` for a POST that only
            reads (a tracking query).
        :return: the successful response.
        :rtype: requests.Response
        :raises CircuitOpenError: the breaker refused the call.
        :raises RateLimitedError: throttled and no (more) waiting allowed.
        :raises RemoteError: non-2xx answer after the allowed attempts.
        :raises TransportTimeout: connect or read timeout after the allowed attempts.
        :raises TransportConnectionError: network failure after the allowed attempts.
        :raises TransportConfigError: ``path`` is an absolute URL.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        url = self._url(path)
        label = f"{method} {urlsplit(url).path}"
        all_headers = {**(headers or {}), **self.config.auth_headers}
        attempts = 1 + (self.config.max_retries if idempotent else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            if not self.breaker.allow():
                raise CircuitOpenError(
                    f"{label}: circuit open after {self.breaker.failure_count} consecutive failures",
                    self.breaker.next_attempt_at,
                )
            if self.bucket is not None:
                self.bucket.acquire()
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=all_headers,
                    timeout=(self.config.connect_timeout, self.config.read_timeout),
                    verify=True,
                    # A redirect could carry our custom key headers to another host:
                    # requests only strips ``Authorization`` on a host change.
                    allow_redirects=False,
                )
            except requests.Timeout as exc:
                self.breaker.record_failure()
                error = TransportTimeout(f"{label}: timed out ({self._scrub(type(exc).__name__)})")
            except requests.RequestException as exc:
                self.breaker.record_failure()
                error = TransportConnectionError(f"{label}: {type(exc).__name__}: {self._scrub(str(exc))}")
            except BlockedDestination as exc:
                # The name now resolves to an internal address: a configuration problem,
                # not an outage of the partner.
                self.breaker.release()
                raise TransportConfigError(f"{label}: {exc}") from None
            except BaseException:
                self.breaker.release()
                raise
            else:
                error = self._check(label, response)
                if error is None:
                    return response
            if last or not error.retryable:
                raise error from None
            if isinstance(error, RateLimitedError) and error.retry_after is not None:
                if error.retry_after > self.config.retry_after_max:
                    # Sleeping that long would hold a cron worker: let the caller reschedule.
                    raise error from None
                delay = error.retry_after
            else:
                delay = self._backoff(attempt)
            _logger.info("%s: %s; attempt %d/%d, retrying in %.1fs", label, error, attempt + 1, attempts, delay)
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def json_request(self, method, path, **kwargs):
        """:meth:`request`, then decode the JSON answer.

        :return: the decoded body, or ``None`` for an empty answer (204).
        :raises MalformedResponseError: the body is not valid JSON.
        """
        response = self.request(method, path, **kwargs)
        if not response.content:
            return None
        try:
            return jsonlib.loads(response.content)
        except (UnicodeDecodeError, ValueError) as exc:
            label = f"{method.upper()} {urlsplit(response.url or '').path}"
            raise MalformedResponseError(
                f"{label}: answer is not valid JSON ({exc.__class__.__name__}: {self._scrub(str(exc))})",
                self._excerpt(response),
            ) from None

    # -- internals

    def _url(self, path):
        if "://" in path or path.startswith("//"):
            raise TransportConfigError("pass a path below the base URL, not an absolute URL")
        return f"{self.config.base_url.rstrip('/')}/{path.lstrip('/')}"

    def _check(self, label, response):
        """``None`` for a 2xx answer, else the error it stands for."""
        status = response.status_code
        if 200 <= status < 300:
            self.breaker.record_success()
            return None
        if status >= 500:
            self.breaker.record_failure()
        else:
            # The partner answered: it is up, even if it refuses this call.
            self.breaker.record_success()
        excerpt = self._excerpt(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        if status == 429 or (status == 503 and retry_after is not None):
            return RateLimitedError(
                f"{label}: HTTP {status} throttled (Retry-After: {retry_after})", status, excerpt, retry_after
            )
        return RemoteError(f"{label}: HTTP {status}: {excerpt}", status, excerpt)

    def _backoff(self, attempt):
        ceiling = min(self.config.backoff_max, self.config.backoff_base * (2**attempt))
        # "Equal jitter": never less than half the delay, so retries stay spaced, yet
        # spread enough that workers hit by the same outage do not retry in lockstep.
        return ceiling / 2 + self._rand() * ceiling / 2

    def _excerpt(self, response):
        text = response.content[: _EXCERPT_CHARS * 4].decode("utf-8", "replace")
        return self._scrub(" ".join(text.split())[:_EXCERPT_CHARS])

    def _scrub(self, text):
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text
