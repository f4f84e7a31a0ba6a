"""Token scopes: read tokens may only read; write tokens and staff sessions may also change things."""

from rest_framework import permissions

from driftwatch.models import ApiToken, TokenScope


def can_write(request) -> bool:
    """True for a write-scoped token or a staff session."""
    token = request.auth
    if isinstance(token, ApiToken):
        return token.scope == TokenScope.WRITE
    return bool(request.user and request.user.is_staff)


class TokenScopePermission(permissions.BasePermission):
    message = "This token has read scope; a write-scoped token is required."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return can_write(request)
