"""The drifts API, as the user's document specifies it, and a resource's drifts (/resources/{id}/drifts)."""

from django.db import router
from django.db.models import Count
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from baselines import services as baseline_services
from driftwatch.api.errors import Conflict
from driftwatch.api.permissions import Access, check_access
from driftwatch.api.schema import errors
from driftwatch.db import PreparedQuery
from providers.models import Resource

from .. import counters, export
from ..models import TRANSITIONS, Drift, DriftEvent, DriftStatus, JobTrigger, Severity
from ..services import detection, triage
from .filters import DRIFT_FILTERS, DriftFilter
from .serializers import (
    DetectRequestSerializer,
    DetectResponseSerializer,
    DriftDetailSerializer,
    DriftPatchSerializer,
    DriftResolveSerializer,
    DriftSerializer,
    DriftSummarySerializer,
)


def _illegal_move(drift_id: int, current: str) -> Conflict:
    allowed = list(TRANSITIONS[current])
    return Conflict(
        f"Drift {drift_id} is {current}; allowed next statuses: {', '.join(allowed) or 'none (resolved is final)'}.",
        code="invalid_transition",
        details={"current_status": current, "allowed_statuses": allowed},
    )


# The detail's two queries, compiled once (the rows are read on every request).
_DETAIL_ROW = PreparedQuery(lambda pk: Drift.objects.filter(pk=pk).values(*DriftDetailSerializer.VALUES)[:1], pk=int)
_DETAIL_EVENTS = PreparedQuery(
    lambda pk: DriftEvent.objects.filter(drift_id=pk).order_by("at", "id").values(*DriftDetailSerializer.EVENT_VALUES),
    pk=int,
)


def drift_detail_row(pk: int) -> dict | None:
    """One drift as DriftDetailSerializer reads it: its row and its events, in two queries; None if absent."""
    using = router.db_for_read(Drift)
    rows = _DETAIL_ROW.run(using, pk=pk)
    if not rows:
        return None
    row = rows[0]
    row["events"] = _DETAIL_EVENTS.run(using, pk=pk)
    return row


