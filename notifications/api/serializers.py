"""Subscription and delivery representations. Secrets are write-only or shown once; what a receiver
answered is never shown here (only its status code and DriftWatch's own error message)."""

from rest_framework import serializers

from drifts.models import DriftType, Severity
from driftwatch import outbound
from driftwatch.api.serializers import StrictSerializer, iso_utc

from ..models import EVENT_TYPES, Channel, DeliveryStatus

SEVERITIES = Severity.values
DRIFT_TYPES = DriftType.values


class SubscriptionSerializer(serializers.Serializer):
    """A subscription as the API shows it: never its secret (a Slack URL is shown redacted)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    channel = serializers.ChoiceField(choices=Channel.choices)
    url = serializers.CharField(allow_null=True, help_text="Webhook URL; for Slack a redacted form; null for email.")
    email_to = serializers.ListField(child=serializers.EmailField())
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_TYPES))
    min_severity = serializers.ChoiceField(choices=Severity.choices, allow_null=True)
    drift_types = serializers.ListField(child=serializers.ChoiceField(choices=DriftType.choices))
    provider_ids = serializers.ListField(child=serializers.IntegerField())
    resource_types = serializers.ListField(child=serializers.CharField())
    batch_by_job = serializers.BooleanField()
    immediate_critical = serializers.BooleanField()
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then the rotated-out secret signs too (webhooks)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, sub) -> dict:
        return {
            "id": sub.pk,
            "name": sub.name,
            "channel": sub.channel,
            "url": sub.url or None,
            "email_to": sub.email_to,
            "event_types": sub.event_types,
            "min_severity": sub.min_severity or None,
            "drift_types": sub.drift_types,
            "provider_ids": sub.provider_ids,
            "resource_types": sub.resource_types,
            "batch_by_job": sub.batch_by_job,
            "immediate_critical": sub.immediate_critical,
            "enabled": sub.enabled,
            "disabled_reason": sub.disabled_reason or None,
            "consecutive_failures": sub.consecutive_failures,
            "previous_secret_expires_at": iso_utc(sub.previous_secret_expires_at),
            "created_at": iso_utc(sub.created_at),
            "updated_at": iso_utc(sub.updated_at),
        }


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        allow_null=True, help_text="Webhooks: the signing secret (whsec_...). Shown only in this response."
    )


class SubscriptionWriteSerializer(StrictSerializer):
    """Body of POST (name and channel required; url for webhook and slack, email_to for email) and PATCH."""

    name = serializers.CharField(max_length=100)
    channel = serializers.ChoiceField(choices=Channel.choices, help_text="Set at creation; cannot change.")
    url = serializers.CharField(
        max_length=2048,
        required=False,
        help_text="Webhook: where to POST (https). Slack: the incoming-webhook URL (stored encrypted, write-only).",
    )
    email_to = serializers.ListField(
        child=serializers.EmailField(), required=False, min_length=1, max_length=50, help_text="Email recipients."
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES),
        required=False,
        min_length=1,
        help_text="Default: webhook all drift events; Slack and email drift.detected.",
    )
    min_severity = serializers.ChoiceField(
        choices=Severity.choices,
        required=False,
        allow_null=True,
        help_text="Drift events below it are not sent. Default: none for webhooks, high for Slack and email.",
    )
    drift_types = serializers.ListField(
        child=serializers.ChoiceField(choices=DriftType.choices), required=False, help_text="Empty: all."
    )
    provider_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=1000,
        help_text="Empty: all.",
    )
    resource_types = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=1000, help_text="Empty: all."
    )
    batch_by_job = serializers.BooleanField(
        required=False, help_text="Webhooks: one delivery per detection job instead of one per event."
    )
    immediate_critical = serializers.BooleanField(
        required=False, help_text="Slack and email: send a critical new finding at once too, not only in the digest."
    )
    enabled = serializers.BooleanField(required=False, help_text="Re-enabling clears the failure streak.")

    def validate_url(self, value: str) -> str:
        try:
            return outbound.check_url(value)
        except outbound.URLNotAllowed as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict) -> dict:
        instance = self.instance
        if instance is not None and "channel" in attrs and attrs["channel"] != instance.channel:
            raise serializers.ValidationError({"channel": ["The channel of a subscription cannot change."]})
        channel = instance.channel if instance is not None else attrs.get("channel")
        if channel == Channel.EMAIL:
            if "url" in attrs:
                raise serializers.ValidationError({"url": ["An email subscription has no URL."]})
            if instance is None and not attrs.get("email_to"):
                raise serializers.ValidationError({"email_to": ["At least one recipient is required."]})
        else:
            if "email_to" in attrs:
                raise serializers.ValidationError({"email_to": ["Only email subscriptions have recipients."]})
            if instance is None and not attrs.get("url"):
                raise serializers.ValidationError({"url": ["This field is required."]})
        if channel != Channel.WEBHOOK and attrs.get("batch_by_job"):
            raise serializers.ValidationError({"batch_by_job": ["Slack and email always get one digest per scan."]})
        if channel == Channel.WEBHOOK and attrs.get("immediate_critical"):
            raise serializers.ValidationError({"immediate_critical": ["Webhooks get every event as it happens."]})
        if "min_severity" in attrs:
            attrs["min_severity"] = attrs["min_severity"] or ""
        return attrs


class RotateSecretSerializer(StrictSerializer):
    grace_hours = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=720,
        help_text="How long the old secret keeps signing too (default DRIFTWATCH_NOTIFY_ROTATION_GRACE_HOURS).",
    )


class RotatedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret (whsec_...). Shown only in this response.")
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)


class DeliverySerializer(serializers.Serializer):
    """One delivery and its last attempt. What the receiver answered is not shown: only its status code."""

    id = serializers.IntegerField()
    subscription_id = serializers.IntegerField()
    event_type = serializers.CharField(help_text="An event type, or digest / batch (one per detection job).")
    event_id = serializers.IntegerField(allow_null=True)
    job_id = serializers.IntegerField(allow_null=True)
    message_id = serializers.CharField(help_text="The webhook-id header: the same on every attempt.")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    response_status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True, help_text="Written by DriftWatch, e.g. 'Timed out'.")
    duration_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()

    def to_representation(self, d) -> dict:
        return {
            "id": d.pk,
            "subscription_id": d.subscription_id,
            "event_type": d.event_type,
            "event_id": d.event_id,
            "job_id": d.job_id,
            "message_id": d.message_id,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": iso_utc(d.next_attempt_at),
            "last_attempt_at": iso_utc(d.last_attempt_at),
            "response_status": d.response_status,
            "error": d.error or None,
            "duration_ms": d.duration_ms,
            "created_at": iso_utc(d.created_at),
        }


class TestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    delivery = DeliverySerializer()


class RedeliverFailedSerializer(StrictSerializer):
    since = serializers.DateTimeField(help_text="ISO 8601: failed deliveries created at or after this time.")


class RedeliveredSerializer(serializers.Serializer):
    redelivered = serializers.IntegerField()
