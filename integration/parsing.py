"""What every reader of partner data shares: the parse error and the parts of a file.

Kept apart from :mod:`integration.adapters` so that the format libraries the adapters
use (:mod:`integration.edi_x12`) depend on nothing above them.
"""

from dataclasses import dataclass


class ParseError(ValueError):
    """The payload cannot be turned into events.

    ``path`` points at the offending element (a JSON path such as ``$.msg.checkpoints[2]``,
    or ``line 14`` for files) so that an integration administrator can fix the partner
    configuration or the status map without reading code.
    """

    def __init__(self, reason, path=""):
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path


@dataclass(frozen=True)
class Chunk:
    """One message cut out of a partner file, to be stored as one inbox row.

    :ivar body: the bytes to store and later hand to the adapter's ``parse``.
    :ivar tracking_number: normalised tracking number, ``""`` when none could be read.
    :ivar line: 1-based line of the file where this part starts.
    :ivar external_id: the partner's identity of this part (dedup key), or ``None``.
    :ivar error: why this part cannot be imported, or ``None``. Failing parts are
        returned too, so that nothing of the file is lost: the Odoo side stores them
        as failed messages showing this error.
    """

    body: bytes
    tracking_number: str = ""
    line: int = 1
    external_id: str | None = None
    error: ParseError | None = None

    @property
    def ok(self):
        return self.error is None


class SplitResult(list):
    """The chunks of a file, plus what is wrong with the file without losing any part.

    :ivar warnings: located problems (an :class:`ParseError` whose ``path`` is the
        line) that real partners send and that stop no part from being imported: an
        envelope whose control numbers disagree, a trailer missing at the end.
    """

    def __init__(self, chunks=(), warnings=()):
        super().__init__(chunks)
        self.warnings = list(warnings)
