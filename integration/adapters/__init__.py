"""Partner adapters, one module each, found by connector type code."""

import importlib

from .base import Adapter, AdapterContext, ParseError, ParseResult

#: connector_type code → module in this package defining ``ADAPTER``.
ADAPTER_MODULES = {
    "generic_json": "generic_json",
    "aftership": "aftership",
    "easypost": "easypost",
    "shippo": "shippo",
    "seventeentrack": "seventeentrack",
    "shipengine": "shipengine",
    "edi_x12_214": "edi_x12_214",
    "csv": "csv_file",
}

#: connector types whose partners push messages to our webhook route.
WEBHOOK_TYPES = frozenset({"generic_json", "aftership", "easypost", "shippo", "seventeentrack", "shipengine"})


def get_adapter(code):
    """The adapter instance for a connector type.

    :raises KeyError: with a clear message for a type that has no adapter.
    """
    try:
        module_name = ADAPTER_MODULES[code]
    except KeyError:
        raise KeyError(f"no adapter for connector type {code!r}") from None
    module = importlib.import_module(f"{__name__}.{module_name}")
    return module.ADAPTER
