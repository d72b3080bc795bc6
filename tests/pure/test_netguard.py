"""The outbound address policy, against real loopback sockets."""

import http.server
import socket
import threading

import pytest

from integration.netguard import AddressPolicy, BlockedDestination, is_public_address, literal_address


def _no_dns(host, port, *args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _dns(table):
    def resolve(host, port, *args, **kwargs):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in table[host]]
    return resolve


@pytest.mark.parametrize("address, public", [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.100.100.200", False), ("168.63.129.16", False), ("0.0.0.0", False),
    ("::1", False), ("fe80::1", False), ("fd00:ec2::254", False), ("::ffff:127.0.0.1", False),
    ("::ffff:93.184.216.34", True), ("2002:7f00:1::", False), ("64:ff9b::a00:1", False),
    ("224.0.0.1", False), ("255.255.255.255", False), ("198.18.0.1", False), ("100.64.0.1", False),
])
def test_public_addresses(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize("spelling", ["127.0.0.1", "0x7f000001", "2130706433", "127.1", "0177.0.0.1", "[::1]"])
def test_every_spelling_of_loopback_is_read_as_an_address(spelling):
    assert not is_public_address(literal_address(spelling))


@pytest.mark.parametrize("url, reason", [
    ("https://127.0.0.1/track", "internal_address"),
    ("https://0x7f000001/", "internal_address"),
    ("https://2130706433:8069/", "internal_address"),
    ("https://127.1/", "internal_address"),
    ("https://10.0.0.1/api", "internal_address"),
    ("https://169.254.169.254/latest/meta-data/", "internal_address"),
    ("https://[::1]:8069/", "internal_address"),
    ("https://[::ffff:127.0.0.1]/", "internal_address"),
    ("https://localhost:8069/", "internal_name"),
    ("https://metadata.google.internal/computeMetadata/v1/", "internal_name"),
    ("https://printer.local/", "internal_name"),
    ("http://api.example.com/v1", "scheme"),
    ("ftp://api.example.com/", "scheme"),
    ("file:///etc/passwd", "scheme"),
    ("/relative/path", "scheme"),
    ("https://user:secret@api.example.com/", "credentials"),
    ("https:///nohost", "no_host"),
    ("https://api.example.com:99999/", "no_host"),
])
def test_internal_or_unsafe_urls_are_refused(url, reason):
    with pytest.raises(BlockedDestination) as caught:
        AddressPolicy(resolve=_no_dns).check_url(url)
    assert caught.value.reason == reason


def test_a_name_resolving_to_an_internal_address_is_refused():
    policy = AddressPolicy(resolve=_dns({"partner.example.com": ["93.184.216.34", "10.1.2.3"]}))
    with pytest.raises(BlockedDestination, match=r"partner\.example\.com \(10\.1\.2\.3\)"):
        policy.check_url("https://partner.example.com/v1")


def test_public_https_urls_pass_and_unresolvable_names_are_left_to_the_connection():
    policy = AddressPolicy(resolve=_dns({"api.example.com": ["93.184.216.34"]}))
    assert policy.check_url("https://api.example.com/v4/trackings") == ("https", "api.example.com", 443)
    assert policy.check_url("https://unknown.example.org:8443/x") == ("https", "unknown.example.org", 8443)


def test_explicitly_allowed_hosts_may_be_internal_and_use_http():
    policy = AddressPolicy.from_text("127.0.0.1:8069, partner.intranet\n10.20.0.0/16", resolve=_no_dns)
    assert policy.check_url("http://127.0.0.1:8069/x")[1] == "127.0.0.1"
    assert policy.check_url("http://partner.intranet/api")[1] == "partner.intranet"
    assert policy.check_url("https://10.20.3.4/api")[1] == "10.20.3.4"
    with pytest.raises(BlockedDestination):  # the same host on another port is not allowed
        policy.check_url("http://127.0.0.1:5432/")
    with pytest.raises(BlockedDestination):
        policy.check_url("https://10.21.0.1/")


@pytest.mark.parametrize("text", ["10.0.0.0/33", "host name", "a@b", "[::1]:x", "h:70000"])
def test_bad_allowlist_entries_are_named(text):
    with pytest.raises(ValueError):
        AddressPolicy.from_text(text)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.1/steal")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_session_refuses_a_loopback_server_unless_allowed(loopback_server):
    url = f"http://127.0.0.1:{loopback_server}/"
    with pytest.raises(BlockedDestination):
        AddressPolicy().session().get(url, timeout=5)
    allowed = AddressPolicy([f"127.0.0.1:{loopback_server}"]).session()
    assert allowed.get(url, timeout=5).json() == {"ok": True}


def test_session_checks_the_address_it_connected_to(loopback_server, monkeypatch):
    # DNS rebinding: the name looks public when the URL is checked, and resolves to
    # loopback when the connection is made. The peer address is what counts.
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        return real("127.0.0.1" if host == "rebind.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    session = AddressPolicy(resolve=_no_dns).session()
    with pytest.raises(BlockedDestination, match="127.0.0.1"):
        session.get(f"https://rebind.example.com:{loopback_server}/", timeout=5)


def test_session_never_follows_redirects(loopback_server):
    session = AddressPolicy([f"127.0.0.1:{loopback_server}"]).session()
    response = session.get(f"http://127.0.0.1:{loopback_server}/redirect", timeout=5)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://10.0.0.1/steal"