@extend_schema_view(
    list=extend_schema(summary="List drift findings", responses={200: DriftSerializer(many=True), **errors(400)}),
    retrieve=extend_schema(summary="Get drift details", responses={200: DriftDetailSerializer, **errors(404)}),
)
class DriftViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Drift findings: list, detail, status changes, resolution, summary and scans."""

    queryset = Drift.objects.order_by("-detected_at", "-id")
    serializer_class = DriftSerializer
    filterset_class = DriftFilter
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "head", "options"]
    # Reads need the read scope and drifts.view_drift (the default). Triage moves drifts and starts scans.
    required_access = {
        "partial_update": Access("triage", "drifts.change_drift"),
        "resolve": Access("triage", "drifts.change_drift"),  # with capture_baseline, baselines.add_baseline too
        "detect": Access("triage", "drifts.add_detectionjob"),
    }
    # Pages are read as .values() rows (PagePagination), never built from model instances.
    page_values = DriftSerializer.VALUES

    def get_queryset(self):
        if self.action in {"partial_update", "resolve"}:
            # The move needs the status only; the answer is read afterwards by _detail.
            return Drift.objects.only("id", "status", "resource_id")
        return super().get_queryset()

    def filter_queryset(self, queryset):
        """Filters narrow the list and the summary (never a detail URL), resolved without a FilterSet."""
        self.filters = {}
        if self.action not in {"list", "summary", "export"}:
            return queryset
        queryset, self.filters = DRIFT_FILTERS.resolve(self.request.query_params, queryset)
        return queryset

    def prepared_page(self, offset: int, limit: int) -> list[dict] | None:
        """The list's shallow pages from SQL compiled once per shape of filters (PagePagination asks)."""
        if self.action != "list":
            return None
        return DRIFT_FILTERS.prepared_page(super().get_queryset, self.filters, self.page_values, offset, limit)

    def count_queryset(self, queryset) -> int:
        """meta.total from the trigger-kept counters when they can answer the filters, else COUNT(*)."""
        counted = counters.total(self.filters)
        return queryset.count() if counted is None else counted

    def get_serializer_class(self):
        return DriftDetailSerializer if self.action in {"retrieve", "partial_update", "resolve"} else DriftSerializer

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(DriftSerializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        # The detail fast path: two .values() queries, no instances, no prefetch machinery. Object
        # permissions still run, on the row (get_object would run them on an instance).
        row = drift_detail_row(int(kwargs[self.lookup_field]))
        if row is None:
            raise NotFound()
        self.check_object_permissions(request, row)
        return Response(DriftDetailSerializer(row).data)

    def _detail(self, pk: int) -> Response:
        row = drift_detail_row(pk)
        if row is None:
            raise NotFound()
        return Response(DriftDetailSerializer(row).data)

    @extend_schema(
        summary="Update drift status",
        request=DriftPatchSerializer,
        responses={200: DriftDetailSerializer, **errors(400, 403, 404, 409)},
    )
    def partial_update(self, request, pk=None):
        drift = self.get_object()
        body = DriftPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = triage.move_drifts(
            [drift.pk],
            body.validated_data["status"],
            actor=request.user,
            note=body.validated_data.get("note", ""),
            expected={drift.pk: drift.status},
        )
        if not result.moved:
            raise _illegal_move(drift.pk, result.refused.get(drift.pk, drift.status))
        return self._detail(drift.pk)

    @extend_schema(
        summary="Resolve a drift",
        request=DriftResolveSerializer,
        responses={200: DriftDetailSerializer, **errors(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        drift = self.get_object()
        body = DriftResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = body.validated_data.get("note", "")
        if body.validated_data["capture_baseline"]:
            check_access(request, Access("triage", "baselines.add_baseline"))
            try:
                result = triage.resolve_with_baseline(
                    drift, actor=request.user, note=note, expected_status=drift.status
                )
            except baseline_services.DeclaredByCode as exc:
                raise Conflict(str(exc), code="managed_by_terraform") from None
        else:
            result = triage.move_drifts(
                [drift.pk], DriftStatus.RESOLVED, actor=request.user, note=note, expected={drift.pk: drift.status}
            )
        if not result.moved:
            raise _illegal_move(drift.pk, result.refused.get(drift.pk, drift.status))
        return self._detail(drift.pk)

    @extend_schema(
        summary="Get drift summary",
        responses={200: DriftSummarySerializer, **errors(400)},
    )
    @action(detail=False, methods=["get"])
    def summary(self, request):
        qs = self.filter_queryset(Drift.objects.all())
        by_severity = dict.fromkeys(Severity.values, 0)
        by_status = dict.fromkeys(DriftStatus.values, 0)
        rows = counters.grouped(self.filters)
        if rows is None:  # filters the counters cannot answer: one aggregate query over the drifts
            rows = qs.values_list("severity", "status").annotate(n=Count("id")).order_by()
        for severity, status_, n in rows:
            by_severity[severity] += n
            by_status[status_] += n
        return Response({"total": sum(by_status.values()), "by_severity": by_severity, "by_status": by_status})

    def perform_content_negotiation(self, request, force=False):
        """The export answers CSV or NDJSON itself; its `format` parameter is not DRF's renderer override,
        and its errors are JSON in the API's error format like every other endpoint's (405 for a method the
        route does not take, whose action is None: hence the route's action map)."""
        if "export" in getattr(self, "action_map", {}).values():
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="Export drift findings",
        description=(
            "Every finding matching the list's filters, newest first, streamed as CSV (with a header row) or "
            "NDJSON (one JSON object per line). Columns: the list's, then provider_id, provider_name, path, "
            "resolution and resolved_at. CSV text cells that a spreadsheet would read as a formula (starting "
            "with =, +, -, @, tab or carriage return) are prefixed with a single quote. No pagination."
        ),
        parameters=[
            OpenApiParameter(
                "format", OpenApiTypes.STR, enum=[*export.FORMATS], default="csv", description="csv or ndjson"
            )
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV, RFC 4180, UTF-8."),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="One object per line."),
            **errors(400),
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request):
        fmt = request.query_params.get("format") or "csv"
        if fmt not in export.FORMATS:
            raise ValidationError({"format": [f"Unknown format {fmt[:40]!r}; allowed: {', '.join(export.FORMATS)}."]})
        queryset = self.filter_queryset(Drift.objects.order_by("-detected_at", "-id"))
        response = StreamingHttpResponse(
            (chunk.encode() for chunk in export.lines(queryset, fmt)), content_type=export.CONTENT_TYPES[fmt]
        )
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="drifts-{stamp}.{fmt}"'
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(
        summary="Trigger a drift scan",
        request=DetectRequestSerializer,
        responses={
            202: OpenApiResponse(DetectResponseSerializer, description="Scan started, or already running."),
            **errors(400, 403, 404, 409),
        },
    )
    @action(detail=False, methods=["post"])
    def detect(self, request):
        body = DetectRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            job, created = detection.start_detection(
                trigger=JobTrigger.API, provider_id=body.validated_data.get("provider_id"), user=request.user
            )
        except detection.ProviderNotFound as exc:
            raise NotFound(str(exc)) from None
        except detection.DetectionError as exc:
            raise Conflict(str(exc), code=exc.code) from None
        message = "Drift detection scan started" if created else "Drift detection scan already running"
        return Response({"job_id": job.pk, "status": job.status, "message": message}, status=status.HTTP_202_ACCEPTED)


class ResourceDriftViewSet(viewsets.GenericViewSet):
    """A resource's drifts (served under /resources/{id}/drifts, documented with the resources)."""

    serializer_class = DriftSerializer
    page_values = DriftSerializer.VALUES
    filter_backends = []  # list() applies DriftFilter itself, once the resource is known to exist
    permission_model = Drift  # reading needs drifts.view_drift

    @extend_schema(
        operation_id="resources_drifts_list",
        tags=["resources"],
        summary="List a resource's drifts",
        description="Newest first; accepts the filters of GET /drifts (status, severity, type, ...).",
        responses={200: DriftSerializer(many=True), **errors(400, 404)},
        filters=False,
    )
    def list(self, request, pk=None):
        resource = get_object_or_404(Resource.objects.only("pk"), pk=pk)
        queryset = Drift.objects.filter(resource_id=resource.pk).order_by("-detected_at", "-id")
        filterset = DriftFilter(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(DriftSerializer(page, many=True).data)
