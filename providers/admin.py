"""Providers (write-only credentials, test connection, scan now) and resources (config, baselines, capture)."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from baselines import services as baseline_services
from baselines.models import Baseline, BaselineSource
from drifts.models import OPEN_STATUSES, Drift
from drifts.queries import open_drift_count
from drifts.services import detection, triage
from drifts.sidebyside import side_by_side
from driftwatch.admin_display import badge, pretty_json
from driftwatch.admin_site import ReadOnlyAdminMixin

from . import services
from .api.serializers import ProviderWriteSerializer
from .models import Provider, Resource
from .resource_types import ResourceTypeFilter


class DeletedFilter(admin.SimpleListFilter):
    """Soft-deleted rows are hidden unless asked for."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", "Live (default)"), ("yes", "Deleted"), ("all", "All")]

    def choices(self, changelist):
        # "Live" is the default, so the filter's "All" entry must be an explicit value, not "no parameter".
        value = self.value() or "no"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "no"
        if value == "no":
            return queryset.filter(deleted_at__isnull=True)
        if value == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


# --- providers ----------------------------------------------------------------------------------------


# The same settings the API accepts and shows; credentials have their own write-only fields below.
_SETTINGS = services.PUBLIC_FIELDS


class ProviderForm(forms.ModelForm):
    """Provider settings; credentials are write-only (never rendered back), blank keeps the stored ones."""

    regions = forms.CharField(help_text="AWS region names separated by commas, e.g. us-east-1, eu-west-1.")
    endpoint_url = forms.CharField(
        required=False, max_length=500, help_text="Only for AWS-compatible endpoints (moto, LocalStack); allow-listed."
    )
    access_key_id = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Leave both blank to keep the stored credentials.",
    )
    secret_access_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    clear_credentials = forms.BooleanField(
        required=False, help_text="Forget the stored credentials: scans use the default AWS credential chain."
    )

    class Meta:
        model = Provider
        fields = _SETTINGS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["regions"] = ", ".join(self.instance.regions or [])

    def clean_regions(self) -> list[str]:
        return [r.strip() for r in self.cleaned_data["regions"].replace("\n", ",").split(",") if r.strip()]

    def clean(self):
        cleaned = super().clean()
        key, secret = cleaned.get("access_key_id"), cleaned.get("secret_access_key")
        if cleaned.get("clear_credentials") and (key or secret):
            self.add_error("clear_credentials", "Either clear the credentials or enter new ones, not both.")
        elif bool(key) != bool(secret):
            missing = "secret_access_key" if key else "access_key_id"
            self.add_error(missing, "Enter both the access key id and the secret access key.")
        # The API's validation, once: region names, endpoint allow-list, role ARN, unique live name.
        data = {name: cleaned[name] for name in _SETTINGS if name in cleaned}
        body = ProviderWriteSerializer(
            self.instance if self.instance.pk else None, data=data, partial=bool(self.instance.pk)
        )
        if not body.is_valid():
            for name, errors in body.errors.items():
                texts = [str(e) for e in errors] if isinstance(errors, list) else [str(errors)]
                self.add_error(name if name in self.fields else None, texts)
        else:
            cleaned.update({name: value for name, value in body.validated_data.items() if name in _SETTINGS})
        return cleaned

    def credentials_change(self) -> dict | None:
        """{} to clear, the new key pair to set, None to keep what is stored."""
        if self.cleaned_data.get("clear_credentials"):
            return {}
        key, secret = self.cleaned_data.get("access_key_id"), self.cleaned_data.get("secret_access_key")
        if key and secret:
            return {"access_key_id": key, "secret_access_key": secret}
        return None


