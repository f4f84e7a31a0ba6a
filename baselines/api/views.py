"""The baselines API: one baseline, the structured diff of two, and a resource's history and capture.

A resource's baselines are served under its URL: GET /resources/{id}/baselines, POST /resources/{id}/baseline.
"""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from drifts import diff as diff_engine
from drifts.services import triage
from driftwatch.api.errors import Conflict
from driftwatch.api.permissions import Access
from driftwatch.api.schema import errors
from driftwatch.api.serializers import EmptyBodySerializer
from providers.models import Resource

from ..models import Baseline
from ..services import DeclaredByCode
from .serializers import BaselineCompareSerializer, BaselineDetailSerializer, BaselineSerializer

ID_REGEX = r"[0-9]{1,18}"


@extend_schema_view(
    retrieve=extend_schema(summary="Get a baseline", responses={200: BaselineDetailSerializer, **errors(404)}),
)
class BaselineViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Captured configurations; a resource's history is at /resources/{id}/baselines."""

    queryset = Baseline.objects.select_related("captured_by").order_by("-captured_at", "-id")
    serializer_class = BaselineDetailSerializer
    lookup_value_regex = ID_REGEX
    filter_backends = []
    pagination_class = None

    @extend_schema(
        summary="Compare two baselines",
        description="The structured diff from baseline {id} to baseline {other_id} of the same resource: each "
        "change's `baseline` is the value in {id}, `current` the value in {other_id}. 400 when the two "
        "baselines belong to different resources.",
        responses={200: BaselineCompareSerializer, **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], url_path=rf"compare/(?P<other_id>{ID_REGEX})")
    def compare(self, request, pk=None, other_id=None):
        first = self.get_object()
        second = self.get_queryset().filter(pk=int(other_id)).first()
        if second is None:
            raise NotFound(f"Baseline {other_id} does not exist.")
        if first.resource_id != second.resource_id:
            raise ValidationError(
                {
                    "other_id": [
                        f"Baseline {second.pk} belongs to resource {second.resource_id}, not to resource "
                        f"{first.resource_id}; only baselines of one resource can be compared."
                    ]
                }
            )
        return Response(
            {
                "resource_id": first.resource_id,
                "from": BaselineSerializer(first).data,
                "to": BaselineSerializer(second).data,
                "changes": diff_engine.diff(first.config, second.config),
            }
        )


class ResourceBaselineViewSet(viewsets.GenericViewSet):
    """A resource's baselines: its history (GET .../baselines) and capturing a new one (POST .../baseline)."""

    serializer_class = BaselineSerializer
    filter_backends = []
    permission_model = Baseline  # reading the history needs baselines.view_baseline
    # Capturing resolves the resource's open drifts too: triage, with both permissions.
    required_access = {"capture": Access("triage", "baselines.add_baseline", "drifts.change_drift")}

    @extend_schema(
        operation_id="resources_baselines_list",
        tags=["resources"],
        summary="List a resource's baselines",
        description="The baseline history, newest first; the current one has is_current true.",
        responses={200: BaselineSerializer(many=True), **errors(400, 404)},
        filters=False,
    )
    def list(self, request, pk=None):
        resource = get_object_or_404(Resource.objects.only("pk"), pk=pk)
        queryset = (
            Baseline.objects.select_related("captured_by")
            .filter(resource_id=resource.pk)
            .defer("config")
            .order_by("-captured_at", "-id")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(BaselineSerializer(page, many=True).data)

    @extend_schema(
        operation_id="resources_baseline_create",
        tags=["resources"],
        summary="Capture a baseline",
        description="Makes the resource's current configuration its current baseline (the previous one stays "
        "as history) and resolves its open drifts (resolution baseline_captured), in one transaction.",
        request=EmptyBodySerializer,
        responses={201: BaselineDetailSerializer, **errors(400, 403, 404, 409)},
        filters=False,
    )
    def capture(self, request, pk=None):
        resource = get_object_or_404(Resource.objects.all(), pk=pk)
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        if resource.deleted_at is not None:
            raise Conflict(
                f"Resource {resource.pk} no longer exists in its account; there is no current configuration to "
                "capture.",
                code="resource_deleted",
            )
        try:
            baseline = triage.capture_baseline_and_resolve(resource, actor=request.user)
        except DeclaredByCode as exc:
            raise Conflict(str(exc), code="managed_by_terraform") from None
        baseline = Baseline.objects.select_related("captured_by").get(pk=baseline.pk)
        return Response(BaselineDetailSerializer(baseline).data, status=status.HTTP_201_CREATED)
