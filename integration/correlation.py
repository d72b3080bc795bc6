"""The correlation id of the message being worked on, in every log line about it.

The processor binds a message's correlation id (given to the webhook, or generated for
a poll answer or a file part) while it parses, stores and acts on that message; the
module's loggers, wrapped in :class:`CorrelationAdapter`, then end each line with it,
so that one search in the logs shows a message's whole story.
"""

import contextlib
import contextvars
import logging

_CURRENT = contextvars.ContextVar("shipment_visibility_correlation", default=())
#: Log lines stay readable when a whole batch is bound.
MAX_TEXT = 300


def current():
    """The correlation ids bound now, as a tuple (empty outside any message)."""
    return _CURRENT.get()


def current_text():
    """The bound ids as one comma-separated string, or None."""
    ids = current()
    return ",".join(ids)[:MAX_TEXT] if ids else None


@contextlib.contextmanager
def bind(*correlation_ids):
    """Bind these correlation ids (duplicates and empties dropped) for the ``with`` block."""
    ids = tuple(dict.fromkeys(cid for cid in correlation_ids if cid))
    token = _CURRENT.set(ids)
    try:
        yield ids
    finally:
        _CURRENT.reset(token)


class CorrelationAdapter(logging.LoggerAdapter):
    """A logger whose lines end with ``[correlation_id=…]`` while ids are bound.

    The ids also go on the record as ``correlation_id``, for JSON log formatters. A line
    that already names the id (``[<id>]``, as the webhook route writes) keeps its text.
    """

    def __init__(self, logger):
        super().__init__(logger, {})

    def process(self, msg, kwargs):
        text = current_text()
        if text:
            kwargs["extra"] = {**kwargs.get("extra", {}), "correlation_id": text}
            if not isinstance(msg, str) or text not in msg:
                msg = f"{msg} [correlation_id={text}]"
        return msg, kwargs


def get_logger(name):
    """``logging.getLogger(name)`` wrapped in a :class:`CorrelationAdapter`."""
    return CorrelationAdapter(logging.getLogger(name))
