"""TEST-ONLY stand-in for driftwatch/outbound.py until the lead's guard lands on main (then deleted).

Same interface (OutboundError, URLNotAllowed, ResponseTooLarge, normalize_url, check_url, request), plain
urllib underneath, loopback allowed: enough for the tests to call a loopback receiver through it.
"""

import http.client
import urllib.parse


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
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or "\\" in url:
        raise URLNotAllowed("URL not allowed")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.hostname}:{port}{parts.path or '/'}{query}"


def check_url(url: str) -> str:
    return normalize_url(url)


def request(method, url, *, headers=None, body=None, timeout=10.0, max_bytes=1_048_576):
    normalize_url(url)
    parts = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ResponseTooLarge(f"response larger than {max_bytes} bytes")
        return Response(resp.status, {k.title(): v for k, v in resp.getheaders()} | dict(resp.getheaders()), data)
    except OSError:
        raise OutboundError("connection failed") from None
    finally:
        conn.close()


def _install() -> None:
    """Register this module as driftwatch.outbound when the real one is not there yet."""
    import importlib.util
    import sys

    if importlib.util.find_spec("driftwatch.outbound") is None:
        import driftwatch

        sys.modules["driftwatch.outbound"] = sys.modules[__name__]
        driftwatch.outbound = sys.modules[__name__]


_install()
