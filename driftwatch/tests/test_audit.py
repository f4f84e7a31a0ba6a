"""The audit trail's shared pieces."""

from driftwatch.models import AuditEntry


def test_diff_lists_each_changed_value_as_old_and_new():
    before = {"name": "a", "regions": ["us-east-1"], "enabled": True}
    after = {"name": "b", "regions": ["us-east-1"], "enabled": True, "reason": "new"}
    assert AuditEntry.diff(before, after) == {"name": ["a", "b"], "reason": [None, "new"]}
    assert AuditEntry.diff(after, after) == {}
