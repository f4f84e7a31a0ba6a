"""The ignore-rules API: accepted differences that create no drift. Changes need the admin scope and are audited."""

from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from driftwatch.api.filters import StrictBooleanFilter, text_filter
from driftwatch.api.permissions import Access
from driftwatch.api.schema import errors
from driftwatch.api.serializers import StrictSerializer, iso_utc
from providers.collectors import COLLECTORS

from ..models import IgnoreRule
from ..services import ignore_rules

# --- serializers --------------------------------------------------------------------------------------


class IgnoreRuleSerializer(serializers.Serializer):
    """An ignore rule as the API shows it."""

    id = serializers.IntegerField()
    resource_type = serializers.CharField(allow_null=True, help_text="null matches every resource type.")
    path_glob = serializers.CharField(help_text="Attribute path glob, e.g. Tags.* or Versioning.")
    name_glob = serializers.CharField(allow_null=True, help_text="Resource name glob; null matches every name.")
    expires_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField(help_text="false once expires_at has passed.")
    reason = serializers.CharField()
    created_by = serializers.CharField(allow_null=True, help_text="Username.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, rule) -> dict:
        return {
            "id": rule.pk,
            "resource_type": rule.resource_type or None,
            "path_glob": rule.path_glob,
            "name_glob": rule.name_glob or None,
            "expires_at": iso_utc(rule.expires_at),
            "active": rule.is_active,
            "reason": rule.reason,
            "created_by": rule.created_by.get_username() if rule.created_by_id else None,
            "created_at": iso_utc(rule.created_at),
            "updated_at": iso_utc(rule.updated_at),
        }


class IgnoreRuleWriteSerializer(StrictSerializer):
    """Body of POST (path_glob and reason required) and PATCH (any subset) on /ignore-rules."""

    resource_type = serializers.CharField(
        max_length=64,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="A collected resource type (e.g. s3_bucket); null or empty for every type.",
    )
    path_glob = serializers.CharField(max_length=512)
    name_glob = serializers.CharField(max_length=512, required=False, allow_null=True, allow_blank=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601, in the future.")
    reason = serializers.CharField(max_length=2000)

    def validate_resource_type(self, value: str | None) -> str:
        if not value:
            return ""
        if value not in COLLECTORS:
            raise serializers.ValidationError(
                f"Unknown resource type {value[:64]!r}; known types: {', '.join(sorted(COLLECTORS))}."
            )
        return value

    def validate_name_glob(self, value: str | None) -> str:
        return value or ""

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("expires_at must be in the future.")
        return value


# --- filters ------------------------------------------------------------------------------------------


class IgnoreRuleFilter(filters.FilterSet):
    resource_type = text_filter(64, field_name="resource_type", help_text="e.g. s3_bucket")
    active = StrictBooleanFilter(method="filter_active", help_text="true: rules that have not expired.")

    class Meta:
        model = IgnoreRule
        fields = []

    def filter_active(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.active() if value else queryset.expired()


# --- views --------------------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List ignore rules", responses={200: IgnoreRuleSerializer(many=True), **errors(400)}),
    retrieve=extend_schema(summary="Get an ignore rule", responses={200: IgnoreRuleSerializer, **errors(404)}),
)
class IgnoreRuleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Rules that silence known, accepted differences; they apply from the next scan on."""

    queryset = IgnoreRule.objects.select_related("created_by").order_by("id")
    serializer_class = IgnoreRuleSerializer
    filterset_class = IgnoreRuleFilter
    lookup_value_regex = r"[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    # A rule silences findings: changing rules is administration, not triage. Reads need drifts.view_ignorerule.
    required_access = {
        "create": Access("admin", "drifts.add_ignorerule"),
        "partial_update": Access("admin", "drifts.change_ignorerule"),
        "destroy": Access("admin", "drifts.delete_ignorerule"),
    }

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _detail(self, pk: int, status_code: int = status.HTTP_200_OK) -> Response:
        return Response(IgnoreRuleSerializer(self.get_queryset().get(pk=pk)).data, status=status_code)

    @extend_schema(
        summary="Create an ignore rule",
        request=IgnoreRuleWriteSerializer,
        responses={201: IgnoreRuleSerializer, **errors(400, 403)},
    )
    def create(self, request):
        body = IgnoreRuleWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = ignore_rules.create_ignore_rule(body.validated_data, request.user)
        return self._detail(rule.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update an ignore rule",
        request=IgnoreRuleWriteSerializer,
        responses={200: IgnoreRuleSerializer, **errors(400, 403, 404)},
    )
    def partial_update(self, request, pk=None):
        rule = self.get_object()
        body = IgnoreRuleWriteSerializer(rule, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        ignore_rules.update_ignore_rule(rule, body.validated_data, request.user)
        return self._detail(rule.pk)

    @extend_schema(summary="Delete an ignore rule", responses={204: None, **errors(403, 404)})
    def destroy(self, request, pk=None):
        ignore_rules.delete_ignore_rule(self.get_object(), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
