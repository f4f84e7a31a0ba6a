"""Request throttling (rate from DRIFTWATCH_API_THROTTLE_RATE), keyed on who is asking.

A token, else a signed-in user, else the client's address: the peer of the socket, or with
DRIFTWATCH_NUM_PROXIES trusted proxies in front, the address the outermost of them saw. X-Forwarded-For
is read only then, so a client cannot escape its limit by sending a new header value each time.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from driftwatch.models import ApiToken


def client_address(request) -> str:
    """The client's address behind settings.DRIFTWATCH_NUM_PROXIES trusted proxies (also django-axes')."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    remote = request.META.get("REMOTE_ADDR", "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"t{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = f"a{client_address(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
