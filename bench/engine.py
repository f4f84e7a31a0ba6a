"""Part 2: the detection engine (diff + classify + persist through drifts.services.jobs.scan_unit), run in a subprocess.

`python -m bench.engine --size N [--naive M]` prints one JSON line. Only the AWS side is fake: each
collector in providers.collectors.COLLECTORS is replaced by one returning pre-built collector output.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import time
import uuid


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


def _reset_peak() -> None:
    """Reset VmHWM (peak RSS) so the next reading is the peak of what follows (Linux clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# --- synthetic collector output, shaped like providers/collectors/{s3,ec2,iam}.py produce -------------


def _bucket(i: int, tag: str):
    from providers.collectors.base import CollectedResource, normalize_policy, sorted_dict

    name = f"bench-{tag}-bucket-{i:06d}"
    policy = None
    if i % 5 == 0:
        policy = normalize_policy(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReadFromApp",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::123456789012:role/app-{i % 50}"},
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                    }
                ],
            }
        )
    config = {
        "Acl": {
            "Grants": [
                {
                    "Grantee": {"ID": "75aa57f09aa0c8caeab4f8c24e99d10f", "Type": "CanonicalUser"},
                    "Permission": "FULL_CONTROL",
                }
            ]
        },
        "Encryption": {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
        }
        if i % 3
        else None,
        "Logging": {"TargetBucket": f"bench-{tag}-logs", "TargetPrefix": f"{name}/"} if i % 4 == 0 else None,
        "Policy": policy,
        "PublicAccessBlock": {
            k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        },
        "Tags": {"owner": f"team-{i % 12}", "env": ("prod", "staging", "dev")[i % 3], "Name": name},
        "Versioning": "Enabled" if i % 2 else "Disabled",
    }
    return CollectedResource(f"arn:aws:s3:::{name}", name, "us-east-1", sorted_dict(config))


def _group(i: int, tag: str):
    from providers.collectors.ec2 import _to_resource

    ingress = [
        {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "vpc"}],
        },
        {
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "UserIdGroupPairs": [{"GroupId": f"sg-{(i + 1):017x}"}],
        },
    ]
    if i % 7 == 0:
        ingress.append({"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
    group = {
        "GroupId": f"sg-{tag[:4]}{i:013x}",
        "GroupName": f"bench-{tag}-sg-{i}",
        "Description": f"bench group {i}",
        "VpcId": f"vpc-{i % 20:08x}",
        "IpPermissions": ingress,
        "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        "Tags": [{"Key": "team", "Value": f"team-{i % 12}"}, {"Key": "Name", "Value": f"sg-{i}"}],
    }
    return _to_resource(group, "us-east-1")


def _role(i: int, tag: str):
    from providers.collectors.base import GLOBAL_REGION, CollectedResource, normalize_policy, sorted_dict

    name = f"bench-{tag}-role-{i}"
    config = {
        "RoleName": name,
        "Path": "/",
        "AssumeRolePolicyDocument": normalize_policy(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
        "AttachedManagedPolicies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "InlinePolicies": {
            "app": normalize_policy(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["sqs:SendMessage"],
                            "Resource": f"arn:aws:sqs:us-east-1:123456789012:q{i}",
                        }
                    ],
                }
            )
        },
        "MaxSessionDuration": 3600,
        "PermissionsBoundary": None,
        "Tags": {"app": f"app-{i % 40}"},
    }
    return CollectedResource(f"arn:aws:iam::123456789012:role/{name}", name, GLOBAL_REGION, sorted_dict(config))


# The resource mix: 40% buckets, 40% security groups, 20% roles.
_MIX = (("s3_bucket", 0.4, _bucket), ("ec2_security_group", 0.4, _group), ("iam_role", 0.2, _role))


def make_estate(size: int, tag: str) -> dict[str, list]:
    """Collector output for `size` resources, by resource type."""
    out = {}
    for resource_type, share, build in _MIX:
        out[resource_type] = [build(i, tag) for i in range(int(size * share))]
    return out


def drift(estate: dict[str, list], every: int = 100) -> tuple[dict[str, list], int]:
    """A copy of the estate with 1 resource in `every` changed the way people change them; and how many."""
    changed = 0
    out = {}
    for resource_type, items in estate.items():
        new = list(items)
        for index in range(0, len(items), every):
            item = copy.deepcopy(items[index])
            config = item.config
            if resource_type == "s3_bucket":
                config["Versioning"] = "Suspended"
                config["PublicAccessBlock"]["BlockPublicAcls"] = False
                config["Tags"]["cost-center"] = "cc-1"
            elif resource_type == "ec2_security_group":
                config["IngressRules"].append(
                    {"Description": None, "FromPort": 22, "IpProtocol": "tcp", "Source": "0.0.0.0/0", "ToPort": 22}
                )
            else:
                config["AttachedManagedPolicies"].append("arn:aws:iam::aws:policy/AdministratorAccess")
                config["MaxSessionDuration"] = 43200
            new[index] = item
            changed += 1
        out[resource_type] = new
    return out, changed


