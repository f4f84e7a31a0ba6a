"""Baselines: how a resource should be configured. One current baseline per resource, older ones kept."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class BaselineSource(models.TextChoices):
    DISCOVERED = "discovered", "Discovered"
    MANUAL = "manual", "Manual"
    RESOLVE = "resolve", "Resolve"


class Baseline(models.Model):
    """A captured configuration of a resource; is_current marks the one scans compare against."""

    resource = models.ForeignKey("providers.Resource", on_delete=models.CASCADE, related_name="baselines")
    config = models.JSONField(default=dict)
    config_hash = models.CharField(max_length=64)
    captured_at = models.DateTimeField(default=timezone.now)
    captured_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=16, choices=BaselineSource.choices)
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-captured_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource"], condition=models.Q(is_current=True), name="baseline_one_current_per_resource"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=["discovered", "manual", "resolve"]), name="baseline_source_valid"
            ),
        ]
        indexes = [
            # A resource's baseline history, newest first.
            models.Index(fields=["resource", "-captured_at", "-id"], name="baseline_history_idx"),
        ]

    def __str__(self) -> str:
        return f"baseline #{self.pk} of resource {self.resource_id}"
