"""The one door out: every URL DriftWatch calls (provider endpoints, webhooks, Slack, state files) passes here.

Three checks, each closing a way around the others:

1. `normalize_url` parses once, strictly, and refuses whatever two parsers could read differently (user
   info, backslashes, control, space and non-ASCII characters, odd IPv4 spellings, bad ports), so the host
   checked is the host connected to. The normalized form (`scheme://host:port/path[?query]`) is stored.
2. `check_url` resolves the host and refuses loopback, private, link-local, multicast, reserved and metadata
   addresses unless an operator listed the host or network in DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS. It is for
   validating a URL when it is saved.
3. At the moment of connecting, the guarded connection classes resolve the host again, check every address
   and connect to the checked address itself, so a DNS answer that changes between check and use (DNS
   rebinding) gets nowhere. `request` (plain HTTP calls) and `guard_boto_client` (AWS clients) use them.

It needs no Django at import time (the collectors import it and must run without Django); settings are
read when a URL is checked. Error messages are written here and never carry what a server answered:
they are safe to show API readers.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NewConnectionError
from urllib3.util import connection as urllib3_connection

# Never reachable, whatever an operator lists: the cloud metadata services and the rest of link-local.
_NEVER = [
    ipaddress.ip_network(net)
    for net in (
        "169.254.0.0/16",  # link-local, incl. EC2/ECS metadata (169.254.169.254, 169.254.170.2)
        "fe80::/10",  # IPv6 link-local
        "fd00:ec2::254/128",  # EC2 metadata over IPv6
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "0.0.0.0/8",  # "this host": connects to loopback on Linux
        "::/128",
    )
]
_MAX_URL_LENGTH = 2048
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def _setting(name: str, default):
    from django.conf import settings

    return getattr(settings, name, default)


class OutboundError(Exception):
    """A call out could not be made. str() is written by DriftWatch and safe to show to API readers."""


class URLNotAllowed(OutboundError, ValueError):
    """The URL is refused by policy: its syntax, its scheme or port, or where its host points."""


class ResponseTooLarge(OutboundError):
    """The server answered with more bytes than the caller accepts."""


# --- 1. One strict parse -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case; an IPv6 literal without brackets
    port: int
    path: str  # path and query, starting with "/"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse(url: str) -> Target:
    """The URL as one unambiguous target, or URLNotAllowed saying what is wrong with it."""
    if not isinstance(url, str) or not url:
        raise URLNotAllowed("The URL is empty.")
    if len(url) > _MAX_URL_LENGTH:
        raise URLNotAllowed(f"The URL is longer than {_MAX_URL_LENGTH} characters.")
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in url):
        raise URLNotAllowed("The URL may contain only printable ASCII characters (no spaces or control characters).")
    if "\\" in url:
        raise URLNotAllowed("The URL must not contain a backslash.")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise URLNotAllowed("The URL's host is not a valid IPv6 address.") from None
    scheme = parts.scheme.lower()
    allowed_schemes = {"https", "http"} if _setting("DRIFTWATCH_OUTBOUND_ALLOW_HTTP", False) else {"https"}
    if scheme not in allowed_schemes:
        raise URLNotAllowed(f"The URL must use {' or '.join(sorted(allowed_schemes))}.")
    if "@" in parts.netloc:
        raise URLNotAllowed("The URL must not contain a user name or password.")
    if parts.fragment or url.endswith("#"):
        raise URLNotAllowed("The URL must not contain a fragment (#).")
    host = _host(parts.netloc)
    port = _port(parts.netloc, scheme)
    path = parts.path or "/"
    if not path.startswith("/"):
        raise URLNotAllowed("The URL's path must start with '/'.")
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, host, port, path)


def _host(netloc: str) -> str:
    if netloc.startswith("["):
        literal, sep, _rest = netloc[1:].partition("]")
        if not sep:
            raise URLNotAllowed("The URL's IPv6 address is not closed with ']'.")
        try:
            return str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise URLNotAllowed("The URL's host is not a valid IPv6 address.") from None
    host = netloc.rsplit(":", 1)[0] if ":" in netloc else netloc
    host = host.lower().removesuffix(".")
    if not host:
        raise URLNotAllowed("The URL has no host.")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise URLNotAllowed("The URL's host is not a valid host name.")
    if _NUMERIC_LABEL.match(labels[-1]):
        # 127.1, 0x7f.0.0.1, 2130706433 and 017700000001 all mean loopback to getaddrinfo: only the
        # canonical dotted quad is accepted as an address.
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise URLNotAllowed("The URL's host must be a dotted IPv4 address or a host name.") from None
    return host


def _port(netloc: str, scheme: str) -> int:
    after_host = netloc.rsplit("]", 1)[1] if netloc.startswith("[") else netloc
    if ":" not in after_host:
        return 443 if scheme == "https" else 80
    text = after_host.rsplit(":", 1)[1]
    if not text.isdigit() or not (1 <= int(text) <= 65535) or len(text) > 5:
        raise URLNotAllowed("The URL's port must be a number from 1 to 65535.")
    return int(text)


def normalize_url(url: str) -> str:
    """The stored form of a URL: `scheme://host:port/path[?query]`. No DNS is consulted."""
    return parse(url).url


# --- 2. Where the host points --------------------------------------------------------------------------


def _private_allow_list() -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    names, networks = set(), []
    for entry in _setting("DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS", []):
        entry = entry.strip().lower().strip("[]")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry.removesuffix("."))
    return names, networks


def check_address(host: str, address: str) -> None:
    """Refuse connecting to `address` (an answer for `host`) unless it is public or explicitly allowed."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _NEVER if net.version == ip.version):
        raise URLNotAllowed("The URL points at a link-local or cloud metadata address, which is never allowed.")
    if ip.is_global and not ip.is_multicast:
        return
    names, networks = _private_allow_list()
    if host in names or any(ip in net for net in networks if net.version == ip.version):
        return
    raise URLNotAllowed(
        "The URL points at a loopback, private or reserved address; an operator must list the host in "
        "DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS to allow it."
    )


