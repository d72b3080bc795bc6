"""CSV tracking files with configurable columns.

Small carriers and 3PLs often export a spreadsheet: one row per scan. The connector
options say how to read it:

``columns``
    canonical field → header name, e.g. ``{"tracking_number": "Waybill", "status":
    "Event", "occurred_at": "Date"}``. Unmapped fields are looked up under their own
    name. Fields: ``tracking_number``, ``status`` and ``occurred_at`` (required);
    ``event_class``, ``reason``, ``description``, ``city``, ``region``, ``postcode``,
    ``country``, ``carrier``, ``latitude``, ``longitude``, ``signed_by``, ``event_id``.
``date_format``
    a :func:`~datetime.datetime.strptime` format, or ``iso`` (default) for ISO 8601.
``timezone``
    IANA zone of dates written without offset; without it the zone of the row's
    location is used, then the connector's default zone, else UTC (flagged).
``delimiter``
    field separator (default ``,``); ``encoding`` (default UTF-8, BOM tolerated).

``status`` goes through the status map like any partner code; canonical milestone
codes map to themselves, so a partner may also send those directly.

:meth:`CsvFileAdapter.split` groups the rows per tracking number, one chunk each, and
isolates every bad row in a failed chunk naming its line, so that one typo does not
block the rest of the file.
"""

import csv
import io
from datetime import datetime, time, timezone

from .. import partners, taxonomy
from ..events import EventError, normalize_tracking_number
from ..parsing import Chunk
from ..timezones import country_code, date_window, get_zone, parse_datetime, zone_for
from .base import Adapter, AdapterContext, ParseError, ParseResult, build_event

REQUIRED_FIELDS = ("tracking_number", "status", "occurred_at")
OPTIONAL_FIELDS = (
    "event_class",
    "reason",
    "description",
    "city",
    "region",
    "postcode",
    "country",
    "carrier",
    "latitude",
    "longitude",
    "signed_by",
    "event_id",
)
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
ISO = "iso"
# strptime directives that put a time of day in a format.
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%X", "%c", "%T", "%R", "%p")


