"""Test setup shared by every app: safety rails, API clients with tokens, and small factories."""

import os

# Nothing a test runs may reach a real AWS account or any non-loopback address: fake credentials,
# no config files, and a proxy on a closed loopback port for everything but loopback.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    AWS_EC2_METADATA_DISABLED="true",
    HTTP_PROXY="http://127.0.0.1:9",
    HTTPS_PROXY="http://127.0.0.1:9",
    NO_PROXY="127.0.0.1,localhost,::1",
)

try:  # TEST-ONLY: until driftwatch/outbound.py lands on main, a stand-in with its interface (then removed)
    import driftwatch.outbound  # noqa: E402, F401
except ImportError:
    import sys  # noqa: E402

    import baselines.tests.outbound_standin as _standin  # noqa: E402

    import driftwatch  # noqa: E402

    sys.modules["driftwatch.outbound"] = _standin
    driftwatch.outbound = _standin

import pytest  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from driftwatch.tests.factories import make_drift, make_provider, make_resource  # noqa: E402

pytest_plugins = ["devtools.pytest_plugin"]


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user(username="alice", password="correct-horse-battery")


def _token(user, scope: str, name: str) -> str:
    """A token of `scope` whose owner is in the group that scope needs (a token acts within its owner's rights)."""
    from driftwatch.models import ApiToken
    from driftwatch.roles import group_for_scope

    user.groups.add(group_for_scope(scope))
    return ApiToken.issue(user, name=name, scope=scope)[1]


@pytest.fixture
def write_token(user):
    """An admin token (admin was called "write" before the triage scope existed)."""
    return _token(user, "admin", "ci")


@pytest.fixture
def read_token(user):
    return _token(user, "read", "ro")


@pytest.fixture
def triage_token(user):
    return _token(user, "triage", "triage")


@pytest.fixture
def api(write_token) -> APIClient:
    """An API client authenticated with an admin token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {write_token}")
    return client


@pytest.fixture
def triage_api(triage_token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {triage_token}")
    return client


@pytest.fixture
def read_api(read_token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_token}")
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def provider(db):
    return make_provider()


@pytest.fixture
def resource(provider):
    return make_resource(provider)


@pytest.fixture
def drift(resource):
    return make_drift(resource)
