"""The jobs API: detection runs with their progress, counters and errors (read-only)."""

from django.db.models import Exists, OuterRef, Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from driftwatch.api.filters import IdFilter, choice_filter
from driftwatch.api.schema import errors
from driftwatch.api.serializers import iso_utc

from ..models import DetectionJob, JobStatus, JobTrigger, JobUnit

# --- serializers --------------------------------------------------------------------------------------


class JobProgressSerializer(serializers.Serializer):
    scanned = serializers.IntegerField(help_text="Resources processed so far.")
    total = serializers.IntegerField(help_text="Resources listed so far (grows as units start).")
    percent = serializers.IntegerField(help_text="Share of units (region x resource type) finished; 100 when done.")
    units_done = serializers.IntegerField()
    units_total = serializers.IntegerField()


class JobCountersSerializer(serializers.Serializer):
    drifts_new = serializers.IntegerField()
    drifts_updated = serializers.IntegerField()
    drifts_resolved = serializers.IntegerField()


class JobErrorSerializer(serializers.Serializer):
    provider_id = serializers.IntegerField(allow_null=True)
    region = serializers.CharField(allow_null=True)
    resource_type = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class JobSerializer(serializers.Serializer):
    """A detection job, in lists and on its own."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    trigger = serializers.ChoiceField(choices=JobTrigger.choices)
    provider_id = serializers.IntegerField(allow_null=True, help_text="null for a scan of every enabled provider.")
    requested_by = serializers.CharField(allow_null=True, help_text="Username; null for the scheduler.")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    progress = JobProgressSerializer()
    counters = JobCountersSerializer()
    errors = JobErrorSerializer(many=True)
    warnings = JobErrorSerializer(
        many=True, help_text="Problems that did not change the result, e.g. attribution unavailable: <reason>."
    )

    def to_representation(self, job) -> dict:
        return {
            "id": job.pk,
            "status": job.status,
            "trigger": job.trigger,
            "provider_id": job.provider_id,
            "requested_by": job.requested_by.get_username() if job.requested_by_id else None,
            "started_at": iso_utc(job.started_at),
            "finished_at": iso_utc(job.finished_at),
            "progress": {
                "scanned": job.resources_scanned,
                "total": job.resources_total,
                "percent": job.percent,
                "units_done": job.units_done,
                "units_total": job.units_total,
            },
            "counters": {
                "drifts_new": job.drifts_new,
                "drifts_updated": job.drifts_updated,
                "drifts_resolved": job.drifts_resolved,
            },
            "errors": [_error(entry) for entry in job.errors or []],
            "warnings": [_error(entry) for entry in job.warnings or []],
        }


def _error(entry) -> dict:
    if not isinstance(entry, dict):  # tolerate a bare message, whoever wrote it
        return {"provider_id": None, "region": None, "resource_type": None, "message": str(entry)}
    return {
        "provider_id": entry.get("provider_id"),
        "region": entry.get("region"),
        "resource_type": entry.get("resource_type"),
        "message": str(entry.get("message", "")),
    }


# --- filters ------------------------------------------------------------------------------------------


class JobFilter(filters.FilterSet):
    status = choice_filter(
        JobStatus.choices,
        field_name="status",
        help_text="running, succeeded, partial or failed; several comma-separated.",
    )
    trigger = choice_filter(
        JobTrigger.choices,
        field_name="trigger",
        help_text="api, schedule, admin or cli; several comma-separated.",
    )
    provider_id = IdFilter(
        method="filter_provider", help_text="Jobs that scanned this provider (alone or with others)."
    )

    class Meta:
        model = DetectionJob
        fields = []

    def filter_provider(self, queryset, name, value):
        if value is None:
            return queryset
        # A scan of every provider has no provider_id of its own; its units say whom it covered.
        covered = JobUnit.objects.filter(job_id=OuterRef("pk"), provider_id=value)
        return queryset.filter(Q(provider_id=value) | Exists(covered))


# --- views --------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List detection jobs", responses={200: JobSerializer(many=True), **errors(400)}),
    retrieve=extend_schema(summary="Get a detection job", responses={200: JobSerializer, **errors(404)}),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Detection jobs, newest first. Start one with POST /drifts/detect."""

    queryset = DetectionJob.objects.select_related("requested_by").order_by("-started_at", "-id")
    serializer_class = JobSerializer
    filterset_class = JobFilter
    lookup_value_regex = r"[0-9]{1,18}"

    def filter_queryset(self, queryset):
        # Filters narrow lists; they must not turn a detail URL into a 404.
        return super().filter_queryset(queryset) if self.action == "list" else queryset
