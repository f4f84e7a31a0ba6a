"""Bearer token authentication, and session authentication for staff using the browsable API."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from driftwatch.models import ApiToken, hash_token

# Writing last_used_at on every request would turn every read into a write; a minute is precise enough.
_LAST_USED_RESOLUTION = timedelta(seconds=60)


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
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first()
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
