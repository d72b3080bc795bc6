"""The outbound HTTP client, driven against the fake partner on loopback sockets."""

import email.utils
import logging
import multiprocessing
import os
import socket
import struct
import time
from datetime import datetime, timedelta, timezone

import pytest

from integration.netguard import AddressPolicy
from integration.ratelimit import SharedTokenBucket, TokenBucket
from integration.transport import (
    CircuitBreaker,
    CircuitOpenError,
    MalformedResponseError,
    RateLimitedError,
    RemoteError,
    Transport,
    TransportConfig,
    TransportConfigError,
    TransportConnectionError,
    TransportTimeout,
    basic_auth_header,
    parse_retry_after,
)
from tools.fake_partner import (
    AFTERSHIP_PREFIX,
    SEVENTEEN_ALREADY_REGISTERED,
    SEVENTEEN_REGISTER,
    SEVENTEEN_TOO_MANY,
    SEVENTEEN_TRACKINFO,
    FakePartner,
    malformed_json,
    partial,
    rate_limit,
    slow,
    status,
)

NUMBER = "1Z999AA10123456784"
EASTERN = timezone(timedelta(hours=-4))

# The fake partner listens on loopback: allowed explicitly, as an administrator would.
LOOPBACK = AddressPolicy(["127.0.0.1"])


def _config(base_url, **values):
    return TransportConfig(base_url, address_policy=LOOPBACK, **values)


class FakeClock:
    """Wall clock that only moves when told to (or when a fake sleep passes time)."""

    def __init__(self, start=1_750_000_000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class SleepRecorder:
    """Stands in for ``time.sleep``: records each wait and moves the fake clock."""

    def __init__(self, clock=None):
        self.waits = []
        self.clock = clock

    def __call__(self, seconds):
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)


@pytest.fixture
def fake():
    with FakePartner() as partner:
        partner.add_shipment(
            NUMBER,
            carrier="ups",
            events=[
                {
                    "status": "picked_up",
                    "at": datetime(2025, 7, 1, 9, 30, tzinfo=EASTERN),
                    "city": "Atlanta",
                    "state": "GA",
                    "country": "US",
                },
                {
                    "status": "in_transit",
                    "at": datetime(2025, 7, 2, 6, 5, tzinfo=EASTERN),
                    "city": "Columbus",
                    "state": "OH",
                    "country": "US",
                },
            ],
            estimated_delivery="2025-07-03",
        )
        yield partner


def aftership(fake, clock=None, **values):
    """A transport configured like an AfterShip connector, with recorded sleeps."""
    clock = clock or FakeClock()
    sleep = SleepRecorder(clock)
    values.setdefault("read_timeout", 2.0)
    values.setdefault("backoff_base", 0.5)
    config = _config(fake.base_url, auth_headers={"as-api-key": fake.aftership_key}, **values)
    # rand=0.5 makes equal jitter deterministic: 3/4 of each ceiling.
    return Transport(config, clock=clock, sleep=sleep, rand=lambda: 0.5), sleep


def seventeen(fake, **values):
    sleep = SleepRecorder()
    config = _config(fake.base_url, auth_headers={"17token": fake.seventeentrack_token}, **values)
    return Transport(config, clock=FakeClock(), sleep=sleep, rand=lambda: 0.5), sleep


def list_trackings(transport, numbers=(NUMBER,)):
    return transport.json_request("GET", AFTERSHIP_PREFIX, params={"tracking_numbers": ",".join(numbers)})


# ----------------------------------------------------------------------------- happy path and auth


def test_get_sends_the_key_and_returns_the_decoded_body(fake):
    transport, sleep = aftership(fake)
    body = list_trackings(transport)
    tracking = body["data"]["trackings"][0]
    assert tracking["tracking_number"] == NUMBER
    assert [c["subtag"] for c in tracking["checkpoints"]] == ["InTransit_002", "InTransit_001"]
    # AfterShip gives local times without offset: the fake must reproduce that pitfall.
    assert tracking["checkpoints"][0]["checkpoint_time"] == "2025-07-01T09:30:00"
    (sent,) = fake.requests
    assert sent.header("as-api-key") == fake.aftership_key
    assert sent.query == {"tracking_numbers": [NUMBER]}
    assert sleep.waits == []


