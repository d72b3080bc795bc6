"""Which destinations our server may call: no request forgery towards our own network.

Connectors poll partner APIs and subscriptions deliver webhooks to addresses typed in by
users. Left unchecked, such an address could point at the server itself
(``http://127.0.0.1:8069``), a database or broker on the private network, or a cloud
metadata service (``169.254.169.254``) that hands out credentials. So:

* only ``https`` is accepted, except for hosts an administrator explicitly allows
  (on-premise partners, a test receiver), which may also use ``http``;
* loopback, private, link-local, shared, reserved, multicast and metadata addresses are
  refused unless explicitly allowed, whatever spelling the URL uses (``0x7f000001``,
  ``2130706433``, ``127.1``, ``[::ffff:127.0.0.1]``…);
* names are resolved and every address they resolve to must be public — at
  configuration time when the name resolves, and again on **each connection**, where the
  check applies to the address the socket actually connected to, so a name that
  resolves to a public address when checked and to an internal one when used (DNS
  rebinding) is refused too;
* redirects are never followed by the sessions made here.

Nothing here imports Odoo.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: Addresses that are public on paper but serve cloud instance metadata or platform
#: agents to the machine calling them.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean (also link-local)
    "168.63.129.16",  # Azure platform agent (a public address)
    "100.100.100.200",  # Alibaba Cloud (shared address space)
    "fd00:ec2::254",  # AWS over IPv6
))
#: Names that never leave the machine or its platform, whatever DNS says.
INTERNAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback",
                            "metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedDestination(ValueError):
    """A destination our server must not call.

    :ivar reason: short machine-readable code (``scheme``, ``credentials``, ``no_host``,
        ``internal_name``, ``internal_address``, ``unresolvable``).
    """

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def _embedded_ipv4(address):
    """The IPv4 address carried inside an IPv6 one (mapped, 6to4, NAT64), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address):
    """Whether ``address`` (text or ``ipaddress`` object) is a public unicast address.

    >>> is_public_address("93.184.216.34"), is_public_address("10.1.2.3")
    (True, False)
    >>> is_public_address("::ffff:127.0.0.1"), is_public_address("169.254.169.254")
    (False, False)
    """
    address = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    inner = _embedded_ipv4(address)
    if inner is not None:
        return is_public_address(inner)
    return address.is_global and not address.is_multicast and address not in METADATA_ADDRESSES


def literal_address(host):
    """The IP address a host part spells, in any form the C library accepts, else None.

    ``socket.inet_aton`` is what connecting uses for IPv4 text: it reads ``127.1``,
    ``0x7f000001``, ``2130706433`` and ``0177.0.0.1`` as 127.0.0.1.
    """
    host = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class _Rule:
    host: str | None = None
    network: object = None
    port: int | None = None

    def matches(self, host, address, port):
        if self.port is not None and port != self.port:
            return False
        if self.host is not None:
            return host == self.host
        return address is not None and address in self.network


