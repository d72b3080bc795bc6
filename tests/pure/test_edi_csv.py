"""File imports: ANSI X12 214 and CSV, from raw bytes to canonical events."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from integration import edi_x12, taxonomy
from integration.adapters.base import AdapterContext, ParseError
from integration.adapters.csv_file import ADAPTER as CSV
from integration.adapters.edi_x12_214 import ADAPTER as X12
from integration.adapters.edi_x12_214 import DEFAULT_STATUS_MAP

FIXTURES = Path(__file__).parent / "fixtures"
UTC = timezone.utc


def fixture(*parts):
    return (FIXTURES.joinpath(*parts)).read_bytes()


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def events_of(chunk, context=None):
    return X12.parse(chunk.body, context or AdapterContext()).events


def isa(sep="*", term="~", comp=">", rep="U", version="00401", control="000000901"):
    fields = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        "SENDER".ljust(15),
        "ZZ",
        "RECEIVER".ljust(15),
        "250701",
        "1200",
        rep,
        version,
        control,
        "0",
        "P",
        comp,
    ]
    return sep.join(fields) + term


def build_214(*transactions, sep="*", term="~", joiner="\n"):
    """An interchange with one group holding each transaction set, counts computed."""
    segments = [
        isa(sep, term).rstrip(term),
        sep.join(["GS", "QM", "SENDER", "RECEIVER", "20250701", "1200", "7", "X", "004010"]),
    ]
    for number, body in enumerate(transactions, start=1):
        control = f"{number:04d}"
        tx = [["ST", "214", control], *body]
        tx.append(["SE", str(len(tx) + 1), control])
        segments += [sep.join(s) for s in tx]
    segments += [sep.join(["GE", str(len(transactions)), "7"]), sep.join(["IEA", "1", "000000901"])]
    return (joiner.join(s + term for s in segments) + joiner).encode()


def one_status(at7, ms1=None, extra=()):
    body = [["B10", "PRO9", "SHIP9", "ABCD"], *extra, ["LX", "1"], ["AT7", *at7]]
    if ms1:
        body.append(["MS1", *ms1])
    return body


# ----------------------------------------------------------------------------- X12 envelope


def test_each_interchange_declares_its_own_delimiters():
    doc = edi_x12.parse(fixture("edi", "two_interchanges_crlf.edi"))
    assert doc.errors == []
    assert [(t.control_number, t.delimiters) for t in doc.transactions] == [
        ("0001", edi_x12.Delimiters("*", ">", "~", "")),
        ("0002", edi_x12.Delimiters("*", ">", "~", "")),
        ("0003", edi_x12.Delimiters("*", ">", "~", "")),
        ("0001", edi_x12.Delimiters("|", ":", "'", "^")),
        ("0002", edi_x12.Delimiters("|", ":", "'", "^")),
    ]
    # Several groups in the second interchange, each with its own control number.
    assert [t.group_control_number for t in doc.transactions] == ["101", "101", "101", "201", "202"]
    assert [t.line for t in doc.transactions] == [3, 20, 26, 36, 36]
    first = doc.transactions[0]
    assert [s.tag for s in first.segments][:3] == ["ST", "B10", "L11"]
    assert first.segments[-1].tag == "SE" and len(first.segments) == 17


def test_newline_as_segment_terminator_and_wrapped_lines():
    body = [["B10", "PRO1", "S1", "ABCD"], ["LX", "1"], ["AT7", "X6", "NS", "", "", "20250701", "0800", "UT"]]
    newline_terminated = build_214(body, term="\n", joiner="")
    doc = edi_x12.parse(newline_terminated)
    assert doc.errors == [] and doc.transactions[0].errors == []
    assert doc.transactions[0].delimiters.segment == "\n"
    # A VAN that wraps a '~'-terminated file at a fixed width must not break segments.
    flat = build_214(body, joiner="").decode()
    wrapped = "\r\n".join(flat[i : i + 40] for i in range(0, len(flat), 40)).encode()
    wrapped_doc = edi_x12.parse(wrapped)
    assert wrapped_doc.errors == [] and wrapped_doc.transactions[0].errors == []
    assert [s.elements for s in wrapped_doc.transactions[0].segments] == [
        s.elements for s in edi_x12.parse(flat).transactions[0].segments
    ]


def test_standalone_text_is_a_valid_interchange_of_one_transaction_set():
    doc = edi_x12.parse(fixture("edi", "two_interchanges_crlf.edi"))
    fourth = doc.transactions[3]
    alone = edi_x12.parse(fourth.standalone_text())
    assert alone.errors == []
    (tx,) = alone.transactions
    assert tx.errors == [] and tx.delimiters == fourth.delimiters
    assert [s.elements for s in tx.segments] == [s.elements for s in fourth.segments]
    assert tx.interchange_control_number == "000000202"


def test_wrong_se_count_fails_its_transaction_and_wrong_ge_count_is_a_warning():
    chunks = X12.split(fixture("edi", "wrong_counts.edi"))
    assert [(c.tracking_number, c.line, c.ok) for c in chunks] == [
        ("PRO3001", 3, False),
        ("PRO3002", 9, True),
    ]
    se_error = chunks[0].error
    assert se_error.path == "line 8"
    assert "SE01 says 5" in se_error.reason and "found 6" in se_error.reason
    # The group count is off because of the broken set: no set is lost, so it warns.
    (ge_warning,) = chunks.warnings
    assert ge_warning.path == "line 15"
    assert "GE01 says 3" in ge_warning.reason and "found 2" in ge_warning.reason
    assert ge_warning.text == "GE*3*301~"
    (delivered,) = events_of(chunks[1])
    assert delivered.milestone == "delivered"
    assert delivered.occurred_at == utc(2025, 7, 18, 17, 10)  # 10:10 PDT


def test_control_number_mismatch_and_missing_trailer_are_reported():
    data = build_214(one_status(["D1", "NS", "", "", "20250701", "0800", "UT"])).decode()
    data = data.replace("SE*5*0001~", "SE*5*0009~").replace("IEA*1*000000901~\n", "")
    doc = edi_x12.parse(data)
    assert doc.transactions[0].errors == []
    assert ["SE02" in str(w) for w in doc.transactions[0].warnings] == [True]
    assert doc.errors == []
    assert [w.reason for w in doc.warnings] == ["interchange not closed: file ends before IEA"]


def _damaged(data):
    third = len(data) // 3
    return [
        data,
        data[: len(data) // 2],  # cut in the middle of a transaction set
        data[:third] + b"GARBAGE~\n" + data[third:],
        b"junk before the first ISA\n" + data,
        data.replace(b"SE*", b"XX*", 1),  # a set that never ends before the next ST
    ]


@pytest.mark.parametrize("name", ["two_interchanges_crlf.edi", "two_interchanges_packed.edi", "wrong_counts.edi"])
def test_streaming_parse_finds_what_the_whole_file_parse_finds(name):
    def described(tx):
        return (tx.set_id, tx.control_number, tx.line, tx.text, [(str(e), e.line) for e in tx.errors],
                tx.standalone_text())

    for variant in _damaged(fixture("edi", name)):
        doc = edi_x12.parse(variant)
        streamed = list(edi_x12.iter_parse(variant))
        transactions = [item for item in streamed if isinstance(item, edi_x12.Transaction)]
        warnings = [item for item in streamed if isinstance(item, edi_x12.X12Warning)]
        errors = [item for item in streamed if isinstance(item, edi_x12.X12Error) and item not in warnings]
        assert streamed == transactions + errors + warnings, "every transaction set first, in file order"
        assert [described(tx) for tx in transactions] == [described(tx) for tx in doc.transactions]
        assert [(str(e), e.line, e.text) for e in errors] == [(str(e), e.line, e.text) for e in doc.errors]
        assert [(str(w), w.line, w.text) for w in warnings] == [(str(w), w.line, w.text) for w in doc.warnings]


def test_streaming_parse_hands_over_a_transaction_set_once_it_ends():
    text = fixture("edi", "two_interchanges_crlf.edi").decode()
    stream = edi_x12.iter_parse(text + "\r\nnot X12 at all")
    first = next(stream)
    assert (first.control_number, first.errors) == ("0001", [])
    rest = list(stream)
    assert [tx.control_number for tx in rest if isinstance(tx, edi_x12.Transaction)] == ["0002", "0003", "0001",
                                                                                           "0002"]
    assert "malformed segment 'not X12 at all'" in str(rest[-1]), "and the envelope problems last"


def test_not_x12_is_refused_as_a_whole():
    with pytest.raises(ParseError) as info:
        X12.split(b"tracking,status\n1Z,delivered\n")
    assert info.value.path == "line 1"


# ----------------------------------------------------------------------------- splitting


def test_split_gives_one_chunk_per_transaction_set_across_interchanges():
    chunks = X12.split(fixture("edi", "two_interchanges_crlf.edi"))
    assert [c.tracking_number for c in chunks] == ["PRO1001", "PRO1002", "SHIP-3", "PRO2001", "PRO2002"]
    assert [c.line for c in chunks] == [3, 20, 26, 36, 36]
    assert [c.external_id for c in chunks] == [
        "ABCDCARRIER:000000101:101:0001",
        "ABCDCARRIER:000000101:101:0002",
        "ABCDCARRIER:000000101:101:0003",
        "XYZFREIGHT:000000202:201:0001",
        "XYZFREIGHT:000000202:202:0002",
    ]
    # Each chunk carries only its own shipment, with its interchange's delimiters.
    assert b"PRO1001" in chunks[0].body and b"PRO1002" not in chunks[0].body
    assert chunks[4].body.startswith(b"ISA|00|") and b"ST|214|0002'" in chunks[4].body
    assert X12.external_id(chunks[3].body, {}) == "XYZFREIGHT:000000202:201:0001"


def test_a_bad_segment_fails_only_its_transaction_and_names_its_line():
    chunks = X12.split(fixture("edi", "two_interchanges_crlf.edi"))
    assert [c.ok for c in chunks] == [True, False, True, True, True]
    error = chunks[1].error
    assert error.path == "line 23"
    assert "AT7-05 '20251345'" in error.reason
    assert "segment 4 of transaction set 0002" in error.reason
    # The stored chunk fails the same way when the processor parses it.
    with pytest.raises(ParseError) as info:
        X12.parse(chunks[1].body, AdapterContext())
    assert info.value.reason == error.reason


@pytest.mark.parametrize("variant", ["packed", "lf", "crlf_everywhere"])
def test_line_endings_do_not_change_the_result(variant):
    crlf = fixture("edi", "two_interchanges_crlf.edi")
    other = {
        "packed": fixture("edi", "two_interchanges_packed.edi"),
        "lf": crlf.replace(b"\r\n", b"\n"),
        "crlf_everywhere": crlf.replace(b"'", b"'\r\n"),
    }[variant]

    def outcome(data):
        chunks = X12.split(data)
        return [
            (
                c.tracking_number,
                c.external_id,
                c.error.reason if c.error else None,
                [e.fingerprint for e in events_of(c)] if c.ok else [],
            )
            for c in chunks
        ]

    reference = outcome(crlf)
    assert len(reference) == 5 and sum(len(fps) for *_rest, fps in reference) == 8
    assert outcome(other) == reference


# ----------------------------------------------------------------------------- statuses, reasons, classes


def chunk_events(tracking):
    chunks = {c.tracking_number: c for c in X12.split(fixture("edi", "two_interchanges_crlf.edi"))}
    return events_of(chunks[tracking])


def test_delay_with_weather_reason_and_zone_from_ms1_state():
    picked_up, delayed, _estimate = chunk_events("PRO1001")
    assert (picked_up.milestone, picked_up.reason, picked_up.carrier) == ("picked_up", None, "abcd")
    assert (delayed.milestone, delayed.reason, delayed.raw_code) == ("delayed", "weather", "SD")
    # No AT7-07: 14:00 is local time in Dallas, TX (CDT in July).
    assert delayed.occurred_at == utc(2025, 7, 15, 19, 0)
    assert delayed.utc_offset == -300
    assert (delayed.city, delayed.region, delayed.country) == ("Dallas", "TX", "US")
    assert delayed.time_assumed_utc is False


def test_estimated_delivery_date_covers_the_consignee_local_day():
    *_actual, estimate = chunk_events("PRO1001")
    assert (estimate.milestone, estimate.event_class, estimate.raw_code) == ("delivered", "estimated", "AG")
    # Date only, no MS1: the consignee's N4 (Denver, MDT) gives the day.
    assert estimate.window_start == utc(2025, 7, 17, 6, 0)
    assert estimate.window_end == utc(2025, 7, 18, 5, 59, 59)
    assert estimate.occurred_at == estimate.window_end
    # Issued when the group was built (GS04/GS05).
    assert estimate.issued_at.replace(microsecond=0) == utc(2025, 7, 15, 12, 0)
    assert not estimate.drives_status


def test_later_predictions_in_a_file_are_issued_later():
    body = [
        ["B10", "PRO5", "", "ABCD"],
        ["LX", "1"],
        ["AT7", "AG", "", "", "", "20250710"],
        ["LX", "2"],
        ["AT7", "AG", "", "", "", "20250711"],
    ]
    second_tx = [["B10", "PRO5", "", "ABCD"], ["LX", "1"], ["AT7", "X2", "", "", "", "20250709", "1700", "UT"]]
    events = X12.parse(build_214(body, second_tx), AdapterContext()).events
    issued = [e.issued_at for e in events]
    assert issued == sorted(issued) and len(set(issued)) == 3


def test_customs_hold_from_delay_reason_with_fixed_central_standard_time():
    (hold,) = chunk_events("PRO2001")
    assert (hold.milestone, hold.reason, hold.raw_code) == ("customs_hold", "customs_documents", "SD/CA")
    # CS is a fixed UTC-6 even in July (CT would have been UTC-5).
    assert hold.occurred_at == utc(2025, 7, 16, 13, 0)
    assert hold.utc_offset == -360


def test_attempt_with_reason_local_time_and_numeric_time_code():
    attempted, delayed = chunk_events("PRO2002")
    assert (attempted.milestone, attempted.reason) == ("delivery_attempted", "business_closed")
    # LT in Phoenix, AZ: UTC-7 all year (no DST in Arizona).
    assert attempted.occurred_at == utc(2025, 7, 16, 22, 30)
    assert attempted.utc_offset == -420
    # Time code 20 is UTC-5 whatever the location.
    assert delayed.occurred_at == utc(2025, 7, 16, 21, 0)
    assert delayed.utc_offset == -300


def test_eastern_prevailing_time_follows_daylight_saving():
    picked_up, *_rest = chunk_events("PRO1001")
    assert picked_up.occurred_at == utc(2025, 7, 14, 12, 30)  # EDT in July
    assert picked_up.utc_offset == -240
    delivered, appointment = chunk_events("SHIP-3")
    assert delivered.occurred_at == utc(2025, 1, 16, 14, 15)  # EST in January
    assert delivered.utc_offset == -300
    assert delivered.tracking_number == "SHIP-3"  # no PRO: B10-02


def test_delivery_appointment_is_planned():
    _delivered, appointment = chunk_events("SHIP-3")
    assert (appointment.milestone, appointment.event_class, appointment.raw_code) == ("delivered", "planned", "AB")
    assert appointment.occurred_at == utc(2025, 1, 20, 15, 0)


@pytest.mark.parametrize(
    ("appointment", "milestone", "event_class", "side"),
    [
        ("ED", "delivered", "requested", "window_start"),
        ("LP", "picked_up", "requested", "window_end"),
        ("XA", "picked_up", "planned", None),
    ],
)
def test_appointment_classes_and_windows(appointment, milestone, event_class, side):
    data = build_214(one_status(["", "", appointment, "", "20250702", "0900", "UT"]))
    (event,) = X12.parse(data, AdapterContext()).events
    assert (event.milestone, event.event_class) == (milestone, event_class)
    moment = utc(2025, 7, 2, 9, 0)
    assert event.occurred_at == moment
    assert (event.window_start, event.window_end) == (
        moment if side == "window_start" else None,
        moment if side == "window_end" else None,
    )


@pytest.mark.parametrize(
    ("code", "time_code", "expected"),
    [
        ("PT", "", utc(2025, 1, 10, 18, 0)),  # prevailing Pacific in January: UTC-8
        ("PD", "", utc(2025, 1, 10, 17, 0)),  # fixed -7 even in January
        ("UT", "", utc(2025, 1, 10, 10, 0)),
        ("GM", "", utc(2025, 1, 10, 10, 0)),
        ("01", "", utc(2025, 1, 10, 9, 0)),  # UTC+1
        ("13", "", utc(2025, 1, 10, 22, 0)),  # UTC-12
    ],
)
def test_time_codes(code, time_code, expected):
    data = build_214(one_status(["X6", "NS", "", "", "20250110", "1000", code], ["SAN JOSE", "CA", "US"]))
    (event,) = X12.parse(data, AdapterContext()).events
    assert event.occurred_at == expected


def test_zone_fallbacks_without_time_code_or_location():
    data = build_214(one_status(["X6", "", "", "", "20250110", "1000"]))
    (event,) = X12.parse(data, AdapterContext(default_timezone="Europe/Berlin")).events
    assert event.occurred_at == utc(2025, 1, 10, 9, 0)
    assert event.time_assumed_utc is False
    (event,) = X12.parse(data, AdapterContext()).events
    assert event.occurred_at == utc(2025, 1, 10, 10, 0)
    assert event.time_assumed_utc is True
    # A state without country: found in the US table.
    data = build_214(one_status(["X6", "", "", "", "20250110", "1000"], ["BOSTON", "MA"]))
    (event,) = X12.parse(data, AdapterContext(default_timezone="Europe/Berlin")).events
    assert event.occurred_at == utc(2025, 1, 10, 15, 0)
    assert event.country == "US"


@pytest.mark.parametrize(
    ("at7", "message"),
    [
        (["X6", "NS", "AB", "", "20250110", "1000", "UT"], "both present"),
        (["", "NS", "", "", "20250110", "1000", "UT"], "neither"),
        (["X6", "NS", "", "", "", "1000", "UT"], "date is missing"),
        (["X6", "NS", "", "", "20250110", "2561", "UT"], "AT7-06 '2561'"),
        (["X6", "NS", "", "", "20250110", "1000", "ZZ"], "unknown time code 'ZZ'"),
    ],
)
def test_bad_at7_names_the_line(at7, message):
    data = build_214(one_status(at7))
    with pytest.raises(ParseError) as info:
        X12.parse(data, AdapterContext())
    assert message in info.value.reason
    assert info.value.path == "line 6"  # ISA, GS, ST, B10, LX, AT7


def test_status_map_overrides_and_unmapped_codes():
    body = [
        ["B10", "PRO7", "", "ABCD"],
        ["LX", "1"],
        ["AT7", "X6", "NS", "", "", "20250110", "1000", "UT"],
        ["LX", "2"],
        ["AT7", "Q9", "NS", "", "", "20250110", "1100", "UT"],
        ["LX", "3"],
        ["AT7", "CD", "NS", "", "", "20250110", "1200", "UT"],
        ["LX", "4"],
        ["AT7", "SD", "ZZ", "", "", "20250110", "1300", "UT"],
    ]
    data = build_214(body)
    default = X12.parse(data, AdapterContext())
    assert [e.milestone for e in default.events] == ["in_transit", taxonomy.UNKNOWN, taxonomy.UNKNOWN, "delayed"]
    # CD is known history, Q9 is not: only Q9 needs an administrator's mapping.
    assert default.unmapped_codes == ["Q9"]
    assert default.events[3].reason == "other"
    context = AdapterContext(status_map={"X6": ("out_for_delivery", None), "Q9": ("exception", "lost")})
    mapped = X12.parse(data, context)
    assert [e.milestone for e in mapped.events][:2] == ["out_for_delivery", "exception"]
    assert mapped.events[1].reason == "lost"
    assert mapped.unmapped_codes == []


def test_shipment_info_and_default_map_match_the_reference():
    result = X12.parse(X12.split(fixture("edi", "two_interchanges_crlf.edi"))[0].body, AdapterContext())
    info = result.shipment_info["PRO1001"]
    assert info["references"] == {"BM": "BOL-1"}
    assert info["destination"] == {"city": "DENVER", "region": "CO", "postcode": "80202", "country": "US"}
    assert (info["pro_number"], info["shipment_id"], info["scac"]) == ("PRO1001", "SHIP-1", "ABCD")
    assert DEFAULT_STATUS_MAP["AJ"] == ("out_for_delivery", None)
    assert DEFAULT_STATUS_MAP["A3"] == ("returned_to_sender", None)
    assert DEFAULT_STATUS_MAP["SD/BD"] == ("customs_hold", "customs_documents")
    assert all(m == taxonomy.UNKNOWN or taxonomy.is_milestone(m) for m, _r in DEFAULT_STATUS_MAP.values())


# ----------------------------------------------------------------------------- CSV

SEMICOLON_OPTIONS = {
    "columns": {
        "tracking_number": "Waybill",
        "status": "Event",
        "occurred_at": "Date",
        "city": "Town",
        "region": "State",
        "country": "Country",
        "description": "Remark",
    },
    "delimiter": ";",
    "date_format": "%d/%m/%Y %H:%M",
}
PU_MAP = {"PU": ("picked_up", None)}


def csv_context(options=SEMICOLON_OPTIONS, **values):
    return AdapterContext(options=options, status_map=PU_MAP, **values)


def test_csv_groups_rows_per_tracking_number_and_isolates_the_bad_date():
    chunks = CSV.split(fixture("csv", "scans_semicolon.csv"), SEMICOLON_OPTIONS)
    assert [(c.tracking_number, c.line, c.ok) for c in chunks] == [
        ("1Z111", 2, True),
        ("1Z222", 3, True),
        ("1Z222", 6, False),
        ("1Z333", 8, True),
    ]
    error = chunks[2].error
    assert error.path == "line 6"
    assert "'31/02/2025 10:00'" in error.reason and "%d/%m/%Y %H:%M" in error.reason
    # Header plus the shipment's own rows, quoted field with its line break intact.
    assert chunks[0].body.decode().splitlines()[0] == "Waybill;Event;Date;Town;State;Country;Remark"
    assert b"1Z222" not in chunks[0].body
    assert '"Departed; hub\nnorth gate"' in chunks[0].body.decode()


def test_csv_local_times_follow_each_row_location():
    chunks = {c.tracking_number: c for c in CSV.split(fixture("csv", "scans_semicolon.csv"), SEMICOLON_OPTIONS) if c.ok}
    picked_up, departed, delivered = CSV.parse(chunks["1Z111"].body, csv_context()).events
    assert picked_up.occurred_at == utc(2025, 7, 14, 12, 30)  # Atlanta, EDT
    assert departed.description == "Departed; hub\nnorth gate"
    assert delivered.occurred_at == utc(2025, 1, 16, 21, 5)  # Denver, MST
    assert delivered.utc_offset == -420
    (lyon,) = CSV.parse(chunks["1Z222"].body, csv_context()).events
    assert (lyon.milestone, lyon.raw_code) == ("picked_up", "PU")
    assert lyon.occurred_at == utc(2025, 7, 14, 7, 0)  # Lyon, CEST
    result = CSV.parse(chunks["1Z333"].body, csv_context())
    (nowhere,) = result.events
    assert nowhere.milestone == taxonomy.UNKNOWN and result.unmapped_codes == ["ZZ"]
    assert nowhere.occurred_at == utc(2025, 7, 16, 12, 0) and nowhere.time_assumed_utc is True
    (nowhere,) = CSV.parse(chunks["1Z333"].body, csv_context(default_timezone="America/Chicago")).events
    assert nowhere.occurred_at == utc(2025, 7, 16, 17, 0) and nowhere.time_assumed_utc is False


def test_csv_timezone_option_wins_over_the_location():
    options = {**SEMICOLON_OPTIONS, "timezone": "Europe/Paris"}
    first = CSV.split(fixture("csv", "scans_semicolon.csv"), options)[0]
    picked_up, *_rest, delivered = CSV.parse(first.body, csv_context(options)).events
    assert picked_up.occurred_at == utc(2025, 7, 14, 6, 30)  # 08:30 CEST
    assert delivered.occurred_at == utc(2025, 1, 16, 13, 5)  # 14:05 CET


def test_csv_iso_dates_offsets_estimates_and_bad_rows():
    chunks = CSV.split(fixture("csv", "scans_iso.csv"), {})
    assert [(c.tracking_number, c.line, c.ok) for c in chunks] == [
        ("LX123456789CN", 2, True),
        ("LX123456789CN", 5, False),
        ("LX987654321CN", 6, False),
        ("LX987654321CN", 7, True),
    ]
    assert "unknown event class 'maybe'" in chunks[1].error.reason and chunks[1].error.path == "line 5"
    assert "7 fields" not in chunks[2].error.reason and "8 fields" in chunks[2].error.reason
    in_transit, arrived, estimate = CSV.parse(chunks[0].body, AdapterContext(options={})).events
    assert in_transit.occurred_at == utc(2025, 7, 14, 12, 30) and in_transit.utc_offset == -240
    assert in_transit.country == "US"  # alpha-3 normalised
    assert arrived.occurred_at == utc(2025, 7, 15, 15, 0)  # Chicago, CDT
    assert (estimate.event_class, estimate.milestone) == ("estimated", "delivered")
    assert estimate.window_start == utc(2025, 7, 18, 6, 0)
    assert estimate.window_end == utc(2025, 7, 18, 5, 59, 59) + timedelta(days=1)
    assert estimate.issued_at is not None
    (departed,) = CSV.parse(chunks[3].body, AdapterContext(options={})).events
    assert departed.occurred_at == utc(2025, 7, 14, 2, 0)


def test_csv_file_level_problems_raise():
    with pytest.raises(ParseError) as info:
        CSV.split(b"Waybill;Event\n1Z;delivered\n", SEMICOLON_OPTIONS)
    assert info.value.path == "line 1" and "'Date'" in info.value.reason
    with pytest.raises(ParseError) as info:
        CSV.split(fixture("csv", "scans_iso.csv"), {"timezone": "Mars/Olympus"})
    assert info.value.path == "options.timezone"
    with pytest.raises(ParseError) as info:
        CSV.split(fixture("csv", "scans_iso.csv"), {"columns": {"tracking": "x"}})
    assert info.value.path == "options.columns"
    with pytest.raises(ParseError):
        CSV.split(b"", {})


def test_csv_chunk_fails_at_processing_like_at_import():
    bad = CSV.split(fixture("csv", "scans_semicolon.csv"), SEMICOLON_OPTIONS)[2]
    with pytest.raises(ParseError) as info:
        CSV.parse(bad.body, csv_context())
    assert info.value.reason == bad.error.reason
    assert info.value.path == "line 2"  # its line in the stored chunk