def test_wrong_key_is_a_401_that_is_not_retried(fake):
    config = _config(fake.base_url, auth_headers={"as-api-key": "wrong-key-9999"})
    sleep = SleepRecorder()
    transport = Transport(config, clock=FakeClock(), sleep=sleep)
    with pytest.raises(RemoteError) as info:
        list_trackings(transport)
    assert info.value.status == 401
    assert info.value.retryable is False
    assert "Invalid API key" in info.value.body_excerpt
    assert len(fake.requests) == 1
    assert sleep.waits == []


def test_easypost_basic_auth_and_generic_basic_auth(fake):
    tracker_id = fake.shipments[NUMBER].tracker_id
    config = _config(fake.base_url, auth_headers={"Authorization": basic_auth_header(fake.easypost_key)})
    tracker = Transport(config).json_request("GET", f"/v2/trackers/{tracker_id}")
    assert tracker["tracking_code"] == NUMBER
    assert tracker["status"] == "in_transit"
    assert tracker["tracking_details"][0]["datetime"] == "2025-07-01T13:30:00Z"

    user, password = fake.generic_credentials
    good = _config(fake.base_url, auth_headers={"Authorization": basic_auth_header(user, password)})
    body = Transport(good).json_request("GET", f"/track/{NUMBER}")
    assert body["type"] == "shipment.tracking.updated"
    assert body["data"]["events"][0]["occurred_at"] == "2025-07-01T09:30:00-04:00"

    bad = _config(fake.base_url, auth_headers={"Authorization": basic_auth_header(user, "nope")})
    with pytest.raises(RemoteError) as info:
        Transport(bad).json_request("GET", f"/track/{NUMBER}")
    assert info.value.status == 401


# ----------------------------------------------------------------------------- timeouts


def test_read_timeout_raises_transport_timeout_quickly(fake):
    fake.script(AFTERSHIP_PREFIX, slow(3.0))
    transport, _sleep = aftership(fake, read_timeout=0.3, max_retries=0)
    started = time.monotonic()
    with pytest.raises(TransportTimeout):
        list_trackings(transport)
    assert time.monotonic() - started < 2.0
    assert transport.breaker.failure_count == 1


def test_timed_out_get_is_retried_and_then_succeeds(fake):
    fake.script(AFTERSHIP_PREFIX, slow(3.0))
    transport, sleep = aftership(fake, read_timeout=0.3, max_retries=1)
    body = list_trackings(transport)
    assert body["data"]["trackings"][0]["tracking_number"] == NUMBER
    assert len(fake.requests_to(AFTERSHIP_PREFIX)) == 2
    assert sleep.waits == [pytest.approx(0.375)]
    assert transport.breaker.failure_count == 0


def test_refused_connection_is_a_connection_error(fake):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on that port any more.
    config = _config(f"http://127.0.0.1:{port}", max_retries=2, connect_timeout=1.0)
    sleep = SleepRecorder()
    transport = Transport(config, clock=FakeClock(), sleep=sleep, rand=lambda: 0.0)
    with pytest.raises(TransportConnectionError):
        transport.request("GET", "/anything")
    assert sleep.waits == [0.25, 0.5]
    assert transport.breaker.failure_count == 3


# ----------------------------------------------------------------------------- retries


def test_500_is_retried_for_get_with_exponential_backoff(fake):
    fake.script(AFTERSHIP_PREFIX, status(500), status(502), status(500))
    transport, sleep = aftership(fake, max_retries=3, backoff_base=0.5)
    list_trackings(transport)
    assert len(fake.requests_to(AFTERSHIP_PREFIX)) == 4
    # Equal jitter with rand=0.5: 3/4 of 0.5, 1.0, 2.0.
    assert sleep.waits == [pytest.approx(0.375), pytest.approx(0.75), pytest.approx(1.5)]


