"""One error shape for the whole API: {"error": {"code", "message", "details"}}."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    """409: the request is valid but the resource's state does not allow it."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state of the resource."

    def __init__(self, message: str | None = None, *, code: str | None = None, details: dict | None = None):
        super().__init__(message or self.default_detail, code or self.default_code)
        self.details = details or {}


class PayloadTooLarge(Conflict):
    """413: the request body is larger than the endpoint accepts (same envelope, its own code)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is too large."


_CODES = {
    exceptions.ValidationError: "validation_error",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}
_CODES_BY_NAME = {"PayloadTooLarge": "payload_too_large"}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    """The error envelope every API error uses."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_message(detail) -> str:
    if isinstance(detail, dict) and detail:
        field = next(iter(detail))
        first = detail[field]
        text = first[0] if isinstance(first, list) and first else first
        if field == "non_field_errors":
            return str(text)
        return f"Invalid {field}: {text}" if not isinstance(text, dict) else f"Invalid {field}."
    if isinstance(detail, list) and detail:
        return str(detail[0])
    return "Invalid request."


def exception_handler(exc, context):
    """DRF exception handler producing the error envelope for every API error."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "The request body is too large."), status=413)
    elif isinstance(exc, SuspiciousOperation):
        return Response(error_body("bad_request", "The request was refused as malformed."), status=400)
    elif isinstance(exc, RecursionError):
        return Response(error_body("parse_error", "The request is nested too deeply."), status=400)
    if isinstance(exc, Conflict):
        return Response(
            error_body(exc.default_code if exc.detail.code is None else exc.detail.code, str(exc.detail), exc.details),
            status=exc.status_code,
        )
    if isinstance(exc, exceptions.APIException):
        code = _CODES_BY_NAME.get(type(exc).__name__) or next(
            (c for cls, c in _CODES.items() if isinstance(exc, cls)), "error"
        )
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.ValidationError):
            details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            body = error_body(code, _validation_message(exc.detail), details)
        elif isinstance(exc, exceptions.Throttled):
            body = error_body(code, "Request was throttled.", {"retry_after_seconds": exc.wait})
        else:
            body = error_body(code, str(exc.detail), getattr(exc, "details", None))
        return Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, DatabaseError) and "locked" in str(exc).lower():
        # SQLite busy past its timeout: the client may retry; never a 500 for contention.
        return Response(error_body("conflict", "The database is busy; retry the request."), status=409)
    logger.exception("unhandled API error", exc_info=exc)
    return Response(error_body("server_error", "Internal server error."), status=500)


@csrf_exempt
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Catch-all for unknown /api/ paths: JSON 404 even with DEBUG on (handler404 does not run then)."""
    return JsonResponse(error_body("not_found", f"No API endpoint at {request.path[:200]}."), status=404)
