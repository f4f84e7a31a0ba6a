"""The drift admin's exports: the selected findings (actions) and the filtered list (object tools links)."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from drifts import export
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/drifts/drift/"


@pytest.fixture
def findings():
    provider = make_provider(name="prod")
    resource = make_resource(provider, name="+formula")
    return [
        make_drift(
            resource,
            path=f"P.{n}",
            severity=["critical", "low"][n % 2],
            summary=f"change {n}",
            detected_at=T0 + timedelta(hours=n),
        )
        for n in range(5)
    ]


def _rows(response) -> list[dict]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    if response["Content-Type"].startswith("text/csv"):
        return list(csv.DictReader(io.StringIO(body, newline="")))
    return [json.loads(line) for line in body.splitlines()]


def test_export_selected_as_csv_and_ndjson(admin_client, findings):
    picked = [findings[0].pk, findings[3].pk]
    data = {"_selected_action": [str(pk) for pk in picked], "index": "0"}
    rows = _rows(admin_client.post(CHANGELIST, {**data, "action": "export_csv"}))
    assert [int(r["id"]) for r in rows] == [findings[3].pk, findings[0].pk]  # newest first
    assert list(rows[0]) == export.HEADER and rows[0]["resource_name"] == "'+formula"
    response = admin_client.post(CHANGELIST, {**data, "action": "export_ndjson"})
    assert response["Content-Disposition"].endswith('.ndjson"')
    assert [r["id"] for r in _rows(response)] == [findings[3].pk, findings[0].pk]


def test_export_filtered_follows_the_change_list_filters(admin_client, findings):
    page = admin_client.get(CHANGELIST, {"severity__exact": "critical"}).content.decode()
    link = reverse("admin:drifts_drift_export", args=["csv"]) + "?severity__exact=critical"
    assert f'href="{link}"' in page
    rows = _rows(admin_client.get(link))
    assert [int(r["id"]) for r in rows] == [d.pk for d in reversed(findings) if d.severity == "critical"]
    everything = _rows(admin_client.get(reverse("admin:drifts_drift_export", args=["ndjson"])))
    assert len(everything) == 5


def test_export_needs_view_permission_and_a_known_format(client, django_user_model, findings):
    user = django_user_model.objects.create_user(username="nobody", password="pw-nobody-123", is_staff=True)
    client.force_login(user)
    url = reverse("admin:drifts_drift_export", args=["csv"])
    assert client.get(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_drift"))
    assert len(_rows(client.get(url))) == 5
    assert client.get(reverse("admin:drifts_drift_export", args=["xlsx"])).status_code == 404
