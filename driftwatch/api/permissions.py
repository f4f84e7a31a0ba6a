"""Who may do what through the API: every action needs a token scope and model permissions.

A view declares what its actions need in `required_access`, {action: Access(scope, *permissions)}. An action it
does not list needs, by default:
  - GET, HEAD, OPTIONS: the read scope and the view permission of the view's model;
  - POST, PUT, PATCH, DELETE: the admin scope and the add, change or delete permission of the view's model.
The view's model is its `permission_model`, else its queryset's model.

Every request is checked against both halves (ApiAccessPermission, the API's default permission class):
  - a token: its scope covers the action's scope (read < triage < admin), and its owner holds the permissions,
    so a token never does more than its owner may;
  - a session (staff only, see auth.py): the user holds the permissions, as the admin requires them.
Superusers hold every permission. A refusal is a 403 that names the scope and the permissions needed.
"""

from django.db.models import Model
from rest_framework import exceptions, permissions

from driftwatch.models import ApiToken, TokenScope
from driftwatch.roles import GROUP_NAMES


class Access:
    """What one action needs: a token scope and the model permissions ("app.codename") behind it."""

    __slots__ = ("scope", "permissions")

    def __init__(self, scope: str, *permissions: str):
        self.scope = TokenScope(scope)
        self.permissions = permissions

    def __repr__(self) -> str:
        return f"Access({self.scope.value!r}, {', '.join(map(repr, self.permissions))})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Access) and (self.scope, self.permissions) == (other.scope, other.permissions)

    def __hash__(self) -> int:
        return hash((self.scope, self.permissions))


class AccessDenied(exceptions.PermissionDenied):
    """403 in the API's error format; `details` says which scope and permissions were missing."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


_VERBS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def view_model(view) -> type[Model] | None:
    """The model whose permissions a view's undeclared actions need."""
    model = getattr(view, "permission_model", None)
    if model is None and getattr(view, "queryset", None) is not None:
        model = view.queryset.model
    return model


def required_access(view, request) -> Access | None:
    """What the request's action needs; None when the view declares nothing and has no model (superusers only)."""
    declared = getattr(view, "required_access", {})
    action = getattr(view, "action", None)
    if action in declared:
        return declared[action]
    method = request.method.upper()
    scope = TokenScope.READ if method in permissions.SAFE_METHODS else TokenScope.ADMIN
    model = view_model(view)
    verb = _VERBS.get(method)
    if model is None or verb is None:
        return None
    return Access(scope, f"{model._meta.app_label}.{verb}_{model._meta.model_name}")


def check_access(request, access: Access | None) -> None:
    """Raise AccessDenied unless the request's token scope and user permissions cover `access`."""
    user = request.user
    token = request.auth if isinstance(request.auth, ApiToken) else None
    if access is None:
        if user.is_superuser and (token is None or token.scope == TokenScope.ADMIN):
            return
        raise AccessDenied(
            "This endpoint declares no permission; only a superuser (with an admin token) may use it.",
            {"required_scope": TokenScope.ADMIN.value},
        )
    if token is not None and not TokenScope(token.scope).covers(access.scope):
        raise AccessDenied(
            f"This action needs a token with the {access.scope.value} scope; this token has the {token.scope} scope.",
            {"required_scope": access.scope.value, "token_scope": token.scope},
        )
    if user.is_superuser:
        return
    held = token.owner_permissions if token is not None else user.get_all_permissions()
    missing = [name for name in access.permissions if name not in held]
    if missing:
        whose = "The token's owner lacks" if token is not None else "You lack"
        plural = len(missing) > 1
        raise AccessDenied(
            f"This action needs the {access.scope.value} scope and the permission{'s' if plural else ''} "
            f"{', '.join(missing)}. {whose} {'them' if plural else 'it'}: the {GROUP_NAMES[access.scope]} group "
            f"grants {'them' if plural else 'it'}.",
            {"required_scope": access.scope.value, "missing_permissions": missing},
        )


class ApiAccessPermission(permissions.BasePermission):
    """The API's default permission class: the request's action must be within its token's scope and its user's
    model permissions (see the module docstring)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF answers 401 with the Bearer challenge
        if _not_handled(view, request):
            return True  # DRF answers 405 with the methods the route takes: nothing to guard
        check_access(request, required_access(view, request))
        return True


def _not_handled(view, request) -> bool:
    """True for a method this route does not take (TRACE on a list, POST on a read-only detail)."""
    method = request.method.lower()
    if method == "options":
        return False  # DRF's metadata answer, guarded like a read
    action_map = getattr(view, "action_map", None)
    if action_map is not None:
        return method not in action_map
    return not hasattr(view, method)
