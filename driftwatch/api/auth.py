"""Bearer token authentication, and session authentication for staff using the browsable API."""

from datetime import timedelta

from django.db import router
from django.utils import timezone
from rest_framework import authentication, exceptions

from driftwatch.db import PreparedQuery
from driftwatch.models import ApiToken, hash_token

# Writing last_used_at on every request would turn every read into a write; a minute is precise enough.
_LAST_USED_RESOLUTION = timedelta(seconds=60)

# The lookup every API request makes, compiled once: the row is still read on every request, so a
# revoked or expired token (or a deactivated user) is refused on the very next one.
_TOKEN_BY_HASH = PreparedQuery(
    lambda key_hash: ApiToken.objects.select_related("user").filter(key_hash=key_hash)[:1], key_hash=str
)


def token_by_hash(key_hash: str) -> ApiToken | None:
    """The token with this hash, its user loaded, whatever its state; None when there is none."""
    rows = _TOKEN_BY_HASH.run(router.db_for_read(ApiToken), key_hash=key_hash)
    return rows[0] if rows else None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer dw_...`; the token is looked up by its SHA-256 hash."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != b"bearer":
            raise exceptions.AuthenticationFailed("Authorization header must use the Bearer scheme.")
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        token = token_by_hash(hash_token(raw))
        if token is None or not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="driftwatch"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """Staff signed in to the admin may use the browsable API and Swagger UI (CSRF enforced)."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        return result
