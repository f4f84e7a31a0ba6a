"""Baselines, read-only: they are written by scans and by capture (drifts.services), never edited."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from driftwatch.admin_display import pretty_json
from driftwatch.admin_site import ReadOnlyAdminMixin

from .models import Baseline


@admin.register(Baseline)
class BaselineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Captured configurations; compare any two from the resource's page."""

    list_display = ("id", "resource_link", "source", "is_current", "captured_at", "captured_by")
    list_filter = ("source", "is_current")
    search_fields = ("resource__name",)
    list_select_related = ("resource", "captured_by")
    ordering = ("-captured_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "resource_link",
        "source",
        "is_current",
        "captured_at",
        "captured_by",
        "config_hash",
        "compare",
        "config_json",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "baselines_baseline_changelist":
            qs = qs.defer("config", "resource__config")
        return qs

    @admin.display(description="resource", ordering="resource__name")
    def resource_link(self, obj: Baseline) -> str:
        url = reverse("admin:providers_resource_change", args=[obj.resource_id])
        return format_html('<a href="{}">{}</a>', url, obj.resource.name)

    @admin.display(description="compare")
    def compare(self, obj: Baseline) -> str:
        url = reverse("admin:providers_resource_compare", args=[obj.resource_id])
        return format_html('<a href="{}?a={}&amp;b=current">with the current config</a>', url, obj.pk)

    @admin.display(description="configuration")
    def config_json(self, obj: Baseline) -> str:
        return pretty_json(obj.config)
