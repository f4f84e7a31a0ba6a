"""Who hears about what (subscriptions: a channel, event types and filters) and every delivery made to them."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from driftwatch.crypto import decrypt_text, encrypt_text
from driftwatch.models import OutboxEvent

# The events a subscription may choose; "ping" is sent only by the test button, to one subscription.
EVENT_TYPES = ("drift.detected", "drift.status_changed", "drift.resolved", "job.completed", "job.failed")
DRIFT_EVENT_TYPES = ("drift.detected", "drift.status_changed", "drift.resolved")
JOB_END_EVENT_TYPES = ("job.completed", "job.failed")
PING = "ping"
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    EMAIL = "email", "Email"


class Subscription(models.Model):
    """A channel (signed webhook, Slack incoming webhook or email) and which events it receives.

    Secrets are stored encrypted: for a webhook its signing secret (whsec_...), for Slack the incoming-webhook
    URL itself (it is the credential). During a rotation the previous signing secret keeps signing alongside
    the new one until previous_secret_expires_at.
    """

    name = models.CharField(max_length=100, unique=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # Webhook: the normalized URL. Slack: a redacted form for display (the real URL is the secret).
    url = models.CharField(max_length=2048, blank=True)
    email_to = models.JSONField(default=list, blank=True)
    secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    event_types = models.JSONField(default=list)
    # Filters; an empty one lets everything through.
    min_severity = models.CharField(max_length=16, blank=True)
    drift_types = models.JSONField(default=list, blank=True)
    provider_ids = models.JSONField(default=list, blank=True)
    resource_types = models.JSONField(default=list, blank=True)
    # Webhook: one delivery per detection job (all its matching events) instead of one per event.
    batch_by_job = models.BooleanField(default=False)
    # Slack and email: a critical finding is also sent at once, before the scan's digest.
    immediate_critical = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    # Why it was disabled by DriftWatch (410 Gone, too many failures); empty when an admin disabled it.
    disabled_reason = models.CharField(max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # The sender's lease: one worker at a time sends a subscription's deliveries, in order.
    sending_until = models.DateTimeField(null=True, blank=True, editable=False)
    # A sender task is queued for it until then: a burst of events enqueues one sender, not one per event.
    sender_queued_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__in=["webhook", "slack", "email"]), name="subscription_channel_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(min_severity__in=["", "low", "medium", "high", "critical"]),
                name="subscription_min_severity_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.channel})"

    @property
    def is_digest(self) -> bool:
        """Scan findings reach this subscription as one message per job (Slack, email, batched webhooks)."""
        return self.channel != Channel.WEBHOOK or self.batch_by_job

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = encrypt_text(secret)

    def secret(self) -> str:
        return decrypt_text(self.secret_encrypted) if self.secret_encrypted else ""

    def signing_secrets(self, now=None) -> list[str]:
        """The current secret, and the previous one while its grace period lasts (decrypted once per instance)."""
        now = now or timezone.now()
        cache = self.__dict__.setdefault("_decrypted", {})
        if "current" not in cache:
            cache["current"] = self.secret()
        secrets = [cache["current"]]
        if self.previous_secret_encrypted and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            if "previous" not in cache:
                cache["previous"] = decrypt_text(self.previous_secret_encrypted)
            secrets.append(cache["previous"])
        return secrets


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first attempt or for a retry
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # gave up: retries exhausted, or an answer not worth retrying


def new_message_id() -> str:
    return "msg_" + uuid.uuid4().hex


class Delivery(models.Model):
    """One message to one subscription (an event, a job's digest or batch, or a ping), with its attempts.

    The body is rendered once, when the delivery is made, so every retry sends the same bytes under the same
    webhook-id; nothing secret is stored here (signatures are computed at each attempt).
    """

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    # The event, for a one-event delivery; digests and batches cover a job's events (job_id).
    event = models.ForeignKey(OutboxEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event_type = models.CharField(max_length=64)  # an event type, or "digest" / "batch"
    job_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=64, default=new_message_id, unique=True)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    # The start of what the receiver answered, for the admin only (the API never echoes it).
    response_excerpt = models.CharField(max_length=200, blank=True)
    # Written by DriftWatch, safe to show (e.g. "HTTP 503", "Timed out").
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "succeeded", "failed"]), name="delivery_status_valid"
            ),
        ]
        indexes = [
            # The sender's queue: a subscription's pending deliveries in event order.
            models.Index(
                fields=["subscription", "id"], condition=models.Q(status="pending"), name="delivery_pending_idx"
            ),
            # The beat sweep: pending deliveries that are due.
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="delivery_due_idx"),
            # GET /webhooks/{id}/deliveries?status=, newest first.
            models.Index(fields=["subscription", "status", "-id"], name="delivery_list_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscription_id} ({self.status})"
