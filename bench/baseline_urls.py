"""The app's URLs plus /bench/...: each measured drifts endpoint as a bare Django view (`.values()` + orjson, no DRF).

Each view runs the SQL its API endpoint runs (the benchmark compares the statements and the bytes of both
before timing them), written the way one would by hand: no serializer, no FilterSet, no content negotiation.
They accept only what the benchmark sends and validate nothing beyond it.
"""

from datetime import timedelta

import orjson
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from drifts import counters
from drifts.models import Drift, DriftCount, DriftEvent
from drifts.services import triage
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
_DETAIL_VALUES = (
    *_VALUES,
    "provider_id",
    "path",
    "diff",
    "baseline_id",
    "baseline__captured_at",
    "job_id",
    "last_seen_at",
    "updated_at",
    "resolved_at",
    "resolution",
)
_EVENT_VALUES = ("from_status", "to_status", "actor__username", "note", "at")
# The filters the benchmark sends, in the order the API applies them; lists are comma-separated values.
_ID_FILTERS = {"provider_id": "provider_id", "resource_id": "resource_id"}
_CHOICE_FILTERS = {"severity": "severity", "type": "drift_type", "status": "status"}
_UNAUTHORIZED = {"error": {"code": "authentication_failed", "message": "Invalid token.", "details": {}}}


def _iso(value) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _user(request: HttpRequest):
    """The bearer token's user (the API's lookup and last_used_at write), or None."""
    header = request.headers.get("Authorization", "")
    raw = header[7:] if header.startswith("Bearer ") else ""
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_token(raw)).first() if raw else None
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(seconds=60):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def _counted(cleaned: dict):
    """(severity, status, n) from the trigger-kept counters for these filters (the API's source of totals)."""
    q = counters.counter_filter(cleaned)
    if q is None:
        return None
    return DriftCount.objects.filter(q).values_list("severity", "status").annotate(total=Sum("n"))


def _json(data, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), status=status, content_type="application/json")


def _unauthorized() -> HttpResponse:
    return _json(_UNAUTHORIZED, status=401)


def _list_item(row: dict) -> dict:
    return {
        "id": row["id"],
        "resource_id": row["resource_id"],
        "resource_name": row["resource__name"],
        "resource_type": row["resource_type"],
        "drift_type": row["drift_type"],
        "severity": row["severity"],
        "status": row["status"],
        "summary": row["summary"],
        "baseline_value": row["baseline_value"],
        "current_value": row["current_value"],
        "detected_at": _iso(row["detected_at"]),
    }


def bare_drift_list(request: HttpRequest) -> HttpResponse:
    """GET /bench/drifts?page=&per_page=&provider_id=&severity=&status=: token, total, page, orjson."""
    if _user(request) is None:
        return _unauthorized()
    params = request.GET
    page = int(params.get("page") or 1)
    per_page = min(int(params.get("per_page") or 20), 100)
    queryset = Drift.objects.order_by("-detected_at", "-id")
    cleaned: dict = {}
    for name, column in _ID_FILTERS.items():
        if params.get(name):
            cleaned[name] = int(params[name])
            queryset = queryset.filter(**{column: cleaned[name]})
    for name, column in _CHOICE_FILTERS.items():
        if params.get(name):
            cleaned[name] = params[name].split(",")
            values = cleaned[name]
            queryset = queryset.filter(**({column: values[0]} if len(values) == 1 else {f"{column}__in": values}))
    counted = _counted(cleaned)
    total = queryset.count() if counted is None else sum(n for _severity, _status, n in counted)
    offset = (page - 1) * per_page
    rows = queryset.values(*_VALUES)
    if offset >= total:
        page_rows = []
    elif offset < 1000:
        page_rows = list(rows[offset : offset + per_page])
    else:  # deep pages: the page's ids from the ordering's index first, then just those rows
        ids = list(queryset.values_list("pk", flat=True)[offset : offset + per_page])
        by_id = {row["id"]: row for row in rows.filter(pk__in=ids)}
        page_rows = [by_id[pk] for pk in ids if pk in by_id]
    meta = {"total": total, "page": page, "per_page": per_page}
    return _json({"data": [_list_item(r) for r in page_rows], "meta": meta})


def bare_drift_summary(request: HttpRequest) -> HttpResponse:
    """GET /bench/drifts/summary: token, the counters grouped by severity and status, orjson."""
    if _user(request) is None:
        return _unauthorized()
    by_severity = {"critical": 0, "high": 0, "medium": 0, "low": 0}
    by_status = {"detected": 0, "investigating": 0, "resolved": 0}
    for severity, status, n in _counted({}):
        by_severity[severity] += n
        by_status[status] += n
    return _json({"total": sum(by_status.values()), "by_severity": by_severity, "by_status": by_status})


def _detail(pk: int) -> HttpResponse:
    rows = list(Drift.objects.filter(pk=pk).values(*_DETAIL_VALUES)[:1])
    if not rows:
        return _json({"error": {"code": "not_found", "message": "Not found.", "details": {}}}, status=404)
    row = rows[0]
    events = DriftEvent.objects.filter(drift_id=pk).order_by("at", "id").values(*_EVENT_VALUES)
    data = _list_item(row)
    data.update(
        provider_id=row["provider_id"],
        path=row["path"],
        diff=row["diff"],
        baseline={"id": row["baseline_id"], "captured_at": _iso(row["baseline__captured_at"])}
        if row["baseline_id"] is not None
        else None,
        job_id=row["job_id"],
        last_seen_at=_iso(row["last_seen_at"]),
        updated_at=_iso(row["updated_at"]),
        resolved_at=_iso(row["resolved_at"]),
        resolution=row["resolution"],
        events=[
            {
                "from_status": e["from_status"],
                "to_status": e["to_status"],
                "actor": e["actor__username"],
                "note": e["note"],
                "at": _iso(e["at"]),
            }
            for e in events
        ],
    )
    return _json(data)


@csrf_exempt
def bare_drift(request: HttpRequest, pk: int) -> HttpResponse:
    """GET /bench/drifts/<id>: token, drift row, its events. PATCH: the same after a move through triage."""
    user = _user(request)
    if user is None:
        return _unauthorized()
    if request.method == "PATCH":
        body = orjson.loads(request.body)
        if body.get("status") not in {"investigating", "resolved"}:
            return _json({"error": {"code": "validation_error", "message": "Invalid status.", "details": {}}}, 400)
        drift = Drift.objects.only("id", "status", "resource_id").get(pk=pk)
        result = triage.move_drifts(
            [drift.pk], body["status"], actor=user, note=body.get("note", ""), expected={drift.pk: drift.status}
        )
        if not result.moved:
            return _json({"error": {"code": "invalid_transition", "message": "Conflict.", "details": {}}}, 409)
    return _detail(pk)


urlpatterns = [
    path("bench/drifts", bare_drift_list, name="bench-drifts"),
    path("bench/drifts/summary", bare_drift_summary, name="bench-drift-summary"),
    path("bench/drifts/<int:pk>", bare_drift, name="bench-drift"),
    path("", include("driftwatch.urls")),
]
