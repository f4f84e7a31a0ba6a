"""Regression tests for the security review (issue 10), each written as the attack it stops."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from devtools.receivers import receiver
from drifts.models import DetectionJob, Drift, JobUnit
from drifts.services import detection, jobs
from providers.models import Provider, Resource

PRODUCTION = {
    "DRIFTWATCH_OUTBOUND_ALLOW_HTTP": False,
    "DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS": [],
    "DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS": [".amazonaws.com", ".amazonaws.com.cn", ".api.aws"],
}


def _create(api, endpoint_url, **extra):
    body = {"name": "p", "kind": "aws", "regions": ["us-east-1"], "endpoint_url": endpoint_url, **extra}
    return api.post("/api/v1/providers", body, format="json")


# --- SSRF: the endpoint URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254\\@127.0.0.1/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:8414\\@localhost:9/",
        "http://svc:PASSWORD@127.0.0.1:4566/",
        "http://127.0.0.1:99999/",
        "http://[::ffff:169.254.169.254]/",
        "http://0251.0376.0251.0376/",  # 169.254.169.254 in octal
        "http://127.0.0.1\t@evil/",
    ],
)
def test_an_endpoint_url_two_parsers_read_differently_is_refused_and_not_stored(api, url):
    response = _create(api, url)
    assert response.status_code == 400, response.content
    assert "endpoint_url" in response.json()["error"]["details"]
    assert "PASSWORD" not in response.content.decode()
    assert not Provider.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:22/", "https://localhost:6379/", "https://[::1]:5432/"])
def test_loopback_endpoints_are_refused_with_production_defaults(api, settings, url):
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    response = _create(api, url)
    assert response.status_code == 400 and "endpoint_url" in response.json()["error"]["details"]
    ok = _create(api, "https://sts.eu-west-1.amazonaws.com")
    assert ok.status_code == 201, ok.content


def test_production_settings_allow_aws_endpoints_only():
    """The defaults themselves, read from a process started with production settings."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "DRIFTWATCH_TESTING": "false",
        "SECRET_KEY": "x" * 60,
        "DRIFTWATCH_ENCRYPTION_KEY": "uKzjzOaY0mW7pQ9tWvY1x2cE4r5T6y7U8i9O0pAsDfg=",
        "ALLOWED_HOSTS": "driftwatch.example.com",
    }
    for name in PRODUCTION:
        env.pop(name, None)
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(PRODUCTION)!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "driftwatch.settings"},
        capture_output=True,
        text=True,
        check=True,
        cwd=django_settings.BASE_DIR,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == PRODUCTION


def test_the_stored_endpoint_is_the_normalized_url(api):
    response = _create(api, "HTTP://LOCALHOST:4566")
    assert response.status_code == 201 and response.json()["endpoint_url"] == "http://localhost:4566/"


@pytest.mark.parametrize("field, value", [("role_arn", "arn:aws:iam::123456789012:role/Rôle"), ("external_id", "ïd-1")])
def test_role_arn_and_external_id_are_ascii(api, field, value):
    response = _create(api, None, **{field: value})
    assert response.status_code == 400 and field in response.json()["error"]["details"]


# --- What an endpoint answers never reaches API readers ---------------------------------------------------

HTML_404 = b"<html><body><h1>Not Found</h1><p>SECRET-PAGE-CONTENT nginx</p></body></html>"
UNKNOWN_XML = (
    b'<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>Weird</Code>'
    b"<Message>SECRET-XML-MESSAGE from somewhere</Message></Error></ErrorResponse>"
)


