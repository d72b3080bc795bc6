"""What customers are shown: progress steps, the date to expect, lookup comparisons."""

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from integration import customer_view as cv
from integration import taxonomy

UTC = timezone.utc
PARIS = timezone(timedelta(hours=1))
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def cand(source, start, end=None):
    return cv.Candidate(source, start, end)


# --------------------------------------------------------------------------- progress

def test_progress_follows_main_milestones():
    assert cv.progress("pending") == cv.Progress(0, cv.TONE_OK)
    assert cv.progress("picked_up", ["picked_up"]).step == 1
    assert cv.progress("arrived_at_facility", ["picked_up", "arrived_at_facility"]).step == 2
    assert cv.progress("out_for_delivery").step == 3
    assert cv.progress("delivered") == cv.Progress(4, cv.TONE_DONE)


def test_problem_keeps_furthest_step_reached_and_changes_tone():
    assert cv.progress("exception", ["picked_up", "in_transit", "out_for_delivery"]) == cv.Progress(3, cv.TONE_PROBLEM)
    assert cv.progress("delayed", ["picked_up"]) == cv.Progress(1, cv.TONE_ATTENTION)
    # A problem with no earlier scan still means the carrier has the parcel.
    assert cv.progress("exception").step == 1
    assert cv.progress("delivery_attempted").tone == cv.TONE_ATTENTION
    assert cv.progress("returned_to_sender", ["in_transit"]).tone == cv.TONE_STOPPED


@given(st.sampled_from(taxonomy.MILESTONE_CODES + ("pending",)),
       st.lists(st.sampled_from(taxonomy.MILESTONE_CODES), max_size=8))
def test_progress_step_is_always_a_valid_index(status, seen):
    result = cv.progress(status, seen)
    assert 0 <= result.step < len(cv.STEPS)


# --------------------------------------------------------------------------- history summary

def test_history_summary_counts_what_the_timeline_shows():
    history = [
        ("picked_up", taxonomy.ACTUAL, False),
        ("in_transit", taxonomy.ACTUAL, True),
        ("unknown", taxonomy.ACTUAL, False),  # a bare partner code: not shown
        ("unknown", taxonomy.ACTUAL, True),  # the carrier's words: shown
        ("delivered", taxonomy.ESTIMATED, True),  # an estimate is the expected date, not history
    ]
    summary = cv.history_summary(history)
    assert summary.shown_count == 3
    assert summary.milestones == ("in_transit", "picked_up", "unknown")
    assert cv.history_summary([]) == cv.HistorySummary((), 0)


@given(st.lists(st.tuples(st.sampled_from(taxonomy.MILESTONE_CODES + (taxonomy.UNKNOWN,)),
                          st.sampled_from((taxonomy.ACTUAL, taxonomy.ESTIMATED, taxonomy.PLANNED)),
                          st.booleans()), max_size=30))
def test_history_summary_agrees_with_the_shown_rule(history):
    summary = cv.history_summary(history)
    assert summary.shown_count == sum(cv.shown_to_customer(*event) for event in history)
    assert set(summary.milestones) == {m for m, event_class, _d in history if event_class == taxonomy.ACTUAL}


# --------------------------------------------------------------------------- expected delivery

def test_delivered_shows_delivered_time_whatever_the_estimates():
    delivered = NOW - timedelta(hours=3)
    result = cv.expected_delivery(NOW, "delivered", delivered, [cand("carrier", NOW + timedelta(days=2))])
    assert result == cv.Expectation("delivered", "delivered", delivered, delivered)


def test_carrier_window_preferred_over_promise():
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=2)
    result = cv.expected_delivery(NOW, "in_transit", None, [
        cand("carrier", start, end), cand("promised", NOW + timedelta(days=5))])
    assert (result.kind, result.source, result.start, result.end) == ("expected", "carrier", start, end)


