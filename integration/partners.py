"""The partner registry: everything about one partner, described in one place.

A partner (AfterShip, an X12 214 sender, a 3PL on our native format…) is one
:class:`PartnerDescriptor`, registered by the module that holds its adapter: what it can
do (receive webhooks, be polled, send files), the signature scheme it documents, the
headers worth keeping, how its API is polled and what an example message looks like.
The Odoo side, the carrier simulator and the fake partner all ask the registry; none of
them branches on a partner's code.

Another addon adds a partner the same way: a module defining an
:class:`~integration.adapters.base.Adapter` and calling :func:`register` with its
descriptor, plus ``selection_add`` on ``shipment.connector.connector_type``.
"""

import importlib
from dataclasses import dataclass

_REGISTRY = {}
_BUILTINS_LOADED = []


def _load_builtins():
    # The built-in partners register when their modules are imported; importing them
    # here, on first use, spares every caller an import-order rule (adapters import the
    # polling helpers, which ask this registry).
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED.append(True)
        importlib.import_module(".adapters", __package__)


class UnknownPartner(KeyError):
    """No partner is registered under this connector type code."""

    def __str__(self):
        return f"no partner is registered for connector type {self.args[0]!r}"


@dataclass(frozen=True)
class PollPlan:
    """How a partner's tracking API is polled.

    :ivar default_batch: tracking numbers per call when the connector does not say.
    :ivar max_batch: the most the partner accepts in one call.
    :ivar build: ``build(numbers, options) -> [PollRequest]`` for one batch; ``options``
        holds the connector's settings (``url_template``…) and what the Odoo side
        looked up for the partner (EasyPost's ``tracker_ids``).
    :ivar auth: ``auth(api_key, header, scheme) -> {header: value}``.
    :ivar batch_option: the option without which each call asks one number only (the
        generic REST plan batches only with a batch URL template).
    """

    default_batch: int
    max_batch: int
    build: object
    auth: object
    batch_option: str | None = None


@dataclass(frozen=True)
class PartnerDescriptor:
    """One partner, as every part of the module sees it.

    :ivar code: the ``connector_type`` code.
    :ivar label: shown in the connector type list.
    :ivar adapter: the :class:`~integration.adapters.base.Adapter` reading its messages.
    :ivar signature_scheme: the scheme of :mod:`integration.signatures` the partner
        documents for its webhooks (``None``: it sends none).
    :ivar kept_headers: request headers worth storing besides the usual ones: the
        partner's message-id and timestamp headers (never a signature or credential).
    :ivar poll: its :class:`PollPlan` when it has a tracking API we can poll.
    :ivar example: ``example(now) -> bytes``: one realistic message in the partner's own
        format, shown (signed) on the connector form for its engineers.
    :ivar timestamp_header: the header carrying the partner's signed send time, if any:
        the issue time of the estimates of that message.
    """

    code: str
    label: str
    adapter: object
    signature_scheme: str | None = None
    kept_headers: tuple = ()
    poll: PollPlan | None = None
    example: object = None
    timestamp_header: str | None = None
    sequence: int = 100

    @property
    def receives_webhooks(self):
        return self.signature_scheme is not None

    @property
    def can_poll(self):
        return self.poll is not None

    @property
    def reads_files(self):
        return callable(getattr(self.adapter, "split", None))

    @property
    def message_id_header(self):
        return getattr(self.adapter, "message_id_header", None)


def register(descriptor):
    """Make a partner known (idempotent for the same descriptor, refused for a clash).

    :raises ValueError: when another descriptor already holds the code.
    """
    existing = _REGISTRY.get(descriptor.code)
    if existing is not None and existing != descriptor:
        raise ValueError(f"connector type {descriptor.code!r} is registered already ({existing.label})")
    _REGISTRY[descriptor.code] = descriptor
    return descriptor


def get(code):
    """The descriptor of ``code``.

    :raises UnknownPartner: for a code nobody registered.
    """
    _load_builtins()
    try:
        return _REGISTRY[code]
    except KeyError:
        raise UnknownPartner(code) from None


def find(code):
    """The descriptor of ``code``, or ``None``."""
    _load_builtins()
    return _REGISTRY.get(code)


def descriptors():
    """Every registered partner, in display order."""
    _load_builtins()
    return sorted(_REGISTRY.values(), key=lambda d: (d.sequence, d.label))


def codes(capability=None):
    """Codes of the registered partners, optionally only those with ``capability``
    (``receives_webhooks``, ``can_poll`` or ``reads_files``)."""
    return [d.code for d in descriptors() if capability is None or getattr(d, capability)]
