"""Which failures are worth retrying.

A message fails either because of its content (a payload the partner's format does not
allow, a value no event can hold, a date beyond the calendar, nesting deeper than we
parse): retrying cannot help until someone fixes the mapping or the partner, so it
fails at once with its reason and path. Or because of the moment (the database
serialized two workers, a lock was held, the network or a partner timed out): that is
retried with backoff and dead-lettered after the last attempt.

Anything not known to be about the moment counts as content: an unexpected error in
our own code would fail the same way on every attempt, and an administrator replays the
message once it is fixed.
"""


class RetryableError(Exception):
    """Raise (or subclass) for a failure that another attempt later may not meet."""


class PermanentError(ValueError):
    """Raise (or subclass) for a failure that every attempt would meet again."""


#: Names of exception classes from libraries we do not import here (psycopg2, requests,
#: urllib3) whose failures depend on the moment, not on the message.
_RETRYABLE_NAMES = frozenset({
    # psycopg2: the database, locks and concurrent workers
    "OperationalError", "InterfaceError", "TransactionRollbackError", "SerializationFailure",
    "DeadlockDetected", "LockNotAvailable", "QueryCanceled", "AdminShutdown", "InFailedSqlTransaction",
    # two workers creating the same shipment at once, or one deleting what another links
    "UniqueViolation", "ForeignKeyViolation",
    # requests / urllib3: the network
    "ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "ProtocolError", "NewConnectionError",
    "MaxRetryError",
})


def is_retryable(exc):
    """Whether ``exc`` is about the moment (database, lock, network), not the message.

    :param BaseException exc: the failure.
    :rtype: bool
    """
    if isinstance(exc, RetryableError):
        return True
    if isinstance(exc, PermanentError):
        return False
    retryable = getattr(exc, "retryable", None)  # transport errors say it themselves
    if isinstance(retryable, bool):
        return retryable
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(cls.__name__ in _RETRYABLE_NAMES for cls in type(exc).__mro__)
