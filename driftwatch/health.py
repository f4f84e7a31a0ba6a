"""Health probes: /healthz (the process answers) and /readyz (database and broker reachable)."""

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
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


@never_cache
@require_GET
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