class _Layout:
    """Connector options, checked once: columns, date format, zone, dialect."""

    def __init__(self, options):
        options = options or {}
        columns = dict(options.get("columns") or {})
        unknown = sorted(set(columns) - set(FIELDS))
        if unknown:
            raise ParseError(f"unknown field(s) {', '.join(unknown)} in the columns option", "options.columns")
        self.columns = {name: columns.get(name, name) for name in FIELDS}
        self.date_format = (options.get("date_format") or ISO).strip()
        self.has_time = self.date_format.lower() == ISO or any(d in self.date_format for d in _TIME_DIRECTIVES)
        self.timezone = options.get("timezone") or None
        if self.timezone and get_zone(self.timezone) is None:
            raise ParseError(f"unknown time zone {self.timezone!r}", "options.timezone")
        self.delimiter = options.get("delimiter") or ","
        if len(self.delimiter) != 1:
            raise ParseError(f"delimiter must be one character, got {self.delimiter!r}", "options.delimiter")
        self.encoding = options.get("encoding") or "utf-8-sig"

    def decode(self, data):
        if isinstance(data, str):
            return data
        try:
            return data.decode(self.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"file is not {self.encoding} text ({exc})", "line 1") from None

    def rows(self, data):
        """Header, then ``(line, values)`` for every non-blank record.

        :raises ParseError: for a missing header or a required column it lacks.
        """
        reader = csv.reader(io.StringIO(self.decode(data), newline=""), delimiter=self.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ParseError("empty file: no header row", "line 1") from None
        except csv.Error as exc:
            raise ParseError(f"unreadable header ({exc})", "line 1") from None
        header = [name.strip() for name in header]
        for name in REQUIRED_FIELDS:
            if self.columns[name] not in header:
                raise ParseError(f"missing column {self.columns[name]!r} (for {name})", "line 1")
        return header, self._records(reader)

    def _records(self, reader):
        last = reader.line_num
        while True:
            start = last + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # The reader cannot resynchronise after a broken quote: stop here and
                # report it, rows before it are kept.
                yield start, ParseError(f"unreadable CSV ({exc})", f"line {start}")
                return
            last = reader.line_num
            if values and any(v.strip() for v in values):
                yield start, values


def _row_dict(header, values, line):
    if len(values) > len(header):
        raise ParseError(f"row has {len(values)} fields, the header has {len(header)}", f"line {line}")
    return {name: value.strip() for name, value in zip(header, values + [""] * (len(header) - len(values)))}


class CsvFileAdapter(Adapter):
    """Tracking events from CSV files (see the module documentation)."""

    code = "csv"
    label = "CSV file"
    #: Canonical milestone codes are accepted as they are.
    default_status_map = {code: (code, None) for code in taxonomy.MILESTONE_CODES}

    def split(self, file_bytes, options=None):
        """Group the rows of a CSV file per tracking number.

        :param bytes file_bytes: the whole file.
        :param dict options: the connector's CSV options (see the module documentation).
        :return: one chunk per tracking number (header + its rows, first line of the
            file where it appears), and one failed chunk per bad row, in file order.
        :rtype: list[Chunk]
        :raises ParseError: for a problem of the whole file (no header, missing
            column, bad options).
        """
        layout = _Layout(options)
        header, records = layout.rows(file_bytes)
        context = AdapterContext(options=dict(options or {}))
        groups = {}
        failed = []
        for line, values in records:
            if isinstance(values, ParseError):
                failed.append(Chunk(body=b"", line=line, error=values))
                continue
            try:
                row = _row_dict(header, values, line)
                event = self._event(row, line, layout, context)
            except ParseError as exc:
                number = _tracking_or_blank(header, values, layout)
                failed.append(Chunk(self._body(layout, header, [values]), number, line, None, exc))
                continue
            groups.setdefault(event.tracking_number, []).append((line, values))
        chunks = [
            Chunk(self._body(layout, header, [v for _l, v in rows]), number, rows[0][0])
            for number, rows in groups.items()
        ]
        return sorted(chunks + failed, key=lambda chunk: chunk.line)

    def parse(self, body, context):
        """Parse a chunk (or a whole file whose rows are all valid).

        :raises ParseError: for the first bad row, naming its line in ``body``.
        """
        layout = _Layout(context.options)
        header, records = layout.rows(body)
        result = ParseResult()
        for line, values in records:
            if isinstance(values, ParseError):
                raise values
            event = self._event(_row_dict(header, values, line), line, layout, context)
            result.events.append(event)
            if event.tracking_number not in result.tracking_numbers:
                result.tracking_numbers.append(event.tracking_number)
            raw = event.raw_code
            known = raw in context.status_map or raw in self.default_status_map
            if event.milestone == taxonomy.UNKNOWN and not known and raw not in result.unmapped_codes:
                result.unmapped_codes.append(raw)
            if event.signed_by:
                result.shipment_info.setdefault(event.tracking_number, {})["signed_by"] = event.signed_by
        return result

    # -- rows

    def _event(self, row, line, layout, context):
        path = f"line {line}"

        def value(name):
            return row.get(layout.columns[name], "")

        try:
            tracking = normalize_tracking_number(value("tracking_number"))
        except EventError:
            raise ParseError(f"missing tracking number (column {layout.columns['tracking_number']!r})", path) from None
        status = value("status")
        if not status:
            raise ParseError(f"missing status (column {layout.columns['status']!r})", path)
        event_class = (value("event_class") or taxonomy.ACTUAL).lower()
        if event_class not in taxonomy.EVENT_CLASSES:
            raise ParseError(f"unknown event class {event_class!r}", path)
        milestone, reason, raw_code = self.resolve([status], context)
        raw_reason = value("reason")
        if raw_reason:
            # Partners rarely share our reason codes; keep theirs aside rather than fail.
            reason = raw_reason.lower() if raw_reason.lower() in taxonomy.REASON_CODES else reason
        place = {"city": value("city"), "region": value("region"), "country": value("country")}
        values = self._when(value("occurred_at"), layout, place, event_class, context, path)
        return build_event(
            path,
            tracking_number=tracking,
            milestone=milestone,
            event_class=event_class,
            carrier=value("carrier") or context.carrier,
            raw_code=raw_code or status,
            description=value("description"),
            reason=reason,
            city=place["city"],
            region=place["region"],
            postcode=value("postcode"),
            country=country_code(place["country"]) or place["country"].upper(),
            latitude=_float(value("latitude"), "latitude", path),
            longitude=_float(value("longitude"), "longitude", path),
            signed_by=value("signed_by"),
            external_id=value("event_id"),
            extra={"line": line, **({"reason_raw": raw_reason} if raw_reason else {})},
            **values,
        )

    def _when(self, text, layout, place, event_class, context, path):
        """Keyword values of the event's time: ``occurred_at`` (+ window for dates)."""
        if not text:
            raise ParseError(f"missing date (column {layout.columns['occurred_at']!r})", path)
        try:
            if layout.date_format.lower() == ISO:
                parsed, has_time = parse_datetime(text)
            else:
                parsed, has_time = datetime.strptime(text, layout.date_format), layout.has_time
        except ValueError:
            expected = "an ISO 8601 date" if layout.date_format.lower() == ISO else repr(layout.date_format)
            raise ParseError(f"date {text!r} does not match {expected}", path) from None
        values = {}
        if event_class != taxonomy.ACTUAL:
            values["issued_at"] = context.received_at
        if parsed.tzinfo is not None and parsed.utcoffset() is not None:
            values["occurred_at"] = parsed
            return values
        zone = (
            get_zone(layout.timezone)
            or get_zone(zone_for(place["country"], place["region"], place["city"]))
            or get_zone(context.default_timezone)
        )
        values["time_assumed_utc"] = zone is None
        if not has_time and event_class != taxonomy.ACTUAL:
            # A predicted date is the whole local day; its instant is the last on-time
            # moment (reference 11.5.3).
            start, end = date_window(parsed.date(), zone)
            values.update(window_start=start, window_end=end)
            values["occurred_at"] = end.astimezone(zone) if zone else end
            return values
        naive = parsed if has_time else datetime.combine(parsed.date(), time())
        values["occurred_at"] = naive.replace(tzinfo=zone) if zone else naive.replace(tzinfo=timezone.utc)
        return values

    def _body(self, layout, header, rows):
        out = io.StringIO()
        writer = csv.writer(out, delimiter=layout.delimiter, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        # Same encoding as the file, so that parse() reads it back with the same
        # options; a BOM belongs to files, not to each chunk.
        encoding = "utf-8" if layout.encoding.lower().replace("_", "-") == "utf-8-sig" else layout.encoding
        return out.getvalue().encode(encoding)


def _tracking_or_blank(header, values, layout):
    name = layout.columns["tracking_number"]
    if name in header and header.index(name) < len(values):
        try:
            return normalize_tracking_number(values[header.index(name)])
        except EventError:
            return ""
    return ""


def _float(text, name, path):
    if not text:
        return None
    if text.count(",") == 1 and "." not in text:
        # A decimal comma, as European spreadsheets export coordinates.
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise ParseError(f"{name} {text!r} is not a number", path) from None


ADAPTER = CsvFileAdapter()


# -- partner descriptor

DESCRIPTOR = partners.register(partners.PartnerDescriptor(code="csv", label="CSV file", adapter=ADAPTER, sequence=80))
