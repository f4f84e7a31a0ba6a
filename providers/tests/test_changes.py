"""apply_changes/revert_changes make exactly the drifts they describe, as the collectors see them."""

import hashlib
import json

from devtools.changes import SCENARIOS, apply_changes, revert_changes
from devtools.estate import seed_estate
from devtools.fake_aws import aws_clients
from providers.collectors import COLLECTORS, scan_units


def collect_all(endpoint_url: str, regions) -> dict:
    clients = aws_clients(endpoint_url)
    found = {}
    for region, resource_type in scan_units(list(regions)):
        result = COLLECTORS[resource_type](clients, region)
        assert result.failed == {}
        for r in result.resources:
            found[(resource_type, r.external_id)] = r.config
    return found


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _ident(value) -> str:
    text = _canonical(value)
    return "#" + hashlib.sha256(text.encode()).hexdigest()[:12] if isinstance(value, dict | list) else text


def changes_between(before, after, path=""):
    """A small stand-in for drifts.diff: dict keys dotted, list elements named by identity."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(before.keys() | after.keys()):
            child = f"{path}.{key}" if path else key
            if key not in after:
                out.append((child, "removed", before[key], None))
            elif key not in before:
                out.append((child, "added", None, after[key]))
            else:
                out.extend(changes_between(before[key], after[key], child))
        return out
    if isinstance(before, list) and isinstance(after, list):
        old, new = {_canonical(v): v for v in before}, {_canonical(v): v for v in after}
        return [(f"{path}[{_ident(old[t])}]", "removed", old[t], None) for t in old.keys() - new.keys()] + [
            (f"{path}[{_ident(new[t])}]", "added", None, new[t]) for t in new.keys() - old.keys()
        ]
    return [] if _canonical(before) == _canonical(after) else [(path, "changed", before, after)]


def test_apply_changes_drifts_exactly_what_it_describes_and_revert_restores_the_estate(moto):
    regions = ("us-east-1", "eu-west-1")
    estate = seed_estate(moto, regions=regions)
    baseline = collect_all(moto, regions)

    described = apply_changes(moto, estate)
    drifted = collect_all(moto, regions)

    assert drifted.keys() == baseline.keys()
    seen = {
        (resource_type, external_id, path, op, _canonical(old), _canonical(new))
        for (resource_type, external_id), config in drifted.items()
        for path, op, old, new in changes_between(baseline[(resource_type, external_id)], config)
    }
    expected = {
        (
            c["resource_type"],
            c["external_id"],
            c["path"],
            c["op"],
            _canonical(c["baseline"]),
            _canonical(c["current"]),
        )
        for c in described
    }
    assert seen == expected
    assert len(described) == len(SCENARIOS)
    assert len({c["path"] for c in described}) == len(described)  # a finding is known by its path alone
    assert {c["resource_type"] for c in described} == set(COLLECTORS)

    revert_changes(moto, estate)
    assert collect_all(moto, regions) == baseline


def test_seed_estate_scales(moto):
    estate = seed_estate(moto, regions=("eu-west-1",), scale=2, prefix="big")
    counts = {t: len(estate[t]) for t in COLLECTORS}
    assert counts == {
        "s3_bucket": 8,
        "ec2_security_group": 1 + 6,
        "iam_role": 6,
        "rds_instance": 4,
        "kms_key": 8,
        "cloudtrail_trail": 2 + 2,
        "ec2_instance": 2,
        "ebs_volume": 2 * 2,  # root and data
        "ebs_snapshot": 2,
        "lambda_function": 2,
        "iam_user": 4,
        "iam_policy": 2,
        "sqs_queue": 2 * 2,  # orders and its dead-letter queue
        "sns_topic": 2,
        "elbv2_load_balancer": 2,
        "eks_cluster": 2,
        "dynamodb_table": 2,
        "secretsmanager_secret": 2,
    }
    collected = collect_all(moto, ("eu-west-1",))
    assert {e for (_, e) in collected} == {r["external_id"] for t in COLLECTORS for r in estate[t]}
