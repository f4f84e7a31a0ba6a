"""Parsing Terraform state v4: managed instances and their addresses, data sources, secrets, bad files."""

import json

import pytest

from baselines.terraform.state import StateError, parse_state, peek_head
from drifts.tests import tf_estate

IDS = {
    "SG_WEB": "sg-0123456789abcdef0",
    "VPC": "vpc-0a1b2c3d",
    "KMS_KEY": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "KMS_POLICY": '{"Version":"2012-10-17","Statement":[]}',
    "RDS_ENGINE_VERSION": "16.3",
    "RDS_STORAGE_TYPE": "gp2",
}


def state_bytes(**kw) -> bytes:
    return tf_estate.render(IDS, **kw)


def test_managed_instances_get_terraform_addresses_with_modules_count_and_for_each():
    parsed = parse_state(state_bytes(serial=42))
    addresses = [i.address for i in parsed.instances]
    assert parsed.head.serial == 42 and parsed.head.lineage == "3f8e9c2a-7b1d-4e6f-9a0c-5d2b8e1f4a77"
    assert parsed.terraform_version == "1.9.5"
    assert "module.storage.aws_s3_bucket.logs" in addresses
    assert "module.storage.aws_s3_bucket.data[0]" in addresses and "module.storage.aws_s3_bucket.data[1]" in addresses
    assert 'aws_kms_key.main["data"]' in addresses
    assert 'module.network.aws_vpc_security_group_ingress_rule.http["internal"]' in addresses
    # The data source is a read, not a declaration.
    assert parsed.data_sources == 1 and not any("caller_identity" in a for a in addresses)


def test_sensitive_attributes_are_removed_before_anything_sees_them():
    parsed = parse_state(state_bytes())
    db = next(i for i in parsed.instances if i.type == "aws_db_instance")
    assert "password" not in db.attributes and db.attributes["username"] == "orders"


def test_a_secret_inside_a_block_drops_the_whole_attribute():
    document = json.loads(state_bytes())
    bucket = next(r for r in document["resources"] if r.get("name") == "ghost")
    bucket["instances"][0]["attributes"]["grant"] = [{"id": "secret-grantee"}]
    bucket["instances"][0]["sensitive_attributes"] = [
        [{"type": "get_attr", "value": "grant"}, {"type": "index", "value": {"value": 0, "type": "number"}}]
    ]
    parsed = parse_state(json.dumps(document).encode())
    ghost = next(i for i in parsed.instances if i.name == "ghost")
    assert "grant" not in ghost.attributes


def test_tainted_and_deposed_instances_are_not_declarations():
    document = json.loads(state_bytes())
    ghost = next(r for r in document["resources"] if r.get("name") == "ghost")
    ghost["instances"][0]["status"] = "tainted"
    parsed = parse_state(json.dumps(document).encode())
    assert not any(i.name == "ghost" for i in parsed.instances)


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (b"", "empty", "empty"),
        (b'{"version": 4, "serial": 1, "lineage": "x", "resources": [', "truncated", "ends early"),
        (b'{"version": 4, "serial": 1, "lineage": "abc', "truncated", "ends early"),
        (b'{"version": 4, serial: 1}', "malformed", "not valid JSON"),
        (b'{"a": "\xc3\x28"}', "malformed", "not UTF-8"),
        (b'{"version": 3, "serial": 1, "lineage": "x", "modules": []}', "wrong_version", "version 3 is not supported"),
        (b'{"version": 4, "lineage": "x", "resources": []}', "invalid", "no valid serial"),
        (b'{"version": 4, "serial": 1, "lineage": "x", "resources": {}}', "invalid", "not a list"),
        (b"[1, 2]", "invalid", "not a JSON object"),
    ],
)
def test_bad_state_files_are_refused_with_a_clear_reason(data, code, message):
    with pytest.raises(StateError) as caught:
        parse_state(data)
    assert caught.value.code == code and message in str(caught.value)


def test_a_state_over_the_limit_is_refused_before_parsing():
    with pytest.raises(StateError) as caught:
        parse_state(state_bytes(), max_bytes=1000)
    assert caught.value.code == "too_large" and "the limit is 1000 bytes" in str(caught.value)


def test_peek_reads_serial_and_lineage_from_the_head_only():
    head = peek_head(state_bytes(serial=9))
    assert (head.version, head.serial, head.lineage) == (4, 9, "3f8e9c2a-7b1d-4e6f-9a0c-5d2b8e1f4a77")
    # Keys in another order (serial after outputs): not trusted, the caller parses instead.
    odd = b'{"version": 4, "outputs": {"serial": 5}, "serial": 9, "lineage": "x"}'
    assert peek_head(odd) is None
