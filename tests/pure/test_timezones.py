"""Zone resolution of zone-less partner times and date-only estimates (rules 11.5.2, 11.5.3)."""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration import timezones
from integration.timezones import (
    country_code,
    date_window,
    estimate_window,
    localize,
    parse_datetime,
    parse_local_date,
    parse_partner_time,
    zone_for,
)

UTC = timezone.utc
EU = ("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE").split()


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# --- zone_for ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha2", "alpha3", "zone"),
    [
        ("DE", "DEU", "Europe/Berlin"),
        ("FR", "FRA", "Europe/Paris"),
        ("GB", "GBR", "Europe/London"),
        ("CH", "CHE", "Europe/Zurich"),
        ("NO", "NOR", "Europe/Oslo"),
        ("CN", "CHN", "Asia/Shanghai"),
        ("JP", "JPN", "Asia/Tokyo"),
        ("KR", "KOR", "Asia/Seoul"),
        ("SG", "SGP", "Asia/Singapore"),
        ("HK", "HKG", "Asia/Hong_Kong"),
        ("IN", "IND", "Asia/Kolkata"),
        ("NZ", "NZL", "Pacific/Auckland"),
        ("ZA", "ZAF", "Africa/Johannesburg"),
        ("AE", "ARE", "Asia/Dubai"),
        ("TR", "TUR", "Europe/Istanbul"),
        ("IL", "ISR", "Asia/Jerusalem"),
        ("MX", "MEX", "America/Mexico_City"),
        ("BR", "BRA", "America/Sao_Paulo"),
        ("ES", "ESP", "Europe/Madrid"),
        ("PT", "PRT", "Europe/Lisbon"),
    ],
)
def test_country_resolves_from_alpha2_and_alpha3_alike(alpha2, alpha3, zone):
    assert zone_for(alpha2) == zone
    assert zone_for(alpha3) == zone
    assert zone_for(alpha3.lower()) == zone


def test_every_eu_country_has_a_zone_and_an_alpha3_code():
    for alpha2 in EU:
        assert zone_for(alpha2), alpha2
        alpha3 = next(code for code, two in timezones.ALPHA3_TO_ALPHA2.items() if two == alpha2)
        assert zone_for(alpha3) == zone_for(alpha2)


def test_every_table_zone_exists_in_the_tz_database():
    zones = set(timezones.COUNTRY_ZONES.values()) | set(timezones.CITY_ZONES.values())
    for table in timezones.REGION_ZONES.values():
        zones |= set(table.values())
    for name in zones:
        assert ZoneInfo(name).key == name


@pytest.mark.parametrize("country", ["US", "USA", "CA", "CAN", "AU", "AUS", "RU", "ID"])
def test_multi_zone_country_alone_defers_to_the_default(country):
    assert zone_for(country) is None
    assert zone_for(country, default="Europe/Paris") == "Europe/Paris"


def test_all_fifty_states_and_dc_resolve():
    states = (
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND"
        " OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
    ).split()
    assert len(states) == 51
    for state in states:
        assert zone_for("US", state, default="Etc/UTC").startswith(("America/", "Pacific/")), state


@pytest.mark.parametrize(
    ("country", "region", "city", "zone"),
    [
        ("US", "AZ", "Phoenix", "America/Phoenix"),
        ("USA", "AZ", None, "America/Phoenix"),
        ("US", "HI", None, "Pacific/Honolulu"),
        ("US", "AK", None, "America/Anchorage"),
        ("US", "CO", None, "America/Denver"),
        ("US", "Colorado", None, "America/Denver"),
        ("US", "US-CO", None, "America/Denver"),
        ("US", " co ", None, "America/Denver"),
        ("US", "NY", None, "America/New_York"),
        ("US", "CA", None, "America/Los_Angeles"),
        ("US", "IL", None, "America/Chicago"),
        ("US", "TX", "Houston", "America/Chicago"),
        ("US", "TX", "El Paso", "America/Denver"),
        ("US", "FL", "Miami", "America/New_York"),
        ("US", "FL", "Pensacola", "America/Chicago"),
        ("US", "AZ", "Window Rock", "America/Denver"),
        ("US", None, "Denver", "America/Denver"),
        ("US", "", "SALT LAKE CITY", "America/Denver"),
        ("US", "XX", "Chicago", "America/Chicago"),
        ("CA", "ON", None, "America/Toronto"),
        ("CA", "BC", None, "America/Vancouver"),
        ("CA", "AB", None, "America/Edmonton"),
        ("CA", "SK", None, "America/Regina"),
        ("CA", "NL", None, "America/St_Johns"),
        ("CA", "Québec", None, "America/Toronto"),
        ("CA", None, "St. John's", "America/St_Johns"),
        ("AU", "NSW", None, "Australia/Sydney"),
        ("AU", "WA", None, "Australia/Perth"),
        ("AU", "QLD", None, "Australia/Brisbane"),
        ("AU", "SA", None, "Australia/Adelaide"),
        ("AU", "NT", None, "Australia/Darwin"),
        ("AU", "NSW", "Broken Hill", "Australia/Broken_Hill"),
        ("AU", None, "Perth", "Australia/Perth"),
        ("BR", None, "Manaus", "America/Manaus"),
        ("BR", None, "São Paulo", "America/Sao_Paulo"),
        ("MX", None, "Tijuana", "America/Tijuana"),
        ("MX", None, "Cancún", "America/Cancun"),
        ("RU", None, "Vladivostok", "Asia/Vladivostok"),
        ("DE", "BY", "München", "Europe/Berlin"),
    ],
)
def test_region_and_city_tables(country, region, city, zone):
    assert zone_for(country, region, city) == zone


