"""Partner text made storable, at one place.

PostgreSQL refuses the NUL character in ``text`` and ``jsonb``, and UTF-8 cannot encode
a lone surrogate (JSON's ``"\\ud800"`` decodes to one). Both arrive in partner payloads,
by accident or on purpose. Every partner-provided string we store (event fields, error
texts, partner message ids, headers, facts) goes through :func:`storable_text`, which
writes them as visible escapes instead: the value stays readable, nothing is dropped,
and saving it cannot fail.
"""

NUL_ESCAPE = "\\u0000"


def storable_text(value, limit=None):
    """``value`` with NUL and lone surrogates escaped, cut to ``limit`` characters.

    >>> storable_text("a\\x00b"), storable_text("x\\ud800y")
    ('a\\\\u0000b', 'x\\\\ud800y')

    Non-strings are returned as they are.
    """
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        value = value.replace("\x00", NUL_ESCAPE)
    # ASCII holds no surrogate: the common case skips encoding a copy to find out.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value[:limit] if limit else value


def storable_json(value, depth=0):
    """A JSON-like value whose every string (keys included) is :func:`storable_text`.

    Containers nested deeper than 64 levels are replaced by a marker: stored facts and
    headers are flat, and a hostile payload must not cost a deep recursion here.
    """
    if depth > 64:
        return "[nested too deep]"
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        # Facts are mostly flat text: plain ASCII strings need no call of their own.
        return {storable_text(str(key)): item if item.__class__ is str and item.isascii() and "\x00" not in item
                else storable_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable_json(item, depth + 1) for item in value]
    return value


def error_text(exc, limit=2000):
    """What is stored about a failure: its message (which names the path for parse
    errors), storable, never empty."""
    message = str(exc) or exc.__class__.__name__
    return storable_text(message, limit)
