"""Baselines, read-only: they are written by scans and by capture (drifts.services), never edited.
Terraform state sources: where each provider's state is read; the token is write-only."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from drifts.models import JobTrigger
from drifts.services import detection
from drifts.services import terraform as terraform_services
from driftwatch import outbound
from driftwatch.admin_display import pretty_json
from driftwatch.admin_site import ReadOnlyAdminMixin

from .models import Baseline, StateSource, StateSourceKind


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
        "state_source",
        "address",
        "serial",
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


class StateSourceForm(forms.ModelForm):
    """The API's settings; the bearer token is write-only (blank keeps the stored one)."""

    token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="http: write-only bearer token, stored encrypted. Leave blank to keep the stored one.",
    )
    clear_token = forms.BooleanField(required=False, help_text="Forget the stored token.")

    class Meta:
        model = StateSource
        fields = ("provider", "name", "kind", "bucket", "key", "url", "enabled")

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == StateSourceKind.S3 and not (cleaned.get("bucket") and cleaned.get("key")):
            self.add_error("bucket", "An S3 source needs a bucket and a key (or glob).")
        if kind == StateSourceKind.HTTP:
            try:
                cleaned["url"] = outbound.check_url(cleaned.get("url") or "")
            except outbound.OutboundError as exc:
                self.add_error("url", str(exc))
        return cleaned


@admin.register(StateSource)
class StateSourceAdmin(admin.ModelAdmin):
    """Terraform state sources: where they read, what they last applied, refresh now."""

    form = StateSourceForm
    list_display = ("name", "provider", "kind", "where", "enabled", "last_status", "last_read_at", "last_applied_at")
    list_filter = ("kind", "last_status", "enabled")
    list_select_related = ("provider",)
    search_fields = ("name", "bucket", "key", "url")
    readonly_fields = ("has_token_flag", "last_status", "last_error", "last_read_at", "last_applied_at", "files")
    fieldsets = (
        (None, {"fields": ("provider", "name", "kind", "enabled")}),
        ("Where", {"fields": ("bucket", "key", "url", "has_token_flag", "token", "clear_token")}),
        ("Last read", {"fields": ("last_status", "last_error", "last_read_at", "last_applied_at", "files")}),
    )
    actions = ("refresh_now",)

    @admin.display(description="where")
    def where(self, obj: StateSource) -> str:
        if obj.kind == StateSourceKind.S3:
            return f"s3://{obj.bucket}/{obj.key}"
        return obj.url or "(uploads)"

    @admin.display(description="token", boolean=True)
    def has_token_flag(self, obj: StateSource) -> bool:
        return obj.has_token

    @admin.display(description="state files")
    def files(self, obj: StateSource) -> str:
        shown = {
            key or "(single file)": {k: v for k, v in head.items() if k != "etag"} for key, head in obj.heads.items()
        }
        return pretty_json(shown)

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("clear_token"):
            obj.set_token(None)
        elif form.cleaned_data.get("token"):
            obj.set_token(form.cleaned_data["token"])
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        terraform_services.forget_source(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for source in queryset:
            self.delete_model(request, source)

    @admin.action(description="Read the selected sources now (starts a job per provider)", permissions=["change"])
    def refresh_now(self, request, queryset):
        for provider_id in sorted(
            set(queryset.exclude(kind=StateSourceKind.UPLOAD).values_list("provider_id", flat=True))
        ):
            try:
                job, created = detection.start_detection(
                    trigger=JobTrigger.ADMIN, provider_id=provider_id, user=request.user, terraform_only=True
                )
            except detection.DetectionError as exc:
                messages.error(request, str(exc))
                continue
            verb = "started" if created else "already running"
            messages.success(request, f"Job #{job.pk} {verb} for provider {provider_id}.")
