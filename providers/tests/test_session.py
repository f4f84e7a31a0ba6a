"""build_clients/caller_identity against moto's STS (stateless calls: no reset needed)."""

import boto3
import pytest

from devtools.fake_aws import ACCOUNT_ID
from providers.collectors import session as session_module
from providers.collectors.session import build_clients, caller_identity

STATIC = {"access_key_id": "AKIAEXAMPLEEXAMPLE01", "secret_access_key": "not-a-secret"}


def test_static_credentials_reach_sts_through_the_endpoint(moto_server):
    clients = build_clients(
        credentials=STATIC, role_arn=None, external_id=None, endpoint_url=moto_server, max_workers=3
    )
    identity = caller_identity(clients)
    assert identity["account"] == ACCOUNT_ID
    assert identity["arn"].startswith(f"arn:aws:sts::{ACCOUNT_ID}:") or identity["arn"].startswith(
        f"arn:aws:iam::{ACCOUNT_ID}:"
    )
    assert clients.max_workers == 3
    assert clients.client("sts").meta.endpoint_url == moto_server
    assert clients.session.get_credentials().access_key == STATIC["access_key_id"]
    assert clients.calls == 1


def test_assume_role_uses_the_temporary_credentials_and_passes_the_external_id(moto_server, monkeypatch):
    captured = []
    real_session = boto3.Session

    def spying_session(*args, **kwargs):
        session = real_session(*args, **kwargs)
        session.events.register("provide-client-params.sts.AssumeRole", lambda params, **_: captured.append(params))
        return session

    monkeypatch.setattr(session_module.boto3, "Session", spying_session)
    role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/driftwatch-reader"

    clients = build_clients(
        credentials={**STATIC, "session_token": "tok"},
        role_arn=role_arn,
        external_id="dw-123",
        endpoint_url=moto_server,
        default_region="eu-west-1",
    )

    assert captured == [{"RoleArn": role_arn, "RoleSessionName": "driftwatch", "ExternalId": "dw-123"}]
    credentials = clients.session.get_credentials()
    assert credentials.access_key != STATIC["access_key_id"] and credentials.token
    assert clients.default_region == "eu-west-1"
    identity = caller_identity(clients)
    assert identity == {
        "account": ACCOUNT_ID,
        "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/driftwatch-reader/driftwatch",
    }


def test_default_credential_chain_when_no_credentials_are_stored(moto_server):
    # moto_server put fake keys in the environment; a real chain lookup would find them there.
    clients = build_clients(credentials=None, role_arn=None, external_id=None, endpoint_url=moto_server)
    assert clients.session.get_credentials().access_key == "testing"
    assert caller_identity(clients)["account"] == ACCOUNT_ID


def test_incomplete_credentials_are_rejected():
    with pytest.raises(ValueError, match="secret_access_key"):
        build_clients(credentials={"access_key_id": "x"}, role_arn=None, external_id=None, endpoint_url=None)
