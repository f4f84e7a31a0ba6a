"""Baselines: how a resource should be configured. One current baseline per resource, older ones kept.

Terraform state sources live here too: a state is the code's word on how resources should be.
"""

import fnmatch

from django.conf import settings
from django.db import models
from django.utils import timezone

from providers.crypto import decrypt_json, encrypt_json


class BaselineSource(models.TextChoices):
    DISCOVERED = "discovered", "Discovered"
    MANUAL = "manual", "Manual"
    RESOLVE = "resolve", "Resolve"
    TERRAFORM = "terraform", "Terraform"


class Baseline(models.Model):
    """A captured configuration of a resource; is_current marks the one scans compare against."""

    resource = models.ForeignKey("providers.Resource", on_delete=models.CASCADE, related_name="baselines")
    config = models.JSONField(default=dict)
    config_hash = models.CharField(max_length=64)
    captured_at = models.DateTimeField(default=timezone.now)
    captured_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    source = models.CharField(max_length=16, choices=BaselineSource.choices)
    is_current = models.BooleanField(default=True)
    # For source terraform: which state declared it, at which address and serial (the code's word).
    state_source = models.ForeignKey(
        "baselines.StateSource", null=True, blank=True, on_delete=models.SET_NULL, related_name="baselines"
    )
    state_key = models.CharField(max_length=1024, blank=True, help_text="The state file's S3 key, when a glob.")
    address = models.CharField(max_length=1024, blank=True, help_text="e.g. module.network.aws_security_group.web[0]")
    serial = models.BigIntegerField(null=True, blank=True)
    # Parts of the document declared by split resources: {"Versioning": "aws_s3_bucket_versioning.logs", ...}
    declared_by = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-captured_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource"], condition=models.Q(is_current=True), name="baseline_one_current_per_resource"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=["discovered", "manual", "resolve", "terraform"]),
                name="baseline_source_valid",
            ),
        ]
        indexes = [
            # A resource's baseline history, newest first.
            models.Index(fields=["resource", "-captured_at", "-id"], name="baseline_history_idx"),
            # Applying a state: the current baselines it declared before (to retire those it no longer does).
            models.Index(
                fields=["state_source", "state_key"],
                condition=models.Q(is_current=True, source="terraform"),
                name="baseline_current_tf_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"baseline #{self.pk} of resource {self.resource_id}"


class StateSourceKind(models.TextChoices):
    S3 = "s3", "S3 object(s)"
    HTTP = "http", "HTTP(S) URL"
    UPLOAD = "upload", "Uploaded by API"


class StateReadStatus(models.TextChoices):
    NEVER = "never", "Never read"
    OK = "ok", "Applied"
    UNCHANGED = "unchanged", "Unchanged"
    ERROR = "error", "Error"


GLOB_CHARS = frozenset("*?[")


class StateSource(models.Model):
    """Where a provider's Terraform state is read: an S3 key (or glob), an HTTPS URL, or API uploads.

    `heads` remembers, per state file (its S3 key; "" for a single file), the serial and lineage last
    applied, so an unchanged state is not parsed again.
    """

    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="state_sources")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=StateSourceKind.choices)
    bucket = models.CharField(max_length=255, blank=True)
    key = models.CharField(
        max_length=1024, blank=True, help_text="Object key, or a glob such as envs/*/terraform.tfstate."
    )
    url = models.CharField(max_length=2048, blank=True)
    token_encrypted = models.TextField(blank=True, default="", editable=False)
    enabled = models.BooleanField(default=True)
    heads = models.JSONField(default=dict, blank=True, editable=False)
    last_status = models.CharField(
        max_length=16, choices=StateReadStatus.choices, default=StateReadStatus.NEVER, editable=False
    )
    last_error = models.TextField(blank=True, editable=False)
    last_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="statesource_name_unique_per_provider"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["s3", "http", "upload"]), name="statesource_kind_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="s3") | (~models.Q(bucket="") & ~models.Q(key="")),
                name="statesource_s3_has_bucket_and_key",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="http") | ~models.Q(url=""), name="statesource_http_has_url"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_glob(self) -> bool:
        return self.kind == StateSourceKind.S3 and not GLOB_CHARS.isdisjoint(self.key)

    def key_prefix(self) -> str:
        """The literal part of the key before its first wildcard (the S3 listing prefix)."""
        for position, char in enumerate(self.key):
            if char in GLOB_CHARS:
                return self.key[:position]
        return self.key

    def matches(self, object_key: str) -> bool:
        """Whether an object key is one of this source's state files (`*` does not cross `/`)."""
        if not self.is_glob:
            return object_key == self.key
        pattern_parts, key_parts = self.key.split("/"), object_key.split("/")
        return len(pattern_parts) == len(key_parts) and all(
            fnmatch.fnmatchcase(part, pattern) for part, pattern in zip(key_parts, pattern_parts, strict=True)
        )

    @property
    def has_token(self) -> bool:
        return bool(self.token_encrypted)

    def set_token(self, token: str | None) -> None:
        """Store the bearer token encrypted; None or "" clears it."""
        self.token_encrypted = encrypt_json({"token": token}) if token else ""

    def get_token(self) -> str | None:
        """The decrypted bearer token, for the Authorization header only; never serialise it."""
        return decrypt_json(self.token_encrypted)["token"] if self.token_encrypted else None