# --- running the real engine ---------------------------------------------------------------------------


def _install_fake_collectors(current: dict[str, list]) -> None:
    from providers import collectors
    from providers.collectors.base import CollectResult

    for resource_type in list(collectors.COLLECTORS):
        collectors.COLLECTORS[resource_type] = lambda clients, region, rt=resource_type: CollectResult(
            resources=list(current.get(rt, [])), failed={}
        )


def _provider(tag: str):
    from providers.models import Provider

    return Provider.objects.create(name=f"bench-engine-{tag}", regions=["us-east-1"])


def scan(provider, current: dict[str, list], label: str = "scan") -> dict:
    """One detection job over the provider through drifts.services.jobs.scan_unit, units inline; returns counters."""
    from drifts.models import DetectionJob, JobTrigger, JobUnit
    from drifts.services import jobs
    from providers.collectors import scan_units
    from providers.models import Provider

    _install_fake_collectors(current)
    # The rows start_detection creates, without enqueueing Celery tasks (the units run here, inline).
    job = DetectionJob.objects.create(trigger=JobTrigger.CLI, provider=provider)
    Provider.objects.filter(pk=provider.pk).update(running_job_id=job.pk)
    units = JobUnit.objects.bulk_create(
        JobUnit(job=job, provider=provider, region=region, resource_type=resource_type)
        for region, resource_type in scan_units(provider.regions)
    )
    DetectionJob.objects.filter(pk=job.pk).update(units_total=len(units))
    # Progress for the parent: if the budget runs out, it reads the job's counters and our peak RSS.
    _emit({"event": "scan_start", "label": label, "job_id": job.pk, "rss_kib": _rss_kib("VmRSS"), "at": time.time()})
    for unit in units:
        jobs.scan_unit(unit.pk)
    job.refresh_from_db()
    return {
        "status": job.status,
        "scanned": job.resources_scanned,
        "new": job.drifts_new,
        "updated": job.drifts_updated,
    }


def _timed(fn, *args) -> tuple[object, float, int]:
    """(result, seconds, peak RSS above the starting RSS in KiB)."""
    gc.collect()
    _reset_peak()
    before = _rss_kib("VmRSS")
    t0 = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - t0
    return result, seconds, max(0, _rss_kib("VmHWM") - before)


# --- the naive reference: DeepDiff and one ORM save per row --------------------------------------------


def _deepdiff_changes(old: dict, new: dict) -> list[dict]:
    from deepdiff import DeepDiff

    tree = DeepDiff(old, new, ignore_order=True, view="tree")
    changes = []
    for kind, levels in tree.items():
        for level in levels:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            if kind in {"dictionary_item_added", "iterable_item_added"}:
                changes.append({"path": path, "op": "added", "baseline": None, "current": level.t2})
            elif kind in {"dictionary_item_removed", "iterable_item_removed"}:
                changes.append({"path": path, "op": "removed", "baseline": level.t1, "current": None})
            else:
                changes.append({"path": path, "op": "changed", "baseline": level.t1, "current": level.t2})
    return changes


def naive_scan(provider, current: dict[str, list]) -> dict:
    """The obvious way: per resource get + save, DeepDiff against its baseline, one save per finding."""
    from django.utils import timezone

    from baselines.models import Baseline
    from drifts import rules
    from drifts.models import Drift, DriftEvent, DriftStatus
    from providers.models import Resource, config_hash

    created = 0
    for resource_type, items in current.items():
        for item in items:
            now = timezone.now()
            resource = Resource.objects.get(
                provider=provider, resource_type=resource_type, external_id=item.external_id
            )
            resource.name, resource.config, resource.config_hash = item.name, item.config, config_hash(item.config)
            resource.last_seen_at = now
            resource.save()
            baseline = Baseline.objects.get(resource=resource, is_current=True)
            for change in _deepdiff_changes(baseline.config, item.config):
                verdict = rules.classify(resource_type, change)
                existing = (
                    Drift.objects.filter(resource=resource, path=change["path"]).exclude(status="resolved").first()
                )
                if existing is not None:
                    existing.current_value, existing.last_seen_at = change["current"], now
                    existing.save()
                    continue
                found = Drift(
                    resource=resource,
                    provider=provider,
                    resource_type=resource_type,
                    baseline=baseline,
                    path=change["path"],
                    drift_type=verdict.drift_type,
                    severity=verdict.severity,
                    summary=verdict.summary[:500],
                    baseline_value=change["baseline"],
                    current_value=change["current"],
                    diff=[change],
                )
                found.save()
                DriftEvent(drift=found, to_status=DriftStatus.DETECTED, note="Detected by naive scan.").save()
                created += 1
    return {"new": created}