def _split_port(entry):
    """``(host, port)`` of an allowlist entry: ``host``, ``host:443``, ``[::1]:8080``, ``10.0.0.0/8``."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:] else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


class AddressPolicy:
    """The outbound policy: which destinations are allowed besides public HTTPS ones.

    :param allowed: entries an administrator allows explicitly: host names (exact),
        IP addresses or CIDR networks, each optionally with ``:port``.
    :param resolve: ``socket.getaddrinfo``-like function (tests pass their own).
    """

    def __init__(self, allowed=(), resolve=socket.getaddrinfo):
        self._rules = tuple(self._rule(entry) for entry in allowed if entry.strip())
        self._resolve = resolve

    @classmethod
    def from_text(cls, text, **kwargs):
        """A policy from comma- or line-separated entries (a settings field).

        :raises ValueError: naming the first entry that is neither a host, an address
            nor a network.
        """
        entries = [part.strip() for line in (text or "").splitlines() for part in line.split(",")]
        return cls([entry for entry in entries if entry], **kwargs)

    @staticmethod
    def _rule(entry):
        entry = entry.strip().lower()
        try:
            host, port = _split_port(entry)
        except ValueError:
            raise ValueError(f"{entry!r} is not a host, address or network (use host, host:port or CIDR)") from None
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"{entry!r}: port out of range")
        if "/" in host:
            try:
                return _Rule(network=ipaddress.ip_network(host, strict=False), port=port)
            except ValueError:
                raise ValueError(f"{entry!r} is not a network (use CIDR, e.g. 10.0.0.0/8)") from None
        address = literal_address(host)
        if address is not None:
            return _Rule(network=ipaddress.ip_network(address), port=port)
        if not host or any(c in host for c in " /@?#"):
            raise ValueError(f"{entry!r} is not a host name")
        return _Rule(host=host.rstrip("."), port=port)

    @property
    def entries(self):
        return self._rules

    def allows(self, host, port, address=None):
        """Whether an administrator allowed this host (by name) or this address."""
        host = (host or "").lower().rstrip(".")
        if address is None:
            address = literal_address(host)
        return any(rule.matches(host, address, port) for rule in self._rules)

    def check_url(self, url, resolve=True):
        """Refuse a URL we must not call; return ``(scheme, host, port)`` of one we may.

        :param bool resolve: also resolve a host name and check every address it has.
            A name that does not resolve now is accepted here (DNS may differ where
            and when the call is made); the connection is checked again anyway.
        :raises BlockedDestination: with the reason.
        """
        try:
            parts = urlsplit((url or "").strip())
            port = parts.port
        except ValueError as exc:
            raise BlockedDestination("no_host", f"{url!r} is not a valid URL ({exc})") from None
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if scheme not in ("http", "https"):
            raise BlockedDestination("scheme", f"only https URLs can be called, not {scheme or 'a bare path'}")
        if parts.username is not None or parts.password is not None:
            raise BlockedDestination("credentials", "credentials do not belong in the URL: use the API key field")
        if not host:
            raise BlockedDestination("no_host", f"{url!r} has no host")
        port = port or (443 if scheme == "https" else 80)
        address = literal_address(host)
        if self.allows(host, port, address):
            return scheme, host, port
        if address is not None:
            self._check_address(host, port, address)
        elif host.lower() in INTERNAL_NAMES or host.lower().endswith((".localhost", ".internal", ".local")):
            raise BlockedDestination("internal_name", f"{host} names a machine of our own network")
        if scheme != "https":
            raise BlockedDestination("scheme", f"{host} must be called over https (http only for allowed hosts)")
        if address is None and resolve:
            try:
                infos = self._resolve(host, port, proto=socket.IPPROTO_TCP)
            except (OSError, UnicodeError):
                infos = []
            for info in infos:
                self._check_address(host, port, ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        return scheme, host, port

    def check_peer(self, host, port, peer_address):
        """Refuse a connection that reached an internal address (after DNS, at connect time).

        :raises BlockedDestination:
        """
        address = ipaddress.ip_address(peer_address.split("%", 1)[0])
        if self.allows(host, port, None) or self.allows(host, port, address):
            return
        self._check_address(host, port, address)

    def _check_address(self, host, port, address):
        if self.allows(host, port, address):
            return
        if not is_public_address(address):
            shown = host if str(address) == host.strip("[]") else f"{host} ({address})"
            raise BlockedDestination(
                "internal_address",
                f"{shown} is a loopback, private, link-local or metadata address: an administrator must "
                f"allow it explicitly before it can be called")

    def session(self):
        """A ``requests`` session that applies this policy to every connection it opens.

        No redirects are followed and no proxy from the environment is used (a proxy
        would make the peer check meaningless).
        """
        return self.guard(_NoRedirectSession())

    def guard(self, session):
        """Make an existing ``requests`` session apply this policy to its connections.

        :return: the same session, without proxies from the environment.
        """
        session.trust_env = False
        adapter = GuardedAdapter(self)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


class _NoRedirectSession(requests.Session):
    """A redirect could lead anywhere, including inside: the caller sees the 3xx instead."""

    def send(self, request, **kwargs):
        kwargs["allow_redirects"] = False
        return super().send(request, **kwargs)


def _guarded_pools(policy):
    def checked(connection, sock):
        try:
            peer = sock.getpeername()[0]
            policy.check_peer(connection.host, connection.port, peer)
        except BlockedDestination:
            sock.close()
            raise
        return sock

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self):
            return checked(self, super()._new_conn())

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self):
            return checked(self, super()._new_conn())

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """A transport adapter whose connections check the peer address against a policy."""

    def __init__(self, policy, **kwargs):
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _guarded_pools(self.policy)

    def send(self, request, **kwargs):
        if kwargs.get("proxies"):
            raise BlockedDestination("proxy", "outbound calls do not go through proxies")
        self.policy.check_url(request.url, resolve=False)
        return super().send(request, **kwargs)
