"""Collectors page through big listings (real pages where moto honours a page size)."""

import math

import pytest

from devtools.estate import trust_policy
from devtools.fake_aws import aws_clients, fake_session, reset_moto
from providers.collectors import COLLECTORS, ec2, iam, kms, rds

POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


@pytest.fixture(scope="module")
def many(moto_server: str) -> dict:
    """One reset, then big listings of several types (read-only for the tests below)."""
    reset_moto(moto_server)
    session = fake_session()

    def make(service, region="us-east-1"):
        return session.client(service, region_name=region, endpoint_url=moto_server)

    iam_client = make("iam")
    for i in range(60):
        iam_client.create_role(
            RoleName=f"role-{i:02d}", AssumeRolePolicyDocument=trust_policy({"Service": "ec2.amazonaws.com"})
        )
    for i in range(12):
        arn = iam_client.create_policy(PolicyName=f"p-{i}", PolicyDocument=POLICY)["Policy"]["Arn"]
        iam_client.attach_role_policy(RoleName="role-00", PolicyArn=arn)

    ec2_client = make("ec2", "eu-west-1")
    vpc_id = ec2_client.describe_vpcs()["Vpcs"][0]["VpcId"]
    for i in range(30):  # serially: parallel CreateSecurityGroup can 500 in moto
        ec2_client.create_security_group(GroupName=f"sg-{i:02d}", Description="paged", VpcId=vpc_id)

    rds_client = make("rds")
    for i in range(25):
        rds_client.create_db_instance(
            DBInstanceIdentifier=f"db-{i:02d}",
            Engine="postgres",
            DBInstanceClass="db.t3.micro",
            AllocatedStorage=20,
            MasterUsername="dwadmin",
            MasterUserPassword="not-a-secret-1",
        )

    kms_client, s3 = make("kms"), make("s3")
    key_ids = set()
    for i in range(12):  # moto spends ~0.1 s on each CreateKey
        key_id = kms_client.create_key(Description=f"k{i}", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
        kms_client.create_alias(AliasName=f"alias/k-{i:02d}", TargetKeyId=key_id)
        key_ids.add(key_id)
        s3.create_bucket(Bucket=f"paged-bucket-{i:02d}")
    return {"key_ids": key_ids}


@pytest.fixture
def clients(moto_server: str, many: dict):
    return aws_clients(moto_server)


def test_iam_roles_are_read_across_many_pages(clients, monkeypatch):
    monkeypatch.setattr(iam, "PAGE_SIZE", 7)

    result = COLLECTORS["iam_role"](clients, "global")

    assert result.failed == {}
    assert sorted(r.name for r in result.resources) == [f"role-{i:02d}" for i in range(60)]
    assert clients.calls_by_operation["iam.ListRoles"] == math.ceil(60 / 7)
    role0 = next(r for r in result.resources if r.name == "role-00")
    assert len(role0.config["AttachedManagedPolicies"]) == 12
    # 59 roles with no policy take one page each; role-00's twelve policies take two pages of seven.
    assert clients.calls_by_operation["iam.ListAttachedRolePolicies"] == 59 + 2


def test_security_groups_beyond_one_page_are_all_collected(clients, monkeypatch):
    monkeypatch.setattr(ec2, "PAGE_SIZE", 5)  # the API minimum; moto ignores it and sends one page

    result = COLLECTORS["ec2_security_group"](clients, "eu-west-1")

    names = sorted(r.config["GroupName"] for r in result.resources)
    assert names == sorted(["default", *(f"sg-{i:02d}" for i in range(30))])
    assert len({r.external_id for r in result.resources}) == 31
    assert COLLECTORS["ec2_security_group"](clients, "us-east-1").resources[0].config["GroupName"] == "default"


def test_rds_instances_are_read_across_pages(clients, monkeypatch):
    monkeypatch.setattr(rds, "PAGE_SIZE", 20)  # the API minimum

    result = COLLECTORS["rds_instance"](clients, "us-east-1")

    assert sorted(r.name for r in result.resources) == [f"db-{i:02d}" for i in range(25)]
    assert clients.calls_by_operation["rds.DescribeDBInstances"] == 2


def test_many_kms_keys_and_buckets_are_collected_through_the_pool(clients, many, monkeypatch):
    monkeypatch.setattr(kms, "PAGE_SIZE", 5)  # moto ignores Limit: one page

    keys = COLLECTORS["kms_key"](clients, "us-east-1")
    buckets = COLLECTORS["s3_bucket"](clients, "global")

    assert {r.config["KeyId"] for r in keys.resources} == many["key_ids"]
    assert sorted(r.name for r in keys.resources) == [f"k-{i:02d}" for i in range(12)]
    assert sorted(r.name for r in buckets.resources) == [f"paged-bucket-{i:02d}" for i in range(12)]
    assert keys.failed == buckets.failed == {}
