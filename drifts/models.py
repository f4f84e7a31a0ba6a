"""Drift findings, their status history, detection jobs and ignore rules."""

import fnmatch

from django.conf import settings
from django.db import models
from django.utils import timezone


class DriftType(models.TextChoices):
    CONFIGURATION = "configuration", "Configuration"
    SECURITY = "security", "Security"
    COMPLIANCE = "compliance", "Compliance"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class DriftStatus(models.TextChoices):
    DETECTED = "detected", "Detected"
    INVESTIGATING = "investigating", "Investigating"
    RESOLVED = "resolved", "Resolved"


# The state machine, once: forward only, resolved is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    DriftStatus.DETECTED: (DriftStatus.INVESTIGATING, DriftStatus.RESOLVED),
    DriftStatus.INVESTIGATING: (DriftStatus.RESOLVED,),
    DriftStatus.RESOLVED: (),
}
OPEN_STATUSES = (DriftStatus.DETECTED, DriftStatus.INVESTIGATING)


class Resolution(models.TextChoices):
    MANUAL = "manual", "Manual"
    BASELINE_CAPTURED = "baseline_captured", "Baseline captured"
    REVERTED = "reverted", "Reverted"


class AttributionStatus(models.TextChoices):
    """Where finding out who made a drift's change stands (see drifts/services/attribution.py)."""

    NOT_ATTEMPTED = "not_attempted", "Not attempted"  # drifts from before attribution, or with it turned off
    PENDING = "pending", "Pending"  # waiting for its first look-up, or for CloudTrail to deliver the event
    ATTRIBUTED = "attributed", "Attributed"
    NOT_FOUND = "not_found", "Not found"  # every try came back without a matching event
    UNAVAILABLE = "unavailable", "Unavailable"  # the look-up itself failed (access denied, no trail, ...)


class ManagedBy(models.TextChoices):
    NONE = "", "Not managed by code"
    TERRAFORM = "terraform", "Terraform"


class TerraformFinding(models.TextChoices):
    NONE = "", "Attribute"
    UNMANAGED = "unmanaged", "Unmanaged resource"
    MISSING = "missing", "Missing resource"


