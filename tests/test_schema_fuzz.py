"""Schema fuzzing: schemathesis drives every operation of the live /api/v1/schema/ with a write token.

The app answers on a real HTTP server (pytest-django's live_server) with a seeded database. Every
response must be a documented status with a body matching the schema, and nothing may be a 5xx.
The fuzzer invents providers and can start scans and connection tests: scans are only recorded (no
worker, no Celery publish), and this process refuses, and records, any connection or DNS lookup
that is not for a loopback address.
"""

import ipaddress
import os
import re
import socket

import pytest
import requests
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from drifts.models import DetectionJob, IgnoreRule, JobStatus
from driftwatch.models import ApiToken
from driftwatch.roles import group_for_scope
from driftwatch.tests.factories import T0, make_drift, make_provider, make_resource

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

_PATH_PARAM = re.compile(r"\{(\w+)\}")
_ID = re.compile(r"[0-9]{1,18}")
# Ids of seeded rows by the collection a path starts with (/api/v1/<collection>/{id}...), so that
# positive cases reach real objects and not only 404s. Filled by the schema fixture.
KNOWN_IDS: dict[str, list[int]] = {}


def _is_loopback(host) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the wildcard/loopback address of a listening socket
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def network_attempts(monkeypatch) -> list[str]:
    """Refuse every non-loopback lookup or connection made in this process; the list records them."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_create_connection = socket.create_connection
    real_connect = socket.socket.connect

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            attempts.append(f"getaddrinfo {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "non-loopback lookup refused by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        if not _is_loopback(address[0]):
            attempts.append(f"create_connection {address!r}")
            raise ConnectionRefusedError("non-loopback connection refused by the test")
        return real_create_connection(address, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(f"connect {address!r}")
            raise ConnectionRefusedError("non-loopback connection refused by the test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def enqueued_units(monkeypatch) -> list[int]:
    """Scans the API starts are recorded here instead of being published to a broker."""
    from drifts.tasks import scan_unit
    from driftwatch.celery import app

    assert not app.conf.task_always_eager, "an eager Celery would run fuzzed scans in the request"
    units: list[int] = []
    monkeypatch.setattr(scan_unit, "delay", lambda unit_id: units.append(unit_id))
    return units


def _seed() -> dict[str, list[int]]:
    """A small estate in every state the API can show: providers, resources, drifts, jobs, rules."""
    reachable = make_provider(name="loopback", endpoint_url="http://127.0.0.1:9")
    reachable.set_credentials({"access_key_id": "AKIAFAKEFAKEFAKE", "secret_access_key": "fake-secret"})
    reachable.save()
    plain = make_provider(name="default-chain")
    disabled = make_provider(name="disabled", enabled=False)
    resources = [make_resource(reachable), make_resource(plain), make_resource(plain, name="second")]
    drifts = [
        make_drift(resources[0]),
        make_drift(resources[1], path="Tags.env", drift_type="configuration", severity="low"),
        make_drift(resources[2], path="Versioning", status="investigating", severity="medium"),
        make_drift(resources[2], path="Tags.team", status="resolved", resolution="manual", resolved_at=T0),
    ]
    job = DetectionJob.objects.create(trigger="api", provider=plain, status=JobStatus.SUCCEEDED)
    rule = IgnoreRule.objects.create(path_glob="Tags.*", reason="tags are managed elsewhere")
    return {
        "providers": [reachable.pk, plain.pk, disabled.pk],
        "resources": [r.pk for r in resources],
        "drifts": [d.pk for d in drifts],
        "baselines": [b.pk for r in resources for b in r.baselines.all()],
        "jobs": [job.pk],
        "ignore-rules": [rule.pk],
    }


# 400s that a schema-valid request may rightly get: rules that depend on other rows, the clock,
# settings or combinations of fields, which OpenAPI cannot state. Any other refusal of a valid
# request is a schema defect and fails the test.
ANY_FIELD_REFUSALS = (
    # CharFields trim whitespace, so "  " passes minLength 1 and is still blank.
    re.compile(r"^This field may not be blank\.$"),
    # PostgreSQL text cannot hold NUL; Django refuses it in every string field and parameter.
    re.compile(r"^Null characters are not allowed\.$"),
    # Fields one kind or channel needs and another refuses (state sources, subscriptions).
    re.compile(r"^This field is required\.$"),
    re.compile(r"^(Not used by|Required for) an? \w+ source\.$"),
)
# Outbound URLs: the guard's policy (scheme, host, where it points), which OpenAPI's "uri" cannot state.
_URL_REFUSAL = re.compile(r"^The URL |DRIFTWATCH_|^An email subscription has no URL\.$")
FIELD_REFUSALS = {
    "name": re.compile(r"^A (provider|subscription) named .* already exists\.$"),
    # Allowed hosts come from DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS; URL syntax is Django's URLValidator.
    "endpoint_url": re.compile(
        r"DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS|must use http or https|has no host|not a valid URL|only printable ASCII"
    ),
    "role_arn": re.compile(r"^Expected an IAM role ARN"),
    "external_id": re.compile(r"^2 to 1224 characters|^external_id is only used with role_arn"),
    "expires_at": re.compile(r"^expires_at must be in the future\.$"),
    "resource_type": re.compile(r"^Unknown resource type"),  # the collector registry
    "other_id": re.compile(r"only baselines of one resource can be compared\.$"),
    "cloudtrail_bucket": re.compile(r"^Expected an S3 bucket name"),
    "cloudtrail_prefix": re.compile(r"^Up to 200 characters"),
    "bucket": re.compile(r"^Not a valid S3 bucket name\.$"),
    "key": re.compile(r"^An S3 key, without a leading '/'\.$"),
    "url": _URL_REFUSAL,
    "provider_id": re.compile(r"^No such provider\.$"),
    "email_to": re.compile(r"^At least one recipient is required\.$|^Only email subscriptions have recipients\.$"),
    "batch_by_job": re.compile(r"^Slack and email always get one digest per scan\.$"),
    "immediate_critical": re.compile(r"^Webhooks get every event as it happens\.$"),
}


def _semantic_refusal(response) -> bool:
    """True for a 400 whose every complaint is a rule listed above, or a failed connection check."""
    if response.status_code != 400:
        return False
    error = response.json()["error"]
    if error["code"] == "connection_failed":  # POST /providers/{id}/test: the provider did not answer
        return True
    if error["code"] != "validation_error" or not error["details"]:
        return False
    return all(_semantic_messages(field, messages) for field, messages in error["details"].items())


def _semantic_messages(field: str, messages) -> bool:
    if isinstance(messages, dict):  # a nested object's errors, e.g. credentials.session_token
        return all(_semantic_messages(name, inner) for name, inner in messages.items())
    rules = (*ANY_FIELD_REFUSALS, *([FIELD_REFUSALS[field]] if field in FIELD_REFUSALS else []))
    for message in messages if isinstance(messages, list) else [messages]:
        if not isinstance(message, str) or not any(rule.search(message) for rule in rules):
            return False
    return True


def positive_data_acceptance_except_semantic(ctx, response, case):
    """schemathesis' positive_data_acceptance, minus the 400s listed in SEMANTIC_REFUSALS."""
    if _semantic_refusal(response):
        return None
    return positive_data_acceptance(ctx, response, case)


