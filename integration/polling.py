"""Poll requests for partners that offer a REST tracking API.

Pure planning, no I/O: given a connector type, its settings and the tracking numbers
that are due, :func:`plan` cuts the numbers into batches of the partner's maximum and
returns, per batch, the HTTP calls to make (method, path, query, JSON body). The Odoo
side sends them through one :class:`~integration.transport.Transport` and stores each
answer as an inbox message, so polled data takes the same path as webhooks.

What each partner's API asks (endpoints, batch sizes, credentials) is its
:class:`~integration.partners.PollPlan`, next to its adapter; this module holds what
they share, and the generic REST plan of our native connectors (a URL template below
the base URL, ``/track/{number}`` by default, or a batch template with ``{numbers}``
whose answer holds the items at a JSON path, see :func:`split_items`).
"""

from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from . import partners
from .transport import TransportConfigError, basic_auth_header

GENERIC_URL_TEMPLATE = "/track/{number}"

#: What a call is for; only ``query`` answers carry tracking data worth storing.
QUERY = "query"
REGISTER = "register"

AUTH_SCHEMES = ("bearer", "basic", "raw")
#: Headers sent with every poll call (never credentials: see :func:`auth_headers`).
DEFAULT_HEADERS = {"Accept": "application/json"}


@dataclass(frozen=True)
class PollRequest:
    """One HTTP call of a poll run, ready for :meth:`Transport.request`.

    :ivar method: HTTP method.
    :ivar path: path below the connector's base URL (never an absolute URL).
    :ivar params: query string parameters, or ``None``.
    :ivar json: JSON body, or ``None``.
    :ivar numbers: tracking numbers the call is about.
    :ivar purpose: :data:`QUERY` (store the answer) or :data:`REGISTER` (bookkeeping).
    :ivar idempotent: whether repeating the call is safe (it is then retried).
    """

    method: str
    path: str
    params: dict | None = None
    json: object = None
    numbers: tuple = ()
    purpose: str = QUERY
    idempotent: bool = True

    @property
    def label(self):
        """``METHOD path`` for logs and stored headers (no query string, no credential)."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class PollBatch:
    """Tracking numbers polled together, and the calls to make for them, in order."""

    numbers: tuple
    requests: tuple = field(default_factory=tuple)


def _plan_of(connector_type):
    descriptor = partners.find(connector_type)
    if descriptor is None or descriptor.poll is None:
        raise TransportConfigError(f"connector type {connector_type!r} cannot be polled")
    return descriptor.poll


def batch_size(connector_type, configured=None):
    """Numbers per call: the configured size within the partner's limit, else its default.

    :param str connector_type: connector type code.
    :param int configured: the connector's setting; ``0``/``None`` means the default.
    :rtype: int
    :raises TransportConfigError: for a type that cannot be polled.
    """
    poll = _plan_of(connector_type)
    if not configured or configured < 1:
        return poll.default_batch
    return min(int(configured), poll.max_batch)


def chunked(numbers, size):
    """Split ``numbers`` into tuples of at most ``size``, keeping order and dropping repeats."""
    unique = list(dict.fromkeys(n for n in numbers if n))
    return [tuple(unique[i : i + size]) for i in range(0, len(unique), size)]


def plan(connector_type, numbers, *, batch=None, options=None, tracker_ids=None):
    """The batches and calls that poll ``numbers``.

    :param str connector_type: a partner whose descriptor has a poll plan.
    :param numbers: normalised tracking numbers.
    :param int batch: the connector's batch size (see :func:`batch_size`).
    :param dict options: the connector's poll settings (generic REST: ``url_template``,
        ``batch_url_template``) and what the Odoo side looked up for this partner.
    :param dict tracker_ids: EasyPost only, tracking number → tracker id already known.
    :rtype: list[PollBatch]
    :raises TransportConfigError: for a type that cannot be polled or a bad template.
    """
    poll = _plan_of(connector_type)
    options = {**(options or {}), "tracker_ids": tracker_ids or {}}
    if poll.batch_option and not (options.get(poll.batch_option) or "").strip():
        batch = 1  # one call per number until the connector says how to ask for several
    size = batch_size(connector_type, batch)
    return [PollBatch(group, tuple(poll.build(group, options))) for group in chunked(numbers, size)]


def auth_headers(connector_type, api_key, *, header=None, scheme=None):
    """Credential headers of a partner API.

    :param str connector_type: a partner whose descriptor has a poll plan.
    :param str api_key: the decrypted key (generic ``basic``: ``user:password``).
    :param str header: generic REST only, the header name (default ``Authorization``).
    :param str scheme: generic REST only, ``bearer`` (default for ``Authorization``),
        ``basic`` or ``raw`` (the key as is; default for any other header).
    :return: header name → value; empty without a key.
    :rtype: dict
    """
    poll = _plan_of(connector_type)
    if not api_key:
        return {}
    return poll.auth(api_key, header, scheme)


def generic_plan(numbers, options):
    """The calls of the generic REST plan (native connectors), for one batch."""
    batch_template = (options.get("batch_url_template") or "").strip()
    if batch_template:
        joined = ",".join(quote(number, safe="") for number in numbers)
        return [PollRequest("GET", render_template(batch_template, numbers=joined), numbers=numbers)]
    template = (options.get("url_template") or GENERIC_URL_TEMPLATE).strip()
    return [PollRequest("GET", render_template(template, number=quote(n, safe="")), numbers=(n,)) for n in numbers]


def generic_auth(api_key, header=None, scheme=None):
    """Credential header of the generic REST plan: bearer, basic (``user:password``) or raw."""
    header = (header or "Authorization").strip()
    scheme = (scheme or ("bearer" if header.lower() == "authorization" else "raw")).lower()
    if scheme not in AUTH_SCHEMES:
        raise TransportConfigError(f"unknown authentication scheme {scheme!r}")
    if scheme == "basic":
        user, _sep, password = api_key.partition(":")
        return {header: basic_auth_header(user, password)}
    if scheme == "bearer":
        return {header: f"Bearer {api_key}"}
    return {header: api_key}


def render_template(template, **values):
    """A path from a template; a leading ``{base}`` is the connector's base URL, dropped here."""
    if template.startswith("{base}"):
        template = template[len("{base}") :]
    placeholder = "{numbers}" if "numbers" in values else "{number}"
    if placeholder not in template:
        raise TransportConfigError(f"the URL template must contain {placeholder}")
    path = template.replace(placeholder, next(iter(values.values())))
    if "{" in path or "}" in path:
        raise TransportConfigError("the URL template may only use {base}, {number} or {numbers}")
    if "://" in path or path.startswith("//"):
        raise TransportConfigError("the URL template must be a path below the base URL")
    return path if path.startswith("/") else f"/{path}"


def split_items(data, path):
    """The items of a generic batch answer, each to be stored as its own message.

    :param data: the decoded answer.
    :param str path: dot path of the item list (``data.items``); empty: the answer is
        the list itself.
    :return: the items (an object alone counts as one item).
    :rtype: list
    :raises ValueError: when nothing list-like sits at ``path``.
    """
    node = data
    for part in [p for p in (path or "").lstrip("$").split(".") if p]:
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"no {part!r} in the answer at {path!r}")
        node = node[part]
    if isinstance(node, dict):
        return [node]
    if not isinstance(node, list):
        raise ValueError(f"expected a list of items at {path or '$'!r}")
    return node


class PollSession(requests.Session):
    """A ``requests`` session that sends an equal ``(connect, read)`` timeout as one number.

    requests reads ``t`` and ``(t, t)`` alike. The single number is also what hooks
    around ``Session.send`` expect: Odoo's test runner compares the timeout with a
    number before letting a call reach a loopback fake, and fails on a tuple.
    """

    def send(self, request, **kwargs):
        timeout = kwargs.get("timeout")
        if isinstance(timeout, tuple) and len(timeout) == 2 and timeout[0] == timeout[1]:
            kwargs["timeout"] = timeout[0]
        return super().send(request, **kwargs)
