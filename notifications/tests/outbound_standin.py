"""TEMPORARY test-only stand-in for driftwatch.outbound until the lead's guard lands on main (then deleted).

Same interface (OutboundError, URLNotAllowed, ResponseTooLarge, normalize_url, check_url, request); allows
only loopback http(s), which is all the tests use.
"""

import http.client
import sys
import types
from urllib.parse import urlsplit


class OutboundError(Exception):
    pass


class URLNotAllowed(OutboundError, ValueError):
    pass


class ResponseTooLarge(OutboundError):
    pass


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body


def normalize_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or "\\" in url:
        raise URLNotAllowed("The URL is not allowed.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.hostname}:{port}{parts.path or '/'}{query}"


def check_url(url: str) -> str:
    url = normalize_url(url)
    if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise URLNotAllowed("The URL's host is not allowed.")
    return url


def request(method, url, *, headers=None, body=None, timeout=10.0, max_bytes=1_048_576):
    url = check_url(url)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read(max_bytes + 1)
    except (OSError, http.client.HTTPException):
        raise OutboundError("Could not connect or timed out.") from None
    finally:
        conn.close()
    if len(data) > max_bytes:
        raise ResponseTooLarge("The response is too large.")
    return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)


def install() -> None:
    """Register the stand-in as driftwatch.outbound when the real one is not there."""
    import driftwatch

    module = types.ModuleType("driftwatch.outbound")
    for name in (
        "OutboundError",
        "URLNotAllowed",
        "ResponseTooLarge",
        "Response",
        "normalize_url",
        "check_url",
        "request",
    ):
        setattr(module, name, globals()[name])
    sys.modules["driftwatch.outbound"] = module
    driftwatch.outbound = module


try:  # loaded with `-p notifications.tests.outbound_standin` before Django starts
    import driftwatch.outbound  # noqa: F401
except ImportError:
    install()
