"""Provider lifecycle services: one audit row per change, the same from the API and the admin; the scan lock."""

import pytest
from django.urls import reverse

from drifts.models import DetectionJob
from driftwatch.models import AuditEntry
from driftwatch.tests.factories import make_provider, make_resource
from providers import services
from providers.models import Provider

pytestmark = pytest.mark.django_db

KEYS = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET"}
SETTINGS = {"name": "prod", "kind": "aws", "regions": ["us-east-1"], "scan_interval_minutes": 60}


def _audit(provider: Provider) -> list[tuple[str, dict]]:
    rows = AuditEntry.objects.filter(object_type="providers.provider", object_id=str(provider.pk)).order_by("id")
    return [(row.action, row.changes) for row in rows]


def test_create_audits_the_settings_and_whether_credentials_were_set(user):
    provider = services.create_provider(SETTINGS, KEYS, user)
    assert provider.get_credentials() == KEYS
    [(action, changes)] = _audit(provider)
    assert action == "create"
    assert changes == {**services.public_values(provider), "credentials": "set"}
    assert KEYS["secret_access_key"] not in str(changes)


def test_a_name_taken_at_the_database_is_a_domain_error(user):
    make_provider(name="prod")
    with pytest.raises(services.ProviderNameTaken, match="'prod' already exists"):
        services.create_provider(SETTINGS, None, user)
    assert Provider.objects.filter(name="prod").count() == 1


def test_update_audits_old_and_new_values_and_the_credentials_move(user):
    provider = make_provider(name="prod", regions=["us-east-1"])
    services.update_provider(provider, {"regions": ["us-east-1", "eu-west-1"], "enabled": True}, user, credentials=KEYS)
    assert _audit(provider) == [
        ("update", {"regions": [["us-east-1"], ["us-east-1", "eu-west-1"]], "credentials": "set"}),
    ]
    services.update_provider(Provider.objects.get(pk=provider.pk), {}, user, credentials=None)
    assert _audit(provider)[-1] == ("update", {"credentials": "cleared"})
    assert not Provider.objects.get(pk=provider.pk).has_credentials


def test_update_that_changes_nothing_writes_no_audit_row(user):
    provider = make_provider(name="prod", enabled=True)
    services.update_provider(provider, {"name": "prod", "enabled": True}, user)
    assert _audit(provider) == []


def test_update_writes_only_the_columns_it_changes(user):
    provider = make_provider(name="prod")
    # A scan takes the provider's lock after the caller read the row: the update must not undo it.
    job = DetectionJob.objects.create(trigger="api")
    Provider.objects.filter(pk=provider.pk).update(running_job_id=job.pk)
    services.update_provider(provider, {"scan_interval_minutes": 15}, user)
    stored = Provider.objects.get(pk=provider.pk)
    assert (stored.scan_interval_minutes, stored.running_job_id) == (15, job.pk)


def test_delete_marks_resources_deleted_and_audits_once(user):
    provider = make_provider()
    resource = make_resource(provider)
    services.delete_provider(provider, user)
    provider.refresh_from_db()
    resource.refresh_from_db()
    assert provider.deleted_at is not None and not provider.enabled
    assert resource.deleted_at == provider.deleted_at
    assert [action for action, _ in _audit(provider)] == ["delete"]
    with pytest.raises(services.ProviderGone):
        services.delete_provider(provider, user)
    assert len(_audit(provider)) == 1


def test_delete_is_refused_while_a_scan_holds_the_provider(user):
    provider = make_provider()
    resource = make_resource(provider)
    job = DetectionJob.objects.create(trigger="api", provider=provider)
    Provider.objects.filter(pk=provider.pk).update(running_job_id=job.pk)
    with pytest.raises(services.ProviderBusy) as refused:
        services.delete_provider(provider, user)
    assert refused.value.job_id == job.pk
    provider.refresh_from_db()
    resource.refresh_from_db()
    assert provider.deleted_at is None and resource.deleted_at is None
    assert _audit(provider) == []


def test_a_failed_connection_check_is_audited_before_the_error_reaches_the_caller(user):
    provider = make_provider()
    # Past validation (as if written before the allow-list changed): refused at call time, no network.
    Provider.objects.filter(pk=provider.pk).update(endpoint_url="http://169.254.169.254/")
    provider.refresh_from_db()
    with pytest.raises(services.ConnectionCheckFailed, match="link-local"):
        services.check_connection(provider, user)
    assert _audit(provider) == [("test", {"ok": False})]


def test_api_and_admin_write_the_same_audit_row_for_the_same_change(api, admin_client):
    via_api = make_provider(name="via-api", regions=["us-east-1"], scan_interval_minutes=60)
    via_admin = make_provider(name="via-admin", regions=["us-east-1"], scan_interval_minutes=60)
    response = api.patch(
        f"/api/v1/providers/{via_api.pk}",
        {"regions": ["us-east-1", "eu-west-1"], "scan_interval_minutes": 30, "credentials": KEYS},
        format="json",
    )
    assert response.status_code == 200
    form = {
        "name": "via-admin",
        "kind": "aws",
        "regions": "us-east-1, eu-west-1",
        "endpoint_url": "",
        "role_arn": "",
        "external_id": "",
        "scan_interval_minutes": "30",
        "max_concurrency": "8",
        "enabled": "on",
        **KEYS,
    }
    response = admin_client.post(reverse("admin:providers_provider_change", args=[via_admin.pk]), form)
    assert response.status_code == 302
    expected = {"regions": [["us-east-1"], ["us-east-1", "eu-west-1"]], "scan_interval_minutes": [60, 30]}
    assert _audit(via_api) == _audit(via_admin) == [("update", {**expected, "credentials": "set"})]