def test_backoff_is_capped_by_backoff_max(fake):
    fake.script(AFTERSHIP_PREFIX, *[status(500)] * 4)
    transport, sleep = aftership(fake, max_retries=4, backoff_base=1.0, backoff_max=2.0)
    list_trackings(transport)
    assert sleep.waits == [pytest.approx(0.75), pytest.approx(1.5), pytest.approx(1.5), pytest.approx(1.5)]


def test_500_on_a_plain_post_is_not_retried(fake):
    fake.script(SEVENTEEN_REGISTER, status(500))
    transport, sleep = seventeen(fake, max_retries=3)
    with pytest.raises(RemoteError) as info:
        transport.json_request("POST", SEVENTEEN_REGISTER, json=[{"number": NUMBER}])
    assert info.value.status == 500
    assert info.value.retryable is True
    assert len(fake.requests_to(SEVENTEEN_REGISTER)) == 1
    assert sleep.waits == []
    # The registration was not repeated behind the caller's back.
    assert NUMBER not in fake.registered


def test_post_flagged_idempotent_is_retried(fake):
    fake.registered.add(NUMBER)
    fake.script(SEVENTEEN_TRACKINFO, status(503))
    transport, sleep = seventeen(fake, max_retries=2)
    body = transport.json_request("POST", SEVENTEEN_TRACKINFO, json=[{"number": NUMBER}], idempotent=True)
    assert [a["number"] for a in body["data"]["accepted"]] == [NUMBER]
    assert len(fake.requests_to(SEVENTEEN_TRACKINFO)) == 2
    assert len(sleep.waits) == 1


def test_retries_exhausted_raise_the_last_remote_error(fake):
    fake.script(AFTERSHIP_PREFIX, *[status(500, {"message": "boom"})] * 3)
    transport, sleep = aftership(fake, max_retries=2)
    with pytest.raises(RemoteError) as info:
        list_trackings(transport)
    assert info.value.status == 500
    assert "boom" in info.value.body_excerpt
    assert len(fake.requests_to(AFTERSHIP_PREFIX)) == 3
    assert len(sleep.waits) == 2


def test_4xx_other_than_throttling_is_not_retried(fake):
    fake.script(AFTERSHIP_PREFIX, status(422, {"meta": {"code": 4221, "message": "bad tracking number"}}))
    transport, sleep = aftership(fake, max_retries=3)
    with pytest.raises(RemoteError) as info:
        list_trackings(transport)
    assert info.value.status == 422
    assert info.value.retryable is False
    assert len(fake.requests) == 1
    assert sleep.waits == []


def test_redirects_are_not_followed(fake):
    # Following would carry the as-api-key header wherever the Location points.
    fake.script(AFTERSHIP_PREFIX, status(302, {}, {"Location": f"{fake.base_url}/track/{NUMBER}"}))
    transport, _sleep = aftership(fake)
    with pytest.raises(RemoteError) as info:
        list_trackings(transport)
    assert info.value.status == 302
    assert [r.path for r in fake.requests] == [AFTERSHIP_PREFIX]


# ----------------------------------------------------------------------------- Retry-After


def test_429_retry_after_seconds_is_honoured(fake):
    fake.script(AFTERSHIP_PREFIX, rate_limit(7))
    transport, sleep = aftership(fake)
    list_trackings(transport)
    assert sleep.waits == [7.0]
    assert len(fake.requests_to(AFTERSHIP_PREFIX)) == 2


def test_503_retry_after_http_date_is_honoured(fake):
    clock = FakeClock()
    when = email.utils.formatdate(clock.now + 30, usegmt=True)
    fake.script(AFTERSHIP_PREFIX, rate_limit(when, code=503))
    transport, sleep = aftership(fake, clock=clock)
    list_trackings(transport)
    assert sleep.waits == [pytest.approx(30.0)]