def resolve(host: str, port: int) -> list[tuple[socket.AddressFamily, str]]:
    """Every address `host` resolves to, each checked; URLNotAllowed if any is refused or none exists."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise URLNotAllowed("The URL's host does not resolve.") from None
    addresses = []
    for family, _type, _proto, _canon, sockaddr in infos:
        check_address(host, sockaddr[0])
        if (family, sockaddr[0]) not in addresses:
            addresses.append((family, sockaddr[0]))
    if not addresses:
        raise URLNotAllowed("The URL's host does not resolve.")
    return addresses


def check_url(url: str) -> str:
    """normalize_url, then resolve the host now and refuse it if it points anywhere it must not."""
    target = parse(url)
    resolve(target.host, target.port)
    return target.url


# --- 3. Connecting to the checked address -------------------------------------------------------------


class GuardedConnectionMixin:
    """Resolve, check and connect to the checked address in one step (urllib3's _new_conn)."""

    def _new_conn(self):  # noqa: ANN202 (urllib3's signature)
        host = self._dns_host.lower().strip("[]").removesuffix(".")
        tunnel = getattr(self, "_tunnel_host", None)
        if tunnel:
            # Through an operator's proxy: the proxy connects, but the target must still pass.
            resolve(tunnel.lower().strip("[]"), self._tunnel_port or self.port)
            return super()._new_conn()
        failure: OSError | None = None
        for _family, address in resolve(host, self.port):
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                failure = exc
                continue
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {failure}")


class GuardedHTTPConnection(GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


def _pool_manager() -> urllib3.PoolManager:
    manager = urllib3.PoolManager(num_pools=32, maxsize=4, retries=False)
    manager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}
    return manager


_MANAGER: urllib3.PoolManager | None = None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    max_bytes: int = 1_048_576,
) -> Response:
    """One HTTP(S) call through the guard. Redirects are never followed; the body is read up to max_bytes."""
    global _MANAGER
    target = parse(url)
    if _MANAGER is None:
        _MANAGER = _pool_manager()
    try:
        raw = _MANAGER.request(
            method,
            target.url,
            headers=dict(headers or {}),
            body=body,
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            redirect=False,
            retries=False,
            preload_content=False,
        )
    except URLNotAllowed:
        raise
    except Urllib3Error as exc:
        raise OutboundError(_connection_message(exc)) from None
    try:
        declared = raw.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes.")
        chunks, size = [], 0
        for chunk in raw.stream(65536, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes.")
            chunks.append(chunk)
    except (OutboundError, Urllib3Error) as exc:
        raw.close()  # unread bytes stay on the socket: it must not go back to the pool
        if isinstance(exc, OutboundError):
            raise
        raise OutboundError(_connection_message(exc)) from None
    finally:
        raw.release_conn()
    return Response(status=raw.status, headers=raw.headers, body=b"".join(chunks))


def _connection_message(exc: Exception) -> str:
    name = type(exc).__name__
    if "Timeout" in name:
        return "The request timed out."
    if "SSL" in name:
        return "The TLS handshake failed (certificate or protocol)."
    return "The connection failed."


# --- AWS clients -------------------------------------------------------------------------------------------


# AWS's own domains; DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS adds to them only where an operator says so.
DEFAULT_AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def endpoint_host_allowed(host: str) -> bool:
    """True when an AWS client may talk to this host: it is in DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS (a name,
    or a suffix starting with ".")."""
    host = host.lower().strip("[]").removesuffix(".")
    for entry in _setting("DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS", DEFAULT_AWS_HOSTS):
        entry = entry.lower().strip("[]")
        if host == entry or (entry.startswith(".") and host.endswith(entry)):
            return True
    return False


class _AWSEndpointCheck:
    """An AWS client's connection goes only to an allowed endpoint host, whether the host came from the
    provider's endpoint_url or from botocore's own endpoint rules (a region name, a bucket name)."""

    def _new_conn(self):  # noqa: ANN202 (urllib3's signature)
        host = getattr(self, "_tunnel_host", None) or self._dns_host  # through a proxy: the target's host
        if not endpoint_host_allowed(host):
            raise URLNotAllowed(f"The AWS endpoint host {host!r} is not in DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS.")
        return super()._new_conn()


class _GuardedAWSHTTPConnection(_AWSEndpointCheck, GuardedConnectionMixin, AWSHTTPConnection):
    pass


class _GuardedAWSHTTPSConnection(_AWSEndpointCheck, GuardedConnectionMixin, AWSHTTPSConnection):
    pass


class _GuardedAWSHTTPConnectionPool(AWSHTTPConnectionPool):
    ConnectionCls = _GuardedAWSHTTPConnection


class _GuardedAWSHTTPSConnectionPool(AWSHTTPSConnectionPool):
    ConnectionCls = _GuardedAWSHTTPSConnection


_AWS_POOLS = {"http": _GuardedAWSHTTPConnectionPool, "https": _GuardedAWSHTTPSConnectionPool}


def guard_boto_client(client):
    """Make a botocore client connect only through the guard. Call it before the client's first request."""
    # botocore has no public hook for its connection classes; fail closed if its internals move.
    session = client._endpoint.http_session
    if not hasattr(session, "_pool_classes_by_scheme") or not hasattr(session, "_manager"):
        raise RuntimeError("botocore's HTTP session changed shape; the outbound guard cannot be installed")
    session._pool_classes_by_scheme = dict(_AWS_POOLS)
    session._manager.pool_classes_by_scheme = dict(_AWS_POOLS)
    for proxy_manager in getattr(session, "_proxy_managers", {}).values():
        proxy_manager.pool_classes_by_scheme = dict(_AWS_POOLS)
    client.meta.events.register_first("needs-retry", _never_retry_a_refusal)
    return client


def _never_retry_a_refusal(caught_exception=None, **kwargs) -> None:
    """A refusal is policy, not a transient failure: botocore would retry it with backoff (it wraps every
    connection-time exception in HTTPClientError, which its retry modes treat as transient)."""
    if isinstance(getattr(caught_exception, "kwargs", {}).get("error"), URLNotAllowed):
        raise caught_exception