def test_same_region_code_means_different_things_per_country():
    assert zone_for("US", "WA") == "America/Los_Angeles"
    assert zone_for("AU", "WA") == "Australia/Perth"


def test_unknown_or_missing_country_returns_the_default():
    assert zone_for(None, "CO", "Denver") is None
    assert zone_for("", default="Asia/Tokyo") == "Asia/Tokyo"
    assert zone_for("XYZ", default="Asia/Tokyo") == "Asia/Tokyo"


def test_country_code_normalises_alpha3_and_common_aliases():
    assert country_code("deu") == "DE"
    assert country_code(" USA ") == "US"
    assert country_code("UK") == "GB"
    assert country_code("gb") == "GB"
    assert country_code("ZZ") is None
    assert country_code(None) is None


# --- localize -----------------------------------------------------------------------------


def test_localize_applies_summer_and_winter_offsets():
    summer = localize(datetime(2026, 7, 10, 17, 40), "Europe/Berlin")
    winter = localize(datetime(2026, 1, 10, 17, 40), "Europe/Berlin")
    assert summer.astimezone(UTC) == utc(2026, 7, 10, 15, 40)
    assert winter.astimezone(UTC) == utc(2026, 1, 10, 16, 40)


def test_localize_ambiguous_autumn_hour_takes_the_first_occurrence():
    # Denver falls back at 02:00 MDT on 1 November 2026: 01:30 happens twice.
    value = localize(datetime(2026, 11, 1, 1, 30), "America/Denver")
    assert value.astimezone(UTC) == utc(2026, 11, 1, 7, 30)
    assert value.utcoffset() == timedelta(hours=-6)


def test_localize_spring_gap_reads_the_offset_before_the_change():
    # 02:30 does not exist in Denver on 8 March 2026; read with MST it is 03:30 MDT.
    value = localize(datetime(2026, 3, 8, 2, 30), "America/Denver")
    assert value.astimezone(UTC) == utc(2026, 3, 8, 9, 30)
    assert value.astimezone(UTC).astimezone(ZoneInfo("America/Denver")).hour == 3


def test_localize_leaves_aware_values_alone_and_refuses_unknown_zones():
    aware = datetime(2026, 7, 10, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    assert localize(aware, "America/Denver") is aware
    with pytest.raises(ValueError, match="Mars/Olympus"):
        localize(datetime(2026, 7, 10, 8, 0), "Mars/Olympus")


# --- parse_datetime / parse_partner_time -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-14T13:02:00Z", utc(2026, 7, 14, 13, 2)),
        ("2026-07-14T13:02:00.000Z", utc(2026, 7, 14, 13, 2)),
        ("2026-07-14T13:02:00.123456789Z", utc(2026, 7, 14, 13, 2, 0, 123456)),
        ("2026-07-14T15:02:00+02:00", utc(2026, 7, 14, 13, 2)),
        ("2026-07-14T15:02:00+0200", utc(2026, 7, 14, 13, 2)),
        ("2026-07-14T15:02+02", utc(2026, 7, 14, 13, 2)),
        ("2026-07-14 07:02:00-06:00", utc(2026, 7, 14, 13, 2)),
        ("2026-07-14T18:32:00+05:30", utc(2026, 7, 14, 13, 2)),
    ],
)
def test_parse_datetime_with_offsets(text, expected):
    parsed, has_time = parse_datetime(text)
    assert has_time is True
    assert parsed.astimezone(UTC) == expected


def test_parse_datetime_without_offset_is_naive_and_date_only_is_flagged():
    assert parse_datetime("2026-07-14T13:02:00") == (datetime(2026, 7, 14, 13, 2), True)
    assert parse_datetime("2026-07-14") == (datetime(2026, 7, 14), False)
    assert parse_datetime(date(2026, 7, 14)) == (datetime(2026, 7, 14), False)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "14/07/2026", "2026-13-01", "2026-07-14T25:00:00", "2026-07-14T10:00:00+25:00", 42]
)
def test_parse_datetime_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_partner_time_with_offset_is_kept_even_when_the_location_disagrees():
    value, assumed = parse_partner_time("2026-07-11T16:00:00-04:00", country="DEU")
    assert value.astimezone(UTC) == utc(2026, 7, 11, 20, 0)
    assert value.utcoffset() == timedelta(hours=-4)
    assert assumed is False


