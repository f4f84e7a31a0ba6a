"""The baselines API: one baseline, and the structured diff between two baselines of one resource."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from drifts import diff as diff_engine
from driftwatch.api.schema import errors

from ..models import Baseline
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
