"""Roles: token scopes read < triage < admin, sessions bound by model permissions, tokens bound by their owner's.

Written as the attacks: a staff user without permissions, a triage token reaching for providers and ignore
rules, a read token writing, an admin token whose owner may do little.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient, APIRequestFactory

from baselines.models import Baseline
from drifts.models import DetectionJob, IgnoreRule
from driftwatch.api.permissions import Access, AccessDenied, check_access, required_access
from driftwatch.models import ApiToken, TokenScope, hash_token
from driftwatch.roles import GROUP_NAMES, TRIAGE_PERMISSIONS, group_for_scope
from driftwatch.tests.factories import make_drift
from providers.models import Provider

pytestmark = pytest.mark.django_db

PROVIDER = {"name": "attacker", "kind": "aws", "regions": ["us-east-1"], "endpoint_url": None}
RULE = {"path_glob": "Tags.*", "reason": "silence everything"}


def _bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _token_for(user, scope: str) -> APIClient:
    return _bearer(ApiToken.issue(user, scope=scope)[1])


def _denied(response, scope: str) -> dict:
    """A 403 in the API's error format whose message names the scope the action needs."""
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert f"{scope} scope" in error["message"]
    assert error["details"]["required_scope"] == scope
    return error


@pytest.fixture
def staff(django_user_model):
    """A staff user with no model permissions at all, signed in (the admin refuses them everything)."""
    user = django_user_model.objects.create_user("mallory", password="pw-mallory-123", is_staff=True)
    client = APIClient()
    client.force_login(user)
    return user, client


# --- sessions obey model permissions ------------------------------------------------------------------------


def test_staff_session_without_permissions_cannot_create_ignore_rules_or_providers_or_delete_one(staff, provider):
    user, client = staff
    _denied(client.post("/api/v1/ignore-rules", RULE, format="json"), "admin")
    _denied(client.post("/api/v1/providers", PROVIDER, format="json"), "admin")
    error = _denied(client.delete(f"/api/v1/providers/{provider.pk}"), "admin")
    assert error["details"]["missing_permissions"] == ["providers.delete_provider"]
    assert "You lack" in error["message"]
    _denied(client.get("/api/v1/drifts"), "read")  # the admin would not show them drifts either
    assert not IgnoreRule.objects.exists()
    assert list(Provider.objects.live()) == [provider]


def test_staff_session_with_the_model_permissions_can(staff, provider):
    user, client = staff
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["drifts", "providers"],
            codename__in=["add_ignorerule", "add_provider", "delete_provider"],
        )
    )
    assert client.post("/api/v1/ignore-rules", RULE, format="json").status_code == 201
    assert client.post("/api/v1/providers", PROVIDER, format="json").status_code == 201
    assert client.delete(f"/api/v1/providers/{provider.pk}").status_code == 204
    # Each permission covers its own action only.
    _denied(
        client.patch(f"/api/v1/ignore-rules/{IgnoreRule.objects.get().pk}", {"reason": "x"}, format="json"), "admin"
    )


def test_staff_session_in_the_triagers_group_triages_but_cannot_administer(staff, drift, provider):
    user, client = staff
    user.groups.add(group_for_scope("triage"))
    assert client.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json").status_code == 200
    _denied(client.post("/api/v1/providers", PROVIDER, format="json"), "admin")


# --- token scopes ---------------------------------------------------------------------------------------------


def test_triage_token_can_move_drifts_capture_baselines_and_start_scans(triage_api, resource):
    first, second = make_drift(resource, path="Tags.a"), make_drift(resource, path="Tags.b")
    assert triage_api.patch(f"/api/v1/drifts/{first.pk}", {"status": "investigating"}, format="json").status_code == 200
    assert triage_api.post(f"/api/v1/drifts/{first.pk}/resolve", {}, format="json").status_code == 200
    resolved = triage_api.post(f"/api/v1/drifts/{second.pk}/resolve", {"capture_baseline": True}, format="json")
    assert resolved.status_code == 200 and resolved.json()["resolution"] == "baseline_captured"
    assert triage_api.post(f"/api/v1/resources/{resource.pk}/baseline", format="json").status_code == 201
    started = triage_api.post("/api/v1/drifts/detect", format="json")
    assert started.status_code == 202 and DetectionJob.objects.filter(pk=started.json()["job_id"]).exists()


