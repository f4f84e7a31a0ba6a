"""The roles migrations, run for real: write tokens become admin, and every live token keeps working."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from driftwatch.models import ApiToken, hash_token
from driftwatch.tests.test_roles import assert_groups_hold_the_permissions_of_their_scope

BEFORE = [("driftwatch", "0001_initial")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_write_tokens_become_admin_and_their_owners_join_the_group_they_need():
    old = _migrate(BEFORE)
    User = old.get_model("auth", "User")
    Token = old.get_model("driftwatch", "ApiToken")

    def token(user, scope, raw, **kw):
        Token.objects.create(user=user, scope=scope, key_hash=hash_token(raw), key_hint=raw[:10], **kw)

    writer, reader, both = (User.objects.create(username=n) for n in ("writer", "reader", "both"))
    root = User.objects.create(username="root", is_superuser=True, is_staff=True)
    gone = User.objects.create(username="gone")
    token(writer, "write", "dw_writer")
    token(reader, "read", "dw_reader")
    token(both, "read", "dw_both_read")
    token(both, "write", "dw_both_write")
    token(root, "write", "dw_root")
    token(gone, "write", "dw_gone", revoked_at=timezone.now())

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    scopes = dict(ApiToken.objects.values_list("user__username", "scope").filter(scope="admin"))
    assert set(scopes) == {"writer", "both", "root", "gone"}
    assert not ApiToken.objects.filter(scope="write").exists()
    from django.contrib.auth.models import User as CurrentUser

    groups = {u.username: sorted(g.name for g in u.groups.all()) for u in CurrentUser.objects.all()}
    assert groups == {
        "writer": ["Administrators"],
        "reader": ["Viewers"],
        "both": ["Administrators"],  # the strongest of their live tokens
        "root": [],  # superusers hold every permission already
        "gone": [],  # only a revoked token: nothing to keep working
    }

    assert_groups_hold_the_permissions_of_their_scope()

    # The tokens work as before: the former write token administers, the read token reads.
    def client(raw):
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return c

    rule = {"path_glob": "Tags.*", "reason": "kept working"}
    assert client("dw_writer").post("/api/v1/ignore-rules", rule, format="json").status_code == 201
    assert client("dw_root").post("/api/v1/ignore-rules", rule, format="json").status_code == 201
    assert client("dw_reader").get("/api/v1/ignore-rules").status_code == 200
    assert client("dw_reader").post("/api/v1/ignore-rules", rule, format="json").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_going_back_turns_admin_into_write_and_triage_into_read():
    from django.contrib.auth.models import User

    user = User.objects.create(username="u")
    ApiToken.issue(user, scope="admin")
    ApiToken.issue(user, scope="triage")
    old = _migrate(BEFORE)
    Token = old.get_model("driftwatch", "ApiToken")
    assert sorted(Token.objects.values_list("scope", flat=True)) == ["read", "write"]
    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert sorted(ApiToken.objects.values_list("scope", flat=True)) == ["admin", "read"]