def test_past_estimate_falls_back_to_promise_and_past_promise_shows_nothing():
    promised = NOW + timedelta(days=3)
    result = cv.expected_delivery(NOW, "in_transit", None, [
        cand("carrier", NOW - timedelta(days=2)), cand("promised", promised)])
    assert (result.source, result.start) == ("promised", promised)
    nothing = cv.expected_delivery(NOW, "in_transit", None, [
        cand("carrier", NOW - timedelta(days=2)), cand("promised", NOW - timedelta(days=1))])
    assert nothing == cv.NOTHING


def test_today_is_not_the_past_even_after_the_hour():
    this_morning = NOW.replace(hour=8)
    result = cv.expected_delivery(NOW, "out_for_delivery", None, [cand("carrier", this_morning)])
    assert result.kind == "expected" and result.end == this_morning


def test_window_started_yesterday_is_shown_from_today():
    start, end = NOW - timedelta(days=1), NOW + timedelta(days=1)
    result = cv.expected_delivery(NOW, "in_transit", None, [cand("carrier", start, end)])
    assert result.start.date() == NOW.date() and result.end == end


def test_past_is_judged_in_the_customer_time_zone():
    # 23:30 UTC on the 9th is already the 10th in Paris: "today", not the past.
    late_evening = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
    now = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert cv.expected_delivery(now, "in_transit", None, [cand("carrier", late_evening)]).kind == "none"
    assert cv.expected_delivery(now, "in_transit", None, [cand("carrier", late_evening)], tz=PARIS).kind == "expected"


def test_returns_and_cancellations_expect_nothing():
    future = [cand("carrier", NOW + timedelta(days=1))]
    for status in ("returning_to_sender", "returned_to_sender", "cancelled"):
        assert cv.expected_delivery(NOW, status, None, future) == cv.NOTHING


def test_naive_datetimes_are_utc_and_empty_candidates_are_skipped():
    naive = (NOW + timedelta(days=1)).replace(tzinfo=None)
    result = cv.expected_delivery(NOW.replace(tzinfo=None), "in_transit", None, [
        cand("predicted", None, None), cand("carrier", naive)])
    assert result.source == "carrier" and result.start.tzinfo is not None


@given(st.lists(st.integers(min_value=-10, max_value=10), max_size=4))
def test_expected_date_is_never_in_the_past(offsets):
    candidates = [cand(f"c{i}", NOW + timedelta(days=d)) for i, d in enumerate(offsets)]
    result = cv.expected_delivery(NOW, "in_transit", None, candidates)
    if result.kind == "expected":
        assert result.end.date() >= NOW.date()
        assert result.source == next(c.source for c in candidates if c.start.date() >= NOW.date())
    else:
        assert all(c.start.date() < NOW.date() for c in candidates)


# --------------------------------------------------------------------------- lookups

def test_verifier_matches_email_or_postcode_leniently():
    assert cv.verifier_matches(" Ada@Example.COM ", emails=["ada@example.com"])
    assert cv.verifier_matches("sw1a 1aa", postcodes=["SW1A 1AA"])
    assert cv.verifier_matches("75-001", postcodes=["75001"])
    assert not cv.verifier_matches("eve@example.com", emails=["ada@example.com"], postcodes=["75001"])


def test_verifier_never_matches_empty_values():
    assert not cv.verifier_matches("", emails=[""], postcodes=[""])
    assert not cv.verifier_matches("   ", emails=[None], postcodes=[None])
    assert not cv.verifier_matches("ada@example.com", emails=[], postcodes=[])


def test_verifier_survives_hostile_unicode():
    assert not cv.verifier_matches("\u202eada@example.com\x00", emails=["ada@example.com"])
    assert cv.verifier_matches("ÉCOLE", postcodes=["école"])


def test_reference_normalization():
    assert cv.normalize_reference("  s00042 ") == "S00042"
    assert cv.normalize_reference("wh/out/ 00012") == "WH/OUT/00012"


def test_client_key_groups_ipv6_by_64_and_keeps_ipv4():
    assert cv.client_key("203.0.113.7") == "203.0.113.7"
    assert cv.client_key("2001:db8:1:2:aaaa::1") == cv.client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert cv.client_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert cv.client_key("not an address") == cv.client_key(None) == "invalid"
