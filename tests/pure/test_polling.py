"""Poll planning: batches, calls and credentials per partner, then sent for real to the fake."""

import base64
from datetime import datetime, timedelta, timezone

import pytest
import requests

from integration import polling
from integration.adapters import get_adapter, seventeentrack
from integration.adapters.base import AdapterContext
from integration.netguard import AddressPolicy
from integration.transport import Transport, TransportConfig, TransportConfigError
from tools.fake_partner import (
    AFTERSHIP_PREFIX,
    SEVENTEEN_BATCH_MAX,
    SEVENTEEN_REGISTER,
    SEVENTEEN_TRACKINFO,
    FakePartner,
)

EASTERN = timezone(timedelta(hours=-4))


def numbers(count, prefix="1Z"):
    return [f"{prefix}{index:08d}" for index in range(count)]


# ----------------------------------------------------------------------------- batch sizes


@pytest.mark.parametrize(
    ("connector_type", "configured", "expected"),
    [
        ("aftership", None, 50),
        ("aftership", 0, 50),
        ("aftership", 120, 120),
        ("aftership", 5000, 200),
        ("seventeentrack", None, 40),
        ("seventeentrack", 100, 40),
        ("seventeentrack", 10, 10),
        ("easypost", 50, 1),
        ("generic_json", None, 1),
    ],
)
def test_batch_size_is_the_setting_within_the_partner_limit(connector_type, configured, expected):
    assert polling.batch_size(connector_type, configured) == expected


def test_batch_size_refuses_types_that_cannot_be_polled():
    with pytest.raises(TransportConfigError, match="cannot be polled"):
        polling.batch_size("edi_x12_214")


def test_chunked_keeps_order_and_drops_repeats_and_blanks():
    assert polling.chunked(["A", "B", "A", "", "C", "D", "E"], 2) == [("A", "B"), ("C", "D"), ("E",)]
    assert polling.chunked([], 40) == []


# ----------------------------------------------------------------------------- plans per partner


def test_seventeentrack_45_numbers_make_two_batches_each_registered_then_queried():
    batches = polling.plan("seventeentrack", numbers(45))
    assert [len(b.numbers) for b in batches] == [40, 5]
    for batch in batches:
        register, query = batch.requests
        assert (register.method, register.path, register.purpose) == ("POST", seventeentrack.REGISTER_PATH, "register")
        assert (query.method, query.path, query.purpose) == ("POST", seventeentrack.TRACKINFO_PATH, "query")
        assert register.json == query.json == [{"number": n} for n in batch.numbers]
        # Both are safe to repeat: re-registering is answered "already registered".
        assert register.idempotent and query.idempotent
    assert batches[1].numbers == tuple(numbers(45)[40:])


def test_aftership_one_get_per_batch_with_comma_separated_numbers():
    wanted = numbers(120)
    batches = polling.plan("aftership", wanted)
    assert [len(b.numbers) for b in batches] == [50, 50, 20]
    (request,) = batches[2].requests
    assert request.method == "GET" and request.path == "/tracking/2025-01/trackings"
    assert request.params == {"tracking_numbers": ",".join(wanted[100:]), "limit": 20}
    assert request.json is None and request.purpose == "query"


def test_aftership_batch_size_follows_the_connector_setting():
    batches = polling.plan("aftership", numbers(30), batch=7)
    assert [len(b.numbers) for b in batches] == [7, 7, 7, 7, 2]


def test_easypost_reads_known_trackers_and_creates_unknown_ones():
    batches = polling.plan("easypost", ["EZ1", "EZ2"], batch=50, tracker_ids={"EZ1": "trk_abc"})
    assert [b.numbers for b in batches] == [("EZ1",), ("EZ2",)]
    (read,) = batches[0].requests
    assert (read.method, read.path, read.json) == ("GET", "/v2/trackers/trk_abc", None)
    (create,) = batches[1].requests
    assert (create.method, create.path) == ("POST", "/v2/trackers")
    assert create.json == {"tracker": {"tracking_code": "EZ2"}}
    # Creating the same code again returns the existing tracker: safe to retry.
    assert create.idempotent


