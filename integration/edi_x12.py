"""Tokenizer and envelope parser for ANSI X12 files.

An X12 file holds one or more interchanges (``ISA`` … ``IEA``), each holding
functional groups (``GS`` … ``GE``), each holding transaction sets (``ST`` … ``SE``).
Delimiters are never assumed: every ``ISA`` declares its own element separator (its
4th character), component separator (``ISA16``) and segment terminator (the character
right after ``ISA16``), and files from different partners can be concatenated.

:func:`parse` returns every transaction set with its segments and the line of the
file where it starts, so that an administrator can find it in the file. Problems are
collected, not raised: a transaction set with a wrong ``SE`` count carries its own
errors while the others parse normally; stray segments are listed on the document.

Envelope slips real partners send every day are *warnings*, never a reason to drop a
valid transaction set: ``ISA``/``IEA``, ``GS``/``GE`` or ``ST``/``SE`` control numbers
that disagree (or carry junk after the number), ``GE``/``IEA`` counts that are off, an
``ISA`` that is not fixed-width, a file that ends without its ``GE``/``IEA``.
"""

import re
from dataclasses import dataclass, field

from .parsing import ParseError

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TAG = re.compile(r"^[A-Z0-9]{2,3}$")
#: An ISA has 16 data elements; its layout is fixed, its separators are not.
_ISA_ELEMENTS = 16


class X12Error(ParseError):
    """A problem in an X12 file, located by the line of the file where it occurs.

    :ivar line: 1-based line number in the file.
    :ivar text: raw text of the offending segment, when there is one.
    """

    def __init__(self, reason, line, text=""):
        super().__init__(reason, f"line {line}")
        self.line = line
        self.text = text


class X12Warning(X12Error):
    """An envelope slip that stops nothing from being imported, located by its line."""


#: Length of an ISA segment, terminator included, as the standard fixes it.
_ISA_LENGTH = 106


@dataclass(frozen=True)
class Delimiters:
    """The separators an ``ISA`` declares for its interchange."""

    element: str
    component: str
    segment: str
    repetition: str = ""


@dataclass(frozen=True)
class Segment:
    """One segment: its tag, its data elements and where it sits in the text.

    :ivar elements: data elements after the tag; ``element(1)`` is the first one.
    :ivar line: 1-based line of the file where the segment starts.
    :ivar start: offset of the tag in the decoded text.
    :ivar end: offset just after the segment terminator.
    """

    tag: str
    elements: tuple
    line: int
    start: int
    end: int

    def element(self, position, default=""):
        """Data element by its X12 position (``AT7-05`` is ``element(5)``), stripped."""
        if 1 <= position <= len(self.elements):
            return self.elements[position - 1].strip() or default
        return default

    def components(self, position, delimiters):
        """A composite element split on the component separator."""
        return [part.strip() for part in self.element(position).split(delimiters.component)]


@dataclass
class Transaction:
    """One transaction set (``ST`` … ``SE``) with the envelope it came in.

    :ivar set_id: ``ST01`` (``214`` for shipment status).
    :ivar control_number: ``ST02``.
    :ivar line: line of the file where ``ST`` starts.
    :ivar segments: every segment from ``ST`` to ``SE`` included.
    :ivar errors: :class:`X12Error` found in this transaction set only: it cannot be imported.
    :ivar warnings: :class:`X12Warning` about it that do not stop its import.
    :ivar isa: the interchange header.
    :ivar gs: the functional group header (``None`` for a set outside any group).
    :ivar text: raw text from ``ST`` to the ``SE`` terminator, as in the file.
    :ivar envelope_text: raw text of the ``ISA`` and ``GS`` segments.
    """

    set_id: str
    control_number: str
    line: int
    delimiters: Delimiters
    isa: Segment
    gs: Segment | None
    segments: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    text: str = ""
    envelope_text: str = ""

    @property
    def interchange_control_number(self):
        return self.isa.element(13)

    @property
    def group_control_number(self):
        return self.gs.element(6) if self.gs else ""

    def standalone_text(self):
        """This transaction set alone in a valid interchange of its own.

        The original ``ISA`` and ``GS`` are kept (they carry the delimiters, sender and
        version); ``GE``/``IEA`` are rebuilt with counts of one, so that the text
        parses cleanly on its own and can be stored as one inbox message.
        """
        sep, term = self.delimiters.element, self.delimiters.segment
        trailer = []
        if self.gs is not None:
            trailer.append(f"GE{sep}1{sep}{self.group_control_number}{term}")
        trailer.append(f"IEA{sep}1{sep}{self.interchange_control_number}{term}")
        return "\n".join([self.envelope_text, self.text, *trailer]) + "\n"


