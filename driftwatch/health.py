"""Health probes: /healthz (the process answers) and /readyz (database and broker reachable)."""

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)


def require_get(view):
    """GET and HEAD only; anything else a JSON 405 (not Django's HTML, nor a CSRF 403 for a POST)."""

    def wrapped(request, *args, **kwargs):
        if request.method not in {"GET", "HEAD"}:
            response = JsonResponse(
                {
                    "error": {
                        "code": "method_not_allowed",
                        "message": f'Method "{request.method[:20]}" not allowed.',
                        "details": {},
                    }
                },
                status=405,
            )
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    wrapped.__name__, wrapped.__doc__ = view.__name__, view.__doc__
    return csrf_exempt(wrapped)


@require_get
@never_cache
def healthz(request) -> JsonResponse:
    """Liveness: the process serves requests."""
    return JsonResponse({"status": "ok"})


def _broker_ok() -> bool:
    from driftwatch.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log only
        logger.warning("readiness: broker unreachable: %s", type(exc).__name__)
        return False


@require_get
@never_cache
def readyz(request) -> JsonResponse:
    """Readiness: database and broker reachable. Says which is down, never why (no details leak)."""
    checks = {"database": True, "broker": _broker_ok()}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        logger.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = False
    ok = all(checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
