"""Fake credentials, boto3 sessions and clients for a moto endpoint, and the environment moto runs in.

No Django: the collectors' tests, the benchmarks and the demo all use these.
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from providers.collectors.base import AwsClients
from providers.collectors.session import new_session

FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"
ACCOUNT_ID = "123456789012"  # moto's default account
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READONLY_POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"

# Set for the whole test session so nothing can reach a real account or the instance metadata service.
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # AdministratorAccess & co. exist only with this
}
# Removed for the session: any of them would make boto3 look for real credentials or another endpoint.
SCRUBBED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
)

_SEED_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})  # moto can 500 under load


def fake_session(region: str = "us-east-1") -> boto3.Session:
    """A boto3 Session with static fake credentials that reads no config or credentials file."""
    # (instance var, env var, default, conversion): no env var, so AWS_PROFILE/AWS_CONFIG_FILE are ignored.
    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    core.set_credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY)
    return new_session(botocore_session=core, region_name=region)


def aws_clients(endpoint_url: str, **kw: Any) -> AwsClients:
    """An AwsClients for a moto endpoint, with static fake credentials."""
    return AwsClients(fake_session(kw.get("default_region", "us-east-1")), endpoint_url=endpoint_url, **kw)


def reset_moto(endpoint_url: str) -> None:
    """Wipe every moto backend (all services, all regions)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


class SeedClients:
    """boto3 clients for one moto endpoint, created lazily and kept per (service, region).

    For seeding and changing an estate, serially on purpose; with retries, since moto can answer 500
    under load.
    """

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self.session = fake_session()
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str = "us-east-1") -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=_SEED_CONFIG
            )
        return self._clients[key]


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """AWS's [{"Key": ..., "Value": ...}] spelling of a tag dict."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]