def test_partner_time_without_offset_uses_the_location_zone():
    berlin, assumed_de = parse_partner_time("2026-07-10T17:40:00", country="DEU", city="Leipzig")
    denver, assumed_us = parse_partner_time("2026-07-14T13:02:00", country="USA", region="CO", city="Denver")
    assert (berlin.astimezone(UTC), berlin.utcoffset(), assumed_de) == (
        utc(2026, 7, 10, 15, 40),
        timedelta(hours=2),
        False,
    )
    assert (denver.astimezone(UTC), denver.utcoffset(), assumed_us) == (
        utc(2026, 7, 14, 19, 2),
        timedelta(hours=-6),
        False,
    )


def test_partner_time_falls_back_to_the_default_zone_then_to_flagged_utc():
    local, assumed = parse_partner_time("2026-07-14T13:02:00", country="US", default_zone="America/Chicago")
    assert (local.astimezone(UTC), assumed) == (utc(2026, 7, 14, 18, 2), False)
    bare, assumed = parse_partner_time("2026-07-14T13:02:00")
    assert (bare, assumed) == (utc(2026, 7, 14, 13, 2), True)
    # A mistyped connector zone must not stop parsing: UTC, flagged.
    typo, assumed = parse_partner_time("2026-07-14T13:02:00", default_zone="Europe/Parsi")
    assert (typo, assumed) == (utc(2026, 7, 14, 13, 2), True)


# --- dates and windows ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["2026-07-16", "2026-07-16T00:00:00Z", "2026-07-16T00:00:00", "2026-07-16T00:00:00.000Z", date(2026, 7, 16)]
)
def test_parse_local_date_reads_every_midnight_encoding_as_the_written_date(text):
    assert parse_local_date(text) == date(2026, 7, 16)


def test_parse_local_date_refuses_a_time_of_day():
    with pytest.raises(ValueError, match="time of day"):
        parse_local_date("2026-07-16T18:00:00Z")


def test_midnight_utc_date_stays_the_same_day_in_denver():
    start, end = date_window(parse_local_date("2026-07-16T00:00:00Z"), "America/Denver")
    assert (start, end) == (utc(2026, 7, 16, 6, 0), utc(2026, 7, 17, 5, 59, 59))
    denver = ZoneInfo("America/Denver")
    assert start.astimezone(denver).date() == end.astimezone(denver).date() == date(2026, 7, 16)


def test_date_window_east_of_utc_starts_the_previous_utc_day():
    assert date_window(date(2026, 7, 16), "Pacific/Auckland") == (utc(2026, 7, 15, 12, 0), utc(2026, 7, 16, 11, 59, 59))
    assert date_window(date(2026, 7, 16), None) == (utc(2026, 7, 16), utc(2026, 7, 16, 23, 59, 59))


zones = st.sampled_from(["America/Denver", "Europe/Berlin", "Pacific/Auckland", "Asia/Kolkata", "America/Santiago"])


@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31)), zone=zones)
def test_date_window_always_covers_exactly_that_local_day(day, zone):
    start, end = date_window(day, zone)
    tz = ZoneInfo(zone)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert start.astimezone(tz).date() == day
    assert end.astimezone(tz).date() == day
    assert end.astimezone(tz).time() == time(23, 59, 59)
    # No local day is shorter than 22 h or longer than 26 h, DST changes included.
    assert timedelta(hours=22) < end - start < timedelta(hours=26)


@given(day=st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)))
def test_midnight_encodings_never_change_the_date(day):
    assert parse_local_date(f"{day.isoformat()}T00:00:00Z") == day
    assert parse_local_date(day.isoformat()) == day


def test_estimate_window_for_a_date_ends_at_the_last_local_second():
    occurred, start, end, assumed = estimate_window("2026-07-16T00:00:00Z", zone="America/Denver")
    assert (start, end, assumed) == (utc(2026, 7, 16, 6, 0), utc(2026, 7, 17, 5, 59, 59), False)
    assert occurred == end
    assert occurred.utcoffset() == timedelta(hours=-6)


def test_estimate_window_for_a_date_range_spans_both_days():
    occurred, start, end, _assumed = estimate_window("2026-07-11", "2026-07-14", "Europe/London")
    assert (start, end) == (utc(2026, 7, 10, 23, 0), utc(2026, 7, 14, 22, 59, 59))
    assert occurred == end


def test_estimate_window_for_an_instant_is_a_point_keeping_its_offset():
    occurred, start, end, assumed = estimate_window("2026-07-16T14:00:00-06:00", zone="Europe/Berlin")
    assert start == end == utc(2026, 7, 16, 20, 0)
    assert occurred.utcoffset() == timedelta(hours=-6)
    assert assumed is False


def test_estimate_window_reads_a_zone_less_instant_in_the_destination_zone():
    occurred, start, _end, _assumed = estimate_window("2026-07-18T17:00:00", zone="America/Chicago")
    assert start == utc(2026, 7, 18, 22, 0)
    assert occurred.utcoffset() == timedelta(hours=-5)


def test_estimate_window_without_zone_assumes_utc_and_says_so():
    _occurred, start, end, assumed = estimate_window("2026-07-16")
    assert (start, end, assumed) == (utc(2026, 7, 16), utc(2026, 7, 16, 23, 59, 59), True)
    assert estimate_window("2026-07-16T10:00:00Z")[3] is False