def test_easypost_tracker_ids_are_url_encoded():
    (batch,) = polling.plan("easypost", ["EZ1"], tracker_ids={"EZ1": "trk/../x"})
    assert batch.requests[0].path == "/v2/trackers/trk%2F..%2Fx"


def test_generic_rest_one_call_per_number_by_default():
    batches = polling.plan("generic_json", ["AB 1", "CD/2"], batch=50)
    assert [b.requests[0].path for b in batches] == ["/track/AB%201", "/track/CD%2F2"]


def test_generic_rest_url_template_may_start_with_base():
    (batch,) = polling.plan("generic_json", ["N1"], options={"url_template": "{base}/api/v1/parcels/{number}/events"})
    assert batch.requests[0].path == "/api/v1/parcels/N1/events"


def test_generic_rest_batch_template_joins_numbers():
    options = {"batch_url_template": "{base}/track?numbers={numbers}"}
    batches = polling.plan("generic_json", numbers(5), batch=2, options=options)
    assert [len(b.numbers) for b in batches] == [2, 2, 1]
    assert batches[0].requests[0].path == f"/track?numbers={numbers(5)[0]},{numbers(5)[1]}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url_template": "/track/"}, r"must contain \{number\}"),
        ({"url_template": "https://evil.example/{number}"}, "below the base URL"),
        ({"url_template": "//evil.example/{number}"}, "below the base URL"),
        ({"url_template": "/t/{number}?key={api_key}"}, "may only use"),
        ({"batch_url_template": "/t?n={number}"}, r"must contain \{numbers\}"),
    ],
)
def test_generic_rest_bad_templates_are_refused(options, message):
    with pytest.raises(TransportConfigError, match=message):
        polling.plan("generic_json", ["N1"], options=options)


def test_plan_refuses_file_connectors():
    with pytest.raises(TransportConfigError):
        polling.plan("csv", ["N1"])


# ----------------------------------------------------------------------------- credentials


def test_auth_headers_per_partner():
    assert polling.auth_headers("aftership", "k1") == {"as-api-key": "k1"}
    assert polling.auth_headers("seventeentrack", "k2") == {"17token": "k2"}
    easypost = polling.auth_headers("easypost", "EZK")["Authorization"]
    assert base64.b64decode(easypost.split()[1]).decode() == "EZK:"
    assert polling.auth_headers("aftership", None) == {}


def test_generic_auth_header_name_and_scheme_are_configurable():
    assert polling.auth_headers("generic_json", "tok") == {"Authorization": "Bearer tok"}
    assert polling.auth_headers("generic_json", "tok", header="X-Api-Key") == {"X-Api-Key": "tok"}
    basic = polling.auth_headers("generic_json", "user:pa:ss", scheme="basic")["Authorization"]
    assert base64.b64decode(basic.split()[1]).decode() == "user:pa:ss"
    with pytest.raises(TransportConfigError, match="unknown authentication scheme"):
        polling.auth_headers("generic_json", "tok", scheme="digest")


# ----------------------------------------------------------------------------- generic batch answers


def test_split_items_reads_the_list_at_a_path():
    data = {"data": {"items": [{"n": 1}, {"n": 2}]}}
    assert polling.split_items(data, "data.items") == [{"n": 1}, {"n": 2}]
    assert polling.split_items(data, "$.data.items") == [{"n": 1}, {"n": 2}]
    assert polling.split_items([{"n": 3}], "") == [{"n": 3}]
    assert polling.split_items({"n": 4}, "") == [{"n": 4}]
    with pytest.raises(ValueError, match="no 'results'"):
        polling.split_items(data, "data.results")
    with pytest.raises(ValueError, match="expected a list"):
        polling.split_items({"data": 3}, "data")


# ----------------------------------------------------------------------------- session


