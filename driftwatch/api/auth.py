"""Bearer token authentication, and session authentication for staff using the browsable API."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import router
from django.db.models import OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Concat
from django.utils import timezone
from rest_framework import authentication, exceptions

from driftwatch.db import JoinedText, PreparedQuery
from driftwatch.models import ApiToken, hash_token

# Writing last_used_at on every request would turn every read into a write; a minute is precise enough.
_LAST_USED_RESOLUTION = timedelta(seconds=60)


def _owner_permissions() -> Subquery:
    """The token owner's model permissions, held directly or through groups, as one "app.codename,..." column.

    Loaded with the token so that checking them (driftwatch/api/permissions.py) costs no query of its own.
    """
    owner = OuterRef(OuterRef("user_id"))
    direct = get_user_model().user_permissions.through.objects.filter(user_id=owner).values("permission_id")
    via_groups = Group.permissions.through.objects.filter(group__user=owner).values("permission_id")
    name = Concat("content_type__app_label", Value("."), "codename", output_field=TextField())
    names = (
        Permission.objects.filter(Q(pk__in=direct) | Q(pk__in=via_groups))
        .order_by()
        .annotate(all_rows=Value(1))
        .values("all_rows")  # a constant: one group, one row
        .annotate(joined=JoinedText(name))
        .values("joined")
    )
    return Subquery(names)


# The lookup every API request makes, compiled once (driftwatch.db.PreparedQuery): the row, its user and
# the owner's permissions are still read on every request, so revoking a token, deactivating its user or
# taking a permission away counts on the very next one.
_TOKEN_BY_HASH = PreparedQuery(
    lambda key_hash: (
        ApiToken.objects.select_related("user")
        .annotate(owner_permission_names=_owner_permissions())
        .filter(key_hash=key_hash)[:1]
    ),
    key_hash=str,
)


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
        rows = _TOKEN_BY_HASH.run(router.db_for_read(ApiToken), key_hash=hash_token(raw))
        token = rows[0] if rows else None
        if token is None or not token.is_active or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, revoked or expired token.")
        token.owner_permissions = frozenset(filter(None, (token.owner_permission_names or "").split(",")))
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
