"""pytest fixtures for a moto server (no Django).

Load as a plugin (`pytest_plugins = ["devtools.pytest_plugin"]` or `-p devtools.pytest_plugin`) to get:
  moto_server  session: a ThreadedMotoServer on 127.0.0.1, fake credentials in the environment
  moto         function: the same endpoint with all moto state reset first
  moto_clients function: an AwsClients (fake credentials) on a freshly reset server
Seed and change the estate with devtools.estate.seed_estate and devtools.changes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from devtools.fake_aws import FAKE_ENV, SCRUBBED_ENV, aws_clients, reset_moto
from providers.collectors.base import AwsClients


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start one moto server for the session; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    saved = {key: os.environ.get(key) for key in (*FAKE_ENV, *SCRUBBED_ENV)}
    for key in SCRUBBED_ENV:
        os.environ.pop(key, None)
    os.environ.update(FAKE_ENV)  # before start: moto reads MOTO_IAM_LOAD_MANAGED_POLICIES per backend
    werkzeug_logger = logging.getLogger("werkzeug")
    saved_level = werkzeug_logger.level
    werkzeug_logger.setLevel(logging.WARNING)  # one access-log line per request drowns test output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug_logger.setLevel(saved_level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def moto(moto_server: str) -> str:
    """The moto endpoint with all state reset for this test."""
    reset_moto(moto_server)
    return moto_server


@pytest.fixture
def moto_clients(moto: str) -> AwsClients:
    """An AwsClients pointed at a freshly reset moto server."""
    return aws_clients(moto)