@dataclass
class X12Document:
    """Everything found in one file.

    :ivar transactions: every transaction set, in file order, valid or not.
    :ivar errors: problems outside any transaction set that lose data (text outside
        any interchange, an unreadable ISA).
    :ivar warnings: envelope slips (:class:`X12Warning`) that lose nothing.
    """

    transactions: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def decode(data):
    """Text of an X12 file: UTF-8 when it is, else Latin-1 (never fails)."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _Lines:
    """1-based line numbers of increasing text offsets (CRLF, CR and LF all break lines).

    Counts the breaks between one offset asked and the next instead of indexing every
    break of the file up front: offsets come in file order, and the index alone would
    hold an integer per line of a file of millions of lines.
    """

    def __init__(self, text):
        self._text = text
        self._offset = 0
        self._line = 1

    def __call__(self, offset):
        if offset < self._offset:
            raise ValueError("line numbers are asked in file order")
        self._line += sum(1 for _ in _LINE_BREAK.finditer(self._text, self._offset, offset))
        self._offset = offset
        return self._line


def _read_isa(text, pos, line):
    """Delimiters and end offset of the ``ISA`` at ``pos``.

    The separators are found by counting, not by fixed offsets: the layout is fixed
    by the standard, but padding mistakes are common and must not shift everything.
    """
    if len(text) < pos + 4:
        raise X12Error("truncated ISA segment", line, text[pos:])
    element = text[pos + 3]
    if element.isalnum() or element.isspace():
        raise X12Error(f"ISA element separator {element!r} is not a delimiter", line, text[pos : pos + 106])
    cursor = pos + 3
    for _ in range(_ISA_ELEMENTS - 1):
        cursor = text.find(element, cursor + 1)
        if cursor < 0:
            raise X12Error("ISA has fewer than 16 elements", line, text[pos : pos + 106])
    component_at = cursor + 1
    if len(text) < component_at + 2:
        raise X12Error("ISA ends before its segment terminator", line, text[pos:])
    component, segment = text[component_at], text[component_at + 1]
    if len({element, component, segment}) != 3 or segment.isalnum() or component.isalnum():
        raise X12Error(
            f"ISA declares unusable delimiters (element {element!r}, component {component!r}, segment {segment!r})",
            line,
            text[pos : component_at + 2],
        )
    elements = text[pos + 4 : component_at + 1].split(element)
    repetition = ""
    # ISA11 became the repetition separator in version 00402; before, it is a code.
    if elements[10] and not elements[10].isalnum() and elements[11] >= "00402":
        repetition = elements[10]
    return Delimiters(element, component, segment, repetition), elements, component_at + 2


def tokenize(text):
    """Split decoded X12 text into segments, following each ISA's delimiters.

    A generator: a file of millions of segments is never held as segments at once.

    :return: ``(segment, delimiters, error)`` triples in file order. ``error`` is an
        :class:`X12Error` for a malformed segment (still yielded, so that segment
        counts stay right) or for text that is no segment at all (``segment`` is then
        ``None``).
    :rtype: Iterator[tuple]
    """
    lines = _Lines(text)
    delimiters = None
    pos, size = 0, len(text)
    while pos < size:
        while pos < size and text[pos].isspace():
            pos += 1
        if pos >= size:
            break
        line = lines(pos)
        if text.startswith("ISA", pos):
            try:
                delimiters, elements, end = _read_isa(text, pos, line)
            except X12Error as exc:
                yield None, None, exc
                delimiters, pos = None, _next_isa(text, pos + 3)
                continue
            warning = None
            if end - pos != _ISA_LENGTH:
                warning = X12Warning(
                    f"ISA is {end - pos} characters long, not the fixed {_ISA_LENGTH}: read by its separators",
                    line, text[pos:end])
            yield Segment("ISA", tuple(elements), line, pos, end), delimiters, warning
            pos = end
            continue
        if delimiters is None:
            resync = _next_isa(text, pos)
            error = X12Error("data outside any interchange (no ISA before it)", line, text[pos:resync][:200])
            yield None, None, error
            pos = resync
            continue
        end = text.find(delimiters.segment, pos)
        next_pos = size if end < 0 else end + 1
        raw = text[pos : size if end < 0 else end]
        if delimiters.segment not in "\r\n":
            # Some VANs wrap long lines; a line break is never data in X12.
            raw = raw.replace("\r", "").replace("\n", "")
        parts = raw.split(delimiters.element)
        tag = parts[0].strip()
        segment = Segment(tag, tuple(parts[1:]), line, pos, next_pos)
        error = None if _TAG.match(tag) else X12Error(f"malformed segment {raw[:40]!r}", line, raw)
        yield segment, delimiters, error
        pos = next_pos


def _next_isa(text, start):
    found = text.find("ISA", start)
    return len(text) if found < 0 else found


def _count_error(segment, position, expected, what, text, kind=X12Error):
    """An error when a count element (SE01, GE01, IEA01) disagrees with reality."""
    given = segment.element(position)
    if given.isdigit() and int(given) == expected:
        return None
    reason = f"{segment.tag}{position:02d} says {given or 'nothing'} {what}, found {expected}"
    return kind(reason, segment.line, text)


def _control_warning(segment, position, header, header_position, text):
    """A warning when a trailer's control number differs from its header's.

    Real senders get these wrong (a counter reset, ``001 N/L`` left by a translator)
    while the data between is fine: the transaction sets are checked on their own.
    """
    given, expected = segment.element(position), header.element(header_position)
    if given == expected:
        return None
    where = f"{header.tag}{header_position:02d} {expected!r} (line {header.line})"
    if given.split()[:1] == [expected]:
        reason = f"{segment.tag}{position:02d} {given!r} has text after the control number of {where}"
    else:
        reason = f"{segment.tag}{position:02d} control number {given!r} does not match {where}"
    return X12Warning(reason, segment.line, text)


class _Builder:
    """Envelope state machine: ISA → GS → ST … SE → GE → IEA."""

    def __init__(self, text):
        self.text = text
        self.doc = X12Document()
        self.isa = self.gs = self.tx = None
        self.group_count = self.set_count = 0

    def add(self, segment, delimiters, error=None):
        if isinstance(error, X12Warning):
            self.doc.warnings.append(error)
            error = None
        if error is not None:
            # A broken segment inside a transaction set is that set's problem only.
            (self.tx.errors if self.tx is not None else self.doc.errors).append(error)
            if segment is not None and self.tx is not None:
                self.tx.segments.append(segment)
            return
        handler = getattr(self, f"_on_{segment.tag.lower()}", None)
        if handler is not None:
            handler(segment, delimiters)
        elif self.tx is not None:
            self.tx.segments.append(segment)
        else:
            self._envelope_error(f"segment {segment.tag} outside a transaction set", segment)

    def finish(self):
        self._close_tx("file ends before SE")
        self._close_gs("file ends before GE")
        self._close_isa("file ends before IEA")
        return self.doc

    def take_closed(self):
        """Hand over the transaction sets complete so far, and forget them."""
        transactions = self.doc.transactions
        if self.tx is not None and transactions and transactions[-1] is self.tx:
            self.doc.transactions = [self.tx]
            return transactions[:-1]
        self.doc.transactions = []
        return transactions

    def _raw(self, segment):
        return self.text[segment.start : segment.end]

    def _envelope_error(self, reason, segment):
        self.doc.errors.append(X12Error(reason, segment.line, self._raw(segment)))

    def _close_tx(self, reason):
        if self.tx is not None:
            tx = self.tx
            tx.errors.append(X12Error(f"transaction set {tx.control_number} not closed: {reason}", tx.line))
            last = tx.segments[-1]
            tx.text = self.text[tx.segments[0].start : last.end]
            self.tx = None

    def _close_gs(self, reason):
        if self.gs is not None:
            self.doc.warnings.append(X12Warning(f"functional group not closed: {reason}", self.gs.line))
            self.gs = None

    def _close_isa(self, reason):
        if self.isa is not None:
            self.doc.warnings.append(X12Warning(f"interchange not closed: {reason}", self.isa.line))
            self.isa = None

    def _on_isa(self, segment, delimiters):
        self._close_tx("a new ISA starts")
        self._close_gs("a new ISA starts")
        self._close_isa("a new ISA starts")
        self.isa, self.group_count = segment, 0

    def _on_iea(self, segment, delimiters):
        self._close_tx("IEA reached")
        self._close_gs("IEA reached")
        if self.isa is None:
            return self._envelope_error("IEA without ISA", segment)
        for warning in (
            _count_error(segment, 1, self.group_count, "functional group(s)", self._raw(segment), X12Warning),
            _control_warning(segment, 2, self.isa, 13, self._raw(segment)),
        ):
            if warning is not None:
                self.doc.warnings.append(warning)
        self.isa = None

    def _on_gs(self, segment, delimiters):
        self._close_tx("a new GS starts")
        self._close_gs("a new GS starts")
        if self.isa is None:
            self._envelope_error("GS outside an interchange", segment)
        self.gs, self.set_count = segment, 0
        self.group_count += 1

    def _on_ge(self, segment, delimiters):
        self._close_tx("GE reached")
        if self.gs is None:
            return self._envelope_error("GE without GS", segment)
        for warning in (
            _count_error(segment, 1, self.set_count, "transaction set(s)", self._raw(segment), X12Warning),
            _control_warning(segment, 2, self.gs, 6, self._raw(segment)),
        ):
            if warning is not None:
                self.doc.warnings.append(warning)
        self.gs = None

    def _on_st(self, segment, delimiters):
        self._close_tx("a new ST starts")
        isa = self.isa or segment
        envelope = [self._raw(s) for s in (self.isa, self.gs) if s is not None]
        self.tx = Transaction(
            set_id=segment.element(1),
            control_number=segment.element(2),
            line=segment.line,
            delimiters=delimiters,
            isa=isa,
            gs=self.gs,
            segments=[segment],
            envelope_text="\n".join(envelope),
        )
        if self.gs is None:
            self.tx.errors.append(X12Error("transaction set outside a functional group", segment.line))
        self.doc.transactions.append(self.tx)
        self.set_count += 1

    def _on_se(self, segment, delimiters):
        if self.tx is None:
            return self._envelope_error("SE without ST", segment)
        tx = self.tx
        tx.segments.append(segment)
        tx.text = self.text[tx.segments[0].start : segment.end]
        # A wrong count means segments went missing: the set is broken. A wrong control
        # number only means the trailer was written carelessly.
        error = _count_error(segment, 1, len(tx.segments), "segment(s) including ST and SE", self._raw(segment))
        if error is not None:
            tx.errors.append(error)
        warning = _control_warning(segment, 2, tx.segments[0], 2, self._raw(segment))
        if warning is not None:
            tx.warnings.append(warning)
        self.tx = None


def parse(data):
    """Parse an X12 file into transaction sets, collecting problems as it goes.

    :param data: file content (``bytes`` or ``str``).
    :return: every transaction set and every envelope problem.
    :rtype: X12Document
    """
    text = decode(data)
    builder = _Builder(text)
    for segment, delimiters, error in tokenize(text):
        builder.add(segment, delimiters, error)
    return builder.finish()


def iter_parse(data):
    """:func:`parse`, one transaction set at a time, for files too big to hold parsed.

    Yields each :class:`Transaction` once its ``SE`` (or whatever ends it) is read, in
    file order, then every envelope problem (:class:`X12Error`), then every envelope
    warning (:class:`X12Warning`). Only the transaction set being read is held as
    segments.

    :param data: file content (``bytes`` or ``str``).
    :rtype: Iterator[Transaction | X12Error]
    """
    text = decode(data)
    builder = _Builder(text)
    for segment, delimiters, error in tokenize(text):
        builder.add(segment, delimiters, error)
        if len(builder.doc.transactions) > 1 or builder.tx is None:
            yield from builder.take_closed()
    doc = builder.finish()
    yield from builder.take_closed()
    yield from doc.errors
    yield from doc.warnings
