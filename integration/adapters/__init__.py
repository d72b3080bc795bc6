"""Partner adapters, one module each; importing this package registers the built-in
partners (see :mod:`integration.partners`)."""

from .. import partners
from . import aftership, csv_file, dcsa_tnt, easypost, edi_x12_214, generic_json, seventeentrack, shipengine, shippo
from .base import Adapter, AdapterContext, ParseError, ParseResult


def get_adapter(code):
    """The adapter of a connector type.

    :raises KeyError: with a clear message for a type nobody registered.
    """
    return partners.get(code).adapter