def before_generate_case(context, strategy):
    """Positive cases often address a seeded object instead of a random id."""
    names = _PATH_PARAM.findall(context.operation.path)
    collection = context.operation.path.split("/")[3]
    if not names:
        return strategy

    def with_known_ids(case):
        # Looked up at draw time: strategies are built before the fixture seeds the database.
        ids = KNOWN_IDS.get(collection)
        # Ids match ^[0-9]{1,18}$ in the schema: any other value is a negated parameter and must stay so.
        generated = [case.path_parameters.get(name) for name in names]
        if not ids or not all(isinstance(v, str) and _ID.fullmatch(v) for v in generated):
            return st.just(case)

        def assign(chosen: list[int]):
            # In place, as map_case hooks do: Case tracks the edit and revalidates its metadata.
            case.path_parameters = {**case.path_parameters, **dict(zip(names, chosen, strict=True))}
            return case

        chosen = st.lists(st.sampled_from([str(i) for i in ids]), min_size=len(names), max_size=len(names))
        return st.one_of(st.just(case), chosen.map(assign), chosen.map(assign))

    return strategy.flatmap(with_known_ids)


# The schema the app serves, read through Django's test client at collection time (parametrize needs it
# then; schemathesis' lazy from_fixture loader does not work with pytest 9). The test checks that the
# live server serves the very same document.
SCHEMA_DOC = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
# The test sends a real write token on every request; generated Authorization values (security
# parameters) would be replaced by it, so schemathesis would judge requests the server never saw.
# Missing and bad tokens are still exercised by the ignored_auth check and by driftwatch/tests/test_auth.py.
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
schema = schemathesis.openapi.from_dict(SCHEMA_DOC, config=CONFIG)
schema.hook(before_generate_case)


@pytest.fixture
def live_api(live_server, user, network_attempts, enqueued_units, settings) -> dict:
    """The live server with a seeded database; returns the base URL and the write token's header."""
    # Endpoints on *.amazonaws.com are valid in production; here only loopback ones are, so no fuzzed
    # provider can make the connection test resolve a real host name.
    settings.DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS = ["127.0.0.1", "localhost", "::1"]
    served = requests.get(f"{live_server.url}/api/v1/schema/?format=json", timeout=30)
    assert served.status_code == 200
    assert served.json() == SCHEMA_DOC
    KNOWN_IDS.clear()
    KNOWN_IDS.update(_seed())
    user.groups.add(group_for_scope("admin"))
    token = ApiToken.issue(user, name="fuzz", scope="admin")[1]
    return {"base_url": live_server.url, "headers": {"Authorization": f"Bearer {token}"}}


@schema.parametrize()
@settings(
    max_examples=20,
    # CI replays one fixed, reproducible set of examples; a developer's run explores new ones.
    derandomize=os.environ.get("CI") == "true",
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_its_schema(case, live_api, network_attempts):
    case.call_and_validate(
        base_url=live_api["base_url"],
        headers=live_api["headers"],
        excluded_checks=[positive_data_acceptance],
        additional_checks=[positive_data_acceptance_except_semantic],
        timeout=30,
    )
    assert network_attempts == []


def test_network_guard_refuses_and_records_non_loopback_destinations(network_attempts):
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("sts.amazonaws.com", 443)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("192.0.2.1", 443))
    assert network_attempts == [
        "getaddrinfo 'sts.amazonaws.com'",
        "create_connection ('192.0.2.1', 443)",
        "connect ('192.0.2.1', 443)",
    ]
    assert socket.getaddrinfo("127.0.0.1", 80)  # loopback still resolves