def test_triage_token_cannot_touch_providers_ignore_rules_or_tokens(triage_api, provider):
    rule = IgnoreRule.objects.create(path_glob="Tags.*", reason="accepted")
    for response in (
        triage_api.post("/api/v1/providers", PROVIDER, format="json"),
        triage_api.patch(f"/api/v1/providers/{provider.pk}", {"endpoint_url": "https://evil.example"}, format="json"),
        triage_api.patch(f"/api/v1/providers/{provider.pk}", {"credentials": None}, format="json"),
        triage_api.delete(f"/api/v1/providers/{provider.pk}"),
        triage_api.post(f"/api/v1/providers/{provider.pk}/test", format="json"),
        triage_api.post("/api/v1/ignore-rules", RULE, format="json"),
        triage_api.patch(f"/api/v1/ignore-rules/{rule.pk}", {"reason": "mine now"}, format="json"),
        triage_api.delete(f"/api/v1/ignore-rules/{rule.pk}"),
    ):
        error = _denied(response, "admin")
        assert error["details"]["token_scope"] == "triage"
        assert error["message"] == "This action needs a token with the admin scope; this token has the triage scope."
    provider.refresh_from_db()
    rule.refresh_from_db()
    assert provider.endpoint_url is None and provider.deleted_at is None and rule.reason == "accepted"


def test_a_token_reaches_tokens_only_with_the_admin_scope_and_the_owners_token_permissions(rf, user):
    """There is no token endpoint yet: whatever view serves tokens gets, by default, admin + the model's perms."""

    class TokenView:
        queryset = ApiToken.objects.all()
        action = "create"

    request = rf.post("/api/v1/tokens")
    assert required_access(TokenView(), request) == Access("admin", "driftwatch.add_apitoken")
    TokenView.action = "list"
    assert required_access(TokenView(), rf.get("/api/v1/tokens")) == Access("read", "driftwatch.view_apitoken")
    # ... and Viewers and Triagers hold no token permission at all.
    for scope in ("read", "triage"):
        assert not group_for_scope(scope).permissions.filter(content_type__app_label="driftwatch").exists()


def test_a_view_without_model_or_declaration_is_refused_to_all_but_superusers(rf, user, admin_user):
    from types import SimpleNamespace

    class Bare:
        action = "frobnicate"

    assert required_access(Bare(), rf.post("/api/v1/frobnicate")) is None
    user.groups.add(group_for_scope("admin"))
    with pytest.raises(AccessDenied):
        check_access(SimpleNamespace(user=user, auth=None), None)
    check_access(SimpleNamespace(user=admin_user, auth=None), None)  # no exception


def test_read_token_can_do_none_of_it(read_api, drift, resource, provider):
    rule = IgnoreRule.objects.create(path_glob="Tags.*", reason="accepted")
    triage_calls = (
        read_api.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json"),
        read_api.post(f"/api/v1/drifts/{drift.pk}/resolve", {}, format="json"),
        read_api.post(f"/api/v1/resources/{resource.pk}/baseline", format="json"),
        read_api.post("/api/v1/drifts/detect", format="json"),
    )
    for response in triage_calls:
        assert _denied(response, "triage")["details"]["token_scope"] == "read"
    for response in (
        read_api.post("/api/v1/providers", PROVIDER, format="json"),
        read_api.delete(f"/api/v1/providers/{provider.pk}"),
        read_api.post("/api/v1/ignore-rules", RULE, format="json"),
        read_api.delete(f"/api/v1/ignore-rules/{rule.pk}"),
    ):
        _denied(response, "admin")
    drift.refresh_from_db()
    assert drift.status == "detected" and not DetectionJob.objects.exists()
    assert Baseline.objects.filter(resource=resource).count() == 1
    assert read_api.get(f"/api/v1/drifts/{drift.pk}").status_code == 200