def test_retry_after_longer_than_allowed_raises_rate_limited_at_once(fake):
    fake.script(AFTERSHIP_PREFIX, rate_limit(3600))
    transport, sleep = aftership(fake, retry_after_max=60)
    with pytest.raises(RateLimitedError) as info:
        list_trackings(transport)
    assert info.value.retry_after == 3600
    assert info.value.status == 429
    assert sleep.waits == []
    assert len(fake.requests) == 1


def test_429_on_a_plain_post_raises_rate_limited_without_retry(fake):
    fake.script(SEVENTEEN_REGISTER, rate_limit(2))
    transport, sleep = seventeen(fake, max_retries=3)
    with pytest.raises(RateLimitedError) as info:
        transport.request("POST", SEVENTEEN_REGISTER, json=[{"number": NUMBER}])
    assert info.value.retry_after == 2
    assert sleep.waits == []
    assert len(fake.requests) == 1


def test_parse_retry_after_forms():
    now = 1_750_000_000.0
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now) == pytest.approx(90)
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now) == 0
    assert parse_retry_after("-5", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None
    assert parse_retry_after(None, now) is None


# ----------------------------------------------------------------------------- malformed answers


def test_malformed_json_raises_malformed_response(fake):
    fake.script(AFTERSHIP_PREFIX, malformed_json())
    transport, _sleep = aftership(fake)
    with pytest.raises(MalformedResponseError) as info:
        list_trackings(transport)
    assert '"trackings": [' in info.value.body_excerpt
    assert info.value.retryable is True


# ----------------------------------------------------------------------------- secrets


def test_api_keys_never_appear_in_errors_reprs_or_logs(fake, caplog):
    key = fake.aftership_key
    # A partner echoing our key back in its error body must not get it into our logs.
    fake.script(AFTERSHIP_PREFIX, *[status(500, {"message": f"bad request with key {key}"})] * 2)
    transport, _sleep = aftership(fake, max_retries=1)
    with caplog.at_level(logging.DEBUG, logger="integration.transport"), pytest.raises(RemoteError) as info:
        list_trackings(transport)
    assert "[redacted]" in str(info.value)
    for text in (
        str(info.value),
        info.value.body_excerpt,
        repr(transport),
        repr(transport.config),
        str(transport.config),
        caplog.text,
    ):
        assert key not in text
    assert "as-api-key" in repr(transport.config)
    assert "retrying" in caplog.text


def test_basic_auth_secret_is_scrubbed_in_all_its_forms(fake):
    secret = fake.easypost_key
    header = basic_auth_header(secret)
    fake.script(
        f"/v2/trackers/{fake.shipments[NUMBER].tracker_id}", status(400, {"echo": [secret, header, header.split()[1]]})
    )
    config = _config(fake.base_url, auth_headers={"Authorization": header})
    with pytest.raises(RemoteError) as info:
        Transport(config).request("GET", f"/v2/trackers/{fake.shipments[NUMBER].tracker_id}")
    assert secret not in str(info.value)
    assert header.split()[1] not in str(info.value)
    assert str(info.value).count("[redacted]") == 3


def test_config_refuses_plain_http_to_remote_hosts_and_absolute_paths(fake):
    with pytest.raises(TransportConfigError):
        TransportConfig("http://api.aftership.com")
    with pytest.raises(TransportConfigError, match="loopback, private"):
        TransportConfig(fake.base_url)  # loopback, not allowed by the default policy
    with pytest.raises(TransportConfigError):
        TransportConfig("https://user:pw@api.aftership.com")
    assert TransportConfig("https://api.aftership.com").base_url == "https://api.aftership.com"
    transport, _sleep = aftership(fake)
    with pytest.raises(TransportConfigError):
        transport.request("GET", "https://elsewhere.example/steal")
    assert fake.requests == []


def test_tls_verification_is_forced_on():
    transport = Transport(TransportConfig("https://api.aftership.com"))
    transport.session.verify = False
    # Even a session tampered with after construction verifies: the call passes verify=True.
    sent = {}

    def spy(method, url, **kwargs):
        sent.update(kwargs)
        raise TransportConnectionErrorSentinel

    transport.session.request = spy
    with pytest.raises(TransportConnectionErrorSentinel):
        transport.request("GET", "/x")
    assert sent["verify"] is True
    assert sent["allow_redirects"] is False


class TransportConnectionErrorSentinel(Exception):
    """Stops a call before the network, to inspect what would have been sent."""


# ----------------------------------------------------------------------------- circuit breaker


def test_breaker_every_transition():
    clock = FakeClock(start=1000.0)
    changes = []
    breaker = CircuitBreaker(
        threshold=3, cooldown=60, clock=clock, on_change=lambda b, old, new: changes.append((old, new, clock()))
    )
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.failure_count == 2
    breaker.record_success()  # a success resets the consecutive count
    assert breaker.failure_count == 0
    for _ in range(3):
        breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.opened_at == 1000.0
    assert breaker.next_attempt_at == 1060.0
    clock.advance(59)
    assert not breaker.allow()
    assert breaker.state == "open"
    clock.advance(1)
    assert breaker.allow()  # the trial call
    assert breaker.state == "half_open"
    assert not breaker.allow()  # only one trial at a time
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.opened_at == 1060.0
    clock.advance(60)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.opened_at is None and breaker.next_attempt_at is None
    assert changes == [
        ("closed", "open", 1000.0),
        ("open", "half_open", 1060.0),
        ("half_open", "open", 1060.0),
        ("open", "half_open", 1120.0),
        ("half_open", "closed", 1120.0),
    ]


def test_breaker_restores_from_snapshot_and_survives_a_failing_callback():
    clock = FakeClock(start=500.0)

    def explode(*_args):
        raise RuntimeError("note could not be posted")

    first = CircuitBreaker(threshold=1, cooldown=10, clock=clock, on_change=explode)
    first.record_failure()
    assert first.state == "open"
    restored = CircuitBreaker(threshold=1, cooldown=10, clock=clock, **first.snapshot())
    assert restored.state == "open" and restored.next_attempt_at == 510.0
    assert not restored.allow()
    clock.advance(10)
    assert restored.allow() and restored.state == "half_open"


def test_transport_opens_the_circuit_then_probes_after_cooldown(fake):
    clock = FakeClock()
    changes = []
    fake.script(AFTERSHIP_PREFIX, *[status(500)] * 3)
    config = TransportConfig(
        fake.base_url,
        address_policy=AddressPolicy(["127.0.0.1"]),
        auth_headers={"as-api-key": fake.aftership_key},
        max_retries=0,
        breaker_threshold=3,
        breaker_cooldown=120,
    )
    transport = Transport(
        config,
        clock=clock,
        sleep=SleepRecorder(clock),
        on_breaker_change=lambda b, old, new: changes.append(new),
    )
    for _ in range(3):
        with pytest.raises(RemoteError):
            list_trackings(transport)
    assert transport.breaker.state == "open"
    with pytest.raises(CircuitOpenError) as info:
        list_trackings(transport)
    assert info.value.next_attempt_at == clock.now + 120
    assert len(fake.requests) == 3  # the refused call never reached the partner
    clock.advance(120)
    body = list_trackings(transport)
    assert body["data"]["trackings"]
    assert transport.breaker.state == "closed"
    assert changes == ["open", "half_open", "closed"]


def test_breaker_opening_during_retries_stops_them(fake):
    fake.script(AFTERSHIP_PREFIX, *[status(500)] * 5)
    transport, sleep = aftership(fake, max_retries=5, breaker_threshold=2)
    with pytest.raises(CircuitOpenError):
        list_trackings(transport)
    assert len(fake.requests) == 2
    assert len(sleep.waits) == 2


def test_client_errors_do_not_count_against_the_partner(fake):
    fake.script(AFTERSHIP_PREFIX, *[status(404)] * 3)
    transport, _sleep = aftership(fake, breaker_threshold=2)
    for _ in range(3):
        with pytest.raises(RemoteError):
            list_trackings(transport)
    assert transport.breaker.state == "closed"
    assert transport.breaker.failure_count == 0


# ----------------------------------------------------------------------------- token bucket


def test_token_bucket_allows_a_burst_then_the_rate():
    clock = FakeClock(start=0.0)
    sleep = SleepRecorder(clock)
    bucket = TokenBucket(rate=4, burst=2, clock=clock, sleep=sleep)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits == [0.0, 0.0, 0.25, 0.25, 0.25, 0.25]
    assert clock.now == pytest.approx(1.0)  # 4 calls beyond the burst at 4 per second


def test_token_bucket_non_blocking_reports_the_wait_without_taking():
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(rate=2, burst=1, clock=clock, sleep=SleepRecorder())
    assert bucket.acquire(blocking=False) == 0.0
    assert bucket.acquire(blocking=False) == pytest.approx(0.5)
    assert bucket.acquire(blocking=False) == pytest.approx(0.5)  # nothing was taken
    clock.advance(0.5)
    assert bucket.acquire(blocking=False) == 0.0


def test_token_bucket_refills_up_to_burst_only():
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(rate=10, burst=3, clock=clock, sleep=SleepRecorder(clock))
    for _ in range(3):
        bucket.acquire()
    clock.advance(100)
    assert bucket.tokens == 3


def _two_workers(tmp_path, clock, rate, burst):
    """Two openers of one state file, as two worker processes would be."""
    path = str(tmp_path / "connector.bucket")
    return path, [SharedTokenBucket(path, rate=rate, burst=burst, clock=clock) for _worker in range(2)]


def test_shared_bucket_is_one_budget_for_every_opener(tmp_path):
    clock = FakeClock(start=100.0)
    path, (worker_a, worker_b) = _two_workers(tmp_path, clock, rate=2, burst=2)
    assert worker_a.acquire() == 0.0
    assert worker_b.acquire() == 0.0
    assert worker_a.acquire() == pytest.approx(0.5), "B's take emptied A's bucket too"
    assert worker_b.acquire() == pytest.approx(0.5), "and a refusal takes nothing"
    clock.advance(0.5)
    assert worker_b.acquire() == 0.0
    assert worker_a.acquire() == pytest.approx(0.5)
    clock.advance(100)
    assert worker_a.tokens == 2, "refills up to the burst only"
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_shared_bucket_reset_fills_it_for_everyone(tmp_path):
    _path, (worker_a, worker_b) = _two_workers(tmp_path, FakeClock(start=5.0), rate=0.1, burst=1)
    assert worker_a.acquire() == 0.0
    assert worker_b.acquire() == pytest.approx(10.0)
    worker_a.reset()
    assert worker_b.acquire() == 0.0


@pytest.mark.parametrize("state", [
    b"",  # a new file
    b"\x00\x01\x02",  # torn
    struct.pack("<dd", float("nan"), 1.0),  # unreadable
    struct.pack("<dd", 0.0, 10_000.0),  # written before a reboot: later than the clock now
])
def test_shared_bucket_starts_full_from_a_state_it_cannot_trust(tmp_path, state):
    path = tmp_path / "connector.bucket"
    path.write_bytes(state)
    bucket = SharedTokenBucket(str(path), rate=1, burst=3, clock=FakeClock(start=50.0))
    assert bucket.tokens == 3
    assert [bucket.acquire() for _ in range(4)][-1] == pytest.approx(1.0)


def test_shared_bucket_only_answers_now(tmp_path):
    bucket = SharedTokenBucket(str(tmp_path / "b"), rate=1)
    with pytest.raises(ValueError):
        bucket.acquire(blocking=True)
    with pytest.raises(ValueError):
        SharedTokenBucket(str(tmp_path / "c"), rate=0)
    with pytest.raises(OSError):
        SharedTokenBucket(str(tmp_path / "missing" / "b"), rate=1)


def _take_tokens(path, attempts, start, results):
    bucket = SharedTokenBucket(path, rate=0.001, burst=25)
    start.wait()
    results.put(sum(1 for _ in range(attempts) if bucket.acquire() == 0.0))


def test_shared_bucket_holds_across_processes_taking_at_once(tmp_path):
    """Four processes race for 25 tokens: exactly 25 takes in all, none lost or doubled."""
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    path = str(tmp_path / "connector.bucket")
    workers = [context.Process(target=_take_tokens, args=(path, 200, start, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    taken = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(10)
    assert sum(taken) == 25, taken


def test_transport_paces_calls_with_its_bucket(fake):
    clock = FakeClock(start=0.0)
    sleep = SleepRecorder(clock)
    config = _config(fake.base_url, auth_headers={"as-api-key": fake.aftership_key}, rate_per_second=5)
    bucket = TokenBucket(rate=5, burst=1, clock=clock, sleep=sleep)
    transport = Transport(config, sleep=sleep, bucket=bucket)
    for _ in range(4):
        list_trackings(transport)
    assert sleep.waits == [pytest.approx(0.2)] * 3
    assert len(fake.requests) == 4


def test_rate_limit_from_config_builds_a_bucket(fake):
    config = _config(fake.base_url, rate_per_second=3, burst=2)
    transport = Transport(config)
    assert transport.bucket.rate == 3 and transport.bucket.burst == 2
    assert Transport(_config(fake.base_url)).bucket is None


# ----------------------------------------------------------------------------- the fake itself


def test_seventeentrack_batches_are_capped_at_40(fake):
    transport, _sleep = seventeen(fake)
    numbers = [{"number": f"LX{i:09d}CN"} for i in range(41)]
    body = transport.json_request("POST", SEVENTEEN_REGISTER, json=numbers)
    assert body["code"] == SEVENTEEN_TOO_MANY
    assert fake.registered == set()
    body = transport.json_request("POST", SEVENTEEN_REGISTER, json=numbers[:40])
    assert body["code"] == 0 and len(body["data"]["accepted"]) == 40


def test_seventeentrack_partial_batches(fake):
    fake.script(SEVENTEEN_REGISTER, partial())
    transport, _sleep = seventeen(fake)
    numbers = ["A1", "A2", "A3", "A4"]
    body = transport.json_request("POST", SEVENTEEN_REGISTER, json=[{"number": n} for n in numbers])
    assert [a["number"] for a in body["data"]["accepted"]] == ["A1", "A3"]
    assert [(r["number"], r["error"]["code"]) for r in body["data"]["rejected"]] == [
        ("A2", SEVENTEEN_ALREADY_REGISTERED),
        ("A4", SEVENTEEN_ALREADY_REGISTERED),
    ]
    fake.registered.add(NUMBER)
    info = transport.json_request("POST", SEVENTEEN_TRACKINFO, json=[{"number": NUMBER}, {"number": "A2"}])
    (accepted,) = info["data"]["accepted"]
    events = accepted["track_info"]["tracking"]["providers"][0]["events"]
    # 17TRACK lists newest first, with both local and UTC times.
    assert [e["sub_status"] for e in events] == ["InTransit_Other", "InTransit_PickedUp"]
    assert events[1]["time_iso"] == "2025-07-01T09:30:00-04:00"
    assert events[1]["time_utc"] == "2025-07-01T13:30:00Z"
    assert [r["number"] for r in info["data"]["rejected"]] == ["A2"]


def test_fake_records_bodies_and_consumes_scripts_in_order(fake):
    fake.script(SEVENTEEN_REGISTER, status(500), status(502))
    transport, _sleep = seventeen(fake)
    for expected in (500, 502):
        with pytest.raises(RemoteError) as info:
            transport.request("POST", SEVENTEEN_REGISTER, json=[{"number": NUMBER, "carrier": 100002}])
        assert info.value.status == expected
    assert fake.pending_script(SEVENTEEN_REGISTER) == []
    assert fake.requests[0].json() == [{"number": NUMBER, "carrier": 100002}]
    assert fake.requests[0].method == "POST"
