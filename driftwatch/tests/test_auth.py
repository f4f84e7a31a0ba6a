"""Bearer authentication, scopes, throttling and the error shape on every failure."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from driftwatch.models import ApiToken, hash_token
from driftwatch.roles import group_for_scope

pytestmark = pytest.mark.django_db


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer a b", "Token abc", "Basic dXNlcjpwYXNz", "Bearer dw_unknown", "Bearer \u00e9"],
)
def test_bad_or_missing_token_is_401_with_www_authenticate(user, header):
    response = _client(header).get("/api/v1/drifts")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] in {"not_authenticated", "authentication_failed"}


def test_revoked_and_expired_tokens_are_401(user):
    user.groups.add(group_for_scope("admin"))
    token, raw = ApiToken.issue(user, scope="admin")
    assert _client(f"Bearer {raw}").get("/api/v1/drifts").status_code == 200
    token.revoke()
    assert _client(f"Bearer {raw}").get("/api/v1/drifts").status_code == 401
    _, raw2 = ApiToken.issue(user, scope="admin", expires_at=timezone.now() - timedelta(seconds=1))
    assert _client(f"Bearer {raw2}").get("/api/v1/drifts").status_code == 401


def test_inactive_user_token_is_401(user):
    user.groups.add(group_for_scope("admin"))
    _, raw = ApiToken.issue(user, scope="admin")
    assert _client(f"Bearer {raw}").get("/api/v1/drifts").status_code == 200
    user.is_active = False
    user.save()
    assert _client(f"Bearer {raw}").get("/api/v1/drifts").status_code == 401


def test_token_is_stored_only_as_a_hash_with_prefix(user):
    token, raw = ApiToken.issue(user)
    assert raw.startswith("dw_") and len(raw) >= 3 + 43
    assert token.key_hash == hash_token(raw) and raw not in token.key_hash
    assert not ApiToken.objects.filter(key_hash=raw).exists()


def test_read_token_cannot_write(read_api, drift):
    response = read_api.patch(f"/api/v1/drifts/{drift.pk}", {"status": "investigating"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert read_api.post("/api/v1/drifts/detect", format="json").status_code == 403
    assert read_api.get("/api/v1/drifts").status_code == 200


def test_last_used_is_recorded(user):
    token, raw = ApiToken.issue(user)
    _client(f"Bearer {raw}").get("/api/v1/drifts")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_staff_session_may_use_the_api_but_plain_users_may_not(client, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="pw-for-tests-1", is_staff=True)
    staff.groups.add(group_for_scope("read"))  # sessions obey model permissions: reading needs view_drift
    client.force_login(staff)
    assert client.get("/api/v1/drifts").status_code == 200
    plain = django_user_model.objects.create_user("bob", password="pw-for-tests-2")
    client.force_login(plain)
    assert client.get("/api/v1/drifts").status_code == 401


def test_schema_and_docs_need_no_token(anon_api):
    assert anon_api.get("/api/v1/schema/").status_code == 200
    assert anon_api.get("/api/v1/docs/").status_code == 200


def test_unknown_api_paths_are_json_404_even_for_post(api, anon_api):
    for client in (api, anon_api):
        for method in ("get", "post", "patch"):
            response = getattr(client, method)("/api/v1/nope/deeper")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"


def test_throttling_answers_429_in_error_shape(api, settings, monkeypatch):
    from driftwatch.api.throttling import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    from django.core.cache import cache

    cache.clear()
    codes = [api.get("/api/v1/drifts").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    response = api.get("/api/v1/drifts")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
    cache.clear()


def test_create_api_token_command_prints_token_last(capsys, db):
    call_command(
        "create_api_token",
        "--user",
        "ci-bot",
        "--create-user",
        "--scope",
        "admin",
        "--name",
        "ci",
        "--expires-days",
        "30",
    )
    out = capsys.readouterr().out.strip().splitlines()
    raw = out[-1]
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    assert token.user.username == "ci-bot" and token.scope == "admin" and token.name == "ci"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert _client(f"Bearer {raw}").get("/api/v1/drifts").status_code == 200


def test_create_api_token_refuses_unknown_user_without_flag(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_token", "--user", "ghost")