def test_superusers_tokens_are_still_bound_by_their_scope(admin_user, drift):
    client = _token_for(admin_user, "read")
    _denied(client.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json"), "triage")
    assert client.get("/api/v1/drifts").status_code == 200


# --- a token never exceeds its owner ---------------------------------------------------------------------------


def test_admin_token_of_an_owner_without_permissions_can_do_nothing(django_user_model, drift):
    owner = django_user_model.objects.create_user("bot")
    client = _token_for(owner, "admin")
    error = _denied(client.get("/api/v1/drifts"), "read")
    assert error["details"]["missing_permissions"] == ["drifts.view_drift"]
    assert "token's owner lacks" in error["message"]
    _denied(client.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json"), "triage")
    _denied(client.post("/api/v1/ignore-rules", RULE, format="json"), "admin")
    assert not IgnoreRule.objects.exists()


def test_admin_token_of_a_triager_cannot_exceed_triage(django_user_model, drift, provider):
    owner = django_user_model.objects.create_user("ticket-bot")
    owner.groups.add(group_for_scope("triage"))
    client = _token_for(owner, "admin")
    assert client.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json").status_code == 200
    error = _denied(client.post("/api/v1/providers", PROVIDER, format="json"), "admin")
    assert error["details"]["missing_permissions"] == ["providers.add_provider"]
    _denied(client.patch(f"/api/v1/providers/{provider.pk}", {"name": "x"}, format="json"), "admin")
    _denied(client.post("/api/v1/ignore-rules", RULE, format="json"), "admin")


def test_resolving_with_a_baseline_also_needs_the_baseline_permission(django_user_model, drift):
    owner = django_user_model.objects.create_user("narrow")
    owner.user_permissions.add(Permission.objects.get(content_type__app_label="drifts", codename="change_drift"))
    client = _token_for(owner, "triage")
    error = _denied(
        client.post(f"/api/v1/drifts/{drift.pk}/resolve", {"capture_baseline": True}, format="json"), "triage"
    )
    assert error["details"]["missing_permissions"] == ["baselines.add_baseline"]
    drift.refresh_from_db()
    assert drift.status == "detected"
    assert client.post(f"/api/v1/drifts/{drift.pk}/resolve", {}, format="json").status_code == 200


def test_permissions_taken_from_the_owner_apply_to_the_next_request(django_user_model, drift):
    owner = django_user_model.objects.create_user("leaver")
    owner.groups.add(group_for_scope("admin"))
    client = _token_for(owner, "admin")
    assert client.get("/api/v1/drifts").status_code == 200
    owner.groups.clear()
    _denied(client.get("/api/v1/drifts"), "read")


def test_checking_a_tokens_rights_costs_no_query_beyond_the_token_lookup(api, django_assert_num_queries):
    api.get("/api/v1/ignore-rules")  # the first use writes last_used_at
    with django_assert_num_queries(1):  # the token, its owner and the owner's permissions, in one query
        # Past authentication and the permission check, the view refuses the method: no query of its own.
        assert api.put("/api/v1/ignore-rules/1", {}, format="json").status_code == 405


# --- the groups -----------------------------------------------------------------------------------------------


def assert_groups_hold_the_permissions_of_their_scope():
    """Viewers view the domain, Triagers add the triage permissions, Administrators hold everything of ours."""
    names = {
        scope: set(
            Group.objects.get(name=GROUP_NAMES[scope])
            .permissions.values_list("content_type__app_label", "codename")
            .order_by()
        )
        for scope in TokenScope
    }
    viewers, triagers, admins = (names[s] for s in TokenScope)
    assert ("drifts", "view_drift") in viewers and ("providers", "view_provider") in viewers
    assert all(codename.startswith("view_") for _, codename in viewers)
    assert not {app for app, _ in viewers} & {"driftwatch", "auth"}
    assert triagers - viewers == {tuple(p.split(".")) for p in TRIAGE_PERMISSIONS}
    for needed in [("providers", "add_provider"), ("drifts", "delete_ignorerule"), ("driftwatch", "add_apitoken")]:
        assert needed in admins and needed not in triagers
    assert not {app for app, _ in admins} & {"auth", "contenttypes", "sessions"}
    assert ("driftwatch", "view_auditentry") in admins and ("driftwatch", "delete_auditentry") not in admins


def test_each_group_holds_the_permissions_of_its_scope():
    # The migration made them (test_roles_migration.py); a flushed test database gets them back on demand.
    for scope in TokenScope:
        group_for_scope(scope)
    assert_groups_hold_the_permissions_of_their_scope()


# --- create_api_token -----------------------------------------------------------------------------------------


def _command_token(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_create_api_token_scope_write_is_admin(user):
    raw = _command_token("--user", user.username, "--scope", "write")
    assert ApiToken.objects.get(key_hash=hash_token(raw)).scope == "admin"


@pytest.mark.parametrize(
    ("scope", "can_triage", "can_administer"), [("read", False, False), ("triage", True, False), ("admin", True, True)]
)
def test_create_user_gives_a_working_token_for_each_scope(scope, can_triage, can_administer, drift):
    raw = _command_token("--user", f"ci-{scope}", "--create-user", "--scope", scope)
    client = _bearer(raw)
    assert client.get("/api/v1/drifts").status_code == 200
    assert client.get(f"/api/v1/drifts/{drift.pk}").status_code == 200
    patched = client.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json")
    assert patched.status_code == (200 if can_triage else 403)
    created = client.post("/api/v1/providers", PROVIDER, format="json")
    assert created.status_code == (201 if can_administer else 403)
    owner = ApiToken.objects.get(key_hash=hash_token(raw)).user
    assert [g.name for g in owner.groups.all()] == [GROUP_NAMES[scope]]


def test_create_api_token_warns_when_an_existing_owner_lacks_the_scopes_permissions(django_user_model):
    from io import StringIO

    django_user_model.objects.create_user("plain")
    err = StringIO()
    call_command("create_api_token", "--user", "plain", "--scope", "triage", stdout=StringIO(), stderr=err)
    assert "lacks" in err.getvalue() and "'Triagers'" in err.getvalue()


def test_create_api_token_refuses_unknown_scopes(user):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_token", "--user", user.username, "--scope", "root")
    assert not ApiToken.objects.exists()


def test_issue_accepts_write_as_admin_and_refuses_unknown_scopes(user):
    assert ApiToken.issue(user, scope="write")[0].scope == "admin"
    with pytest.raises(ValueError):
        ApiToken.issue(user, scope="superuser")


# --- every endpoint, classified ----------------------------------------------------------------------------------

# The API's endpoints and what each needs. A new endpoint fails this test until it is classified here.
ENDPOINTS = {
    ("GET", "drifts"): Access("read", "drifts.view_drift"),
    ("GET", "drifts/<pk>"): Access("read", "drifts.view_drift"),
    ("PATCH", "drifts/<pk>"): Access("triage", "drifts.change_drift"),
    ("POST", "drifts/<pk>/resolve"): Access("triage", "drifts.change_drift"),
    ("GET", "drifts/summary"): Access("read", "drifts.view_drift"),
    ("GET", "drifts/export"): Access("read", "drifts.view_drift"),
    ("POST", "drifts/detect"): Access("triage", "drifts.add_detectionjob"),
    ("GET", "jobs"): Access("read", "drifts.view_detectionjob"),
    ("GET", "jobs/<pk>"): Access("read", "drifts.view_detectionjob"),
    ("GET", "ignore-rules"): Access("read", "drifts.view_ignorerule"),
    ("GET", "ignore-rules/<pk>"): Access("read", "drifts.view_ignorerule"),
    ("POST", "ignore-rules"): Access("admin", "drifts.add_ignorerule"),
    ("PATCH", "ignore-rules/<pk>"): Access("admin", "drifts.change_ignorerule"),
    ("DELETE", "ignore-rules/<pk>"): Access("admin", "drifts.delete_ignorerule"),
    ("GET", "resources/<pk>/drifts"): Access("read", "drifts.view_drift"),
    ("GET", "providers"): Access("read", "providers.view_provider"),
    ("GET", "providers/<pk>"): Access("read", "providers.view_provider"),
    ("POST", "providers"): Access("admin", "providers.add_provider"),
    ("PATCH", "providers/<pk>"): Access("admin", "providers.change_provider"),
    ("DELETE", "providers/<pk>"): Access("admin", "providers.delete_provider"),
    ("POST", "providers/<pk>/test"): Access("admin", "providers.change_provider"),
    ("GET", "resources"): Access("read", "providers.view_resource"),
    ("GET", "resources/<pk>"): Access("read", "providers.view_resource"),
    ("GET", "baselines/<pk>"): Access("read", "baselines.view_baseline"),
    ("GET", "baselines/<pk>/compare/<other_id>"): Access("read", "baselines.view_baseline"),
    ("GET", "resources/<pk>/baselines"): Access("read", "baselines.view_baseline"),
    ("POST", "resources/<pk>/baseline"): Access("triage", "baselines.add_baseline", "drifts.change_drift"),
    ("GET", "state-sources"): Access("read", "baselines.view_statesource"),
    ("GET", "state-sources/<pk>"): Access("read", "baselines.view_statesource"),
    ("POST", "state-sources"): Access("admin", "baselines.add_statesource"),
    ("PATCH", "state-sources/<pk>"): Access("admin", "baselines.change_statesource"),
    ("DELETE", "state-sources/<pk>"): Access("admin", "baselines.delete_statesource"),
    ("POST", "state-sources/<pk>/upload"): Access("triage", "baselines.add_baseline"),
    ("POST", "state-sources/<pk>/refresh"): Access("triage", "drifts.add_detectionjob"),
    ("GET", "webhooks"): Access("read", "notifications.view_subscription"),
    ("GET", "webhooks/<pk>"): Access("read", "notifications.view_subscription"),
    ("POST", "webhooks"): Access("admin", "notifications.add_subscription"),
    ("PATCH", "webhooks/<pk>"): Access("admin", "notifications.change_subscription"),
    ("DELETE", "webhooks/<pk>"): Access("admin", "notifications.delete_subscription"),
    ("POST", "webhooks/<pk>/test"): Access("admin", "notifications.change_subscription"),
    ("POST", "webhooks/<pk>/rotate-secret"): Access("admin", "notifications.change_subscription"),
    ("POST", "webhooks/<pk>/redeliver-failed"): Access("admin", "notifications.change_subscription"),
    ("GET", "webhooks/<pk>/deliveries"): Access(
        "read", "notifications.view_subscription", "notifications.view_delivery"
    ),
    ("POST", "webhooks/<pk>/deliveries/<delivery_id>/redeliver"): Access("admin", "notifications.change_subscription"),
}


def _api_routes(patterns, prefix=""):
    """(route, view function) of every viewset route, with path parameters written <name>."""
    import re

    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and getattr(pattern.callback, "actions", None):
            clean = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route).replace("^", "").replace("$", "")
            yield clean.removeprefix("api/v1/").rstrip("/"), pattern.callback


def test_every_api_endpoint_declares_the_scope_and_permissions_it_needs():
    factory = APIRequestFactory()
    found = {}
    for route, callback in _api_routes(get_resolver().url_patterns):
        for method, action in callback.actions.items():
            if method == "head":
                continue  # DRF adds it, as GET, once the view served a request
            view = callback.cls(**callback.initkwargs)
            view.action = action
            found[(method.upper(), route)] = required_access(view, getattr(factory, method)("/"))
    assert found == ENDPOINTS
