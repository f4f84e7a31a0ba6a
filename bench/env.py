"""The benchmark's environment: a dedicated PostgreSQL database, Redis db 14, production-like settings."""

from __future__ import annotations

import os
import secrets
import socket
import tempfile
from urllib.parse import urlparse, urlunparse

BENCH_DB_NAME = "driftwatch_bench"
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
# Databases the test suites and the dev server use: the benchmark truncates tables, so never these.
_FORBIDDEN = ("driftwatch", "postgres", "template0", "template1")

# Never real AWS: fake keys, no config files, no instance metadata.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def bench_database_url() -> str:
    """BENCH_DATABASE_URL as given, else DATABASE_URL's server with the database renamed driftwatch_bench."""
    explicit = os.environ.get("BENCH_DATABASE_URL")
    url = explicit or os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise SystemExit(f"bench needs PostgreSQL, got DATABASE_URL scheme {parsed.scheme!r}")
    if not explicit:
        parsed = parsed._replace(path=f"/{BENCH_DB_NAME}")
    name = parsed.path.lstrip("/")
    if name in _FORBIDDEN or name.startswith("test_"):
        raise SystemExit(f"refusing to benchmark in database {name!r}: it belongs to the app or the tests")
    if parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"bench runs on loopback only, not {parsed.hostname!r}")
    return urlunparse(parsed)


def ensure_database(url: str) -> None:
    """Create the benchmark database if it does not exist."""
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    name = parsed.path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def configure() -> dict[str, str]:
    """Set the process environment (inherited by gunicorn and subprocesses); returns what was set."""
    if os.environ.get("BENCH_CONFIGURED") == "1":
        return {}  # a benchmark subprocess: the parent already configured the environment
    url = bench_database_url()
    var_dir = os.environ.get("BENCH_VAR_DIR") or tempfile.mkdtemp(prefix="driftwatch-bench-")
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": REDIS_URL,
        "DRIFTWATCH_VAR_DIR": var_dir,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or "bench-" + secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "DRIFTWATCH_API_THROTTLE_RATE": "off",
        "DRIFTWATCH_LOG_LEVEL": "WARNING",
        "BENCH_CONFIGURED": "1",
        # Production settings, except that moto and the benchmark's receivers listen on plain-http loopback.
        "DRIFTWATCH_OUTBOUND_ALLOW_HTTP": "1",
        "DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS": "127.0.0.1,localhost",
        "DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS": "127.0.0.1,localhost",
        **FAKE_AWS_ENV,
    }
    from cryptography.fernet import Fernet

    env["DRIFTWATCH_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ROLE_ARN", "HTTP_PROXY", "HTTPS_PROXY"):
        os.environ.pop(key, None)
    os.environ.update(env)
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    return env


def setup_django() -> None:
    """django.setup() with the benchmark environment (call configure() first)."""
    import django

    # The driftwatch package first: its Celery app reads settings at import, and bench.settings imports
    # driftwatch.settings; starting from bench.settings would read a half-imported settings module.
    import driftwatch  # noqa: F401

    django.setup()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
