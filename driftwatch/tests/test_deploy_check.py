"""Production settings: `check --deploy` is clean, bad or missing values stop start-up, probes leak nothing."""

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

REPO = settings.BASE_DIR


def _production_env(tmp_path, **overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(60)[:60],
        ALLOWED_HOSTS="example.com",
        DRIFTWATCH_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        DRIFTWATCH_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="driftwatch.settings",
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_on_a_real_problem(tmp_path):
    # The same check must be able to fail: turning off HSTS is a deploy warning.
    env = _production_env(tmp_path, SECURE_HSTS_SECONDS="0")
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY must be set when DEBUG is off"),
        ({"SECRET_KEY": "dev-only-insecure-secret-key-change-me"}, "SECRET_KEY must be a real secret"),
        ({"DRIFTWATCH_ENCRYPTION_KEY": None}, "DRIFTWATCH_ENCRYPTION_KEY must be set when DEBUG is off"),
        ({"DRIFTWATCH_ENCRYPTION_KEY": "not-a-fernet-key"}, "DRIFTWATCH_ENCRYPTION_KEY must be a Fernet key"),
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL scheme 'mysql' is not supported"),
        ({"CELERY_BROKER_URL": "sqs://x"}, "CELERY_BROKER_URL scheme is not supported"),
        ({"DRIFTWATCH_LOG_FORMAT": "xml"}, "DRIFTWATCH_LOG_FORMAT must be 'text' or 'json'"),
        ({"DRIFTWATCH_SCAN_BATCH_SIZE": "lots"}, "DRIFTWATCH_SCAN_BATCH_SIZE must be an integer"),
    ],
    ids=[
        "no-secret-key",
        "dev-secret-key",
        "no-encryption-key",
        "bad-encryption-key",
        "debug-maybe",
        "mysql-url",
        "sqs-broker",
        "log-format",
        "batch-size",
    ],
)
def test_start_up_stops_with_a_message_naming_the_variable(tmp_path, overrides, message):
    result = _manage(_production_env(tmp_path, **overrides), "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_gunicorn_entry_point_refuses_to_load_without_secret_key(tmp_path):
    env = _production_env(tmp_path, SECRET_KEY=None)
    result = subprocess.run(
        [sys.executable, "-c", "import driftwatch.wsgi"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


# --- health probes -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_answers_without_auth_and_says_only_ok(anon_api):
    response = anon_api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_answers_without_auth_with_booleans_only(anon_api):
    response = anon_api.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": True, "broker": True}}


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_broker_without_details(anon_api, monkeypatch):
    from driftwatch.celery import app

    saved = app.conf.broker_url
    broken = "redis://:hunter2-secret@127.0.0.1:9/0"  # a closed loopback port
    # Celery prefers the CELERY_BROKER_URL variable (set in CI) over its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", broken)
    app.conf.broker_url = broken
    try:
        response = anon_api.get("/readyz")
    finally:
        app.conf.broker_url = saved
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": True, "broker": False}}
    assert b"hunter2" not in response.content and b"127.0.0.1" not in response.content
