"""OpenAPI pieces shared by every endpoint: the error envelope and its standard responses."""

import copy
import threading

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.response import Response

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
    403: "The token's scope or the user's model permissions do not allow this (the message names the scope).",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict with the current state.",
    413: "The request body is larger than the endpoint accepts.",
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


class StrictSerializerScheme(OpenApiSerializerExtension):
    """Request bodies of StrictSerializer refuse unknown fields (400), so the schema closes them too."""

    target_class = "driftwatch.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        target = self.target
        if getattr(target, "partial", False) and not getattr(target, "partial_on_patch", True):
            # drf-spectacular marks every PATCH body partial; this one is validated whole.
            target = copy.copy(target)
            target.partial = False
        schema = auto_schema._map_serializer(target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


def allow_empty_query_values(result, generator, request, public):
    """Postprocessing hook: every query parameter treats an empty value as absent, so the schema says so."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query":
                    parameter["allowEmptyValue"] = True
    return result


class CachedSchemaView(SpectacularAPIView):
    """The public schema, generated once per process and version (a generation costs ~100 ms and the
    schema only changes with the code, so every later request is served from memory)."""

    _cache: dict = {}
    _lock = threading.Lock()

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, self.serve_public)
        with self._lock:
            data = self._cache.get(key)
            if data is None:
                generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
                data = self._cache[key] = generator.get_schema(request=request, public=self.serve_public)
        return Response(
            data=data, headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'}
        )
