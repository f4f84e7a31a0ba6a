"""The providers and resources API: connect accounts, browse what was read from them, capture baselines."""

from django.db.models import Count, OuterRef, Q
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from baselines.models import Baseline
from drifts.models import OPEN_STATUSES, Drift, Severity
from drifts.queries import open_drift_count
from driftwatch.api.errors import Conflict, error_body
from driftwatch.api.permissions import Access
from driftwatch.api.schema import ErrorSerializer, errors
from driftwatch.api.serializers import EmptyBodySerializer
from driftwatch.db import subquery_count

from .. import services
from ..models import Provider, Resource
from .filters import ProviderFilter, ResourceFilter
from .serializers import (
    ConnectionTestSerializer,
    ProviderSerializer,
    ProviderWriteSerializer,
    ResourceDetailSerializer,
    ResourceSerializer,
)

ID_REGEX = r"[0-9]{1,18}"


def _providers():
    return Provider.objects.live().annotate(
        resource_count=subquery_count(
            Resource.objects.filter(provider_id=OuterRef("pk"), deleted_at__isnull=True), "provider_id"
        ),
        open_drift_count=open_drift_count("provider_id"),
    )


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
    # Endpoints and credentials are administration; the connection check calls out with them. Reads need
    # providers.view_provider.
    required_access = {
        "create": Access("admin", "providers.add_provider"),
        "partial_update": Access("admin", "providers.change_provider"),
        "destroy": Access("admin", "providers.delete_provider"),
        "test": Access("admin", "providers.change_provider"),
    }

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
        try:
            provider = services.create_provider(values, credentials, request.user)
        except services.ProviderNameTaken as exc:
            # Two requests racing for one name: the one that lost at the database gets a 400, not a 500.
            raise ValidationError({"name": [str(exc)]}) from None
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
        credentials = values.pop("credentials", services.UNCHANGED)
        try:
            services.update_provider(provider, values, request.user, credentials=credentials)
        except services.ProviderNameTaken as exc:
            raise ValidationError({"name": [str(exc)]}) from None
        return self._detail(provider.pk)

    @extend_schema(
        summary="Delete a provider",
        description="Soft delete: the provider is disabled and hidden, its resources are marked deleted, and "
        "its drifts and jobs stay as history. Refused (409) while a scan of it is running.",
        responses={204: None, **errors(403, 404, 409)},
    )
    def destroy(self, request, pk=None):
        provider = self.get_object()
        try:
            services.delete_provider(provider, request.user)
        except services.ProviderGone:
            raise NotFound() from None
        except services.ProviderBusy as exc:
            raise Conflict(str(exc), code="scan_running", details={"job_id": exc.job_id}) from None
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
            identity = services.check_connection(provider, request.user)
        except services.ConnectionCheckFailed as exc:
            body = error_body("connection_failed", f"Connection check failed: {exc}", {"provider_id": provider.pk})
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response({"ok": True, "account": identity["account"], "arn": identity["arn"]})


def _resources():
    return Resource.objects.annotate(open_drift_count=open_drift_count("resource_id"))


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
