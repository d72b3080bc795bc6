"""Exposition format and scrape access checks of the operations metrics."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from integration import metrics
from integration.transport import CircuitOpenError, RemoteError, TransportConfigError

TOKEN = "t" * 40
DIGEST = metrics.token_digest(TOKEN)


def test_render_parses_back_with_types_units_and_labels():
    text = metrics.render([
        metrics.gauge("inbox_messages", "Messages.", ["connector", "state"], [("A \"quoted\"", "done", 3)]),
        metrics.counter("poll_requests", "Calls.", ["outcome"], [("success", 5), ("failure", None)]),
        metrics.summary("ingest_lag_seconds", "Lag.", ["connector"], [("A", 3, 60.0, 20.0, None)], (0.5, 0.95)),
    ]).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["shipment_visibility_inbox_messages"].type == "gauge"
    sample = families["shipment_visibility_inbox_messages"].samples[0]
    assert sample.labels == {"connector": 'A "quoted"', "state": "done"} and sample.value == 3
    assert families["shipment_visibility_poll_requests"].type == "counter"
    values = {s.labels["outcome"]: s.value for s in families["shipment_visibility_poll_requests"].samples}
    assert values == {"success": 5, "failure": 0}
    lag_family = families["shipment_visibility_ingest_lag_seconds"]
    lag = {(s.name, s.labels.get("quantile")): s.value for s in lag_family.samples}
    assert lag == {("shipment_visibility_ingest_lag_seconds", "0.5"): 20.0,
                   ("shipment_visibility_ingest_lag_seconds_count", None): 3.0,
                   ("shipment_visibility_ingest_lag_seconds_sum", None): 60.0}


@pytest.mark.parametrize(("authorization", "remote", "digest", "networks", "expected"), [
    (f"Bearer {TOKEN}", "127.0.0.1", DIGEST, "", None),
    (f"bearer   {TOKEN} ", "127.0.0.1", DIGEST, None, None),
    (f"Bearer {TOKEN}", "127.0.0.1", None, "", (404, "disabled")),
    (None, "127.0.0.1", DIGEST, "", (401, "missing_token")),
    (f"Basic {TOKEN}", "127.0.0.1", DIGEST, "", (401, "missing_token")),
    ("Bearer ", "127.0.0.1", DIGEST, "", (401, "missing_token")),
    (f"Bearer {TOKEN}x", "127.0.0.1", DIGEST, "", (401, "invalid_token")),
    (f"Bearer {TOKEN}", "127.0.0.1", DIGEST, "10.0.0.0/8", (403, "source_not_allowed")),
    (f"Bearer {TOKEN}", "10.1.2.3", DIGEST, "10.0.0.0/8", None),
    ("Bearer wrong", "127.0.0.1", DIGEST, "10.0.0.0/8", (401, "invalid_token")),
])
def test_check_access(authorization, remote, digest, networks, expected):
    assert metrics.check_access(authorization, remote, digest, networks) == expected


class _FakeTransport:
    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.closed = False
        self.breaker = "breaker"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.closed = True

    def request(self, *args, **kwargs):
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_counting_transport_tallies_each_outcome_once_on_close():
    tallies = []
    inner = _FakeTransport("ok", RemoteError("HTTP 500", status=500),
                           CircuitOpenError("open"), TransportConfigError("absolute URL"), "ok")
    with metrics.CountingTransport(inner, tallies.append) as transport:
        assert transport.breaker == "breaker"
        assert transport.request("GET", "/a") == "ok"
        for error in (RemoteError, CircuitOpenError, TransportConfigError):
            with pytest.raises(error):
                transport.request("GET", "/a")
        transport.request("GET", "/a")
        assert tallies == []
    assert tallies == [{"success": 2, "failure": 1, "circuit_open": 1}]
    assert inner.closed

