"""What every partner adapter implements, and the helpers they share.

An adapter turns the raw bytes a partner sent (webhook body, poll response, file
chunk) into :class:`~integration.events.CanonicalEvent` values. It never touches the
database: the Odoo side passes configuration in an :class:`AdapterContext` and stores
what comes back in a :class:`ParseResult`.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from .. import payload, taxonomy
from ..events import CanonicalEvent, EventError
from ..parsing import ParseError

__all__ = ["Adapter", "AdapterContext", "ParseError", "ParseResult"]


@dataclass
class AdapterContext:
    """Per-connector configuration handed to an adapter.

    :ivar status_map: admin overrides, raw partner code → ``(milestone, reason)``;
        they win over the adapter's :attr:`Adapter.default_status_map`.
    :ivar options: adapter-specific settings (field paths, JSON Schema, CSV columns…).
    :ivar default_timezone: IANA zone used for zone-less times when the event location
        does not tell (normally the destination's zone).
    :ivar received_at: when the message was received (aware UTC), the fallback issue
        time of estimates: never the processing clock, so that parsing a message again
        (a retry, a replay) gives the same events.
    :ivar headers: the request headers stored with the message (lower-case names): the
        partner's signed timestamp and message id, never a credential.
    """

    carrier: str = ""
    status_map: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    default_timezone: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    headers: dict = field(default_factory=dict)

    def for_message(self, headers=None, received_at=None):
        """This connector's context for one message: its headers and reception time.

        :param dict headers: the headers stored with the message.
        :param datetime received_at: when it was received (aware, or naive UTC).
        """
        if received_at is not None and received_at.tzinfo is None:
            received_at = received_at.replace(tzinfo=timezone.utc)
        return replace(self, headers={str(k).lower(): v for k, v in (headers or {}).items()},
                       received_at=received_at or self.received_at)

    def header(self, name):
        """A stored header's value (any letter case), or None."""
        return self.headers.get(name.lower())

    def issue_time(self, header=None):
        """When the partner issued this message: its timestamp header (UNIX seconds or
        ISO 8601, signed by the schemes that send one) when it holds a valid time, else
        the reception time. Never the processing clock, so a retry or a replay yields
        the same estimates.

        :param str header: the partner's timestamp header, if it has one.
        :rtype: datetime
        """
        value = self.header(header) if header else None
        if value not in (None, ""):
            stamp = _header_time(str(value).strip())
            if stamp is not None:
                return stamp
        return self.received_at


def _header_time(value):
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo is not None else None


@dataclass
class ParseResult:
    """What one message yielded.

    :ivar events: canonical events, in no particular order.
    :ivar tracking_numbers: every shipment the message is about, even those for which it
        carried no event (so that a registration still creates/updates the shipment).
    :ivar external_id: the partner's id of this message (dedup key), when it has one.
    :ivar unmapped_codes: raw codes that resolved to ``unknown`` (counted on the connector).
    :ivar shipment_info: per tracking number, facts that are not events (``signed_by``,
        ``pod_url``, ``carrier``, ``partner_status``…).
    """

    events: list = field(default_factory=list)
    tracking_numbers: list = field(default_factory=list)
    external_id: str | None = None
    unmapped_codes: list = field(default_factory=list)
    shipment_info: dict = field(default_factory=dict)


class Adapter:
    """Base class of partner adapters (one module per partner in this package).

    Subclasses set :attr:`code` (the ``connector_type`` of the connector), :attr:`label`,
    :attr:`default_status_map` and implement :meth:`parse`.
    """

    code = ""
    label = ""
    #: raw partner code → (milestone or ``unknown``, reason or None); shipped as the
    #: default ``shipment.status.map`` rows of this connector type.
    default_status_map = {}
    #: header carrying the partner's message id, when the protocol has one.
    message_id_header = None

    def parse(self, body, context):
        """Parse one raw message.

        :param bytes body: the exact bytes received.
        :param AdapterContext context: connector configuration.
        :return: the events and facts found.
        :rtype: ParseResult
        :raises ParseError: when the payload is not what the partner documents.
        """
        raise NotImplementedError(f"adapter {self.code!r} does not parse messages")

    def external_id(self, body, headers):
        """The partner's id of a message, for dedup before parsing; None when it has none.

        The default reads :attr:`message_id_header`. Adapters whose id sits in the body
        override this with the cheapest extraction they can.
        """
        if self.message_id_header:
            return headers.get(self.message_id_header) or None
        return None

    def resolve(self, candidates, context):
        """Map raw partner codes to a canonical milestone.

        :param candidates: raw codes in precedence order (e.g. AfterShip subtag, then tag).
        :return: ``(milestone, reason, raw_code)``; ``unknown`` with the first non-empty
            candidate as raw code when nothing matches — the event is kept, never dropped.
        """
        present = [str(c) for c in candidates if c not in (None, "")]
        for code in present:
            for table in (context.status_map, self.default_status_map):
                if code in table:
                    milestone, reason = table[code]
                    return milestone, reason, code
        return taxonomy.UNKNOWN, None, present[0] if present else ""


def load_json(body, path="$"):
    """Decode a JSON body within :mod:`integration.payload`'s bounds, turning every
    decoding problem into a :class:`ParseError`."""
    try:
        return payload.loads(body)
    except payload.PayloadError as exc:
        raise ParseError(str(exc), path) from None


def body_message_id(body, key, accept=lambda data: True):
    """A partner's message id read from the top level of a JSON body, for dedup.

    Runs in the webhook request, so it never fails: anything but a plain string or
    number at ``key`` (nothing, an object, a body that is not bounded JSON) is no id,
    and the body itself remains the dedup key.

    :param bytes body: the raw body.
    :param str key: the top-level member holding the id.
    :param accept: predicate on the decoded body (e.g. "is an Event, not a Tracker").
    """
    try:
        data = payload.loads(body)
    except payload.PayloadError:
        return None
    if not isinstance(data, dict) or not accept(data):
        return None
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return str(value)


def require(mapping, key, path):
    """``mapping[key]``, or a :class:`ParseError` naming the missing path."""
    if not isinstance(mapping, dict):
        raise ParseError("expected an object", path)
    if mapping.get(key) in (None, ""):
        raise ParseError(f"missing required field {key!r}", f"{path}.{key}")
    return mapping[key]


def build_event(path, **values):
    """A :class:`~integration.events.CanonicalEvent` of ``values``, or a
    :class:`ParseError` at ``path`` when the partner's values make no valid event."""
    try:
        return CanonicalEvent(**values)
    except (EventError, OverflowError) as exc:
        raise ParseError(str(exc), path) from None


def append_unique(result, seen, event):
    """Add ``event`` to ``result`` unless its fingerprint is in ``seen``.

    Partners resend whole histories and sometimes list a scan twice in one message;
    the fingerprint is the row's identity, so a repeat is one row.
    """
    if event.fingerprint not in seen:
        seen.add(event.fingerprint)
        result.events.append(event)


def note_unmapped(result, candidates, default_map, context):
    """Record the most specific code when no map knows it, even if a coarser code matched:
    that is the row an administrator should add."""
    code = next((str(c) for c in candidates if c not in (None, "")), "")
    if code and code not in context.status_map and code not in default_map and code not in result.unmapped_codes:
        result.unmapped_codes.append(code)
