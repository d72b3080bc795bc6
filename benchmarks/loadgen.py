"""Load generation, latency statistics and a small JSON-RPC client for the benchmarks.

Senders are threads, each with its own ``requests.Session``. Two shapes of load:

* :func:`closed_loop`: N senders, each sending its next request as soon as the previous
  answer arrives — measures the most a server sustains at that concurrency;
* :func:`paced`: requests started on a fixed schedule (open loop) — measures latency at
  a given arrival rate, without the sender slowing down when the server does.

Whatever a request needs that is not the server's work (building, signing) happens in
``prepare`` before the clock starts.
"""

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass

import requests


@dataclass
class Sample:
    """One request as the client saw it (``perf_counter`` seconds)."""

    job: object
    start: float
    end: float
    status: int | None
    answer: dict | None
    error: str = ""

    @property
    def latency_ms(self):
        return (self.end - self.start) * 1000


def percentile(values, q):
    """Nearest-rank percentile (``q`` in 0–100) of a non-empty sequence, else None."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(latencies_ms):
    if not latencies_ms:
        return {"p50": None, "p90": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {
        "p50": round(percentile(latencies_ms, 50), 2),
        "p90": round(percentile(latencies_ms, 90), 2),
        "p95": round(percentile(latencies_ms, 95), 2),
        "p99": round(percentile(latencies_ms, 99), 2),
        "max": round(max(latencies_ms), 2),
        "mean": round(sum(latencies_ms) / len(latencies_ms), 2),
    }


def summarize(samples, ok_statuses=(200,)):
    """Throughput of successful requests over the run's wall-clock window, and latencies.

    :param ok_statuses: HTTP statuses that count as success (e.g. ``(202,)`` for webhooks).
    :rtype: dict
    """
    if not samples:
        return {"requests": 0, "ok": 0, "statuses": {}, "seconds": 0.0, "per_second": 0.0,
                "latency_ms": latency_summary([])}
    ok = [sample for sample in samples if sample.status in ok_statuses]
    window = max(sample.end for sample in samples) - min(sample.start for sample in samples)
    statuses = Counter(str(sample.status) if sample.status is not None else "error" for sample in samples)
    return {
        "requests": len(samples),
        "ok": len(ok),
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(window, 3),
        "per_second": round(len(ok) / window, 1) if window > 0 else 0.0,
        "latency_ms": latency_summary([sample.latency_ms for sample in ok]),
        "errors": sorted({sample.error for sample in samples if sample.error})[:5],
    }


def _send(session, prepared, timeout):
    method, url, body, headers = prepared
    try:
        response = session.request(method, url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return None, None, f"{exc.__class__.__name__}: {exc}"[:200]
    try:
        answer = response.json()
    except ValueError:
        answer = None
    return response.status_code, answer if isinstance(answer, dict) else None, ""


def closed_loop(jobs, prepare, concurrency, max_seconds, timeout=30.0):
    """Send every job once with ``concurrency`` back-to-back senders, for at most ``max_seconds``.

    :param jobs: anything ``prepare`` understands.
    :param prepare: ``job -> (method, url, body, headers)``, called before the clock starts.
    :rtype: list[Sample]
    """
    samples, lock = [], threading.Lock()
    pending = iter(jobs)
    deadline = time.perf_counter() + max_seconds

    def sender():
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                with lock:
                    job = next(pending, None)
                if job is None:
                    return
                prepared = prepare(job)
                start = time.perf_counter()
                status, answer, error = _send(session, prepared, timeout)
                sample = Sample(job, start, time.perf_counter(), status, answer, error)
                with lock:
                    samples.append(sample)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + timeout + 5)
    return samples


def paced(jobs, prepare, rate, senders, on_sample=None, timeout=30.0):
    """Start job *i* at ``i / rate`` seconds (open loop), with up to ``senders`` in flight.

    When every sender is busy a request starts late; :func:`schedule_lag` tells by how much.

    :param on_sample: called with each :class:`Sample` as soon as its answer arrives.
    :return: ``(samples, scheduled)``: the samples and each job's planned start.
    """
    samples, lock = [], threading.Lock()
    jobs = list(jobs)
    origin = time.perf_counter() + 0.2
    scheduled = {id(job): origin + index / rate for index, job in enumerate(jobs)}
    pending = iter(jobs)

    def sender():
        with requests.Session() as session:
            while True:
                with lock:
                    job = next(pending, None)
                if job is None:
                    return
                prepared = prepare(job)
                delay = scheduled[id(job)] - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                start = time.perf_counter()
                status, answer, error = _send(session, prepared, timeout)
                sample = Sample(job, start, time.perf_counter(), status, answer, error)
                if on_sample:
                    on_sample(sample)
                with lock:
                    samples.append(sample)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(len(jobs) / rate + timeout + 10)
    return samples, scheduled


def schedule_lag(samples, scheduled):
    """How late requests started against their schedule (ms): p50, p99, max."""
    lags = [max(0.0, (sample.start - scheduled[id(sample.job)]) * 1000) for sample in samples]
    return {"p50": round(percentile(lags, 50) or 0, 2), "p99": round(percentile(lags, 99) or 0, 2),
            "max": round(max(lags, default=0), 2)}


class RpcError(RuntimeError):
    pass


class OdooRpc:
    """JSON-RPC as the web client speaks it: ``/web/session/authenticate`` then ``call_kw``."""

    def __init__(self, base_url, db, login="admin", password="admin", timeout=120.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self._id = 0
        self.uid = self._rpc("/web/session/authenticate", {"db": db, "login": login, "password": password})["uid"]
        if not self.uid:
            raise RpcError(f"login {login!r} refused")

    def _rpc(self, path, params):
        self._id += 1
        response = self.session.post(
            self.base_url + path, json={"jsonrpc": "2.0", "method": "call", "id": self._id, "params": params},
            timeout=self.timeout)
        response.raise_for_status()
        data = response.json()
        if data.get("error"):
            error = data["error"]
            message = (error.get("data") or {}).get("message") or error.get("message")
            raise RpcError(f"{path}: {message}")
        return data["result"]

    def call(self, model, method, *args, **kwargs):
        """``model.method(*args, **kwargs)`` as the logged-in user."""
        return self._rpc(f"/web/dataset/call_kw/{model}/{method}",
                         {"model": model, "method": method, "args": list(args), "kwargs": kwargs})

    def close(self):
        self.session.close()
