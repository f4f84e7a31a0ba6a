"""The app's URLs plus /bench/drifts: the same list page from a bare Django view (`.values()` + orjson, no DRF)."""

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from drifts.models import Drift
from driftwatch.models import ApiToken, hash_token

# The list's columns, in the order the API document shows them.
_VALUES = (
    "id",
    "resource_id",
    "resource__name",
    "resource_type",
    "drift_type",
    "severity",
    "status",
    "summary",
    "baseline_value",
    "current_value",
    "detected_at",
)


def _total(queryset) -> int:
    """An unfiltered page's total the way the app keeps it (its counters module when present), else COUNT."""
    try:
        from drifts import counters
    except ImportError:
        return queryset.count()
    counted = counters.total({})
    return queryset.count() if counted is None else counted


def bare_drift_list(request: HttpRequest) -> HttpResponse:
    """GET /bench/drifts?page=&per_page=: bearer token lookup, one count, one page query, orjson."""
    header = request.headers.get("Authorization", "")
    raw = header[7:] if header.startswith("Bearer ") else ""
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first() if raw else None
    if token is None or not token.is_active or not token.user.is_active:
        return JsonResponse({"error": {"code": "not_authenticated"}}, status=401)
    page = int(request.GET.get("page") or 1)
    per_page = min(int(request.GET.get("per_page") or 20), 100)
    queryset = Drift.objects.order_by("-detected_at", "-id")
    total = _total(queryset)
    offset = (page - 1) * per_page
    rows = list(queryset.values(*_VALUES)[offset : offset + per_page]) if offset < total else []
    for row in rows:
        row["resource_name"] = row.pop("resource__name")
        row["detected_at"] = row["detected_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    body = orjson.dumps({"data": rows, "meta": {"total": total, "page": page, "per_page": per_page}})
    return HttpResponse(body, content_type="application/json")


urlpatterns = [
    path("bench/drifts", bare_drift_list, name="bench-drifts"),
    path("", include("driftwatch.urls")),
]
