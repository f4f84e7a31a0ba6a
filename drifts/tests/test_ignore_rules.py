"""Ignore rules: "active" defined once (queryset and property agree), and audited changes from either door."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from drifts.models import IgnoreRule
from drifts.services import ignore_rules
from driftwatch.models import AuditEntry

pytestmark = pytest.mark.django_db


def _rules(now):
    return {
        "forever": IgnoreRule.objects.create(path_glob="Tags.*", reason="r"),
        "until_tomorrow": IgnoreRule.objects.create(path_glob="A", reason="r", expires_at=now + timedelta(days=1)),
        "expired": IgnoreRule.objects.create(path_glob="B", reason="r", expires_at=now - timedelta(seconds=1)),
    }


def _names(rules: dict, queryset) -> set[str]:
    ids = set(queryset.values_list("pk", flat=True))
    return {name for name, rule in rules.items() if rule.pk in ids}


def test_active_and_expired_split_the_rules_at_a_given_time():
    now = timezone.now()
    rules = _rules(now)
    assert _names(rules, IgnoreRule.objects.active(now)) == {"forever", "until_tomorrow"}
    assert _names(rules, IgnoreRule.objects.expired(now)) == {"expired"}
    two_days_on = now + timedelta(days=2)
    assert _names(rules, IgnoreRule.objects.active(two_days_on)) == {"forever"}
    assert _names(rules, IgnoreRule.objects.expired(two_days_on)) == {"until_tomorrow", "expired"}


def test_the_property_agrees_with_the_queryset():
    rules = _rules(timezone.now())
    active = set(IgnoreRule.objects.active().values_list("pk", flat=True))
    assert {rule.pk for rule in IgnoreRule.objects.all() if rule.is_active} == active
    assert not rules["expired"].is_active


def test_for_type_keeps_rules_for_that_type_and_for_every_type():
    every = IgnoreRule.objects.create(path_glob="Tags.*", reason="r")
    buckets = IgnoreRule.objects.create(resource_type="s3_bucket", path_glob="Versioning", reason="r")
    IgnoreRule.objects.create(resource_type="iam_role", path_glob="Path", reason="r")
    assert set(IgnoreRule.objects.for_type("s3_bucket")) == {every, buckets}


def test_update_records_old_and_new_values_and_delete_records_what_the_rule_was(user):
    rule = ignore_rules.create_ignore_rule({"path_glob": "Tags.*", "reason": "churn"}, user)
    assert rule.created_by == user
    ignore_rules.update_ignore_rule(IgnoreRule.objects.get(pk=rule.pk), {"reason": "tag churn", "name_glob": ""}, user)
    ignore_rules.delete_ignore_rule(IgnoreRule.objects.get(pk=rule.pk), user)
    rows = AuditEntry.objects.filter(object_type="drifts.ignorerule").order_by("id")
    assert [(row.action, row.changes) for row in rows] == [
        (
            "create",
            {"resource_type": "", "path_glob": "Tags.*", "name_glob": "", "expires_at": None, "reason": "churn"},
        ),
        ("update", {"reason": ["churn", "tag churn"]}),
        (
            "delete",
            {"resource_type": "", "path_glob": "Tags.*", "name_glob": "", "expires_at": None, "reason": "tag churn"},
        ),
    ]
    assert not IgnoreRule.objects.exists()


def _audit_rows(rule_id: int) -> list[tuple[str, dict]]:
    rows = AuditEntry.objects.filter(object_type="drifts.ignorerule", object_id=str(rule_id)).order_by("id")
    return [(row.action, row.changes) for row in rows]


def test_api_and_admin_write_the_same_audit_rows(api, admin_client):
    body = {"resource_type": "s3_bucket", "path_glob": "Tags.*", "reason": "churn"}
    via_api = api.post("/api/v1/ignore-rules", body, format="json").json()["id"]
    api.patch(f"/api/v1/ignore-rules/{via_api}", {"name_glob": "logs-*", "reason": "log tags churn"}, format="json")
    api.delete(f"/api/v1/ignore-rules/{via_api}")

    form = {"resource_type": "s3_bucket", "path_glob": "Tags.*", "name_glob": "", "reason": "churn"}
    assert admin_client.post(reverse("admin:drifts_ignorerule_add"), form).status_code == 302
    via_admin = IgnoreRule.objects.get().pk
    changed = {**form, "name_glob": "logs-*", "reason": "log tags churn"}
    assert admin_client.post(reverse("admin:drifts_ignorerule_change", args=[via_admin]), changed).status_code == 302
    deleted = admin_client.post(reverse("admin:drifts_ignorerule_delete", args=[via_admin]), {"post": "yes"})
    assert deleted.status_code == 302

    assert _audit_rows(via_api) == _audit_rows(via_admin)
    assert [action for action, _ in _audit_rows(via_admin)] == ["create", "update", "delete"]
    assert _audit_rows(via_admin)[1] == ("update", {"name_glob": ["", "logs-*"], "reason": ["churn", "log tags churn"]})