def run(size: int, naive: int) -> dict:
    """Baseline scan, then a scan with 1% drifted (timed, peak memory); optionally the naive reference."""
    tag = uuid.uuid4().hex[:8]
    estate = make_estate(size, tag)
    drifted, changed = drift(estate)
    n = sum(len(v) for v in estate.values())
    provider = _provider(tag)
    first, t_first, mem_first = _timed(scan, provider, estate, "baseline_scan")
    out = {
        "resources": n,
        "drifted_resources": changed,
        "baseline_scan": {
            "seconds": t_first,
            "resources_per_s": n / t_first,
            "peak_rss_delta_mib": mem_first / 1024,
            **first,
        },
    }
    _emit({"event": "partial", **out})
    second, t_second, mem_second = _timed(scan, provider, drifted, "drift_scan")
    out["drift_scan"] = {
        "seconds": t_second,
        "resources_per_s": n / t_second,
        "peak_rss_delta_mib": mem_second / 1024,
        **second,
    }
    _emit({"event": "partial", **out})
    # The pure part alone (diff + classify of the drifted resources), for the profile of where time goes.
    from drifts import diff as diff_engine
    from drifts import rules

    t0 = time.perf_counter()
    for resource_type, items in drifted.items():
        for old, new in zip(estate[resource_type], items, strict=True):
            if old is not new:
                for change in diff_engine.diff(old.config, new.config):
                    rules.classify(resource_type, change)
    out["pure_diff_classify_seconds"] = time.perf_counter() - t0
    if naive:
        ntag = uuid.uuid4().hex[:8]
        small = make_estate(naive, ntag)
        small_drifted, _ = drift(small)
        m = sum(len(v) for v in small.values())
        nprov = _provider(ntag)
        scan(nprov, small, "naive_setup")  # baselines for the naive run: setup, not timed
        result, t_naive, _mem = _timed(naive_scan, nprov, small_drifted)
        out["naive"] = {"resources": m, "seconds": t_naive, "resources_per_s": m / t_naive, **result}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--naive", type=int, default=0)
    parser.add_argument("--profile", help="write a pyinstrument text profile of the drift scan here")
    args = parser.parse_args()
    from . import env

    env.configure()
    env.setup_django()
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        result = run(args.size, args.naive)
        profiler.stop()
        with open(args.profile, "w") as f:
            f.write(profiler.output_text(unicode=False, color=False, show_all=False))
    else:
        result = run(args.size, args.naive)
    _emit({"event": "result", **result})


if __name__ == "__main__":
    main()


# --- parent side -----------------------------------------------------------------------------------


def _job_progress(job_id: int) -> int:
    from drifts.models import JobUnit

    return sum(JobUnit.objects.filter(job_id=job_id).values_list("resources_scanned", flat=True))


def _child_peak_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_child(size: int, naive: int, budget_s: float) -> dict:
    """Run one engine measurement in a subprocess; past the budget, report the rate over what was done."""
    import subprocess
    import sys
    import threading
    from pathlib import Path

    cmd = [sys.executable, "-m", "bench.engine", "--size", str(size), "--naive", str(naive)]
    proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    events: list[dict] = []

    def read() -> None:
        for line in proc.stdout:
            if line.startswith("{"):
                events.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = time.time()
    try:
        proc.wait(timeout=budget_s)
    except subprocess.TimeoutExpired:
        pass
    if proc.returncode is None:
        start = next((e for e in reversed(events) if e["event"] == "scan_start"), None)
        peak = _child_peak_kib(proc.pid)
        proc.kill()
        proc.wait()
        reader.join(timeout=5)
        out = {"resources": size, "timed_out_after_s": time.time() - started}
        for e in events:
            if e["event"] == "partial":
                out.update({k: v for k, v in e.items() if k != "event"})
        if start is not None:
            done = _job_progress(start["job_id"])
            elapsed = time.time() - start["at"]
            out[start["label"]] = {
                "incomplete": True,
                "resources_done": done,
                "seconds": elapsed,
                "resources_per_s": done / elapsed if elapsed else 0.0,
                "peak_rss_delta_mib": max(0, peak - start["rss_kib"]) / 1024,
            }
        return out
    reader.join(timeout=5)
    result = next((e for e in events if e["event"] == "result"), None)
    if result is None:
        raise RuntimeError(f"bench.engine --size {size} failed (exit {proc.returncode})")
    result.pop("event")
    return result