class _RecordingAdapter(requests.adapters.BaseAdapter):
    """Answers 200 to everything and remembers the timeout each call was sent with."""

    def __init__(self):
        super().__init__()
        self.timeouts = []

    def send(self, request, **kwargs):
        self.timeouts.append(kwargs.get("timeout"))
        response = requests.Response()
        response.status_code, response._content, response.request = 200, b"{}", request
        return response

    def close(self):
        pass


def test_poll_session_sends_an_equal_timeout_pair_as_one_number():
    session = polling.PollSession()
    recorder = _RecordingAdapter()
    session.mount("http://", recorder)
    session.get("http://partner.test/a", timeout=(7.0, 7.0))
    session.get("http://partner.test/b", timeout=(3.0, 30.0))
    session.get("http://partner.test/c", timeout=12)
    assert recorder.timeouts == [7.0, (3.0, 30.0), 12]


# ----------------------------------------------------------------------------- against the fake partner


@pytest.fixture
def fake():
    with FakePartner() as partner:
        yield partner


def _add(fake, number, carrier="ups"):
    return fake.add_shipment(
        number,
        carrier=carrier,
        events=[
            {
                "status": "in_transit",
                "at": datetime(2025, 7, 1, 9, 30, tzinfo=EASTERN),
                "city": "Atlanta",
                "country": "US",
            }
        ],
    )


def _send(fake, connector_type, key, batches, **auth):
    config = TransportConfig(
        fake.base_url,
        address_policy=AddressPolicy(["127.0.0.1"]),
        read_timeout=5,
        max_retries=0,
        headers=polling.DEFAULT_HEADERS,
        auth_headers=polling.auth_headers(connector_type, key, **auth),
    )
    answers = []
    with Transport(config, session=polling.PollSession()) as transport:
        for batch in batches:
            for request in batch.requests:
                response = transport.request(
                    request.method,
                    request.path,
                    params=request.params,
                    json=request.json,
                    idempotent=request.idempotent,
                )
                if request.purpose == polling.QUERY:
                    answers.append(response.content)
    return answers


def test_seventeentrack_plan_is_accepted_by_the_partner_and_parsed(fake):
    wanted = numbers(45, "LX")
    for number in wanted:
        _add(fake, number)
    answers = _send(fake, "seventeentrack", fake.seventeentrack_token, polling.plan("seventeentrack", wanted))
    assert len(fake.requests_to(SEVENTEEN_REGISTER)) == 2
    assert len(fake.requests_to(SEVENTEEN_TRACKINFO)) == 2
    assert max(len(r.json()) for r in fake.requests) == SEVENTEEN_BATCH_MAX
    adapter = get_adapter("seventeentrack")
    parsed = [n for body in answers for n in adapter.parse(body, AdapterContext()).tracking_numbers]
    assert sorted(parsed) == sorted(wanted)


def test_aftership_plan_is_accepted_by_the_partner_and_parsed(fake):
    wanted = numbers(60)
    for number in wanted:
        _add(fake, number)
    answers = _send(fake, "aftership", fake.aftership_key, polling.plan("aftership", wanted))
    assert len(fake.requests_to(AFTERSHIP_PREFIX)) == 2
    adapter = get_adapter("aftership")
    parsed = [n for body in answers for n in adapter.parse(body, AdapterContext()).tracking_numbers]
    assert sorted(parsed) == sorted(wanted)


def test_easypost_and_generic_credentials_are_accepted(fake):
    shipment = _add(fake, "EZ100")
    (body,) = _send(
        fake,
        "easypost",
        fake.easypost_key,
        polling.plan("easypost", ["EZ100"], tracker_ids={"EZ100": shipment.tracker_id}),
    )
    assert get_adapter("easypost").parse(body, AdapterContext()).tracking_numbers == ["EZ100"]
    user, password = fake.generic_credentials
    (body,) = _send(fake, "generic_json", f"{user}:{password}", polling.plan("generic_json", ["EZ100"]), scheme="basic")
    assert get_adapter("generic_json").parse(body, AdapterContext()).tracking_numbers == ["EZ100"]
