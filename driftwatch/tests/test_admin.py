"""The triage admin through Django's test client: actions, messages, permissions, query counts, tokens."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from baselines.models import Baseline
from drifts.admin_paginator import EstimatedCountPaginator
from drifts.models import DetectionJob, Drift, DriftEvent, IgnoreRule, JobUnit
from driftwatch.models import ApiToken, AuditEntry, hash_token
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource
from providers.models import Provider, config_hash

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/drifts/drift/"


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _action(client, action: str, ids: list[int], url: str = CHANGELIST, **extra):
    data = {"action": action, "_selected_action": [str(pk) for pk in ids], "index": "0", **extra}
    return client.post(url, data, follow=True)


def _drifted_resource(provider, name: str):
    """A resource whose current config turns BlockPublicAcls off against its baseline."""
    baseline = {"PublicAccessBlock": {"BlockPublicAcls": True}, "Versioning": "Enabled"}
    current = {"PublicAccessBlock": {"BlockPublicAcls": False}, "Versioning": "Enabled"}
    return make_resource(provider, name=name, config=current, baseline=baseline)


@pytest.fixture
def viewer(db, django_user_model, client):
    """A staff user who may look at drifts but not triage them."""
    user = django_user_model.objects.create_user(username="viewer", password="pw-viewer-123", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_drift"))
    client.force_login(user)
    return client


# --- the drift list ---------------------------------------------------------------------------------------


def test_changelist_shows_badges_newest_first(admin_client, resource):
    old = make_drift(resource, path="Tags.a", severity="low", summary="old one", detected_at=T0)
    new = make_drift(
        resource, path="Tags.b", severity="critical", summary="new one", detected_at=T0 + timedelta(hours=1)
    )
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<span class="dw-badge dw-critical">Critical</span>' in html
    assert '<span class="dw-badge dw-low">Low</span>' in html
    assert '<span class="dw-badge dw-detected">Detected</span>' in html
    assert [d.pk for d in response.context["cl"].result_list] == [new.pk, old.pk]
    # No unfiltered COUNT(*) link on a table that may hold millions of rows.
    assert response.context["cl"].show_full_result_count is False


def test_changelist_filters_by_severity_and_searches_resource_name(admin_client, provider):
    a = make_resource(provider, name="payments-bucket")
    b = make_resource(provider, name="logs-bucket")
    crit = make_drift(a, severity="critical", summary="public ACLs allowed")
    make_drift(b, severity="high", summary="versioning suspended")
    response = admin_client.get(CHANGELIST, {"severity__exact": "critical"})
    assert [d.pk for d in response.context["cl"].result_list] == [crit.pk]
    response = admin_client.get(CHANGELIST, {"q": "logs-buck"})
    assert [d.summary for d in response.context["cl"].result_list] == ["versioning suspended"]
    response = admin_client.get(CHANGELIST, {"q": "public ACLs"})
    assert [d.pk for d in response.context["cl"].result_list] == [crit.pk]
    response = admin_client.get(CHANGELIST, {"resource_type": "iam_role"})
    assert list(response.context["cl"].result_list) == []


def _make_drifts(count: int) -> None:
    # Spread over several providers and resources so a per-row query would show up as N queries.
    for i in range(count):
        provider = make_provider() if i % 10 == 0 else Provider.objects.order_by("-id").first()
        make_drift(make_resource(provider), summary=f"drift {i}", detected_at=T0 + timedelta(minutes=i))


def test_changelist_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    _make_drifts(5)
    with CaptureQueriesContext(connection) as small:
        assert admin_client.get(CHANGELIST).status_code == 200
    _make_drifts(45)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 50


def test_paginator_counts_exactly_below_threshold(resource):
    for i in range(3):
        make_drift(resource, path=f"Tags.k{i}")
    paginator = EstimatedCountPaginator(Drift.objects.all(), 2)
    assert paginator.count == 3
    assert paginator.num_pages == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates exist on PostgreSQL only")
def test_paginator_uses_planner_estimate_on_large_postgres_tables(resource, monkeypatch):
    for i in range(20):
        make_drift(resource, path=f"Tags.k{i}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE drifts_drift")
    monkeypatch.setattr(EstimatedCountPaginator, "threshold", 0)
    with CaptureQueriesContext(connection) as queries:
        count = EstimatedCountPaginator(Drift.objects.all(), 10).count
    assert count > 0
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


# --- bulk actions ------------------------------------------------------------------------------------------


def test_bulk_start_investigating_reports_drifts_that_cannot_move(admin_client, resource):
    ok = make_drift(resource, path="Tags.a")
    done = make_drift(resource, path="Tags.b")
    _action(admin_client, "resolve", [done.pk])
    response = _action(admin_client, "start_investigating", [ok.pk, done.pk])
    assert response.status_code == 200
    assert _messages(response) == [f"1 moved; 1 could not: #{done.pk} is resolved."]
    ok.refresh_from_db()
    assert ok.status == "investigating"
    event = DriftEvent.objects.filter(drift=ok).order_by("-id").first()
    assert (event.from_status, event.to_status, event.actor.username) == ("detected", "investigating", "admin")


def test_bulk_resolve_sets_manual_resolution(admin_client, resource):
    drifts = [make_drift(resource, path=f"Tags.k{i}") for i in range(3)]
    response = _action(admin_client, "resolve", [d.pk for d in drifts])
    assert _messages(response) == ["3 moved."]
    assert set(Drift.objects.values_list("status", "resolution")) == {("resolved", "manual")}


def test_bulk_resolve_with_baseline_captures_once_per_resource(admin_client, provider):
    r1, r2 = _drifted_resource(provider, "one"), _drifted_resource(provider, "two")
    a = make_drift(r1, path="PublicAccessBlock.BlockPublicAcls")
    sibling = make_drift(r1, path="Tags.owner")
    b = make_drift(r2, path="PublicAccessBlock.BlockPublicAcls")
    gone = make_drift(r2, path="Tags.old")
    _action(admin_client, "resolve", [gone.pk])

    response = _action(admin_client, "resolve_with_baseline", [a.pk, sibling.pk, b.pk, gone.pk])

    assert _messages(response) == [f"3 resolved with a new baseline; 1 could not: #{gone.pk} is resolved."]
    for drift in (a, sibling, b):
        drift.refresh_from_db()
        assert (drift.status, drift.resolution) == ("resolved", "baseline_captured")
    # One new current baseline per resource, from the resource's config, not one per selected drift.
    for resource in (r1, r2):
        baselines = Baseline.objects.filter(resource=resource).order_by("id")
        assert [(b.source, b.is_current) for b in baselines] == [("discovered", False), ("resolve", True)]
        assert baselines.last().config_hash == config_hash(resource.config)
        assert baselines.last().captured_by.username == "admin"


def test_view_only_staff_sees_no_triage_actions_and_cannot_triage(viewer, drift):
    response = viewer.get(CHANGELIST)
    assert response.status_code == 200
    # Exporting is reading: the only actions a viewer gets.
    actions = re.findall(
        r'<option value="(\w+)"', response.content.decode().split('name="action"')[1].split("</select>")[0]
    )
    assert actions == ["export_csv", "export_ndjson"]
    page = viewer.get(reverse("admin:drifts_drift_change", args=[drift.pk]))
    assert page.status_code == 200
    assert 'id="dw-triage"' not in page.content.decode()
    response = viewer.post(reverse("admin:drifts_drift_triage", args=[drift.pk]), {"action": "resolve"})
    assert response.status_code == 403
    drift.refresh_from_db()
    assert drift.status == "detected"


# --- the drift page -----------------------------------------------------------------------------------------


def test_drift_page_shows_side_by_side_diff_siblings_and_history(admin_client, provider):
    resource = _drifted_resource(provider, "web-assets")
    drift = make_drift(resource, path="PublicAccessBlock.BlockPublicAcls")
    other = make_drift(resource, path="Versioning", severity="high", summary="versioning changed")
    response = admin_client.get(reverse("admin:drifts_drift_change", args=[drift.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    diff = response.context["diff"]
    assert [(c["path"], c["op"]) for c in diff["changes"]] == [("PublicAccessBlock.BlockPublicAcls", "changed")]
    assert '<div class="dw-line changed focus">    &quot;BlockPublicAcls&quot;: true</div>' in html
    assert '<div class="dw-line changed focus">    &quot;BlockPublicAcls&quot;: false</div>' in html
    assert f"#{other.pk} versioning changed" in html
    assert [e.to_status for e in response.context["events"]] == ["detected"]
    # Read-only page: no editable model field, the triage form is the only way to change it.
    assert response.context["adminform"].form.fields == {}
    assert 'name="_save"' not in html


def test_triage_button_resolves_with_note_and_capture(admin_client, provider):
    resource = _drifted_resource(provider, "web-assets")
    drift = make_drift(resource)
    url = reverse("admin:drifts_drift_triage", args=[drift.pk])
    response = admin_client.post(
        url, {"action": "resolve_baseline", "status": "detected", "note": "accepted: CR-42"}, follow=True
    )
    assert _messages(response) == [
        f"Drift #{drift.pk} is resolved and the resource's current configuration is its new baseline."
    ]
    drift.refresh_from_db()
    assert (drift.status, drift.resolution) == ("resolved", "baseline_captured")
    event = drift.events.order_by("-id").first()
    assert (event.to_status, event.note, event.actor.username) == ("resolved", "accepted: CR-42", "admin")
    assert Baseline.objects.get(resource=resource, is_current=True).source == "resolve"
    # The page now shows the new status and no triage form (resolved is final).
    assert '<span class="dw-badge dw-resolved" id="dw-status">Resolved</span>' in response.content.decode()
    assert 'id="dw-triage"' not in response.content.decode()


def test_triage_button_from_a_stale_page_is_refused(admin_client, drift):
    url = reverse("admin:drifts_drift_triage", args=[drift.pk])
    admin_client.post(url, {"action": "investigate", "status": "detected"}, follow=True)
    response = admin_client.post(url, {"action": "investigate", "status": "detected"}, follow=True)
    assert _messages(response) == [f"Drift #{drift.pk} could not move: it is investigating (the page was detected)."]
    assert drift.events.count() == 2  # detected + one investigating, not two
    assert admin_client.get(url).status_code == 405


# --- resources and baselines -------------------------------------------------------------------------------


def test_resource_compare_two_baselines_and_capture(admin_client, provider):
    resource = _drifted_resource(provider, "web-assets")
    make_drift(resource)
    first = Baseline.objects.get(resource=resource)
    page = admin_client.get(reverse("admin:providers_resource_change", args=[resource.pk]))
    assert page.status_code == 200
    assert "&quot;BlockPublicAcls&quot;: false" in page.content.decode()  # pretty config

    response = admin_client.post(reverse("admin:providers_resource_capture", args=[resource.pk]), follow=True)
    second = Baseline.objects.get(resource=resource, is_current=True)
    assert _messages(response) == [f"Captured baseline #{second.pk}; the resource's open drifts are resolved."]
    assert second.source == "manual"
    assert not Drift.objects.filter(resource=resource).exclude(status="resolved").exists()

    compare = admin_client.get(
        reverse("admin:providers_resource_compare", args=[resource.pk]), {"a": first.pk, "b": second.pk}
    )
    assert compare.status_code == 200
    assert [(c["path"], c["baseline"], c["current"]) for c in compare.context["diff"]["changes"]] == [
        ("PublicAccessBlock.BlockPublicAcls", True, False)
    ]
    foreign = Baseline.objects.get(resource=make_resource(provider))
    response = admin_client.get(
        reverse("admin:providers_resource_compare", args=[resource.pk]), {"a": first.pk, "b": foreign.pk}
    )
    assert response.status_code == 404


# --- providers -----------------------------------------------------------------------------------------------

PROVIDER_FORM = {
    "name": "prod",
    "kind": "aws",
    "regions": "us-east-1, eu-west-1",
    "endpoint_url": "",
    "role_arn": "",
    "external_id": "",
    "scan_interval_minutes": "60",
    "max_concurrency": "8",
    "enabled": "on",
}
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_provider_credentials_are_write_only(admin_client):
    response = admin_client.post(
        "/admin/providers/provider/add/",
        {**PROVIDER_FORM, "access_key_id": "AKIAEXAMPLE123", "secret_access_key": SECRET},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider = Provider.objects.get(name="prod")
    assert provider.regions == ["us-east-1", "eu-west-1"]
    assert provider.get_credentials() == {"access_key_id": "AKIAEXAMPLE123", "secret_access_key": SECRET}
    assert SECRET not in provider.credentials_encrypted
    page = admin_client.get(reverse("admin:providers_provider_change", args=[provider.pk])).content.decode()
    assert SECRET not in page and "AKIAEXAMPLE123" not in page
    assert 'name="secret_access_key"' in page and 'type="password"' in page

    # Blank keeps what is stored; the audit trail says what changed and never carries the secret.
    response = admin_client.post(
        reverse("admin:providers_provider_change", args=[provider.pk]), {**PROVIDER_FORM, "scan_interval_minutes": "30"}
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.scan_interval_minutes == 30
    assert provider.has_credentials
    entries = list(AuditEntry.objects.filter(object_id=str(provider.pk)).order_by("id").values("action", "changes"))
    assert entries[1] == {"action": "update", "changes": {"scan_interval_minutes": [60, 30]}}
    assert SECRET not in str(entries)

    admin_client.post(
        reverse("admin:providers_provider_change", args=[provider.pk]), {**PROVIDER_FORM, "clear_credentials": "on"}
    )
    provider.refresh_from_db()
    assert not provider.has_credentials


def test_provider_form_rejects_bad_region_endpoint_and_half_credentials(admin_client):
    response = admin_client.post(
        "/admin/providers/provider/add/",
        {
            **PROVIDER_FORM,
            "regions": "us-east-1, mars-north-1",
            "endpoint_url": "http://169.254.169.254/",
            "access_key_id": "AKIAEXAMPLE123",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "mars-north-1" in errors["regions"][0]
    assert "link-local" in errors["endpoint_url"][0]
    assert errors["secret_access_key"] == ["Enter both the access key id and the secret access key."]
    assert not Provider.objects.exists()


def test_provider_scan_now_starts_an_admin_job(admin_client, provider):
    response = _action(admin_client, "scan_now", [provider.pk], url="/admin/providers/provider/")
    job = DetectionJob.objects.get()
    assert (job.trigger, job.provider_id, job.requested_by.username) == ("admin", provider.pk, "admin")
    assert _messages(response) == [
        f'{provider.name}: scan started, <a href="/admin/drifts/detectionjob/{job.pk}/change/">job #{job.pk}</a>.'
    ]
    again = _action(admin_client, "scan_now", [provider.pk], url="/admin/providers/provider/")
    assert "a scan is already running" in _messages(again)[0]
    assert DetectionJob.objects.count() == 1


def test_provider_test_connection_against_moto(admin_client, moto):
    provider = make_provider(name="moto", endpoint_url=moto)
    provider.set_credentials({"access_key_id": "AKIAEXAMPLE123", "secret_access_key": SECRET})
    provider.save()
    response = admin_client.post(reverse("admin:providers_provider_test", args=[provider.pk]), follow=True)
    [message] = _messages(response)
    assert re.fullmatch(r"moto: connected to account \d{12} as arn:aws:\S+\.", message), message
    assert AuditEntry.objects.get(action="test").changes["ok"] is True


def test_soft_deleted_providers_are_hidden_by_default(admin_client):
    live, gone = make_provider(name="live-one"), make_provider(name="gone-one")
    _action(admin_client, "soft_delete", [gone.pk], url="/admin/providers/provider/")
    gone.refresh_from_db()
    assert gone.deleted_at is not None and not gone.enabled
    listed = admin_client.get("/admin/providers/provider/").context["cl"].result_list
    assert [p.name for p in listed] == ["live-one"]
    listed = admin_client.get("/admin/providers/provider/", {"deleted": "yes"}).context["cl"].result_list
    assert [p.name for p in listed] == ["gone-one"]
    assert live.pk != gone.pk


# --- jobs, tokens, rules, audit ------------------------------------------------------------------------------


def test_job_page_shows_progress_counters_and_errors(admin_client, provider):
    job = DetectionJob.objects.create(
        trigger="admin",
        provider=provider,
        units_total=4,
        units_done=1,
        drifts_new=3,
        errors=[
            {
                "provider_id": provider.pk,
                "region": "us-east-1",
                "resource_type": "s3_bucket",
                "message": "AccessDenied: nope",
            }
        ],
    )
    JobUnit.objects.create(
        job=job,
        provider=provider,
        region="us-east-1",
        resource_type="s3_bucket",
        status="failed",
        error="AccessDenied: nope",
    )
    listing = admin_client.get("/admin/drifts/detectionjob/").content.decode()
    assert '<span class="dw-progress" title="25%"><span style="width:25%"></span></span> 1/4' in listing
    page = admin_client.get(reverse("admin:drifts_detectionjob_change", args=[job.pk])).content.decode()
    assert "AccessDenied: nope" in page
    assert '<span class="dw-badge dw-failed">Failed</span>' in page  # the unit inline


def test_api_token_is_shown_once_and_only_its_hash_is_stored(admin_client, admin_user):
    response = admin_client.post(
        "/admin/driftwatch/apitoken/add/", {"user": admin_user.pk, "name": "ci", "scope": "admin"}
    )
    token = ApiToken.objects.get(name="ci")
    # Shown on the page answering the form: no redirect, and nothing in the messages cookie.
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    raw = re.search(r'id="dw-new-token">(dw_[A-Za-z0-9_-]+)<', response.content.decode()).group(1)
    assert "messages" not in response.cookies and raw not in str(response.cookies)
    assert not _messages(admin_client.get("/admin/driftwatch/apitoken/"))
    assert hash_token(raw) == token.key_hash and token.scope == "admin"
    assert raw.startswith(token.key_hint)
    again = admin_client.get(reverse("admin:driftwatch_apitoken_change", args=[token.pk])).content.decode()
    listing = admin_client.get("/admin/driftwatch/apitoken/").content.decode()
    for html in (again, listing):
        assert raw not in html and token.key_hash not in html
    assert ApiToken.objects.count() == 1


def test_api_token_revoke_action(admin_client, admin_user):
    token, raw = ApiToken.issue(admin_user, name="old")
    response = _action(admin_client, "revoke", [token.pk], url="/admin/driftwatch/apitoken/")
    assert _messages(response) == ["Revoked 1 token(s)."]
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.is_active
    assert AuditEntry.objects.filter(action="revoke", object_id=str(token.pk)).count() == 1


def test_non_superuser_issues_tokens_for_themselves_only(client, django_user_model, admin_user):
    staff = django_user_model.objects.create_user(username="ops", password="pw-ops-12345", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["add_apitoken", "view_apitoken"]))
    client.force_login(staff)
    client.post("/admin/driftwatch/apitoken/add/", {"user": admin_user.pk, "name": "mine", "scope": "read"})
    assert ApiToken.objects.get(name="mine").user == staff


def test_ignore_rule_changes_are_audited(admin_client, admin_user):
    response = admin_client.post(
        "/admin/drifts/ignorerule/add/",
        {"resource_type": "s3_bucket", "path_glob": "Tags.*", "name_glob": "", "reason": "tags churn"},
    )
    assert response.status_code == 302
    rule = IgnoreRule.objects.get()
    assert rule.created_by == admin_user
    entry = AuditEntry.objects.get(object_type="drifts.ignorerule")
    assert (entry.action, entry.actor, entry.changes["path_glob"]) == ("create", admin_user, "Tags.*")
    assert admin_client.get("/admin/driftwatch/auditentry/").status_code == 200
    assert admin_client.get(reverse("admin:driftwatch_auditentry_change", args=[entry.pk])).status_code == 200


# --- the index summary ---------------------------------------------------------------------------------------


def test_index_summary_counts_critical_links_and_chart(admin_client, provider, django_assert_max_num_queries):
    now = timezone.now()
    resource = make_resource(provider)
    crit = make_drift(resource, path="Tags.a", severity="critical", summary="public bucket", detected_at=now)
    make_drift(resource, path="Tags.b", severity="high", detected_at=now - timedelta(days=2))
    make_drift(resource, path="Tags.c", severity="high", detected_at=now - timedelta(days=2))
    old = make_drift(resource, path="Tags.d", severity="low", detected_at=now - timedelta(days=40))
    _action(admin_client, "start_investigating", [old.pk])
    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/")
    board = response.context["dashboard"]
    rows = {row["severity"]: [c["count"] for c in row["cells"]] for row in board["matrix"]["rows"]}
    assert rows == {"critical": [1, 0], "high": [2, 0], "medium": [0, 0], "low": [0, 1]}
    assert board["matrix"]["total"] == 4
    assert [d.pk for d in board["critical"]] == [crit.pk]
    assert [b["count"] for b in board["chart"]["bars"]][-3:] == [2, 0, 1]
    assert board["chart"]["total"] == 3 and len(board["chart"]["bars"]) == 30
    html = response.content.decode()
    assert f'href="/admin/drifts/drift/{crit.pk}/change/"' in html
    assert provider.name in html and "never" in html
