"""The providers and resources API: connect accounts, browse what was read from them, capture baselines."""

import logging

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from baselines.models import Baseline
from drifts.models import OPEN_STATUSES, Drift, Severity
from driftwatch.api.errors import Conflict, error_body
from driftwatch.api.schema import ErrorSerializer, errors
from driftwatch.api.serializers import EmptyBodySerializer
from driftwatch.models import AuditEntry

from ..models import Provider, Resource
from ..services import ConnectionCheckFailed, test_connection
from .filters import ProviderFilter, ResourceFilter
from .serializers import (
    ConnectionTestSerializer,
    ProviderSerializer,
    ProviderWriteSerializer,
    ResourceDetailSerializer,
    ResourceSerializer,
    public_values,
)

logger = logging.getLogger(__name__)

ID_REGEX = r"[0-9]{1,18}"


def _count(queryset, group_by: str):
    """A correlated COUNT(*) subquery, 0 when no row matches: one query per page, never one per row."""
    # order_by() drops the model's default ordering, which would otherwise join the GROUP BY.
    counted = queryset.order_by().values(group_by).annotate(c=Count("*")).values("c")
    return Coalesce(Subquery(counted[:1]), 0)


def _providers():
    return Provider.objects.live().annotate(
        resource_count=_count(
            Resource.objects.filter(provider_id=OuterRef("pk"), deleted_at__isnull=True), "provider_id"
        ),
        open_drift_count=_count(
            Drift.objects.filter(provider_id=OuterRef("pk"), status__in=OPEN_STATUSES), "provider_id"
        ),
    )


def _audit_changes(before: dict, after: dict) -> dict:
    return {name: [before[name], after[name]] for name in after if before.get(name) != after[name]}


def _name_taken(name: str) -> ValidationError:
    return ValidationError({"name": [f"A provider named {name!r} already exists."]})


_CONNECTION_FAILED = OpenApiResponse(
    ErrorSerializer,
    description="The connection check failed (code connection_failed; the message says why), or the request "
    "had a body (validation_error).",
)


