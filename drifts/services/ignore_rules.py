"""Ignore rules: creating, changing and deleting them, each with its audit row, from the API and the admin alike."""

from django.db import transaction

from driftwatch.api.serializers import iso_utc
from driftwatch.models import AuditEntry

from ..models import IgnoreRule

# What the audit trail records of a rule (it holds no secret).
AUDITED_FIELDS = ("resource_type", "path_glob", "name_glob", "expires_at", "reason")


def audit_values(rule: IgnoreRule) -> dict:
    """A rule's values as its audit rows record them (expires_at as an ISO 8601 UTC string)."""
    values = {name: getattr(rule, name) for name in AUDITED_FIELDS}
    values["expires_at"] = iso_utc(rule.expires_at)
    return values


def create_ignore_rule(values: dict, actor) -> IgnoreRule:
    """Create a rule from validated values; it applies from the next scan on."""
    created_by = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        rule = IgnoreRule.objects.create(created_by=created_by, **values)
        AuditEntry.record(actor, "create", rule, audit_values(rule))
    return rule


def update_ignore_rule(rule: IgnoreRule, values: dict, actor) -> IgnoreRule:
    """Change a rule (`rule` as stored: its values are the audit row's "before"); audit what changed."""
    before = audit_values(rule)
    for name, value in values.items():
        setattr(rule, name, value)
    changes = AuditEntry.diff(before, audit_values(rule))
    with transaction.atomic():
        rule.save(update_fields=[*values, "updated_at"])
        if changes:
            AuditEntry.record(actor, "update", rule, changes)
    return rule


def delete_ignore_rule(rule: IgnoreRule, actor) -> None:
    """Delete a rule; its audit row keeps what it was."""
    with transaction.atomic():
        AuditEntry.record(actor, "delete", rule, audit_values(rule))
        rule.delete()
