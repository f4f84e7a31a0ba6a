"""What every response under /api/ shares, whatever answers it: JSON errors, and never a cached copy."""

from django.core.exceptions import DisallowedHost
from django.http import JsonResponse

from .errors import error_body

_API_PREFIX = "/api/"


class ApiResponseMiddleware:
    """Outermost middleware for /api/: a disallowed Host gets the API's JSON 400 (not Django's HTML page,
    which under DEBUG is a 70 KB debug report), and every API response says `Cache-Control: no-store`
    (answers carry account configuration; no proxy or browser cache should keep them)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(_API_PREFIX):
            return self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost:
            response = JsonResponse(error_body("bad_request", "The Host header is not allowed."), status=400)
        else:
            response = self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response
