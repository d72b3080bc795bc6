"""What we keep of request headers: an allowlist, not a guess at what is secret.

Headers are stored on each inbox message and logged with outgoing calls, for audit and
replay. Partners and proxies invent credential headers faster than any list of
suspicious words can follow (``X-Credential``, ``X-Passwd``, ``X-Access-Code``,
``X-Client-Cert``…), so only headers known to carry nothing secret keep their value;
every other one keeps its name with the value replaced by :data:`REDACTED`.
"""

from .storable import storable_text

REDACTED = "[redacted]"

#: Headers of any sender that carry nothing secret and help an audit.
KEPT_HEADERS = frozenset({
    "content-type", "content-length", "content-encoding", "user-agent", "accept",
    "x-correlation-id", "x-request-id", "traceparent",
    "x-forwarded-for", "x-forwarded-proto", "x-real-ip",
    # Standard Webhooks: message id and send time (the signature itself is not kept)
    "webhook-id", "webhook-timestamp",
    # partners' documented message-id and timestamp headers
    "x-shipengine-timestamp", "x-shipengine-rsa-sha256-key-id",
    # our own poll and file annotations
    "x-poll-request", "x-poll-status",
})


def redact_headers(headers, keep=()):
    """Headers as stored or logged: values of headers not in the allowlist redacted.

    :param headers: mapping of header name → value.
    :param keep: further header names to keep (a partner's documented message-id header).
    :return: a new dict; names and values made storable (no NUL, no lone surrogate).
    :rtype: dict
    """
    kept = KEPT_HEADERS | {name.lower() for name in keep}
    redacted = {}
    for name, value in (headers or {}).items():
        name = storable_text(str(name), 200)
        value = storable_text(value if isinstance(value, str) else str(value), 2000)
        redacted[name] = value if name.lower() in kept else REDACTED
    return redacted