def _next_scan(provider: Provider, now):
    if not provider.enabled or provider.deleted_at:
        return None
    if provider.last_scanned_at is None:
        return now
    return provider.last_scanned_at + timedelta(minutes=provider.scan_interval_minutes)


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    """Cloud accounts: settings, write-only credentials, connection test and on-demand scans."""

    form = ProviderForm
    list_display = (
        "name",
        "kind",
        "regions_text",
        "enabled",
        "has_credentials_flag",
        "last_scanned_at",
        "next_scan",
        "scan_state",
        "open_drifts",
    )
    list_filter = (DeletedFilter, "enabled", "kind")
    search_fields = ("name",)
    list_select_related = ()
    actions = ("test_connection_action", "scan_now", "soft_delete")
    readonly_fields = (
        "has_credentials_flag",
        "created_at",
        "updated_at",
        "last_scanned_at",
        "next_scan",
        "scan_state",
        "deleted_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "kind",
                    "regions",
                    "enabled",
                    "scan_interval_minutes",
                    "max_concurrency",
                    "report_unmanaged",
                )
            },
        ),
        ("Connection", {"fields": ("endpoint_url", "role_arn", "external_id")}),
        (
            "CloudTrail attribution",
            {
                "fields": ("cloudtrail_bucket", "cloudtrail_prefix"),
                "description": "The S3 bucket (and key prefix) of the account's trail, usually an organization "
                "trail: who-changed-it is read from its log files. Empty: CloudTrail LookupEvents.",
            },
        ),
        (
            "Credentials",
            {
                "fields": ("has_credentials_flag", "access_key_id", "secret_access_key", "clear_credentials"),
                "description": "Stored encrypted and never shown again. No credentials: the default AWS chain.",
            },
        ),
        ("Scans", {"fields": ("last_scanned_at", "next_scan", "scan_state", "created_at", "updated_at", "deleted_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(open_drift_count=open_drift_count("provider_id"))

    def has_delete_permission(self, request, obj=None):
        # Deleting is soft (the "Delete" action): a hard delete would lose the findings history.
        return False

    # --- columns ------------------------------------------------------------------------------------------

    @admin.display(description="regions")
    def regions_text(self, obj: Provider) -> str:
        return ", ".join(obj.regions or [])

    @admin.display(description="has credentials", boolean=True)
    def has_credentials_flag(self, obj: Provider) -> bool:
        return obj.has_credentials

    @admin.display(description="next scheduled scan")
    def next_scan(self, obj: Provider) -> str:
        now = timezone.now()
        when = _next_scan(obj, now)
        if when is None:
            return "—" if obj.pk else ""
        if when <= now:
            return mark_safe('<span class="dw-due">due now</span>')
        return format_html('<span title="{}">in {}</span>', when.isoformat(), _short_delta(when - now))

    @admin.display(description="scan")
    def scan_state(self, obj: Provider) -> str:
        if obj.running_job_id is None:
            return "idle"
        url = reverse("admin:drifts_detectionjob_change", args=[obj.running_job_id])
        return format_html('<a href="{}">{}</a>', url, badge("running", f"job #{obj.running_job_id}"))

    @admin.display(description="open drifts", ordering="open_drift_count")
    def open_drifts(self, obj: Provider) -> str:
        count = getattr(obj, "open_drift_count", 0)
        url = (
            reverse("admin:drifts_drift_changelist")
            + f"?provider__id__exact={obj.pk}&status__in=detected,investigating"
        )
        return format_html('<a href="{}">{}</a>', url, count)

    # --- saving: write-only credentials, only changed columns, audit ---------------------------------------

    def save_model(self, request, obj, form, change):
        credentials = form.credentials_change()
        values = services.public_values(obj)  # the form has set the validated settings on obj
        if not change:
            created = services.create_provider(values, credentials or None, request.user)
            # The admin goes on to log and redirect with `obj`: make it the row the service created.
            obj.pk, obj._state.adding = created.pk, False
            obj.refresh_from_db()
            return
        stored = Provider.objects.get(pk=obj.pk)
        kept = services.UNCHANGED if credentials is None else (credentials or None)
        services.update_provider(stored, values, request.user, credentials=kept)

    # --- actions and buttons ------------------------------------------------------------------------------

    def _test(self, request, provider: Provider) -> None:
        try:
            identity = services.check_connection(provider, request.user)
        except services.ConnectionCheckFailed as exc:
            messages.error(request, f"{provider.name}: connection check failed: {exc}")
            return
        messages.success(request, f"{provider.name}: connected to account {identity['account']} as {identity['arn']}.")

    def _scan(self, request, provider: Provider) -> None:
        try:
            job, created = detection.start_detection(trigger="admin", provider_id=provider.pk, user=request.user)
        except detection.DetectionError as exc:
            messages.error(request, f"{provider.name}: {exc}")
            return
        url = reverse("admin:drifts_detectionjob_change", args=[job.pk])
        if created:
            messages.success(
                request, format_html('{}: scan started, <a href="{}">job #{}</a>.', provider.name, url, job.pk)
            )
        else:
            messages.warning(
                request,
                format_html('{}: a scan is already running, <a href="{}">job #{}</a>.', provider.name, url, job.pk),
            )

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection_action(self, request, queryset):
        for provider in queryset.filter(deleted_at__isnull=True):
            self._test(request, provider)

    @admin.action(description="Scan now", permissions=["change"])
    def scan_now(self, request, queryset):
        for provider in queryset.filter(deleted_at__isnull=True):
            self._scan(request, provider)

    @admin.action(description="Delete (soft: keeps findings history)", permissions=["change"])
    def soft_delete(self, request, queryset):
        done, busy = [], []
        for provider in queryset.filter(deleted_at__isnull=True):
            try:
                services.delete_provider(provider, request.user)
            except services.ProviderBusy:
                busy.append(provider.name)
            except services.ProviderGone:
                continue  # deleted by someone else meanwhile
            else:
                done.append(provider.name)
        if done:
            messages.success(request, f"Deleted {len(done)}: {', '.join(done)}.")
        if busy:
            messages.error(request, f"Not deleted while a scan is running: {', '.join(busy)}.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/test/", view(self.test_view), name="providers_provider_test"),
            path("<int:object_id>/scan/", view(self.scan_view), name="providers_provider_scan"),
        ] + super().get_urls()

    def _button_view(self, request, object_id: int, run) -> HttpResponseRedirect:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        provider = get_object_or_404(Provider.objects.live(), pk=object_id)
        run(request, provider)
        return HttpResponseRedirect(reverse("admin:providers_provider_change", args=[provider.pk]))

    def test_view(self, request, object_id: int):
        """POST: test the provider's connection from its page."""
        return self._button_view(request, object_id, self._test)

    def scan_view(self, request, object_id: int):
        """POST: start a scan of the provider from its page."""
        return self._button_view(request, object_id, self._scan)


def _short_delta(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days"


# --- resources ----------------------------------------------------------------------------------------


@admin.register(Resource)
class ResourceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Resources as last scanned: config, baseline history with diffs, capture baseline."""

    list_display = ("name", "resource_type", "provider", "region", "open_drifts", "last_seen_at", "is_deleted")
    list_filter = (DeletedFilter, ResourceTypeFilter, "provider")
    search_fields = ("name", "external_id")
    list_select_related = ("provider",)
    ordering = ("provider_id", "resource_type", "name", "id")
    list_per_page = 50
    show_full_result_count = False
    actions = ("capture_baseline",)
    fields = (
        "name",
        "external_id",
        "resource_type",
        "provider",
        "region",
        "first_seen_at",
        "last_seen_at",
        "deleted_at",
        "config_json",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        qs = super().get_queryset(request).annotate(open_drift_count=open_drift_count("resource_id"))
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "providers_resource_changelist":
            qs = qs.defer("config")  # a list row does not need the (possibly large) document
        return qs

    def has_capture_permission(self, request) -> bool:
        return request.user.has_perm("baselines.add_baseline")

    @admin.display(description="open drifts", ordering="open_drift_count")
    def open_drifts(self, obj: Resource) -> str:
        count = getattr(obj, "open_drift_count", 0)
        url = reverse("admin:drifts_drift_changelist") + f"?resource__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count) if count else "0"

    @admin.display(description="deleted", boolean=True)
    def is_deleted(self, obj: Resource) -> bool:
        return obj.deleted_at is not None

    @admin.display(description="configuration")
    def config_json(self, obj: Resource) -> str:
        return pretty_json(obj.config)

    @admin.action(description="Capture current config as baseline (resolves open drifts)", permissions=["capture"])
    def capture_baseline(self, request, queryset):
        count = 0
        for resource in queryset:
            try:
                triage.capture_baseline_and_resolve(resource, actor=request.user, source=BaselineSource.MANUAL)
            except baseline_services.DeclaredByCode as exc:
                messages.error(request, str(exc))
                continue
            count += 1
        messages.success(request, f"Captured a new baseline for {count} resource(s); their open drifts are resolved.")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:object_id>/capture-baseline/", view(self.capture_view), name="providers_resource_capture"),
            path("<int:object_id>/compare/", view(self.compare_view), name="providers_resource_compare"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        if str(object_id).isdigit():
            baselines = list(
                Baseline.objects.filter(resource_id=object_id)
                .select_related("captured_by")
                .defer("config")
                .order_by("-captured_at", "-id")[:50]
            )
            context.update(
                baselines=baselines,
                open_drifts=list(
                    Drift.objects.filter(resource_id=object_id, status__in=OPEN_STATUSES)
                    .only("id", "summary", "severity", "status", "path", "detected_at")
                    .order_by("-detected_at", "-id")[:50]
                ),
                compare_url=reverse("admin:providers_resource_compare", args=[object_id]),
                capture_url=reverse("admin:providers_resource_capture", args=[object_id]),
                can_capture=self.has_capture_permission(request),
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def capture_view(self, request, object_id: int):
        """POST: capture the resource's current config as its baseline and resolve its open drifts."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_capture_permission(request):
            raise PermissionDenied
        resource = get_object_or_404(Resource, pk=object_id)
        try:
            baseline = triage.capture_baseline_and_resolve(resource, actor=request.user, source=BaselineSource.MANUAL)
        except baseline_services.DeclaredByCode as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:providers_resource_change", args=[resource.pk]))
        messages.success(request, f"Captured baseline #{baseline.pk}; the resource's open drifts are resolved.")
        return HttpResponseRedirect(reverse("admin:providers_resource_change", args=[resource.pk]))

    def compare_view(self, request, object_id: int):
        """Diff between two baselines of the resource ("current" = the config as last scanned)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        resource = get_object_or_404(Resource, pk=object_id)
        left, right = self._side(resource, request.GET.get("a")), self._side(resource, request.GET.get("b", "current"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Compare configurations of {resource.name}",
            "resource": resource,
            "left": left,
            "right": right,
            "diff": side_by_side(left["config"], right["config"]),
            "baselines": list(
                Baseline.objects.filter(resource_id=resource.pk).defer("config").order_by("-captured_at", "-id")[:50]
            ),
        }
        return TemplateResponse(request, "admin/providers/resource/compare.html", context)

    def _side(self, resource: Resource, key: str | None) -> dict:
        if key in (None, ""):
            baseline = Baseline.objects.filter(resource_id=resource.pk, is_current=True).first()
            if baseline is None:
                raise Http404("This resource has no baseline.")
            key = str(baseline.pk)
        if key == "current":
            return {
                "key": "current",
                "label": f"Current config (last seen {resource.last_seen_at:%Y-%m-%d %H:%M})",
                "config": resource.config,
            }
        if not key.isdigit():
            raise Http404("Unknown baseline.")
        baseline = get_object_or_404(Baseline, pk=int(key), resource_id=resource.pk)
        label = f"Baseline #{baseline.pk} ({baseline.get_source_display()}, {baseline.captured_at:%Y-%m-%d %H:%M})"
        if baseline.is_current:
            label += ", current"
        return {"key": str(baseline.pk), "label": label, "config": baseline.config}
