"""The resource types DriftWatch collects, from the collector registry: as choices, and as an admin list filter."""

from django.contrib import admin

from .collectors import COLLECTORS


def resource_type_choices() -> list[tuple[str, str]]:
    """The collected resource types as (value, label) choices, sorted (no query)."""
    return [(name, name) for name in sorted(COLLECTORS)]


class ResourceTypeFilter(admin.SimpleListFilter):
    """Filter by resource type from the collector registry, not a SELECT DISTINCT over millions of rows."""

    title = "resource type"
    parameter_name = "resource_type"

    def lookups(self, request, model_admin):
        return resource_type_choices()

    def queryset(self, request, queryset):
        return queryset.filter(resource_type=self.value()) if self.value() else queryset
