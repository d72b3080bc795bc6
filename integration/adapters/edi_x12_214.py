"""ANSI X12 214 (Transportation Carrier Shipment Status) files.

A 214 file arrives over AS2, SFTP or a VAN and may hold many shipments. :meth:`split`
cuts it into one :class:`Chunk` per transaction set (``ST`` … ``SE``), each a valid
interchange of its own, so that every shipment becomes one inbox message that can fail,
be retried and be replayed alone. :meth:`parse` turns one chunk into canonical events
(reference section 8 and tables 11.2 / 11.4):

* ``AT7-01`` shipment status → a milestone through the status map; the status reason
  ``AT7-02`` (element 1651) gives the exception reason, and for ``SD`` it can change the
  milestone (``SD`` + ``CA``/``AS``/``AR``/``BD``/``F1`` is a customs hold). Such
  combinations are status-map keys of the form ``SD/CA``.
* ``AG``/``X2``/``B6``/``C1`` are estimates; ``AT7-03`` appointments are planned
  (``AA``, ``AB``, ``X9``, ``XA``) or requested (``ED``, ``EP``, ``LD``, ``LP``) events.
* ``AT7-05``/``06`` date and time are read with the time code ``AT7-07`` (element 623);
  without one (or with ``LT``) they are the local time of the ``MS1`` location, then of
  the consignee, then of the connector's default zone, else UTC (flagged).

Errors name the line of the file (``line 14``) and the segment's position in its
transaction set, as a 997 acknowledgement would.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from .. import edi_x12, partners, taxonomy
from ..events import CanonicalEvent, EventError, normalize_tracking_number
from ..parsing import Chunk, SplitResult
from ..timezones import country_code, get_zone, zone_for
from .base import Adapter, AdapterContext, ParseError, ParseResult

__all__ = ["ADAPTER", "Chunk", "EdiX12_214Adapter"]


# Meanings of the 1650 codes of the reference selection, for event descriptions.
STATUS_TEXT = {
    "A3": "Returned to shipper",
    "A7": "Refused by consignee",
    "A9": "Damaged",
    "AF": "Departed pickup location",
    "AG": "Estimated delivery",
    "AH": "Attempted delivery",
    "AI": "Reconsigned",
    "AJ": "Tendered for delivery",
    "AM": "Loaded on truck",
    "AN": "Diverted to air carrier",
    "AP": "Delivery not completed",
    "AR": "Rail arrival at destination ramp",
    "AV": "Available for delivery",
    "AW": "Available for pickup",
    "B6": "Estimated to arrive at carrier terminal",
    "BA": "Connecting line or cartage pickup",
    "BC": "Storage in transit",
    "C1": "Estimated to depart terminal",
    "CA": "Cancelled",
    "CB": "Completed (last part of a partial shipment delivered)",
    "CD": "Carrier departed delivery location",
    "CL": "Trailer closed out",
    "CP": "Completed loading at pickup location",
    "CT": "Customs release",
    "D1": "Completed unloading at delivery location",
    "I1": "In-gate",
    "J1": "Delivered to connecting line",
    "K1": "Arrived at customs",
    "OO": "Paperwork received, shipment not received",
    "P1": "Departed terminal",
    "PA": "Partial shipment delivered",
    "PR": "US customs hold at in-bond location",
    "R1": "Received from prior carrier",
    "RL": "Rail departure from origin ramp",
    "S1": "Trailer spotted at consignee",
    "SD": "Shipment delayed",
    "X1": "Arrived at delivery location",
    "X2": "Estimated arrival at consignee",
    "X3": "Arrived at pickup location",
    "X4": "Arrived at terminal",
    "X5": "Arrived at delivery loading dock",
    "X6": "En route to delivery location",
    "X8": "Arrived at pickup loading dock",
    "XB": "Shipment acknowledged",
}

# 1651 status reasons → our reason vocabulary (reference 11.4). Unlisted reasons give
# no reason, except on a delay, which always has one ("other").
REASONS_1651 = {
    "AO": "weather",
    "AI": "carrier_delay",
    "AH": "carrier_delay",
    "D2": "carrier_delay",
    "AA": "misrouted",
    "B1": "business_closed",
    "A1": "recipient_unavailable",
    "AQ": "recipient_unavailable",
    "A2": "address_issue",
    "A5": "address_issue",
    "BS": "refused",
    "CA": "customs_documents",
    "AS": "customs_documents",
    "AR": "customs_documents",
    "BD": "customs_documents",
    "F1": "customs_documents",
}
#: Reasons that mean "nothing to report" (``NS`` is ubiquitous though not in the lists;
#: ``NA``, "normal appointment", is what senders put in AT7-04 of a routine appointment).
NO_REASON = frozenset({"", "NS", "NA"})
_CUSTOMS_REASONS = ("CA", "AS", "AR", "BD", "F1")

_STATUS_GROUPS = (
    ("info_received", None, ("XB", "OO")),
    ("picked_up", None, ("AF", "CP")),
    ("in_transit", None, ("X6", "AM", "AN", "AI", "BA", "J1", "R1", "AV", "BC")),
    ("arrived_at_facility", None, ("X4", "X1", "X5", "S1", "AR", "I1")),
    ("departed_facility", None, ("P1", "RL")),
    ("customs_hold", None, ("K1", "PR")),
    ("customs_hold", "customs_documents", tuple(f"SD/{reason}" for reason in _CUSTOMS_REASONS)),
    # CT is a customs release in the US TRANSCOM tables only (unconfirmed elsewhere).
    ("customs_cleared", None, ("CT",)),
    ("out_for_delivery", None, ("AJ",)),
    ("delivery_attempted", None, ("AH", "AP")),
    ("available_for_pickup", None, ("AW",)),
    ("delivered", None, ("D1", "CB")),
    ("delayed", None, ("SD",)),
    ("exception", "refused", ("A7",)),
    ("exception", "damaged", ("A9",)),
    ("exception", "partial_delivery", ("PA",)),
    ("returned_to_sender", None, ("A3",)),
    ("cancelled", None, ("CA",)),
    # History only: known codes that say nothing about where the goods are.
    (taxonomy.UNKNOWN, None, ("CD", "CL", "X3", "X8")),
)
#: AT7-01 (or ``AT7-01/AT7-02``) → (milestone, reason), reference table 11.4.
DEFAULT_STATUS_MAP = {code: (milestone, reason) for milestone, reason, codes in _STATUS_GROUPS for code in codes}

#: G62-01 date qualifiers of an estimated date → the milestone they predict.
G62_ESTIMATES = {"17": "delivered", "AA": "delivered", "AB": "picked_up"}
G62_TEXT = {"17": "Estimated delivery", "AA": "Estimated delivery (requested)", "AB": "Estimated pickup"}
APPOINTMENT_TEXT = {
    "AA": "Pickup appointment", "AB": "Delivery appointment", "AC": "Estimated delivery appointment",
    "ED": "Deliver no earlier than", "EP": "Pickup no earlier than", "LD": "Deliver no later than",
    "LP": "Pickup no later than", "X9": "Delivery appointment secured", "XA": "Pickup appointment secured",
}

#: AT7-01 estimate codes → the milestone they predict (11.4 "estimate / plan").
ESTIMATE_CODES = {"AG": "delivered", "X2": "delivered", "B6": "arrived_at_facility", "C1": "departed_facility"}

#: AT7-03 appointment status (1652) → (milestone, event class, window side of a
#: "no earlier / no later than" constraint).
APPOINTMENT_CODES = {
    "AA": ("picked_up", taxonomy.PLANNED, None),
    "XA": ("picked_up", taxonomy.PLANNED, None),
    "AB": ("delivered", taxonomy.PLANNED, None),
    "X9": ("delivered", taxonomy.PLANNED, None),
    # "Estimated delivery appointment": a prediction, not a commitment.
    "AC": ("delivered", taxonomy.ESTIMATED, None),
    "ED": ("delivered", taxonomy.REQUESTED, "start"),
    "LD": ("delivered", taxonomy.REQUESTED, "end"),
    "EP": ("picked_up", taxonomy.REQUESTED, "start"),
    "LP": ("picked_up", taxonomy.REQUESTED, "end"),
}

# 623 time codes. "*T" is the prevailing (DST-aware) time of a US zone; "*D"/"*S" are
# fixed offsets whatever the date (pitfall: reading CT as a fixed offset).
_UTC_CODES = frozenset({"UT", "GM"})
_LOCAL_CODES = frozenset({"", "LT"})
_PREVAILING = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}
_FIXED_HOURS = {"ED": -4, "ES": -5, "CD": -5, "CS": -6, "MD": -6, "MS": -7, "PD": -7, "PS": -8}
# MS1 often omits the country of North American locations; try these, in order.
_IMPLIED_COUNTRIES = ("US", "CA", "MX")


def _time_code_zone(code):
    """tzinfo of an explicit 623 time code; ``None`` for local time; KeyError if unknown."""
    if code in _LOCAL_CODES:
        return None
    if code in _UTC_CODES:
        return timezone.utc
    if code in _PREVAILING:
        return get_zone(_PREVAILING[code])
    if code in _FIXED_HOURS:
        return timezone(timedelta(hours=_FIXED_HOURS[code]))
    if code.isdigit() and 1 <= int(code) <= 24:
        number = int(code)
        # 01–12 are UTC+1…+12, 13–24 are UTC−12…−1.
        return timezone(timedelta(hours=number if number <= 12 else number - 25))
    raise KeyError(code)


@dataclass(frozen=True)
class _Place:
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""

    def zone(self):
        if not (self.city or self.region or self.country):
            return None
        if self.country:
            return zone_for(self.country, self.region, self.city)
        for country in _IMPLIED_COUNTRIES:
            found = zone_for(country, self.region, self.city)
            if found:
                return found
        return None

    def implied_country(self):
        if self.country:
            return country_code(self.country) or self.country.upper()
        for country in _IMPLIED_COUNTRIES:
            if self.region and zone_for(country, self.region):
                return country
        return ""


class _Status:
    """One AT7 with the MS1 location that follows it (if any)."""

    def __init__(self, segment, position, lx):
        self.segment = segment
        self.position = position
        self.lx = lx
        self.place = None


class EdiX12_214Adapter(Adapter):
    """ANSI X12 214 shipment status files (see the module documentation)."""

    code = "edi_x12_214"
    label = "ANSI X12 214 (EDI file)"
    default_status_map = DEFAULT_STATUS_MAP

    # -- files

    def split(self, file_bytes, options=None):
        """Cut a 214 file into one chunk per transaction set.

        :param bytes file_bytes: the whole file.
        :param dict options: connector options (used to check each part as it will be
            parsed).
        :return: one chunk per transaction set in file order, then one per envelope
            problem that loses data; a chunk whose part cannot be imported carries its
            ``error``. Envelope slips that lose nothing (control numbers, missing
            trailers, a stretched ISA) are its ``warnings``, with their line.
        :rtype: SplitResult
        :raises ParseError: when the file is not X12 at all.
        """
        text = edi_x12.decode(file_bytes)
        if "ISA" not in text:
            raise ParseError("not an X12 file: no ISA segment found", "line 1")
        context = AdapterContext(options=dict(options or {}))
        chunks, envelope_errors, warnings = SplitResult(), [], []
        # One transaction set parsed at a time: a chunk keeps its text, not its segments.
        for tx in edi_x12.iter_parse(text):
            if isinstance(tx, edi_x12.X12Warning):
                warnings.append(tx)
                continue
            if isinstance(tx, edi_x12.X12Error):
                envelope_errors.append(tx)
                continue
            warnings += tx.warnings
            error = tx.errors[0] if tx.errors else None
            tracking = ""
            if error is None:
                try:
                    result = self._transaction(tx, context)
                    tracking = result.tracking_numbers[0]
                except ParseError as exc:
                    error = exc
            if not tracking:
                tracking = _tracking_of(tx)
            chunks.append(
                Chunk(
                    body=tx.standalone_text().encode("utf-8"),
                    tracking_number=tracking,
                    line=tx.line,
                    external_id=_external_id(tx),
                    error=error,
                )
            )
        for error in envelope_errors:
            chunks.append(Chunk(body=error.text.encode("utf-8"), line=error.line, error=error))
        chunks.warnings = sorted(warnings, key=lambda warning: warning.line)
        return chunks

    # -- messages

    def parse(self, body, context):
        """Parse one chunk (or a whole file whose every part is valid).

        :raises ParseError: for the first problem found, naming its line.
        """
        doc = edi_x12.parse(body)
        if doc.errors:
            raise doc.errors[0]
        if not doc.transactions:
            raise ParseError("no transaction set found", "line 1")
        result = ParseResult()
        for tx in doc.transactions:
            if tx.errors:
                raise tx.errors[0]
            part = self._transaction(tx, context)
            result.events += part.events
            result.unmapped_codes += [c for c in part.unmapped_codes if c not in result.unmapped_codes]
            result.tracking_numbers += [t for t in part.tracking_numbers if t not in result.tracking_numbers]
            for number, info in part.shipment_info.items():
                result.shipment_info.setdefault(number, {}).update(info)
        if len(doc.transactions) == 1:
            result.external_id = _external_id(doc.transactions[0])
        return result

    def external_id(self, body, headers):
        """Sender, interchange, group and transaction set control numbers of a chunk."""
        doc = edi_x12.parse(body)
        if len(doc.transactions) != 1:
            return None
        return _external_id(doc.transactions[0])

    # -- one transaction set

    def _transaction(self, tx, context):
        if tx.set_id != "214":
            raise _error(tx, tx.segments[0], f"transaction set {tx.set_id or '?'} is not a 214 shipment status")
        tracking, carrier, info = "", context.carrier, {"references": {}}
        consignee = None
        party = ""
        statuses = []
        open_statuses = []
        estimates = []
        lx = ""
        for position, segment in enumerate(tx.segments[1:-1], start=2):
            tag = segment.tag
            if tag == "B10":
                tracking = _b10_tracking(tx, segment)
                info.update(pro_number=segment.element(1), shipment_id=segment.element(2), scac=segment.element(3))
                carrier = carrier or segment.element(3).lower()
            elif tag == "N1":
                party = segment.element(1)
            elif tag == "N4" and party == "CN":
                consignee = _Place(segment.element(1), segment.element(2), segment.element(3), segment.element(4))
            elif tag == "LX":
                lx, open_statuses = segment.element(1), []
            elif tag == "AT7":
                status = _Status(segment, position, lx)
                statuses.append(status)
                open_statuses.append(status)
            elif tag == "MS1":
                place = _Place(segment.element(1), segment.element(2), "", segment.element(3))
                for status in open_statuses:
                    status.place = place
                open_statuses = []
            elif tag == "G62" and segment.element(1) in G62_ESTIMATES:
                estimates.append(segment)
            elif tag == "L11" and segment.element(2):
                info["references"].setdefault(segment.element(2), segment.element(1))
        if not tracking:
            raise _error(tx, tx.segments[0], "missing B10 segment (no tracking number)")
        if consignee is not None:
            info["destination"] = {
                "city": consignee.city,
                "region": consignee.region,
                "postcode": consignee.postcode,
                "country": consignee.implied_country(),
            }
        result = ParseResult(tracking_numbers=[tracking], shipment_info={tracking: info})
        issued_base = _issued_base(tx, context)
        for index, status in enumerate(statuses):
            event, unmapped = self._event(tx, status, tracking, carrier, consignee, context, issued_base, index)
            result.events.append(event)
            if unmapped and unmapped not in result.unmapped_codes:
                result.unmapped_codes.append(unmapped)
        for index, segment in enumerate(estimates, start=len(statuses)):
            event = self._g62_event(tx, segment, tracking, carrier, consignee, context, issued_base, index)
            result.events.append(event)
        return result

    def _g62_event(self, tx, seg, tracking, carrier, consignee, context, issued_base, index):
        """A ``G62`` date of the header (``G62*17``: estimated delivery) → an estimate.

        G62-02 is the date, G62-04 the time and G62-05 its 623 time code; without a
        time the estimate covers the whole local day at the consignee.
        """
        milestone = G62_ESTIMATES[seg.element(1)]
        day = _date(tx, seg, 2, "G62-02")
        clock = _time(tx, seg, 4, "G62-04")
        tz, assumed_utc = self._zone(tx, seg, None, consignee, context, 5, "G62-05")
        zone = tz or timezone.utc
        if clock is None:
            values = {"occurred_at": datetime.combine(day, time(23, 59, 59), tzinfo=zone),
                      "window_start": datetime.combine(day, time(0, 0, 0), tzinfo=zone)}
            values["window_end"] = values["occurred_at"]
        else:
            values = {"occurred_at": datetime.combine(day, clock, tzinfo=zone)}
        try:
            return CanonicalEvent(
                tracking_number=tracking, milestone=milestone, event_class=taxonomy.ESTIMATED, carrier=carrier,
                raw_code=f"G62/{seg.element(1)}", description=G62_TEXT.get(seg.element(1), "Estimated date"),
                issued_at=_issued_at(issued_base, tx, index), time_assumed_utc=assumed_utc,
                extra={"line": seg.line, "time_code": seg.element(5), "date_only": clock is None}, **values,
            )
        except EventError as exc:
            raise _error(tx, seg, str(exc)) from None

    def _event(self, tx, status, tracking, carrier, consignee, context, issued_base, index):
        """One AT7 → ``(CanonicalEvent, unmapped raw code or None)``."""
        seg = status.segment
        code, reason_code, appointment = seg.element(1), seg.element(2), seg.element(3)
        if code and appointment:
            raise _error(tx, seg, "AT7-01 (status) and AT7-03 (appointment) are both present; only one is allowed")
        if not code and not appointment:
            raise _error(tx, seg, "AT7 has neither a status (AT7-01) nor an appointment (AT7-03)")
        day = _date(tx, seg)
        clock = _time(tx, seg)
        tz, assumed_utc = self._zone(tx, seg, status.place, consignee, context)
        unmapped = None
        reason = None
        window_side = None
        appointment_reason = seg.element(4)
        if appointment:
            # No AT7-01: a plan (an appointment), never a scan of something that happened.
            milestone, event_class, window_side = APPOINTMENT_CODES.get(
                appointment, (taxonomy.UNKNOWN, taxonomy.PLANNED, None)
            )
            raw_code = appointment
            reason = _prediction_reason(appointment_reason)
            description = APPOINTMENT_TEXT.get(appointment, f"Appointment {appointment}") + _reason_note(
                appointment_reason)
        elif code in ESTIMATE_CODES:
            milestone, event_class, raw_code = ESTIMATE_CODES[code], taxonomy.ESTIMATED, code
            # Why the date moved (AT7-02: weather, a missed connection…) travels with it.
            reason = _prediction_reason(reason_code)
            description = STATUS_TEXT.get(code, code) + _reason_note(reason_code)
        else:
            event_class = taxonomy.ACTUAL
            meaningful = reason_code not in NO_REASON
            candidates = [f"{code}/{reason_code}", code] if meaningful else [code]
            milestone, reason, raw_code = self.resolve(candidates, context)
            if milestone == taxonomy.UNKNOWN:
                raw_code = code
                if not any(c in table for c in candidates for table in (context.status_map, DEFAULT_STATUS_MAP)):
                    unmapped = code
            if reason is None and meaningful:
                reason = REASONS_1651.get(reason_code)
            if reason is None and milestone == "delayed":
                reason = "other"
            description = STATUS_TEXT.get(code, code) + (f" (reason {reason_code})" if meaningful else "")

        values = {}
        if clock is None and event_class != taxonomy.ACTUAL:
            # A date-only prediction covers its whole local day; its instant is the
            # last on-time moment (reference 11.5.3).
            zone = tz or timezone.utc
            start = datetime.combine(day, time(0, 0, 0), tzinfo=zone)
            occurred_at = datetime.combine(day, time(23, 59, 59), tzinfo=zone)
            values.update(window_start=start, window_end=occurred_at)
        else:
            occurred_at = datetime.combine(day, clock or time(0, 0), tzinfo=tz or timezone.utc)
            if window_side == "start":
                values["window_start"] = occurred_at
            elif window_side == "end":
                values["window_end"] = occurred_at
        if event_class != taxonomy.ACTUAL:
            values["issued_at"] = _issued_at(issued_base, tx, index)
        place = status.place or _Place()
        try:
            event = CanonicalEvent(
                tracking_number=tracking,
                milestone=milestone,
                occurred_at=occurred_at,
                event_class=event_class,
                carrier=carrier,
                raw_code=raw_code,
                description=description,
                reason=reason,
                city=place.city.title(),
                region=place.region,
                country=place.implied_country(),
                time_assumed_utc=assumed_utc,
                extra={
                    "line": seg.line,
                    "lx": status.lx,
                    "reason_code": reason_code,
                    **({"appointment_reason_code": appointment_reason} if appointment_reason else {}),
                    "time_code": seg.element(7),
                    "date_only": clock is None,
                },
                **values,
            )
        except EventError as exc:
            raise _error(tx, seg, str(exc)) from None
        return event, unmapped

    def _zone(self, tx, seg, place, consignee, context, position=7, name="AT7-07"):
        """``(tzinfo or None, assumed_utc)`` for the date and time of one AT7 (or G62)."""
        time_code = seg.element(position).upper()
        try:
            explicit = _time_code_zone(time_code)
        except KeyError:
            raise _error(tx, seg, f"unknown time code {time_code!r} in {name}") from None
        if explicit is not None:
            return explicit, False
        for candidate in (place, consignee):
            zone = get_zone(candidate.zone()) if candidate is not None else None
            if zone is not None:
                return zone, False
        zone = get_zone(context.default_timezone)
        if zone is not None:
            return zone, False
        return None, True


def _error(tx, segment, reason):
    position = next((i for i, s in enumerate(tx.segments, start=1) if s is segment), 0)
    where = f"{segment.tag} (segment {position} of transaction set {tx.control_number})"
    return edi_x12.X12Error(f"{where}: {reason}", segment.line)


def _b10_tracking(tx, segment):
    value = segment.element(1) or segment.element(2)
    try:
        return normalize_tracking_number(value)
    except EventError:
        raise _error(tx, segment, "B10 has neither a carrier reference (B10-01) nor a shipment id (B10-02)") from None


def _tracking_of(tx):
    """Best-effort tracking number of a transaction set that failed to parse."""
    for segment in tx.segments:
        if segment.tag == "B10":
            value = segment.element(1) or segment.element(2)
            try:
                return normalize_tracking_number(value)
            except EventError:
                return ""
    return ""


def _external_id(tx):
    sender = tx.isa.element(6)
    return f"{sender}:{tx.interchange_control_number}:{tx.group_control_number}:{tx.control_number}"


def _date(tx, seg, position=5, name="AT7-05"):
    value = seg.element(position)
    if not value:
        raise _error(tx, seg, f"{name} date is missing")
    try:
        if len(value) == 8 and value.isdigit():
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        if len(value) == 6 and value.isdigit():
            # Version 3070 wrote YYMMDD; 214s are about the present, hence this century.
            return date(2000 + int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError:
        pass
    raise _error(tx, seg, f"{name} {value!r} is not a CCYYMMDD date")


def _time(tx, seg, position=6, name="AT7-06"):
    value = seg.element(position)
    if not value:
        return None
    if value.isdigit() and len(value) in (4, 6, 7, 8):
        try:
            # HHMM[SS[D[D]]]: decimal seconds are finer than any scan and are dropped.
            return time(int(value[:2]), int(value[2:4]), int(value[4:6] or 0))
        except ValueError:
            pass
    raise _error(tx, seg, f"{name} {value!r} is not an HHMM[SS] time")


def _prediction_reason(code):
    """Our reason for a 1651 code on an estimate or appointment, or None."""
    return None if code in NO_REASON else REASONS_1651.get(code, "other")


def _reason_note(code):
    return "" if code in NO_REASON else f" (reason {code})"


def _issued_base(tx, context):
    """When the sender built the group: GS04/GS05, else ISA09/ISA10, read as UTC.

    The envelope has no zone; UTC keeps it deterministic, which is what matters for an
    issue time (it orders predictions, it is not shown as a scan time).
    """
    candidates = []
    if tx.gs is not None:
        candidates.append((tx.gs.element(4), tx.gs.element(5)))
    candidates.append(("20" + tx.isa.element(9) if len(tx.isa.element(9)) == 6 else "", tx.isa.element(10)))
    for day, clock in candidates:
        if len(day) == 8 and day.isdigit() and len(clock) >= 4 and clock[:4].isdigit():
            try:
                return datetime(
                    int(day[:4]), int(day[4:6]), int(day[6:]), int(clock[:2]), int(clock[2:4]), tzinfo=timezone.utc
                )
            except ValueError:
                continue
    return context.received_at


def _issued_at(base, tx, index):
    # Reference 11.2: for X12 the later status in a file wins among predictions. They
    # share the envelope time, so a sub-second offset from the transaction set number
    # and the AT7 order breaks the tie without showing (fingerprints keep seconds).
    digits = "".join(ch for ch in tx.control_number if ch.isdigit())
    ordinal = (int(digits) % 1000 if digits else 0) * 1000 + min(index, 999)
    return base + timedelta(microseconds=ordinal)


ADAPTER = EdiX12_214Adapter()


# -- partner descriptor

DESCRIPTOR = partners.register(partners.PartnerDescriptor(
    code="edi_x12_214", label="ANSI X12 EDI 214", adapter=ADAPTER, sequence=70))
