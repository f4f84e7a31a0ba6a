"""OpenAPI pieces shared by every endpoint: the error envelope and its standard responses."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)

_DESCRIPTIONS = {
    400: "Invalid input; details names each offending field or parameter.",
    401: "Missing, malformed, unknown, revoked or expired token.",
    403: "The token's scope does not allow this.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict with the current state.",
    429: "Too many requests for this token.",
}


def errors(*codes: int) -> dict:
    """Error responses for extend_schema(responses=...), 401 and 429 always included."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]) for code in sorted({401, 429, *codes})
    }


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents BearerTokenAuthentication as the bearerAuth scheme (registered on import)."""

    target_class = "driftwatch.api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "dw_..."}


class StaffSessionScheme(OpenApiAuthenticationExtension):
    """Documents StaffSessionAuthentication: the admin's session cookie (staff users, with CSRF)."""

    target_class = "driftwatch.api.auth.StaffSessionAuthentication"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
