"""Rate limits: how many calls may go out, or come in, per second.

:class:`TokenBucket` paces our own calls to a partner within one process.
:class:`SharedTokenBucket` limits calls across all the worker processes of one host: its
state is a small file under ``flock``, no database round trip (the REST API's per-key
limit). The webhook limit of a connector holds across hosts too, so it lives in the
database (``shipment.webhook.rate``). Nothing here imports Odoo.
"""

import contextlib
import fcntl
import math
import os
import stat
import struct
import tempfile
import threading
import time


class TokenBucket:
    """Client-side rate limiter: ``rate`` tokens per second, at most ``burst`` saved.

    :param float rate: tokens added per second (must be > 0).
    :param int burst: bucket capacity, i.e. calls allowed back to back.
    :param clock: returns seconds (monotonic in production, fake in tests).
    :param sleep: blocks for a number of seconds.
    """

    def __init__(self, rate, burst=1, clock=time.monotonic, sleep=time.sleep):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now):
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now

    @property
    def tokens(self):
        """Tokens available now (negative while callers are queued behind a reservation)."""
        with self._lock:
            self._refill(self._clock())
            return self._tokens

    def acquire(self, blocking=True):
        """Take one token.

        :param bool blocking: when true, reserve the token and sleep until it is due;
            when false, take it only if one is available now.
        :return: seconds waited (blocking), or seconds until a token is available
            (non-blocking; ``0.0`` means the token was taken).
        :rtype: float
        """
        with self._lock:
            self._refill(self._clock())
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if not blocking and wait > 0:
                return wait
            # Reserving before sleeping keeps concurrent callers in line: each one sees
            # the debt left by the previous and waits its own turn.
            self._tokens -= 1
        if wait > 0:
            self._sleep(wait)
        return wait


class SharedTokenBucket:
    """A non-blocking :class:`TokenBucket` whose state is a small file shared by processes.

    Odoo's prefork workers are separate processes: a bucket in each would let a connector
    through N times its limit with N workers. Here every process opens the same file and
    reads and writes the state (tokens, time of the last take on the system-wide
    monotonic clock) under an exclusive ``flock``: a few system calls per take, no
    database round trip. The file must be on a local file system of the one host whose
    processes share the limit (the monotonic clock is per host).

    :param str path: the state file, created (mode 0600) when missing.
    :param float rate: tokens added per second (must be > 0).
    :param int burst: bucket capacity, i.e. calls allowed back to back.
    :param clock: returns monotonic seconds (fake in tests).
    :raises OSError: when the file cannot be opened or created.
    """

    _STATE = struct.Struct("<dd")

    def __init__(self, path, rate, burst=1, clock=time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.path = path
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)

    def _available(self, now):
        data = os.pread(self._fd, self._STATE.size, 0)
        if len(data) != self._STATE.size:
            return float(self.burst)  # a new file
        tokens, updated = self._STATE.unpack(data)
        if not (math.isfinite(tokens) and math.isfinite(updated)) or updated > now:
            # Unreadable, or written before a reboot restarted the monotonic clock.
            return float(self.burst)
        return min(float(self.burst), tokens + (now - updated) * self.rate)

    def acquire(self, blocking=False):
        """Take one token if one is available now.

        :return: ``0.0`` when the token was taken, else the seconds until one is available.
        :rtype: float
        """
        if blocking:
            raise ValueError("a shared bucket does not wait: callers answer 'retry later'")
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            now = self._clock()
            tokens = self._available(now)
            if tokens < 1:
                return (1 - tokens) / self.rate
            os.pwrite(self._fd, self._STATE.pack(tokens - 1, now), 0)
            return 0.0
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    @property
    def tokens(self):
        """Tokens available now, for every process sharing the file."""
        fcntl.flock(self._fd, fcntl.LOCK_SH)
        try:
            return self._available(self._clock())
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def reset(self):
        """Fill the bucket again, for every process sharing the file."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            os.ftruncate(self._fd, 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# ----------------------------------------------------------------------------- state files

def bucket_directory():
    """A private directory in the host's temporary space, created on first use.

    Private to the server's user, and refused when another user owns it: whoever can
    write the state file can open or close a connector's limit.

    :raises PermissionError: when the directory is not private to this user.
    """
    parent = os.path.join(tempfile.gettempdir(), f"shipment_visibility-{os.getuid()}")
    path = os.path.join(parent, "rate_limits")
    for directory in (parent, path):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
        info = os.lstat(directory)
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(f"{directory} is not private to this user")
    return path
