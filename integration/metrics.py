"""Prometheus exposition of the operations metrics, and who may scrape them.

Values are never kept in a process's memory: under prefork every request may land on
another worker, so each scrape reads the database and hands the figures to
:func:`render` as metric families built here.
"""

import hashlib
import hmac

from prometheus_client import exposition
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from .signatures import ip_allowed
from .transport import CircuitOpenError, TransportConfigError, TransportError

PREFIX = "shipment_visibility_"
# The classic text format, which every Prometheus version reads; newer clients call the
# same bytes 1.0.0 when names stay ASCII, as ours do.
CONTENT_TYPE = getattr(exposition, "CONTENT_TYPE_PLAIN_0_0_4", "text/plain; version=0.0.4; charset=utf-8")
#: A shorter bearer token is refused when it is set: scrapers send it on every call.
MIN_TOKEN_LENGTH = 32


class SnapshotCollector:
    """A Collector over metric families computed elsewhere, for one exposition."""

    def __init__(self, families):
        self._families = list(families)

    def collect(self):
        return iter(self._families)


def render(families):
    """The text exposition (format 0.0.4) of ``families``, as bytes."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(families))
    return generate_latest(registry)


def gauge(name, documentation, labels, rows):
    """A gauge family from ``(label values…, value)`` rows."""
    family = GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))
    for *label_values, value in rows:
        family.add_metric([str(v) for v in label_values], float(value or 0))
    return family


def counter(name, documentation, labels, rows):
    """A counter family (``name`` without ``_total``, which the format adds)."""
    family = Metric(PREFIX + name, documentation, "counter")
    for *label_values, value in rows:
        family.add_sample(PREFIX + name + "_total", dict(zip(labels, map(str, label_values))), float(value or 0))
    return family


def summary(name, documentation, labels, rows, quantiles):
    """A summary family: per label set, the given quantiles plus ``_count`` and ``_sum``.

    :param rows: ``(label values…, count, sum, q1, q2, …)`` in the order of ``quantiles``.
    """
    family = Metric(PREFIX + name, documentation, "summary")
    for row in rows:
        label_values = [str(v) for v in row[:len(labels)]]
        count, total, *values = row[len(labels):]
        base = dict(zip(labels, label_values))
        for quantile, value in zip(quantiles, values):
            if value is not None:
                family.add_sample(PREFIX + name, {**base, "quantile": repr(float(quantile))}, float(value))
        family.add_sample(PREFIX + name + "_count", base, float(count or 0))
        family.add_sample(PREFIX + name + "_sum", base, float(total or 0))
    return family


def token_digest(token):
    """What is stored of a bearer token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization):
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    scheme, _sep, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def check_access(authorization, remote_addr, stored_digest, allowed_networks):
    """Why a scrape is refused, or None when it may proceed.

    The token is compared as digests in constant time, so neither its content nor its
    length leaks through timing. The network check comes after the token, so that an
    unauthenticated caller learns nothing about the allow-list.

    :return: ``None``, or ``(status, reason)``: 404 ``disabled`` when no token is set
        (the endpoint does not exist until configured), 401 ``missing_token`` /
        ``invalid_token``, 403 ``source_not_allowed``.
    """
    if not stored_digest:
        return 404, "disabled"
    token = bearer_token(authorization)
    if token is None:
        return 401, "missing_token"
    if not hmac.compare_digest(token_digest(token), stored_digest):
        return 401, "invalid_token"
    if allowed_networks and not ip_allowed(remote_addr, allowed_networks):
        return 403, "source_not_allowed"
    return None


class CountingTransport:
    """A :class:`~.transport.Transport` that counts its calls by outcome.

    ``success`` is a call answered 2xx, ``circuit_open`` one the breaker refused without
    sending it, ``failure`` any other error after the transport's own retries. When the
    ``with`` block ends, ``on_close(counts)`` receives the tally, then the transport closes.
    """

    def __init__(self, transport, on_close):
        self._transport = transport
        self._on_close = on_close
        self.counts = {"success": 0, "failure": 0, "circuit_open": 0}

    def __getattr__(self, name):
        return getattr(self._transport, name)

    def __enter__(self):
        self._transport.__enter__()
        return self

    def __exit__(self, *exc_info):
        try:
            self._on_close(dict(self.counts))
        finally:
            self._transport.__exit__(*exc_info)

    def request(self, *args, **kwargs):
        try:
            response = self._transport.request(*args, **kwargs)
        except CircuitOpenError:
            self.counts["circuit_open"] += 1
            raise
        except TransportConfigError:
            raise  # our request was never sent
        except TransportError:
            self.counts["failure"] += 1
            raise
        self.counts["success"] += 1
        return response
