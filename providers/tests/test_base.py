"""Pure tests of the collector helpers: policy and rule normalization, scan units, the thread pool."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devtools.changes import element_path
from devtools.fake_aws import fake_session
from providers.collectors import COLLECTORS, GLOBAL_REGION, GLOBAL_RESOURCE_TYPES, scan_units
from providers.collectors.base import (
    AwsClients,
    PolicyParseError,
    normalize_policy,
    resource_name,
    sorted_dict,
    tags_to_dict,
)
from providers.collectors.ec2 import expand_permissions
from providers.collectors.s3 import location_to_region

REPO = Path(__file__).resolve().parents[2]


def test_normalize_policy_parses_strings_and_wraps_a_lone_statement():
    text = json.dumps(
        {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}
    )
    assert normalize_policy(text) == {
        "Statement": [{"Action": ["s3:GetObject"], "Effect": "Allow", "Resource": ["*"]}],
        "Version": "2012-10-17",
    }


def test_normalize_policy_equates_reordered_equivalent_documents():
    a = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "B", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "NotResource": "arn:x"},
            {
                "Sid": "A",
                "Effect": "Allow",
                "Principal": {
                    "AWS": ["arn:aws:iam::2:root", "arn:aws:iam::1:root"],
                    "Service": "ec2.amazonaws.com",
                },
                "Action": ["s3:PutObject", "s3:GetObject", "s3:GetObject"],
                "Resource": ["b", "a"],
                "Condition": {
                    "StringEquals": {"aws:SourceVpc": ["vpc-2", "vpc-1"]},
                    "Bool": {"aws:MFA": "true"},
                },
            },
        ],
    }
    b = {
        "Statement": [
            {
                "Condition": {
                    "Bool": {"aws:MFA": ["true"]},
                    "StringEquals": {"aws:SourceVpc": ["vpc-1", "vpc-2"]},
                },
                "Resource": ["a", "b"],
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Principal": {
                    "Service": ["ec2.amazonaws.com"],
                    "AWS": ["arn:aws:iam::1:root", "arn:aws:iam::2:root"],
                },
                "Effect": "Allow",
                "Sid": "A",
            },
            {"NotResource": ["arn:x"], "NotAction": ["sts:*", "iam:*"], "Effect": "Deny", "Sid": "B"},
        ],
        "Version": "2012-10-17",
    }
    assert normalize_policy(a) == normalize_policy(b)
    first = normalize_policy(a)["Statement"][0]
    assert first["Action"] == ["s3:GetObject", "s3:PutObject"]  # sorted and de-duplicated
    assert first["Principal"]["AWS"] == ["arn:aws:iam::1:root", "arn:aws:iam::2:root"]
    assert list(normalize_policy(a)) == ["Statement", "Version"]


def test_normalize_policy_keeps_star_principal_and_version_and_detects_a_real_change():
    doc = {"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*"}]}
    normalized = normalize_policy(doc)
    assert normalized["Statement"][0]["Principal"] == "*"
    assert normalized["Version"] == "2008-10-17"
    widened = {**doc, "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["s3:*", "iam:*"]}]}
    assert normalize_policy(widened) != normalized


def test_normalize_policy_accepts_url_encoded_text_and_rejects_garbage():
    encoded = "%7B%22Statement%22%3A%5B%5D%7D"
    assert normalize_policy(encoded) == {"Statement": []}
    assert normalize_policy(None) is None
    assert normalize_policy("") is None
    with pytest.raises(PolicyParseError):
        normalize_policy("{not json")
    with pytest.raises(PolicyParseError):
        normalize_policy("[1, 2]")


def test_expand_permissions_gives_one_rule_per_source():
    permissions = [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "UserIdGroupPairs": []},
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "corp"}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            "UserIdGroupPairs": [{"GroupId": "sg-1", "UserId": "123456789012"}],
            "PrefixListIds": [{"PrefixListId": "pl-1", "Description": ""}],
        },
    ]
    # Sorted by canonical JSON text ('"corp"' < 'null', '443' < 'null'); "" descriptions read as none.
    assert expand_permissions(permissions) == [
        {"Description": "corp", "FromPort": 443, "IpProtocol": "tcp", "Source": "10.0.0.0/8", "ToPort": 443},
        {"Description": None, "FromPort": 443, "IpProtocol": "tcp", "Source": "::/0", "ToPort": 443},
        {"Description": None, "FromPort": 443, "IpProtocol": "tcp", "Source": "pl-1", "ToPort": 443},
        {"Description": None, "FromPort": 443, "IpProtocol": "tcp", "Source": "sg-1", "ToPort": 443},
        {"Description": None, "FromPort": None, "IpProtocol": "-1", "Source": "0.0.0.0/0", "ToPort": None},
    ]
    assert expand_permissions(list(reversed(permissions))) == expand_permissions(permissions)


def test_tags_names_and_key_order_helpers():
    assert tags_to_dict([{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]) == {"a": "1", "b": "2"}
    assert list(tags_to_dict([{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])) == ["a", "b"]
    assert tags_to_dict([{"TagKey": "k", "TagValue": "v"}], key="TagKey", value="TagValue") == {"k": "v"}
    assert tags_to_dict(None) == {}
    assert resource_name({"Name": "web"}, "sg-1") == "web"
    assert resource_name({"Name": ""}, None, "sg-1") == "sg-1"
    assert list(sorted_dict({"b": {"d": 1, "c": 2}, "a": [{"z": 1, "y": 2}]})) == ["a", "b"]
    assert list(sorted_dict({"a": [{"z": 1, "y": 2}]})["a"][0]) == ["y", "z"]


def test_bucket_location_constraints_map_to_regions():
    assert location_to_region(None) == "us-east-1"
    assert location_to_region("") == "us-east-1"
    assert location_to_region("EU") == "eu-west-1"
    assert location_to_region("ap-south-1") == "ap-south-1"


def test_scan_units_lists_global_types_once_then_each_region_sorted():
    units = scan_units(["us-east-1", "eu-west-1", "us-east-1"])
    regional = [
        "cloudtrail_trail",
        "dynamodb_table",
        "ebs_snapshot",
        "ebs_volume",
        "ec2_instance",
        "ec2_security_group",
        "eks_cluster",
        "elbv2_load_balancer",
        "kms_key",
        "lambda_function",
        "rds_instance",
        "secretsmanager_secret",
        "sns_topic",
        "sqs_queue",
    ]
    global_units = [("global", "iam_policy"), ("global", "iam_role"), ("global", "iam_user"), ("global", "s3_bucket")]
    assert units == [
        *global_units,
        *(("eu-west-1", t) for t in regional),
        *(("us-east-1", t) for t in regional),
    ]
    assert scan_units(["eu-west-1", "us-east-1"]) == units  # stored order does not matter
    assert scan_units([]) == global_units
    assert scan_units(["global"]) == scan_units([])
    assert {t for _, t in units} == set(COLLECTORS)
    assert all(region == GLOBAL_REGION for region, t in units if t in GLOBAL_RESOURCE_TYPES)
    with pytest.raises(ValueError):
        scan_units([""])


def test_map_keeps_order_runs_in_parallel_and_is_bounded():
    clients = AwsClients(fake_session(), max_workers=4)
    running = 0
    peak = 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return n * n

    assert clients.map(work, range(20)) == [n * n for n in range(20)]
    assert peak == 4


def test_map_raises_the_first_failing_item_error():
    clients = AwsClients(fake_session(), max_workers=3)

    def work(n: int) -> int:
        if n in (3, 5):
            raise RuntimeError(f"boom {n}")
        return n

    with pytest.raises(RuntimeError, match="boom 3"):
        clients.map(work, range(8))


def test_clients_are_created_once_per_service_and_region_even_from_many_threads():
    clients = AwsClients(fake_session(), endpoint_url="http://127.0.0.1:9", max_workers=16, max_attempts=4)
    seen = clients.map(lambda _: clients.client("s3", "eu-west-1"), range(32))
    assert len({id(c) for c in seen}) == 1
    assert clients.client("s3") is clients.client("s3", "us-east-1") is clients.client("s3", GLOBAL_REGION)
    assert clients.client("s3", "eu-west-1") is not clients.client("s3")
    config = clients.client("ec2").meta.config
    assert config.max_pool_connections >= 16
    # botocore's "max_attempts" counts retries, so a request is tried at most max_attempts + 1 times.
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert config.connect_timeout and config.read_timeout
    assert clients.client("ec2").meta.endpoint_url == "http://127.0.0.1:9"


def test_element_path_matches_the_diff_engine_spelling():
    assert element_path("AttachedManagedPolicies", "arn:x") == 'AttachedManagedPolicies["arn:x"]'
    assert element_path("IngressRules", {"a": 1}).startswith("IngressRules[#")
    assert len(element_path("IngressRules", {"a": 1})) == len("IngressRules[#]") + 12


def test_collectors_and_fixtures_import_without_django():
    code = (
        "import sys, providers.collectors, providers.collectors.session, devtools.pytest_plugin, devtools.changes;"
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('django.')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
