"""Parsing and mapping a large Terraform state against a bare json.loads of the same file.

`python -m bench.terraform [--resources 10000] [--repeat 3]` writes a synthetic state v4 (S3 buckets with
their split resources, security groups with inline and separate rules, IAM roles with inline policies;
about 4 KB per resource, so 10,000 resources make about 40 MB), then times, each in a fresh subprocess:
- `load`: read the file and `json.loads` it (the floor: any reader of the state pays this);
- `parse+map`: read the file, `baselines.terraform.state.parse_state` and `mapping.map_instances`.
Peak memory is the process's high-water RSS above its RSS before reading (`/proc/self/status` VmHWM after
`clear_refs`). Goal: time within 3x of the load, memory within ~2x of the load at both sizes (flat beyond the
document itself). Results go to bench/results/terraform.json. No database, no network.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
PRIVATE = "eyJzY2hlbWFfdmVyc2lvbiI6IjEifQ==" * 48


def _policy(i: int) -> str:
    statements = [
        {
            "Sid": f"S{i}x{n}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{100000000000 + n}:root"},
            "Action": ["s3:GetObject", "s3:ListBucket", "s3:PutObject"],
            "Resource": [f"arn:aws:s3:::bucket-{i}", f"arn:aws:s3:::bucket-{i}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        }
        for n in range(4)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _resource(rtype: str, name: str, attributes: dict, module: str | None, index=None) -> dict:
    instance = {"schema_version": 0, "attributes": attributes, "sensitive_attributes": [], "private": PRIVATE}
    if index is not None:
        instance["index_key"] = index
    resource = {"mode": "managed", "type": rtype, "name": name, "provider": PROVIDER, "instances": [instance]}
    if module:
        resource["module"] = module
    return resource


def _group(g: int) -> list[dict]:
    """Ten resources: a bucket and 4 split resources, a group and 2 rules, a role and its policy, a key."""
    module = f"module.app{g % 50}"
    bucket = f"bucket-{g}"
    tags = {f"tag{t}": f"value-{g}-{t}" for t in range(12)}
    sg = f"sg-{g:017x}"
    rule = {
        "cidr_blocks": ["10.0.0.0/8", "172.16.0.0/12"],
        "description": "internal",
        "from_port": 443,
        "ipv6_cidr_blocks": [],
        "prefix_list_ids": [],
        "protocol": "tcp",
        "security_groups": [],
        "self": False,
        "to_port": 443,
    }
    return [
        _resource(
            "aws_s3_bucket",
            "b",
            {
                "arn": f"arn:aws:s3:::{bucket}",
                "bucket": bucket,
                "id": bucket,
                "region": "us-east-1",
                "tags": tags,
                "tags_all": tags,
                "force_destroy": False,
                "versioning": [{"enabled": True, "mfa_delete": False}],
                "policy": _policy(g),
                "grant": [{"id": "a" * 64, "permissions": ["FULL_CONTROL"], "type": "CanonicalUser", "uri": ""}],
            },
            module,
            g,
        ),
        _resource(
            "aws_s3_bucket_versioning",
            "b",
            {"bucket": bucket, "id": bucket, "versioning_configuration": [{"status": "Enabled", "mfa_delete": ""}]},
            module,
            g,
        ),
        _resource(
            "aws_s3_bucket_public_access_block",
            "b",
            {
                "bucket": bucket,
                "id": bucket,
                "block_public_acls": True,
                "block_public_policy": True,
                "ignore_public_acls": True,
                "restrict_public_buckets": True,
            },
            module,
            g,
        ),
        _resource(
            "aws_s3_bucket_server_side_encryption_configuration",
            "b",
            {
                "bucket": bucket,
                "id": bucket,
                "rule": [
                    {
                        "apply_server_side_encryption_by_default": [
                            {
                                "kms_master_key_id": f"arn:aws:kms:us-east-1:123456789012:key/{g}",
                                "sse_algorithm": "aws:kms",
                            }
                        ],
                        "bucket_key_enabled": True,
                    }
                ],
            },
            module,
            g,
        ),
        _resource("aws_s3_bucket_policy", "b", {"bucket": bucket, "id": bucket, "policy": _policy(g)}, module, g),
        _resource(
            "aws_security_group",
            "g",
            {
                "arn": f"arn:aws:ec2:us-east-1:123456789012:security-group/{sg}",
                "id": sg,
                "name": f"sg-{g}",
                "description": "Managed by Terraform",
                "vpc_id": "vpc-0a1b2c3d",
                "ingress": [{**rule, "from_port": p, "to_port": p} for p in (80, 443, 8080, 8443, 9000)],
                "egress": [{**rule, "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}],
                "tags": tags,
                "tags_all": tags,
            },
            module,
            g,
        ),
        *(
            _resource(
                "aws_security_group_rule",
                f"r{n}",
                {
                    "type": "ingress",
                    "security_group_id": sg,
                    "protocol": "tcp",
                    "from_port": 22 + n,
                    "to_port": 22 + n,
                    "cidr_blocks": ["10.1.0.0/16"],
                    "description": f"rule {n}",
                    "self": False,
                    "source_security_group_id": None,
                    "ipv6_cidr_blocks": None,
                    "prefix_list_ids": None,
                },
                module,
                g,
            )
            for n in range(2)
        ),
        _resource(
            "aws_iam_role",
            "r",
            {
                "arn": f"arn:aws:iam::123456789012:role/role-{g}",
                "name": f"role-{g}",
                "path": "/",
                "assume_role_policy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ec2.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
                "max_session_duration": 3600,
                "permissions_boundary": "",
                "inline_policy": [],
                "managed_policy_arns": [],
                "tags": tags,
                "tags_all": tags,
            },
            module,
            g,
        ),
        _resource(
            "aws_iam_role_policy",
            "p",
            {"role": f"role-{g}", "name": "inline", "policy": _policy(g)},
            module,
            g,
        ),
    ]


def write_state(path: Path, resources: int) -> int:
    """Write a state with about `resources` managed resources; returns its size in bytes."""
    groups = max(1, resources // 10)
    document = {
        "version": 4,
        "terraform_version": "1.9.5",
        "serial": 1,
        "lineage": "bench-lineage",
        "outputs": {},
        "resources": [r for g in range(groups) for r in _group(g)],
        "check_results": None,
    }
    path.write_text(json.dumps(document, indent=2))
    return path.stat().st_size


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _measure(mode: str, path: str) -> dict:
    """Run in a fresh process: one measurement of `mode` on the file at `path`."""
    if mode == "parse+map":
        from baselines.terraform.mapping import map_instances
        from baselines.terraform.state import parse_state
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    start_rss = _rss_kb("VmRSS")
    started = time.perf_counter()
    data = Path(path).read_bytes()
    if mode == "load":
        document = json.loads(data)
        count = len(document["resources"])
    else:
        parsed = parse_state(data)
        mapped = map_instances(parsed.instances)
        count = len(mapped.declared)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": (_rss_kb("VmHWM") - start_rss) / 1024, "count": count}


def _run(mode: str, path: Path) -> dict:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "bench.terraform", "--measure", mode, "--path", str(path)],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(resources: int, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "terraform.tfstate"
        size = write_state(path, resources)
        row: dict = {"resources": resources, "file_mb": size / 1e6}
        for mode in ("load", "parse+map"):
            runs = [_run(mode, path) for _ in range(repeat)]
            row[mode] = {
                "seconds": statistics.median(r["seconds"] for r in runs),
                "peak_mb": statistics.median(r["peak_mb"] for r in runs),
                "count": runs[0]["count"],
            }
        row["time_ratio"] = row["parse+map"]["seconds"] / row["load"]["seconds"]
        row["memory_ratio"] = row["parse+map"]["peak_mb"] / max(row["load"]["peak_mb"], 0.1)
        return row


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.terraform")
    parser.add_argument("--resources", type=int, nargs="*", default=[5000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.measure, args.path)))
        return 0
    rows = [bench(n, args.repeat) for n in args.resources]
    print(f"{'resources':>10} {'file':>8} {'json.loads':>18} {'parse+map':>18} {'time':>7} {'memory':>7}")
    for row in rows:
        load, parsed = row["load"], row["parse+map"]
        print(
            f"{row['resources']:>10,} {row['file_mb']:>6.1f}MB "
            f"{load['seconds']:>7.2f}s {load['peak_mb']:>6.0f}MB  "
            f"{parsed['seconds']:>7.2f}s {parsed['peak_mb']:>6.0f}MB  "
            f"{row['time_ratio']:>6.2f}x {row['memory_ratio']:>6.2f}x"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "terraform.json").write_text(json.dumps({"pid": os.getpid(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
