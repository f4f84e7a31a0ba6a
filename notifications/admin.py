"""Subscriptions (secrets write-only, test button, rotate, resume) and the delivery log (redeliver)."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from driftwatch.admin_display import badge, pretty_json
from driftwatch.admin_site import ReadOnlyAdminMixin

from . import services
from .api.serializers import DRIFT_TYPES, SEVERITIES, SubscriptionWriteSerializer
from .models import EVENT_TYPES, Channel, Delivery, DeliveryStatus, Subscription


def _csv(value: str) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


class SubscriptionForm(forms.ModelForm):
    """The API's validation (URL guard included); the Slack URL is write-only, blank keeps the stored one."""

    url = forms.CharField(
        required=False,
        max_length=2048,
        widget=forms.TextInput(attrs={"size": 80, "autocomplete": "off"}),
        help_text="Webhook: the receiver's URL. Slack: the incoming-webhook URL (write-only; blank keeps it).",
    )
    email_to = forms.CharField(required=False, help_text="Email: recipients separated by commas.")
    event_types = forms.MultipleChoiceField(
        choices=[(e, e) for e in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: the channel's default.",
    )
    min_severity = forms.ChoiceField(choices=[("", "any")] + [(s, s) for s in SEVERITIES], required=False)
    drift_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in DRIFT_TYPES], widget=forms.CheckboxSelectMultiple, required=False
    )
    provider_ids = forms.CharField(required=False, help_text="Provider ids separated by commas; empty for all.")
    resource_types = forms.CharField(required=False, help_text="Resource types separated by commas; empty for all.")

    class Meta:
        model = Subscription
        fields = (
            "name",
            "channel",
            "url",
            "email_to",
            "event_types",
            "min_severity",
            "drift_types",
            "provider_ids",
            "resource_types",
            "batch_by_job",
            "immediate_critical",
            "enabled",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sub = self.instance
        if sub.pk:
            self.fields["channel"].disabled = True
            self.initial["url"] = "" if sub.channel == Channel.SLACK else sub.url
            self.initial["email_to"] = ", ".join(sub.email_to)
            self.initial["provider_ids"] = ", ".join(str(i) for i in sub.provider_ids)
            self.initial["resource_types"] = ", ".join(sub.resource_types)

    def clean(self):
        data = super().clean()
        sub = self.instance if self.instance.pk else None
        body = {
            "name": data.get("name"),
            "event_types": data.get("event_types") or None,
            "min_severity": data.get("min_severity") or None,
            "drift_types": data.get("drift_types") or [],
            "resource_types": _csv(data.get("resource_types")),
            "batch_by_job": data.get("batch_by_job", False),
            "immediate_critical": data.get("immediate_critical", False),
            "enabled": data.get("enabled", True),
        }
        if sub is None:
            body["channel"] = data.get("channel")
        try:
            body["provider_ids"] = [int(i) for i in _csv(data.get("provider_ids"))]
        except ValueError:
            self.add_error("provider_ids", "Provider ids are whole numbers.")
            return data
        channel = sub.channel if sub else data.get("channel")
        if channel == Channel.EMAIL:
            body["email_to"] = _csv(data.get("email_to"))
        elif data.get("url"):
            body["url"] = data["url"]
        if body["event_types"] is None:
            body.pop("event_types")
        serializer = SubscriptionWriteSerializer(sub, data=body, partial=sub is not None)
        if not serializer.is_valid():
            for field, errs in serializer.errors.items():
                self.add_error(field if field in self.fields else None, errs)
            return data
        self.validated_values = dict(serializer.validated_data)
        return data


@admin.action(description="Send a test ping")
def send_test_ping(modeladmin, request, queryset):
    for sub in queryset:
        delivery = services.send_test(sub, request.user)
        if delivery.status == DeliveryStatus.SUCCEEDED:
            messages.success(request, f"{sub.name}: ping delivered (HTTP {delivery.response_status or 'ok'}).")
        else:
            messages.error(request, f"{sub.name}: ping failed: {delivery.error}")


@admin.action(description="Rotate the signing secret (webhooks)")
def rotate_secret(modeladmin, request, queryset):
    for sub in queryset.filter(channel=Channel.WEBHOOK):
        sub, secret = services.rotate_secret(sub, request.user)
        messages.warning(
            request,
            f"{sub.name}: new signing secret {secret} (shown once). The old one signs too until "
            f"{sub.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC.",
        )


@admin.action(description="Resume (re-enable)")
def resume(modeladmin, request, queryset):
    for sub in queryset.filter(enabled=False):
        services.update_subscription(sub, {"enabled": True}, request.user)
    messages.success(request, "Resumed; pending deliveries will be sent in order.")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("name", "channel", "target", "event_list", "state", "consecutive_failures", "deliveries_link")
    list_filter = ("channel", "enabled")
    search_fields = ("name", "url")
    actions = [send_test_ping, rotate_secret, resume]
    readonly_fields = (
        "disabled_reason",
        "consecutive_failures",
        "previous_secret_expires_at",
        "created_by",
        "created_at",
        "updated_at",
    )

    @admin.display(description="target")
    def target(self, obj: Subscription) -> str:
        return ", ".join(obj.email_to) if obj.channel == Channel.EMAIL else obj.url

    @admin.display(description="events")
    def event_list(self, obj: Subscription) -> str:
        severity = f" (≥ {obj.min_severity})" if obj.min_severity else ""
        return ", ".join(obj.event_types) + severity

    @admin.display(description="state")
    def state(self, obj: Subscription) -> str:
        if obj.enabled:
            return badge("succeeded", "enabled")
        return format_html("{} <small>{}</small>", badge("failed", "paused"), obj.disabled_reason)

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: Subscription) -> str:
        return format_html('<a href="../delivery/?subscription__id__exact={}">log</a>', obj.pk)

    def save_model(self, request, obj, form, change):
        values = form.validated_values
        if change:
            services.update_subscription(Subscription.objects.get(pk=obj.pk), values, request.user)
            return
        created, secret = services.create_subscription(values, request.user)
        if secret:
            messages.warning(request, f"Signing secret for {created.name}: {secret} (shown once; store it now).")
        obj.pk, obj._state.adding = created.pk, False
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.delete_subscription(obj, request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.delete_subscription(obj, request.user)


@admin.action(description="Redeliver")
def redeliver(modeladmin, request, queryset):
    count = services.redeliver(queryset, request.user)
    messages.success(request, f"{count} delivery(ies) queued again (pending ones were left as they are).")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "subscription",
        "event_type",
        "job_id",
        "status_badge",
        "attempts",
        "response_status",
        "error",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status", "event_type", "subscription")
    list_select_related = ("subscription",)
    actions = [redeliver]
    fields = (
        "subscription",
        "event_type",
        "event_id",
        "job_id",
        "message_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "response_status",
        "response_excerpt",
        "error",
        "duration_ms",
        "created_at",
        "body_pretty",
    )
    readonly_fields = fields

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Delivery) -> str:
        return badge(obj.status)

    @admin.display(description="body")
    def body_pretty(self, obj: Delivery) -> str:
        import json

        return pretty_json(json.loads(obj.body))

    def has_change_permission(self, request, obj=None) -> bool:
        # Read-only fields, but the redeliver action needs change permission on the changelist.
        return request.user.has_perm("notifications.change_delivery")
