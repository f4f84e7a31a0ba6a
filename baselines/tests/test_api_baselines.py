"""The /api/v1/baselines contract: one baseline, and the structured diff between two of one resource."""

import pytest

from baselines.models import Baseline
from driftwatch.tests.factories import S3_CONFIG, T0, make_resource
from providers.models import config_hash

pytestmark = pytest.mark.django_db

NEW_CONFIG = {
    "PublicAccessBlock": {
        "BlockPublicAcls": False,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    },
    "Tags": {"env": "prod", "owner": "team-a"},
}


@pytest.fixture
def history(resource, user):
    """The factory's discovered baseline, then a manual one capturing NEW_CONFIG."""
    first = Baseline.objects.get(resource=resource)
    Baseline.objects.filter(pk=first.pk).update(is_current=False)
    second = Baseline.objects.create(
        resource=resource,
        config=NEW_CONFIG,
        config_hash=config_hash(NEW_CONFIG),
        source="manual",
        captured_by=user,
        captured_at=T0,
        is_current=True,
    )
    first.refresh_from_db()
    return first, second


def test_retrieve_returns_the_baseline_with_its_config(api, history):
    first, second = history
    response = api.get(f"/api/v1/baselines/{second.pk}")
    assert response.status_code == 200
    assert response.json() == {
        "id": second.pk,
        "resource_id": second.resource_id,
        "captured_at": "2024-01-15T14:30:00Z",
        "source": "manual",
        "captured_by": "alice",
        "is_current": True,
        "config_hash": config_hash(NEW_CONFIG),
        "config": NEW_CONFIG,
    }
    assert api.get(f"/api/v1/baselines/{first.pk}").json()["config"] == S3_CONFIG


def test_compare_returns_the_structured_diff_from_first_to_second(read_api, history):
    first, second = history
    response = read_api.get(f"/api/v1/baselines/{first.pk}/compare/{second.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["resource_id"] == first.resource_id
    assert body["from"]["id"] == first.pk and body["from"]["captured_at"] == "2024-01-14T14:30:00Z"
    assert body["to"]["id"] == second.pk and body["to"]["source"] == "manual"
    assert "config" not in body["from"]
    assert body["changes"] == [
        {"path": "PublicAccessBlock.BlockPublicAcls", "op": "changed", "baseline": True, "current": False},
        {"path": "Tags.owner", "op": "added", "baseline": None, "current": "team-a"},
        {"path": "Versioning", "op": "removed", "baseline": "Enabled", "current": None},
    ]


def test_compare_in_the_other_direction_inverts_the_changes(api, history):
    first, second = history
    changes = api.get(f"/api/v1/baselines/{second.pk}/compare/{first.pk}").json()["changes"]
    assert changes == [
        {"path": "PublicAccessBlock.BlockPublicAcls", "op": "changed", "baseline": False, "current": True},
        {"path": "Tags.owner", "op": "removed", "baseline": "team-a", "current": None},
        {"path": "Versioning", "op": "added", "baseline": None, "current": "Enabled"},
    ]
    assert api.get(f"/api/v1/baselines/{first.pk}/compare/{first.pk}").json()["changes"] == []


def test_compare_of_baselines_of_different_resources_is_400(api, history, provider):
    first, _ = history
    other = Baseline.objects.get(resource=make_resource(provider))
    response = api.get(f"/api/v1/baselines/{first.pk}/compare/{other.pk}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "other_id" in error["details"]
    assert f"resource {other.resource_id}" in error["details"]["other_id"][0]


def test_unknown_baselines_are_404(api, history):
    first, _ = history
    for path in (
        "/api/v1/baselines/424242",
        f"/api/v1/baselines/424242/compare/{first.pk}",
        f"/api/v1/baselines/{first.pk}/compare/424242",
        f"/api/v1/baselines/{first.pk}/compare/abc",
        "/api/v1/baselines",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_baselines_are_read_only_and_need_a_token(api, anon_api, history):
    first, _ = history
    assert api.delete(f"/api/v1/baselines/{first.pk}").status_code == 405
    assert api.patch(f"/api/v1/baselines/{first.pk}", {"config": {}}, format="json").status_code == 405
    assert anon_api.get(f"/api/v1/baselines/{first.pk}").status_code == 401
    first.refresh_from_db()
    assert first.config == S3_CONFIG