class Drift(models.Model):
    """One attribute of one resource that differs from its baseline."""

    resource = models.ForeignKey("providers.Resource", on_delete=models.PROTECT, related_name="drifts")
    # Denormalized from resource so the list filters by provider without a join.
    provider = models.ForeignKey("providers.Provider", on_delete=models.PROTECT, related_name="drifts")
    # Denormalized from resource for the resource_type filter.
    resource_type = models.CharField(max_length=64)
    baseline = models.ForeignKey("baselines.Baseline", null=True, blank=True, on_delete=models.SET_NULL)
    job = models.ForeignKey("drifts.DetectionJob", null=True, blank=True, on_delete=models.SET_NULL)
    path = models.CharField(max_length=1024, blank=True)
    drift_type = models.CharField(max_length=16, choices=DriftType.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=DriftStatus.choices, default=DriftStatus.DETECTED)
    summary = models.CharField(max_length=500)
    baseline_value = models.JSONField(null=True, blank=True)
    current_value = models.JSONField(null=True, blank=True)
    diff = models.JSONField(default=list, blank=True)
    detected_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=32, choices=Resolution.choices, null=True, blank=True)
    # Who made the change, from CloudTrail: written by the attribution task after the scan, never by it.
    attribution_status = models.CharField(
        max_length=16, choices=AttributionStatus.choices, default=AttributionStatus.NOT_ATTEMPTED
    )
    # Why there is no changed_by (pending, not found, unavailable: <reason>); empty once attributed.
    attribution_reason = models.CharField(max_length=300, blank=True, default="")
    attribution_attempts = models.PositiveSmallIntegerField(default=0)
    # When a pending drift is next looked up (also the lease of a worker looking it up now).
    attribution_next_at = models.DateTimeField(null=True, blank=True)
    # {actor, actor_arn, actor_type, event_name, event_id, event_time, source_ip, user_agent, confidence, ...}
    changed_by = models.JSONField(null=True, blank=True)
    # The matching CloudTrail record as delivered, for the admin; never part of a list query.
    attribution_event = models.JSONField(null=True, blank=True)
    # Set when the baseline came from a Terraform state: "live differs from code", traced to the code.
    managed_by = models.CharField(max_length=16, choices=ManagedBy.choices, blank=True, default="")
    state_source = models.ForeignKey(
        "baselines.StateSource", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tf_address = models.CharField(max_length=1024, blank=True, default="")
    tf_serial = models.BigIntegerField(null=True, blank=True)
    tf_finding = models.CharField(max_length=16, choices=TerraformFinding.choices, blank=True, default="")

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource", "path"],
                condition=~models.Q(status="resolved"),
                name="drift_one_open_per_resource_path",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["detected", "investigating", "resolved"]), name="drift_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=["critical", "high", "medium", "low"]), name="drift_severity_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(drift_type__in=["configuration", "security", "compliance"]), name="drift_type_valid"
            ),
            # A resolved drift always says how; an open one never does.
            models.CheckConstraint(
                condition=(models.Q(status="resolved", resolution__isnull=False, resolved_at__isnull=False))
                | (~models.Q(status="resolved") & models.Q(resolution__isnull=True)),
                name="drift_resolution_consistent",
            ),
        ]
        indexes = [
            # GET /drifts default ordering (newest first), no filter.
            models.Index(fields=["-detected_at", "-id"], name="drift_newest_idx"),
            # GET /drifts?provider_id=
            models.Index(fields=["provider", "-detected_at", "-id"], name="drift_provider_idx"),
            # GET /drifts?resource_id= and a resource's drifts
            models.Index(fields=["resource", "-detected_at", "-id"], name="drift_resource_idx"),
            # GET /drifts?status= (the usual triage view: open findings)
            models.Index(fields=["status", "-detected_at", "-id"], name="drift_status_idx"),
            # GET /drifts?severity=&status=
            models.Index(fields=["severity", "status", "-detected_at", "-id"], name="drift_severity_status_idx"),
            # GET /drifts?type=
            models.Index(fields=["drift_type", "-detected_at", "-id"], name="drift_type_idx"),
            # GET /drifts?resource_type=
            models.Index(fields=["resource_type", "-detected_at", "-id"], name="drift_resource_type_idx"),
            # The attribution tick: pending drifts whose next look-up is due (a few among millions).
            models.Index(
                fields=["attribution_next_at"],
                condition=models.Q(attribution_status="pending"),
                name="drift_attribution_due_idx",
            ),
            # GET /drifts?managed_by=terraform (a minority of rows: partial).
            models.Index(
                fields=["managed_by", "-detected_at", "-id"],
                condition=~models.Q(managed_by=""),
                name="drift_managed_by_idx",
            ),
            # GET /drifts?state_source=
            models.Index(
                fields=["state_source", "-detected_at", "-id"],
                condition=models.Q(state_source__isnull=False),
                name="drift_state_source_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"drift #{self.pk}: {self.summary}"


class DriftEvent(models.Model):
    """One status change of a drift; written in the same transaction as the change."""

    drift = models.ForeignKey(Drift, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=DriftStatus.choices, null=True, blank=True)
    to_status = models.CharField(max_length=16, choices=DriftStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # A drift's history, oldest first (drift detail).
            models.Index(fields=["drift", "at", "id"], name="driftevent_history_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"


class JobStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


class JobTrigger(models.TextChoices):
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    ADMIN = "admin", "Admin"
    CLI = "cli", "CLI"


class DetectionJob(models.Model):
    """One detection run over one provider or all of them; counters are sums over its units."""

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.RUNNING)
    trigger = models.CharField(max_length=16, choices=JobTrigger.choices)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    provider = models.ForeignKey("providers.Provider", null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    units_total = models.PositiveIntegerField(default=0)
    units_done = models.PositiveIntegerField(default=0)
    resources_total = models.PositiveIntegerField(default=0)
    resources_scanned = models.PositiveIntegerField(default=0)
    drifts_new = models.PositiveIntegerField(default=0)
    drifts_updated = models.PositiveIntegerField(default=0)
    drifts_resolved = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # Problems that do not change the scan's result (attribution unavailable, ...); same shape as errors.
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            # GET /jobs newest first, and the reaper's "running for too long" scan.
            models.Index(fields=["status", "-started_at"], name="job_status_idx"),
            models.Index(fields=["-started_at", "-id"], name="job_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"job #{self.pk} ({self.status})"

    @property
    def percent(self) -> int:
        if self.status != JobStatus.RUNNING:
            return 100
        return int(100 * self.units_done / self.units_total) if self.units_total else 0


class UnitStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


UNFINISHED_UNIT_STATUSES = (UnitStatus.PENDING, UnitStatus.RUNNING)


class JobUnit(models.Model):
    """One (provider, region, resource_type) of a job: the unit of work of one Celery task.

    A unit is a lease, not a fire-and-forget message: a worker claims it (pending -> running, attempt + 1)
    and renews lease_expires_at while it runs; the supervisor re-queues a unit whose lease expired (its
    worker died) or that was queued and never started (its message was lost).
    """

    job = models.ForeignKey(DetectionJob, on_delete=models.CASCADE, related_name="units")
    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="+")
    region = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=UnitStatus.choices, default=UnitStatus.PENDING)
    resources_total = models.PositiveIntegerField(default=0)
    resources_scanned = models.PositiveIntegerField(default=0)
    drifts_new = models.PositiveIntegerField(default=0)
    drifts_updated = models.PositiveIntegerField(default=0)
    drifts_resolved = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # How many times a worker claimed the unit; a claim's number is its lease token.
    attempt = models.PositiveIntegerField(default=0)
    # When its message was last sent to the broker (null: never sent, e.g. the broker was down).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "provider", "region", "resource_type"], name="jobunit_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "running", "succeeded", "failed"]),
                name="jobunit_status_valid",
            ),
        ]
        indexes = [
            # The supervisor's tick: unfinished units (a handful among millions of finished ones).
            models.Index(
                fields=["status", "lease_expires_at"],
                condition=models.Q(status__in=["pending", "running"]),
                name="jobunit_unfinished_idx",
            ),
            # Attribution's window: the scope's last successful unit that finished before a detection.
            models.Index(
                fields=["provider", "resource_type", "region", "-finished_at"],
                condition=models.Q(status="succeeded"),
                name="jobunit_scope_history_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}/{self.region}/{self.resource_type}"


class IgnoreRuleQuerySet(models.QuerySet):
    """What "active" means for ignore rules, once: not expired (no expires_at, or one still ahead)."""

    @staticmethod
    def _active(now) -> models.Q:
        return models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now or timezone.now())

    def active(self, now=None) -> "IgnoreRuleQuerySet":
        """Rules in force at `now` (default: now)."""
        return self.filter(self._active(now))

    def expired(self, now=None) -> "IgnoreRuleQuerySet":
        """Rules whose expires_at has passed at `now` (default: now)."""
        return self.exclude(self._active(now))

    def for_type(self, resource_type: str) -> "IgnoreRuleQuerySet":
        """Rules that apply to a resource type: those for that type and those for every type."""
        return self.filter(models.Q(resource_type="") | models.Q(resource_type=resource_type))


class IgnoreRule(models.Model):
    """Changes matching this rule create no drift (a known, accepted difference)."""

    resource_type = models.CharField(max_length=64, blank=True, help_text="Empty matches every type.")
    path_glob = models.CharField(max_length=512, help_text="Attribute path glob, e.g. Tags.* or Versioning")
    name_glob = models.CharField(max_length=512, blank=True, help_text="Optional resource name glob.")
    expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IgnoreRuleQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"ignore {self.resource_type or '*'} {self.path_glob}"

    @property
    def is_active(self) -> bool:
        """Not expired yet: IgnoreRule.objects.active() for one loaded rule."""
        return self.expires_at is None or self.expires_at > timezone.now()

    def matches(self, resource_type: str, name: str, path: str) -> bool:
        """True when this rule silences a change at path on a resource of that type and name.

        Whether the rule is in force is the queryset's question (IgnoreRule.objects.active()).
        """
        if self.resource_type and self.resource_type != resource_type:
            return False
        if self.name_glob and not fnmatch.fnmatchcase(name, self.name_glob):
            return False
        return fnmatch.fnmatchcase(path, self.path_glob)


class DriftCount(models.Model):
    """How many drifts exist per (provider, resource_type, severity, drift_type, status).

    Maintained by database triggers on drifts_drift (migration 0003) in the same transaction as every
    insert, update and delete, so list totals and the summary read a few hundred rows instead of
    counting millions, and stay exact whatever code path wrote the drifts.
    """

    provider_id = models.BigIntegerField()
    resource_type = models.CharField(max_length=64)
    severity = models.CharField(max_length=16)
    drift_type = models.CharField(max_length=16)
    status = models.CharField(max_length=16)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider_id", "resource_type", "severity", "drift_type", "status"], name="driftcount_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}/{self.resource_type}/{self.severity}/{self.drift_type}/{self.status}: {self.n}"