@pytest.mark.parametrize(
    "answer",
    [
        (404, {"Content-Type": "text/html"}, HTML_404),
        (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        (200, {"Content-Type": "text/plain"}, b"SECRET-PLAIN-BODY"),
        (400, {"Content-Type": "text/xml"}, UNKNOWN_XML),
    ],
    ids=["html-404", "redirect", "plain-200", "unknown-xml"],
)
def test_connection_test_answers_400_in_our_words_whatever_the_endpoint_says(api, answer):
    with receiver(lambda got: answer) as rx:
        provider_id = _create(api, rx.url).json()["id"]
        response = api.post(f"/api/v1/providers/{provider_id}/test", format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "connection_failed"
    assert b"SECRET" not in response.content and b"169.254" not in response.content
    assert rx.requests and len(rx.requests) == 1  # it really called the endpoint, once; no redirect followed


def test_a_scan_against_a_plain_text_service_records_no_body(api, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with receiver(lambda got: (200, {"Content-Type": "text/plain"}, b"SECRET-PLAIN-BODY " * 20)) as rx:
        provider = Provider.objects.get(pk=_create(api, rx.url).json()["id"])
        job, created = detection.start_detection(trigger="cli", provider_id=provider.pk)
        for unit in JobUnit.objects.filter(job=job):
            jobs.scan_unit(unit.pk)
    job = DetectionJob.objects.get(pk=job.pk)
    # Every unit failed: the JSON services too (botocore reads a non-JSON success as an empty answer,
    # which would have "succeeded" with no resources and deleted every known one).
    assert set(JobUnit.objects.filter(job=job).values_list("status", flat=True)) == {"failed"}
    assert job.status == "failed" and job.errors
    body = api.get(f"/api/v1/detection-jobs/{job.pk}").content
    assert b"SECRET" not in body and all("SECRET" not in e["message"] for e in job.errors)
    assert "not an AWS response" in job.errors[0]["message"]
    assert not Drift.objects.exists() and not Resource.objects.exists()


# --- Requests ----------------------------------------------------------------------------------------------


def test_json_nested_a_thousand_deep_is_a_400_not_a_500(api):
    body = "[" * 1000 + "]" * 1000
    response = api.generic("POST", "/api/v1/ignore-rules", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
    deep_object = '{"a":' * 40 + "1" + "}" * 40
    response = api.generic("POST", "/api/v1/ignore-rules", deep_object, content_type="application/json")
    assert response.status_code == 400 and "nested deeper" in response.json()["error"]["message"]


def test_a_three_megabyte_body_is_a_413_in_the_error_format(api):
    body = json.dumps({"name": "x" * (3 * 1024 * 1024)})
    response = api.generic("POST", "/api/v1/providers", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Provider.objects.exists()


def test_a_disallowed_host_under_api_gets_json(api, settings):
    settings.DEBUG = True  # the HTML debug page was the worst case
    response = api.get("/api/v1/drifts", HTTP_HOST="evil.example")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "bad_request" and len(response.content) < 500


def test_api_responses_are_never_cached(api, anon_api):
    for client, path in ((api, "/api/v1/drifts"), (anon_api, "/api/v1/drifts"), (api, "/api/v1/nope")):
        assert client.get(path)["Cache-Control"] == "no-store"


def test_post_to_healthz_is_a_json_405_not_a_csrf_page():
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/healthz")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    assert client.get("/healthz").status_code == 200


def test_anonymous_throttling_ignores_a_rotating_forwarded_for(anon_api, monkeypatch):
    from driftwatch.api.throttling import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"token": "3/min"})
    from django.core.cache import cache

    cache.clear()
    codes = [anon_api.get("/api/v1/schema/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(1, 6)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


def test_behind_a_configured_proxy_the_client_address_is_the_one_it_saw(rf, settings):
    from driftwatch.api.throttling import client_address

    request = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.5", REMOTE_ADDR="10.0.0.2")
    assert client_address(request) == "10.0.0.2"  # no proxy configured: the peer
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_address(request) == "203.0.113.5"  # what our one proxy saw, not what the client claims


def test_the_schema_is_generated_once(anon_api, django_assert_max_num_queries, monkeypatch):
    from drf_spectacular.generators import SchemaGenerator

    calls = []
    original = SchemaGenerator.get_schema
    monkeypatch.setattr(SchemaGenerator, "get_schema", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    from driftwatch.api.schema import CachedSchemaView

    CachedSchemaView._cache.clear()
    first = anon_api.get("/api/v1/schema/?format=json")
    second = anon_api.get("/api/v1/schema/?format=json")
    assert first.status_code == second.status_code == 200 and first.content == second.content
    assert len(calls) == 1


def test_swagger_ui_is_served_from_our_own_static_files(anon_api):
    page = anon_api.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page


# --- Admin login guessing ------------------------------------------------------------------------------------


def _login(client, password, addr="192.0.2.10"):
    return client.post("/admin/login/?next=/admin/", {"username": "boss", "password": password}, REMOTE_ADDR=addr)


def test_admin_login_guessing_is_locked_out(client, django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "the-right-password-1")
    for _ in range(4):
        assert _login(client, "wrong").status_code == 200  # the form again, with its error
    assert _login(client, "wrong").status_code == 429  # the fifth failure locks
    locked = _login(client, "the-right-password-1")
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    # The user name is locked from another address too; and an unlock lets the right password in.
    assert _login(client, "the-right-password-1", addr="192.0.2.99").status_code == 429
    from django.core.management import call_command

    call_command("axes_reset_username", "boss")
    assert _login(client, "the-right-password-1").status_code == 302 and "_auth_user_id" in client.session


def test_the_migration_normalizes_stored_endpoints_and_keeps_refused_ones(db):
    import importlib

    from django.apps import apps

    from driftwatch.tests.factories import make_provider

    migration = importlib.import_module("providers.migrations.0003_normalize_endpoint_urls")
    good = make_provider(endpoint_url="http://LOCALHOST:4566")
    bad = make_provider(endpoint_url="http://127.0.0.1:8414\\@localhost:9/")
    none = make_provider(endpoint_url=None)
    migration.normalize(apps, None)
    for provider in (good, bad, none):
        provider.refresh_from_db()
    assert good.endpoint_url == "http://localhost:4566/"
    assert bad.endpoint_url == "http://127.0.0.1:8414\\@localhost:9/"  # kept: refused when used
    assert none.endpoint_url is None
