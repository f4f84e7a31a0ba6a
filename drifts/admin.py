"""Triage in the Django admin: drifts (bulk and per-drift moves through drifts.services), jobs, ignore rules."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from baselines import services as baseline_services
from driftwatch.admin_display import badge, pretty_json, progress_bar
from driftwatch.admin_site import ReadOnlyAdminMixin
from providers.resource_types import ResourceTypeFilter, resource_type_choices

from . import export
from .admin_dashboard import dashboard_context
from .admin_paginator import EstimatedCountPaginator
from .models import (
    OPEN_STATUSES,
    TRANSITIONS,
    AttributionStatus,
    DetectionJob,
    Drift,
    DriftStatus,
    IgnoreRule,
    JobUnit,
    Resolution,
)
from .services import ignore_rules, triage
from .sidebyside import side_by_side

# The admin index opens with the triage summary.
admin.site.add_index_panel("dashboard", "admin/drifts/dashboard.html", lambda request: dashboard_context())


def _export_response(queryset, fmt: str) -> StreamingHttpResponse:
    """The admin's export: the API's rows and format (drifts.export), newest first, as a download."""
    rows = queryset.order_by("-detected_at", "-id")
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in export.lines(rows, fmt)), content_type=export.CONTENT_TYPES[fmt]
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="drifts-{stamp}.{fmt}"'
    return response


def report_moves(request: HttpRequest, moved: list[int], refused: dict[int, str], verb: str = "moved") -> None:
    """One admin message for a bulk move: how many moved, and which could not and why."""
    text = f"{len(moved)} {verb}"
    if refused:
        reasons = ", ".join(f"#{pk} is {status}" for pk, status in sorted(refused.items()))
        text += f"; {len(refused)} could not: {reasons}"
    if not refused:
        level = messages.SUCCESS
    elif moved:
        level = messages.WARNING
    else:
        level = messages.ERROR
    messages.add_message(request, level, text + ".")


class ChangedByFilter(admin.SimpleListFilter):
    """Filter by actor: the most frequent recent actors as choices; ?changed_by=<text> matches any substring."""

    title = "changed by"
    parameter_name = "changed_by"
    # Choices come from the newest attributed drifts only, so the sidebar never scans the whole table.
    SAMPLE = 1000

    def lookups(self, request, model_admin):
        recent = (
            Drift.objects.filter(attribution_status=AttributionStatus.ATTRIBUTED)
            .order_by("-id")
            .values_list("changed_by__actor", flat=True)[: self.SAMPLE]
        )
        counts: dict[str, int] = {}
        for actor in recent:
            if actor:
                counts[actor] = counts.get(actor, 0) + 1
        top = sorted(counts, key=lambda a: (-counts[a], a))[:20]
        current = self.value()
        if current and current not in top:
            top.append(current)  # a typed-in value stays visible as the selected choice
        return [(actor, actor) for actor in top]

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()[:200]
        return queryset.filter(changed_by__actor__icontains=value) if value else queryset


@admin.register(Drift)
class DriftAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Findings, newest first; read-only except triage moves, which go through drifts.services."""

    list_display = (
        "id",
        "severity_and_type",
        "summary",
        "status_badge",
        "resource_cell",
        "provider",
        "changed_by_cell",
        "age",
    )
    list_display_links = ("id", "summary")
    list_filter = (
        "severity",
        "drift_type",
        "status",
        "provider",
        ResourceTypeFilter,
        ChangedByFilter,
        "attribution_status",
        "managed_by",
        "tf_finding",
        ("detected_at", admin.DateFieldListFilter),
    )
    search_fields = ("resource__name", "summary")
    search_help_text = "Search resource names and summaries."
    ordering = ("-detected_at", "-id")
    list_select_related = ("resource", "provider")
    list_per_page = 50
    paginator = EstimatedCountPaginator
    # The "N total" link runs an unfiltered COUNT(*) on every page view: not on a table of millions.
    show_full_result_count = False
    actions = ("start_investigating", "resolve", "resolve_with_baseline", "export_csv", "export_ndjson")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "summary",
                    "severity_badge",
                    "status_badge",
                    "drift_type",
                    "path",
                    "resource_link",
                    "provider",
                    "resource_type",
                )
            },
        ),
        ("Values", {"fields": ("baseline_value_json", "current_value_json")}),
        ("Terraform", {"fields": ("managed_by", "tf_finding", "state_source", "tf_address", "tf_serial")}),
        (
            "Timeline",
            {
                "fields": (
                    "detected_at",
                    "last_seen_at",
                    "updated_at",
                    "resolved_at",
                    "resolved_by",
                    "resolution",
                    "job_link",
                    "baseline_link",
                )
            },
        ),
    )
    # Everything shown is read-only: status changes only through the triage actions.
    readonly_fields = flatten_fieldsets(fieldsets)

    # --- permissions: the page is read-only, triage is its own permission -----------------------------

    def has_triage_permission(self, request) -> bool:
        return request.user.has_perm("drifts.change_drift")

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "drifts_drift_changelist":
            # A list row needs none of the JSON documents; a resource config can be large.
            qs = qs.defer("resource__config", "diff", "baseline_value", "current_value", "attribution_event")
        return qs

    # --- list columns ------------------------------------------------------------------------------------

    @admin.display(description="severity", ordering="severity")
    def severity_badge(self, obj: Drift) -> str:
        return badge(obj.severity, obj.get_severity_display())

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Drift) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="severity / type", ordering="severity")
    def severity_and_type(self, obj: Drift) -> str:
        # Type under the badge: one column fewer, so the list fits next to the filter sidebar.
        return format_html(
            '{}<br><span class="dw-muted">{}</span>',
            badge(obj.severity, obj.get_severity_display()),
            obj.get_drift_type_display(),
        )

    @admin.display(description="resource", ordering="resource__name")
    def resource_link(self, obj: Drift) -> str:
        url = reverse("admin:providers_resource_change", args=[obj.resource_id])
        return format_html('<a href="{}">{}</a>', url, obj.resource.name)

    @admin.display(description="resource", ordering="resource__name")
    def resource_cell(self, obj: Drift) -> str:
        # Name and type in one cell: the list has many columns next to the filter sidebar.
        url = reverse("admin:providers_resource_change", args=[obj.resource_id])
        return format_html(
            '<a href="{}">{}</a><br><span class="dw-muted">{}</span>', url, obj.resource.name, obj.resource_type
        )

    @admin.display(description="changed by")
    def changed_by_cell(self, obj: Drift) -> str:
        if obj.changed_by:
            return format_html(
                '{}<br><span class="dw-muted">{}</span>', obj.changed_by.get("actor"), obj.changed_by.get("event_name")
            )
        return format_html('<span class="dw-muted">{}</span>', obj.get_attribution_status_display())

    @admin.display(description="age", ordering="detected_at")
    def age(self, obj: Drift) -> str:
        return format_html(
            '<span title="{}">{}</span>', obj.detected_at.isoformat(), timesince(obj.detected_at, depth=1)
        )

    @admin.display(description="baseline value")
    def baseline_value_json(self, obj: Drift) -> str:
        return pretty_json(obj.baseline_value)

    @admin.display(description="current value")
    def current_value_json(self, obj: Drift) -> str:
        return pretty_json(obj.current_value)

    @admin.display(description="job")
    def job_link(self, obj: Drift) -> str:
        if obj.job_id is None:
            return "—"
        return format_html(
            '<a href="{}">job #{}</a>', reverse("admin:drifts_detectionjob_change", args=[obj.job_id]), obj.job_id
        )

    @admin.display(description="baseline")
    def baseline_link(self, obj: Drift) -> str:
        if obj.baseline_id is None:
            return "—"
        url = reverse("admin:baselines_baseline_change", args=[obj.baseline_id])
        return format_html('<a href="{}">baseline #{}</a>', url, obj.baseline_id)

    # --- bulk actions: the one state machine ------------------------------------------------------------

    @admin.action(description="Start investigating selected drifts", permissions=["triage"])
    def start_investigating(self, request, queryset):
        result = triage.move_drifts(
            list(queryset.values_list("pk", flat=True)), DriftStatus.INVESTIGATING, actor=request.user
        )
        report_moves(request, result.moved, result.refused)

    @admin.action(description="Resolve selected drifts", permissions=["triage"])
    def resolve(self, request, queryset):
        result = triage.move_drifts(
            list(queryset.values_list("pk", flat=True)),
            DriftStatus.RESOLVED,
            actor=request.user,
            resolution=Resolution.MANUAL,
        )
        report_moves(request, result.moved, result.refused)

    @admin.action(description="Resolve and capture baseline", permissions=["triage"])
    def resolve_with_baseline(self, request, queryset):
        result = triage.resolve_drifts_with_baseline(list(queryset.values_list("pk", flat=True)), request.user)
        report_moves(request, result.moved, result.refused, verb="resolved with a new baseline")

    # --- exports: the selected findings (an action), or everything the list's filters show (a link) -------

    @admin.action(description="Export selected drifts as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return _export_response(queryset, "csv")

    @admin.action(description="Export selected drifts as NDJSON", permissions=["view"])
    def export_ndjson(self, request, queryset):
        return _export_response(queryset, "ndjson")

    def export_filtered_view(self, request, fmt: str):
        """Everything the change list shows with its current filters and search, in one file."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if fmt not in export.FORMATS:
            raise Http404(f"No export format {fmt!r}.")
        changelist = self.get_changelist_instance(request)
        return _export_response(changelist.get_queryset(request), fmt)

    # --- the drift page: diff, siblings, history, triage buttons ------------------------------------------

    def get_urls(self):
        custom = [
            path(
                "export/<str:fmt>/",
                self.admin_site.admin_view(self.export_filtered_view),
                name="drifts_drift_export",
            ),
            path(
                "<int:object_id>/triage/",
                self.admin_site.admin_view(self.triage_view),
                name="drifts_drift_triage",
            ),
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        drift = (
            Drift.objects.select_related("resource", "provider", "baseline", "resolved_by").filter(pk=object_id).first()
        )
        context = dict(extra_context or {})
        if drift is not None:
            context.update(self._drift_context(request, drift))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _drift_context(self, request, drift: Drift) -> dict:
        baseline_doc = drift.baseline.config if drift.baseline is not None else None
        current_doc = None if drift.resource.deleted_at else drift.resource.config
        others = (
            Drift.objects.filter(resource_id=drift.resource_id, status__in=OPEN_STATUSES)
            .exclude(pk=drift.pk)
            .only("id", "summary", "severity", "status", "path", "detected_at")
            .order_by("-detected_at", "-id")[:50]
        )
        if drift.baseline is not None:
            left_label = (
                f"Baseline #{drift.baseline_id} ({drift.baseline.get_source_display()}, "
                f"{drift.baseline.captured_at:%Y-%m-%d %H:%M})"
            )
        else:
            left_label = "No baseline (the resource appeared after its first scan)"
        right_label = (
            "Resource deleted"
            if current_doc is None
            else f"Current configuration (last seen {drift.resource.last_seen_at:%Y-%m-%d %H:%M})"
        )
        return {
            "drift": drift,
            "diff": side_by_side(baseline_doc, current_doc, focus=drift.path),
            "diff_left_label": left_label,
            "diff_right_label": right_label,
            "other_open_drifts": list(others),
            "events": list(drift.events.select_related("actor").order_by("at", "id")),
            "changed_by": drift.changed_by,
            "attribution_event_json": pretty_json(drift.attribution_event) if drift.attribution_event else None,
            "triage_moves": self._moves(drift),
            "can_triage": self.has_triage_permission(request) and drift.status in OPEN_STATUSES,
            "triage_url": reverse("admin:drifts_drift_triage", args=[drift.pk]),
        }

    def _moves(self, drift: Drift) -> list[dict]:
        allowed = TRANSITIONS[drift.status]
        moves = []
        if DriftStatus.INVESTIGATING in allowed:
            moves.append({"action": "investigate", "label": "Start investigating", "style": "investigate"})
        if DriftStatus.RESOLVED in allowed:
            moves.append({"action": "resolve", "label": "Resolve", "style": "resolve"})
            moves.append({"action": "resolve_baseline", "label": "Resolve + capture baseline", "style": "baseline"})
        return moves

    def triage_view(self, request, object_id: int):
        """POST one triage move for one drift (with the status the page showed, so a stale page is refused)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_triage_permission(request):
            raise PermissionDenied
        drift = get_object_or_404(Drift.objects.select_related("resource"), pk=object_id)
        back = reverse("admin:drifts_drift_change", args=[drift.pk])
        action = request.POST.get("action", "")
        note = request.POST.get("note", "").strip()[:2000]
        seen = request.POST.get("status") or drift.status
        expected = {drift.pk: seen}
        if action == "investigate":
            result = triage.move_drifts(
                [drift.pk], DriftStatus.INVESTIGATING, actor=request.user, note=note, expected=expected
            )
            done = "is now investigating"
        elif action == "resolve":
            result = triage.move_drifts(
                [drift.pk],
                DriftStatus.RESOLVED,
                actor=request.user,
                note=note,
                resolution=Resolution.MANUAL,
                expected=expected,
            )
            done = "is resolved"
        elif action == "resolve_baseline":
            try:
                result = triage.resolve_with_baseline(drift, actor=request.user, note=note, expected_status=seen)
            except baseline_services.DeclaredByCode as exc:
                messages.error(request, str(exc))
                return HttpResponseRedirect(back)
            done = "is resolved and the resource's current configuration is its new baseline"
        else:
            messages.error(request, "Unknown triage action.")
            return HttpResponseRedirect(back)
        if result.moved:
            messages.success(request, f"Drift #{drift.pk} {done}.")
        else:
            status = result.refused.get(drift.pk, drift.status)
            messages.error(request, f"Drift #{drift.pk} could not move: it is {status} (the page was {seen}).")
        return HttpResponseRedirect(back)


class JobUnitInline(ReadOnlyAdminMixin, admin.TabularInline):
    """A job's units, read-only."""

    model = JobUnit
    extra = 0
    can_delete = False
    fields = (
        "provider",
        "region",
        "resource_type",
        "status_badge",
        "resources_scanned",
        "resources_total",
        "drifts_new",
        "drifts_updated",
        "drifts_resolved",
        "error",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("provider")

    @admin.display(description="status")
    def status_badge(self, obj: JobUnit) -> str:
        return badge(obj.status, obj.get_status_display())


@admin.register(DetectionJob)
class DetectionJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Detection runs: progress, counters and errors; read-only."""

    list_display = (
        "id",
        "status_badge",
        "trigger",
        "provider",
        "started",
        "duration",
        "progress",
        "counters",
        "error_count",
    )
    list_filter = ("status", "trigger", "provider")
    list_select_related = ("provider",)
    ordering = ("-started_at", "-id")
    list_per_page = 50
    show_full_result_count = False
    inlines = (JobUnitInline,)
    fields = (
        "status_badge",
        "trigger",
        "provider",
        "requested_by",
        "started_at",
        "finished_at",
        "duration",
        "progress",
        "resources_scanned",
        "resources_total",
        "drifts_new",
        "drifts_updated",
        "drifts_resolved",
        "errors_table",
        "warnings_table",
    )
    readonly_fields = fields

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: DetectionJob) -> str:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="progress")
    def progress(self, obj: DetectionJob) -> str:
        return progress_bar(obj.units_done, obj.units_total, obj.percent)

    @admin.display(description="duration")
    def duration(self, obj: DetectionJob) -> str:
        end = obj.finished_at or timezone.now()
        seconds = int((end - obj.started_at).total_seconds())
        return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: DetectionJob) -> str:
        local = timezone.localtime(obj.started_at)
        return format_html('<span title="{}">{}</span>', local.isoformat(), local.strftime("%Y-%m-%d %H:%M"))

    @admin.display(description="new/upd/res")
    def counters(self, obj: DetectionJob) -> str:
        return f"{obj.drifts_new} / {obj.drifts_updated} / {obj.drifts_resolved}"

    @admin.display(description="errors")
    def error_count(self, obj: DetectionJob) -> int:
        return len(obj.errors or [])

    @admin.display(description="errors")
    def errors_table(self, obj: DetectionJob) -> str:
        return _entries_table(obj.errors)

    @admin.display(description="warnings")
    def warnings_table(self, obj: DetectionJob) -> str:
        return _entries_table(obj.warnings)


def _entries_table(entries) -> str:
    """A job's errors or warnings as a table."""
    if not entries:
        return "None"
    entries = [e if isinstance(e, dict) else {"message": str(e)} for e in entries]
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (e.get("provider_id") or "—", e.get("region") or "—", e.get("resource_type") or "—", e.get("message"))
            for e in entries
        ),
    )
    return format_html(
        '<table class="dw-table"><thead><tr><th>provider</th><th>region</th><th>resource type</th>'
        "<th>message</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


class IgnoreRuleForm(forms.ModelForm):
    """Ignore rule with the resource type picked from the collector registry."""

    resource_type = forms.ChoiceField(required=False, help_text="Empty matches every type.")

    class Meta:
        model = IgnoreRule
        fields = ("resource_type", "path_glob", "name_glob", "expires_at", "reason")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["resource_type"].choices = [("", "Any type"), *resource_type_choices()]


@admin.register(IgnoreRule)
class IgnoreRuleAdmin(admin.ModelAdmin):
    """Accepted differences; every change is written to the audit trail with its actor."""

    form = IgnoreRuleForm
    list_display = (
        "id",
        "resource_type_label",
        "path_glob",
        "name_glob",
        "expires_at",
        "active",
        "created_by",
        "created_at",
    )
    list_filter = (ResourceTypeFilter,)
    search_fields = ("path_glob", "name_glob", "reason")
    list_select_related = ("created_by",)
    readonly_fields = ("created_by", "created_at", "updated_at")

    @admin.display(description="resource type", ordering="resource_type")
    def resource_type_label(self, obj: IgnoreRule) -> str:
        return obj.resource_type or "any"

    @admin.display(description="active", boolean=True)
    def active(self, obj: IgnoreRule) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in IgnoreRuleForm.Meta.fields}
        if change:
            ignore_rules.update_ignore_rule(IgnoreRule.objects.get(pk=obj.pk), values, request.user)
            return
        created = ignore_rules.create_ignore_rule(values, request.user)
        # The admin goes on to log and redirect with `obj`: make it the row the service created.
        obj.pk, obj._state.adding = created.pk, False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        ignore_rules.delete_ignore_rule(obj, request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            ignore_rules.delete_ignore_rule(obj, request.user)
