"""Cross-cutting models: API tokens and the audit trail. No domain models live here."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property

TOKEN_PREFIX = "dw_"


def hash_token(raw: str) -> str:
    """SHA-256 of a raw token; the only form a token is stored in."""
    return hashlib.sha256(raw.encode()).hexdigest()


class TokenScope(models.TextChoices):
    """What a token may do, each scope including the one before it (see driftwatch/roles.py)."""

    READ = "read", "Read"
    TRIAGE = "triage", "Triage"
    ADMIN = "admin", "Admin"

    @classmethod
    def parse(cls, value: str) -> "TokenScope":
        """A scope from its name; "write", the name admin had before triage existed, still means admin."""
        value = SCOPE_ALIASES.get(value, value)
        if value not in cls.values:
            raise ValueError(f"Unknown token scope {value!r}; choose one of {', '.join(cls.values)}.")
        return cls(value)

    def covers(self, needed: str) -> bool:
        """True when a token of this scope may do what `needed` allows."""
        order = list(TokenScope)
        return order.index(self) >= order.index(TokenScope(needed))


# Scripts written before the triage scope existed ask for "write"; it kept every right it had, as admin.
SCOPE_ALIASES = {"write": TokenScope.ADMIN.value}


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A Bearer token for the API, stored only as a hash; the raw value is shown once at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters after the prefix, so an operator can tell tokens apart without the secret.
    key_hint = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=["read", "triage", "admin"]), name="apitoken_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'token'} ({self.key_hint}…, {self.scope})"

    @classmethod
    def issue(cls, user, *, name: str = "", scope: str = TokenScope.READ, expires_at=None) -> tuple["ApiToken", str]:
        """Create a token and return it with its raw value, which is not stored anywhere."""
        scope = TokenScope.parse(scope)
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user, name=name, scope=scope.value, key_hash=hash_token(raw), key_hint=raw[:10], expires_at=expires_at
        )
        return token, raw

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @cached_property
    def owner_permissions(self) -> frozenset[str]:
        """The owner's model permissions ("app.codename"); BearerTokenAuthentication loads them with the token."""
        return frozenset(self.user.get_all_permissions())

    def revoke(self) -> None:
        """Revoke now; idempotent."""
        ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


class AuditEntry(models.Model):
    """Who changed what: one row per mutation of providers, ignore rules, tokens and baselines."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=32)  # create, update, delete, test, capture ...
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            # Audit history of one object, newest first.
            models.Index(fields=["object_type", "object_id", "-at"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"

    @staticmethod
    def diff(before: dict, after: dict) -> dict:
        """The changes of an "update" row: {name: [old, new]} for each value of `after` that differs from `before`."""
        return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}

    @classmethod
    def record(cls, actor, action: str, obj, changes: dict | None = None) -> "AuditEntry":
        """Write one audit row for obj; secrets must already be removed from changes."""
        user = actor if getattr(actor, "is_authenticated", False) else None
        return cls.objects.create(
            actor=user,
            action=action,
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            changes=changes or {},
        )


class MetricSeries(models.Model):
    """One series of a counter, histogram bucket or gauge that every process adds to (driftwatch/metrics.py).

    Kept in the database, not in process memory, so gunicorn and Celery processes on any number of hosts
    add to the same numbers and /metrics reads them from whichever web process Prometheus reaches.
    """

    name = models.CharField(max_length=200)
    # Canonical JSON of the label pairs, keys sorted ({} for none): one row per label set.
    labels = models.CharField(max_length=1000, default="{}")
    value = models.FloatField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The upsert's conflict target: adding to a series is INSERT ... ON CONFLICT (name, labels).
            models.UniqueConstraint(fields=["name", "labels"], name="metricseries_key"),
        ]

    def __str__(self) -> str:
        return f"{self.name}{self.labels} = {self.value}"


class OutboxEvent(models.Model):
    """Something happened that someone may want to hear about; written in the same transaction as the change.

    A rolled-back change leaves no event and a committed one always has one, whatever the broker does;
    the notifications dispatcher turns undispatched events into deliveries (driftwatch.outbox writes them).
    """

    type = models.CharField(max_length=64)  # drift.detected, drift.status_changed, drift.resolved, job.completed ...
    created_at = models.DateTimeField(default=timezone.now)
    # The event's body ("data" of the envelope receivers get), as it was when the change committed.
    data = models.JSONField(default=dict)
    # The detection job the event belongs to, if any (a plain id: the kit knows no domain model), so one
    # scan's events can be gathered into one digest.
    job_id = models.BigIntegerField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The dispatcher's queue: undispatched events in commit order (a handful among millions).
            models.Index(fields=["id"], condition=models.Q(dispatched_at__isnull=True), name="outbox_pending_idx"),
            # One job's events, for its digest.
            models.Index(fields=["job_id", "type"], condition=models.Q(job_id__isnull=False), name="outbox_job_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"
