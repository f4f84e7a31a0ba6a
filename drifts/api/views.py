"""The drifts API, as the user's document specifies it, and a resource's drifts (/resources/{id}/drifts)."""

from django.db.models import Count, Prefetch
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from baselines import services as baseline_services
from driftwatch.api.errors import Conflict
from driftwatch.api.schema import errors
from providers.models import Resource

from .. import counters
from ..models import TRANSITIONS, Drift, DriftEvent, DriftStatus, JobTrigger, Severity
from ..services import detection, triage
from .filters import DriftFilter
from .serializers import (
    DetectRequestSerializer,
    DetectResponseSerializer,
    DriftDetailSerializer,
    DriftPatchSerializer,
    DriftResolveSerializer,
    DriftSerializer,
    DriftSummarySerializer,
)

_LIST_FIELDS = (
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


def _illegal_move(drift_id: int, current: str) -> Conflict:
    allowed = list(TRANSITIONS[current])
    return Conflict(
        f"Drift {drift_id} is {current}; allowed next statuses: {', '.join(allowed) or 'none (resolved is final)'}.",
        code="invalid_transition",
        details={"current_status": current, "allowed_statuses": allowed},
    )


@extend_schema_view(
    list=extend_schema(summary="List drift findings", responses={200: DriftSerializer(many=True), **errors(400)}),
    retrieve=extend_schema(summary="Get drift details", responses={200: DriftDetailSerializer, **errors(404)}),
)
class DriftViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Drift findings: list, detail, status changes, resolution, summary and scans."""

    queryset = Drift.objects.select_related("resource").only(*_LIST_FIELDS).order_by("-detected_at", "-id")
    serializer_class = DriftSerializer
    filterset_class = DriftFilter
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        if self.action in {"list", "summary"}:
            return super().get_queryset()
        if self.action in {"partial_update", "resolve"}:
            # The move needs the status only; the answer is read afterwards by _detail.
            return Drift.objects.only("id", "status", "resource_id")
        return self._detail_queryset()

    @staticmethod
    def _detail_queryset():
        return (
            Drift.objects.select_related("resource", "baseline", "state_source")
            .only(
                *_LIST_FIELDS,
                "provider_id",
                "path",
                "diff",
                "baseline__id",
                "baseline__captured_at",
                "job_id",
                "last_seen_at",
                "updated_at",
                "resolved_at",
                "resolution",
                "managed_by",
                "tf_address",
                "tf_serial",
                "tf_finding",
                "state_source__id",
                "state_source__name",
            )
            .prefetch_related(
                Prefetch("events", queryset=DriftEvent.objects.select_related("actor").order_by("at", "id"))
            )
        )

    def filter_queryset(self, queryset):
        """Filters narrow the list and the summary (never a detail URL); one FilterSet per request."""
        self.filters = {}
        if self.action not in {"list", "summary"}:
            return queryset
        params = self.request.query_params
        if not any(name in params for name in self.filterset_class.base_filters):
            return queryset  # the common unfiltered page skips django-filter entirely
        filterset = self.filterset_class(params, queryset=queryset, request=self.request)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        self.filters = filterset.form.cleaned_data
        return filterset.qs

    def count_queryset(self, queryset) -> int:
        """meta.total from the trigger-kept counters when they can answer the filters, else COUNT(*)."""
        counted = counters.total(self.filters)
        return queryset.count() if counted is None else counted

    def get_serializer_class(self):
        return DriftDetailSerializer if self.action in {"retrieve", "partial_update", "resolve"} else DriftSerializer

    def _detail(self, pk: int) -> Response:
        drift = self._detail_queryset().get(pk=pk)
        return Response(DriftDetailSerializer(drift).data)

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
    filter_backends = []  # list() applies DriftFilter itself, once the resource is known to exist

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
        queryset = (
            Drift.objects.select_related("resource").filter(resource_id=resource.pk).order_by("-detected_at", "-id")
        )
        filterset = DriftFilter(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(DriftSerializer(page, many=True).data)