@extend_schema_view(
    list=extend_schema(summary="List providers", responses={200: ProviderSerializer(many=True), **errors(400)}),
    retrieve=extend_schema(summary="Get a provider", responses={200: ProviderSerializer, **errors(404)}),
)
class ProviderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Cloud accounts DriftWatch scans. Credentials are write-only; deleting is soft and keeps findings."""

    queryset = _providers().order_by("name", "id")
    serializer_class = ProviderSerializer
    filterset_class = ProviderFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def filter_queryset(self, queryset):
        # Filters narrow lists; they must not turn a detail URL into a 404.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _detail(self, pk: int, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(ProviderSerializer(_providers().get(pk=pk)).data, status=status_code)

    @extend_schema(
        summary="Connect a provider",
        request=ProviderWriteSerializer,
        responses={201: ProviderSerializer, **errors(400, 403)},
    )
    def create(self, request):
        body = ProviderWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        credentials = values.pop("credentials", None)
        provider = Provider(**values)
        provider.set_credentials(credentials)
        try:
            with transaction.atomic():
                provider.save()
                AuditEntry.record(
                    request.user,
                    "create",
                    provider,
                    {**public_values(provider), "credentials": "set" if credentials else "none"},
                )
        except IntegrityError:
            # Two requests racing for one name: the partial unique constraint decides, the client gets a 400.
            raise _name_taken(provider.name) from None
        return self._detail(provider.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update a provider",
        description='Any subset of the create body. `"credentials": null` clears stored credentials.',
        request=ProviderWriteSerializer,
        responses={200: ProviderSerializer, **errors(400, 403, 404)},
    )
    def partial_update(self, request, pk=None):
        provider = self.get_object()
        body = ProviderWriteSerializer(provider, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        before = public_values(provider)
        # Only the columns this request changes: a full save() would overwrite running_job or
        # last_scanned_at written by a scan since we read the row.
        update_fields = [name for name in values if name != "credentials"] + ["updated_at"]
        changes = {}
        if "credentials" in values:
            update_fields.append("credentials_encrypted")
            credentials = values.pop("credentials")
            changes["credentials"] = (
                "replaced" if credentials and provider.has_credentials else ("set" if credentials else "cleared")
            )
            provider.set_credentials(credentials)
        for name, value in values.items():
            setattr(provider, name, value)
        changes.update(_audit_changes(before, public_values(provider)))
        try:
            with transaction.atomic():
                provider.save(update_fields=update_fields)
                if changes:
                    AuditEntry.record(request.user, "update", provider, changes)
        except IntegrityError:
            raise _name_taken(provider.name) from None
        return self._detail(provider.pk)

    @extend_schema(
        summary="Delete a provider",
        description="Soft delete: the provider is disabled and hidden, its resources are marked deleted, and "
        "its drifts and jobs stay as history. Refused (409) while a scan of it is running.",
        responses={204: None, **errors(403, 404, 409)},
    )
    def destroy(self, request, pk=None):
        provider = self.get_object()
        now = timezone.now()
        with transaction.atomic():
            # Compare-and-swap against start_detection's claim of running_job: never delete under a scan.
            deleted = Provider.objects.filter(
                pk=provider.pk, deleted_at__isnull=True, running_job_id__isnull=True
            ).update(deleted_at=now, enabled=False, updated_at=now)
            if not deleted:
                job_id = Provider.objects.filter(pk=provider.pk).values_list("running_job_id", flat=True).first()
                if job_id is None:  # deleted by a concurrent request
                    raise NotFound()
                raise Conflict(
                    f"Provider {provider.pk} is being scanned by job {job_id}; delete it when the job has finished.",
                    code="scan_running",
                    details={"job_id": job_id},
                )
            Resource.objects.filter(provider_id=provider.pk, deleted_at__isnull=True).update(deleted_at=now)
            AuditEntry.record(request.user, "delete", provider, {"deleted_at": now.isoformat()})
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Test a provider's connection",
        description="Calls STS GetCallerIdentity with the provider's settings and credentials.",
        request=EmptyBodySerializer,
        responses={200: ConnectionTestSerializer, 400: _CONNECTION_FAILED, **errors(403, 404)},
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test(self, request, pk=None):
        provider = self.get_object()
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        try:
            identity = test_connection(provider)
        except ConnectionCheckFailed as exc:
            # The message is built from the AWS error code and text (or the endpoint check), never from settings.
            logger.info("provider connection test failed: %s", exc, extra={"provider_id": provider.pk})
            AuditEntry.record(request.user, "test", provider, {"ok": False})
            body = error_body("connection_failed", f"Connection check failed: {exc}", {"provider_id": provider.pk})
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        AuditEntry.record(request.user, "test", provider, {"ok": True, "account": identity["account"]})
        return Response({"ok": True, "account": identity["account"], "arn": identity["arn"]})


def _resources():
    return Resource.objects.annotate(
        open_drift_count=_count(
            Drift.objects.filter(resource_id=OuterRef("pk"), status__in=OPEN_STATUSES), "resource_id"
        ),
    )


_LIST_FIELDS = ("id", "provider_id", "resource_type", "external_id", "name", "region", "last_seen_at", "deleted_at")


@extend_schema_view(
    list=extend_schema(
        summary="List resources",
        description="Live resources unless `deleted` is given.",
        responses={200: ResourceSerializer(many=True), **errors(400)},
    ),
    retrieve=extend_schema(summary="Get a resource", responses={200: ResourceDetailSerializer, **errors(404)}),
)
class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Resources read from providers: their configuration, drifts and baseline history."""

    # The drifts and baselines APIs serve a resource's /drifts, /baselines and /baseline (capture).

    queryset = _resources().only(*_LIST_FIELDS).order_by("provider_id", "resource_type", "name", "id")
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            return super().get_queryset()
        return _resources()

    def filter_queryset(self, queryset):
        # Filters (and the default "live only") apply to the list, never to one resource's own URLs.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def retrieve(self, request, pk=None):
        resource = self.get_object()
        baseline = (
            Baseline.objects.select_related("captured_by").filter(resource_id=resource.pk, is_current=True).first()
        )
        counts = Drift.objects.filter(resource_id=resource.pk, status__in=OPEN_STATUSES).aggregate(
            **{s: Count("id", filter=Q(severity=s)) for s in Severity.values}
        )
        context = {"current_baseline": baseline, "open_drifts_by_severity": counts}
        return Response(ResourceDetailSerializer(resource, context=context).data)
