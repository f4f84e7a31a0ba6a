"""Providers (cloud accounts) and the resources read from them."""

import hashlib
import json

from django.db import models
from django.utils import timezone

from .crypto import decrypt_json, encrypt_json


def config_hash(config) -> str:
    """Stable hash of a normalized config document (canonical JSON)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ProviderKind(models.TextChoices):
    AWS = "aws", "AWS"


class ProviderQuerySet(models.QuerySet):
    def live(self) -> "ProviderQuerySet":
        """Providers that were not deleted."""
        return self.filter(deleted_at__isnull=True)


class Provider(models.Model):
    """A cloud account DriftWatch scans. Deleting one is soft, so findings keep their history."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ProviderKind.choices, default=ProviderKind.AWS)
    regions = models.JSONField(default=list)
    endpoint_url = models.URLField(max_length=500, null=True, blank=True)
    role_arn = models.CharField(max_length=2048, null=True, blank=True)
    external_id = models.CharField(max_length=1224, null=True, blank=True)
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    enabled = models.BooleanField(default=True)
    scan_interval_minutes = models.PositiveIntegerField(default=60)
    # Size of the thread pool for per-resource API calls: lower it for accounts that share their
    # API quota with production.
    max_concurrency = models.PositiveSmallIntegerField(default=8)
    # Where the account's CloudTrail trail (an organization trail, typically) delivers its log files:
    # attribution reads them there instead of calling LookupEvents. Empty: use LookupEvents.
    cloudtrail_bucket = models.CharField(max_length=63, blank=True, default="")
    cloudtrail_prefix = models.CharField(max_length=200, blank=True, default="")
    # Report live resources no Terraform state of this provider declares (off: adding a state is quiet).
    report_unmanaged = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    last_scanned_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The scan lock: the id of the detection job scanning this provider now. One column holds one job,
    # so the database itself keeps "one running job per provider", claimed with a compare-and-swap on
    # NULL. A plain id, not a foreign key: jobs belong to the drifts app, which sits above this one.
    running_job_id = models.BigIntegerField(null=True, blank=True, editable=False)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(deleted_at__isnull=True), name="provider_name_unique_live"
            ),
            models.CheckConstraint(condition=models.Q(scan_interval_minutes__gte=1), name="provider_interval_positive"),
            models.CheckConstraint(
                condition=models.Q(max_concurrency__gte=1, max_concurrency__lte=64), name="provider_concurrency_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def set_credentials(self, credentials: dict | None) -> None:
        """Store credentials encrypted; None clears them (use the default AWS credential chain)."""
        self.credentials_encrypted = encrypt_json(credentials) if credentials else ""

    def get_credentials(self) -> dict | None:
        """Decrypted credentials, for building an AWS session only; never serialise these."""
        return decrypt_json(self.credentials_encrypted) if self.credentials_encrypted else None


class Resource(models.Model):
    """One cloud resource as last read: its normalized configuration and when it was seen."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="resources")
    resource_type = models.CharField(max_length=64)
    external_id = models.CharField(max_length=1024)
    name = models.CharField(max_length=512)
    region = models.CharField(max_length=32)
    config = models.JSONField(default=dict)
    config_hash = models.CharField(max_length=64)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["provider_id", "resource_type", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "resource_type", "external_id"], name="resource_unique_per_provider"
            ),
        ]
        indexes = [
            # A scan unit's scope: live resources of one provider, type and region.
            models.Index(fields=["provider", "resource_type", "region"], name="resource_scope_idx"),
            # Resource list filtered by type, ordered by name.
            models.Index(fields=["resource_type", "name"], name="resource_type_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}"


class ScanScope(models.Model):
    """A (provider, region, resource_type) that has been scanned to completion at least once.

    Resources found in a scope before its first completed scan are baselined quietly; after it, a
    new resource is a finding. Keeping this per scope means adding a region does not flood findings.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="scan_scopes")
    region = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=64)
    first_completed_at = models.DateTimeField(default=timezone.now)
    last_completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "region", "resource_type"], name="scanscope_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}/{self.region}/{self.resource_type}"
