"""Partner JSON, parsed within bounds.

Partner bodies are parsed in the webhook route (for a message id), in the processor and
when a message is shown. Python's decoder recurses once per nesting level: 10,000 nested
arrays raise :class:`RecursionError` (and deep values then break every recursive walk of
them), and an integer of 100,000 digits costs seconds to convert. Every partner body is
therefore parsed here, with a nesting limit far above any documented format (the
deepest, 17TRACK's, nests 7 levels).
"""

import json

#: Deeper than any partner format we read, far below Python's recursion limit.
MAX_DEPTH = 64


class PayloadError(ValueError):
    """The body is not JSON we accept; the message says why (never the body itself)."""


def loads(data, max_depth=MAX_DEPTH):
    """Decode JSON ``data`` (bytes or str), refusing nesting deeper than ``max_depth``.

    :raises PayloadError: not UTF-8, not JSON, a number beyond what Python converts, or
        nested too deep.
    """
    try:
        value = json.loads(data)
    except RecursionError:
        raise PayloadError(f"JSON nested deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not valid JSON ({_short(exc)})") from None
    if depth_exceeds(value, max_depth):
        raise PayloadError(f"JSON nested deeper than {max_depth} levels")
    return value


def depth_exceeds(value, max_depth=MAX_DEPTH):
    """Whether containers in ``value`` nest deeper than ``max_depth`` (iterative walk)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _short(exc):
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"
