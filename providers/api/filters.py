"""Filters of GET /api/v1/providers and GET /api/v1/resources."""

from django.db.models import Exists
from django_filters import rest_framework as filters

from drifts.queries import open_drifts_of
from driftwatch.api.filters import IdFilter, StrictBooleanFilter, text_filter

from ..models import Provider, Resource


class ProviderFilter(filters.FilterSet):
    enabled = StrictBooleanFilter(field_name="enabled", help_text="true: providers that are scanned.")

    class Meta:
        model = Provider
        fields = []


class ResourceFilter(filters.FilterSet):
    provider_id = IdFilter(field_name="provider_id", help_text="Filter by provider ID.")
    resource_type = text_filter(64, field_name="resource_type", help_text="e.g. s3_bucket")
    region = text_filter(32, field_name="region", help_text="e.g. us-east-1, or global")
    search = text_filter(
        200, field_name="name", lookup_expr="icontains", help_text="Case-insensitive part of the name."
    )
    has_open_drifts = StrictBooleanFilter(
        method="filter_has_open_drifts", help_text="true: only resources with a detected or investigating drift."
    )
    deleted = StrictBooleanFilter(
        method="filter_deleted",
        help_text="Default false: live resources only. true: only resources that vanished from their account "
        "(or whose provider was deleted).",
    )

    class Meta:
        model = Resource
        fields = []

    def filter_queryset(self, queryset):
        # Live resources unless the client asks for deleted ones: a vanished bucket is history, not inventory.
        if self.form.cleaned_data.get("deleted") is None:
            queryset = queryset.filter(deleted_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_has_open_drifts(self, queryset, name, value):
        if value is None:
            return queryset
        open_drifts = open_drifts_of("resource_id")
        return queryset.filter(Exists(open_drifts)) if value else queryset.exclude(Exists(open_drifts))

    def filter_deleted(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(deleted_at__isnull=not value)
