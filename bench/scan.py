"""Part 3: a full scan against a moto server, against the same boto3 calls issued by a bare script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

from .env import FAKE_AWS_ENV, free_port

_SEED_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=8)
# Parameters naming the one resource a per-item call reads: calls sharing one run in one thread.
_ITEM_KEYS = (
    "Bucket",
    "RoleName",
    "KeyId",
    "Name",
    "DBInstanceIdentifier",
    "GroupId",
    "SnapshotId",
    "FunctionName",
    "Resource",
    "UserName",
    "PolicyArn",
    "QueueUrl",
    "TopicArn",
    "ResourceArn",
    "LoadBalancerArn",
    "name",
    "TableName",
    "SecretId",
)


class MotoServer:
    """moto_server on a free loopback port (its own process, as a remote endpoint would be)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **FAKE_AWS_ENV, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        self.log = open(Path(os.environ["DRIFTWATCH_VAR_DIR"]) / "moto.log", "w")  # noqa: SIM115
        server = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("moto_server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def seed(url: str, buckets: int, groups: int, roles: int, estate_scale: int = 1) -> dict:
    """Create the estate: buckets with some versioning/tags/policies, groups with rules, roles with policies;
    then the demo estate (devtools.estate) `estate_scale` times, so every collected type has resources."""
    from devtools.estate import RESOURCE_TYPES, seed_estate, trust_policy
    from devtools.fake_aws import fake_session

    session = fake_session()
    s3 = session.client("s3", endpoint_url=url, config=_SEED_CONFIG)
    ec2 = session.client("ec2", region_name="us-east-1", endpoint_url=url, config=_SEED_CONFIG)
    iam = session.client("iam", endpoint_url=url, config=_SEED_CONFIG)
    t0 = time.perf_counter()

    def bucket(i: int) -> None:
        name = f"bench-bucket-{i:05d}"
        s3.create_bucket(Bucket=name)
        if i % 10 == 0:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if i % 3 == 0:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "owner", "Value": f"team-{i % 7}"}]})
        if i % 5 == 0:
            s3.put_public_access_block(
                Bucket=name,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            )

    def role(i: int) -> None:
        name = f"bench-role-{i:04d}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy({"Service": "ec2.amazonaws.com"}))
        iam.put_role_policy(
            RoleName=name,
            PolicyName="app",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}
            ),
        )
        if i % 2 == 0:
            iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(bucket, range(buckets)))
        list(pool.map(role, range(roles)))
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    for i in range(groups):  # serially: parallel CreateSecurityGroup can 500 inside moto
        gid = ec2.create_security_group(GroupName=f"bench-sg-{i:04d}", Description=f"bench {i}", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=gid,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
            ],
        )
    estate = seed_estate(url, regions=("us-east-1",), scale=estate_scale, prefix="bench")
    return {
        "seconds": time.perf_counter() - t0,
        "buckets": buckets,
        "security_groups": groups,
        "roles": roles,
        "estate_scale": estate_scale,
        "estate": {resource_type: len(estate[resource_type]) for resource_type in RESOURCE_TYPES},
    }


class _Recorder:
    """Wraps providers.services.aws_clients to keep each unit's AwsClients and record every call with its params."""

    def __init__(self) -> None:
        self.clients: list = []
        self.calls: list[dict] = []
        self._lock = threading.Lock()

    def wrap(self, real):
        def aws_clients(provider):
            clients = real(provider)
            self.clients.append(clients)
            unit = len(self.clients) - 1
            original = clients.client
            seen: set[int] = set()

            def client(service, region=None):
                made = original(service, region)
                if id(made) not in seen:
                    seen.add(id(made))
                    made.meta.events.register(
                        "provide-client-params",
                        lambda params, model, s=service, r=made.meta.region_name, **kw: self._record(
                            unit, s, r, model, params
                        ),
                    )
                return made

            clients.client = client
            return clients

        return aws_clients

    def _record(self, unit: int, service: str, region: str, model, params: dict) -> None:
        thread = threading.current_thread().name
        with self._lock:
            self.calls.append(
                {
                    "unit": unit,
                    "service": service,
                    "region": region,
                    "op": model.name,
                    "params": dict(params),
                    "pool": "aws" in thread,
                }
            )


def full_scan(url: str) -> tuple[dict, _Recorder]:
    """One detection job over a fresh provider, its units run inline by drifts.services.jobs.scan_unit."""
    from drifts.models import DetectionJob, JobTrigger, JobUnit
    from drifts.services import jobs
    from providers import services as provider_services
    from providers.collectors import scan_units
    from providers.models import Provider, Resource

    provider = Provider(name=f"bench-scan-{int(time.time())}", regions=["us-east-1"], endpoint_url=url)
    provider.set_credentials({"access_key_id": "testing", "secret_access_key": "testing"})
    provider.save()
    recorder = _Recorder()
    real = provider_services.aws_clients
    provider_services.aws_clients = recorder.wrap(real)
    try:
        t0 = time.perf_counter()
        job = DetectionJob.objects.create(trigger=JobTrigger.CLI, provider=provider)
        Provider.objects.filter(pk=provider.pk).update(running_job_id=job.pk)
        units = JobUnit.objects.bulk_create(
            JobUnit(job=job, provider=provider, region=region, resource_type=rt)
            for region, rt in scan_units(provider.regions)
        )
        DetectionJob.objects.filter(pk=job.pk).update(units_total=len(units))
        per_unit = {}
        for unit in units:
            u0 = time.perf_counter()
            jobs.scan_unit(unit.pk)
            per_unit[unit.resource_type] = time.perf_counter() - u0
        seconds = time.perf_counter() - t0
    finally:
        provider_services.aws_clients = real
    job.refresh_from_db()
    # One AwsClients per unit, in the order the units ran: the calls of each resource type.
    calls_by_type: Counter[str] = Counter()
    for unit, clients in zip(units, recorder.clients, strict=True):
        calls_by_type[unit.resource_type] += clients.calls
    resources_by_type = Counter(
        Resource.objects.filter(provider=provider, deleted_at__isnull=True).values_list("resource_type", flat=True)
    )
    calls = sum(c.calls for c in recorder.clients)
    attempts = sum(c.attempts for c in recorder.clients)
    by_op: Counter[str] = Counter()
    for c in recorder.clients:
        by_op.update(c.calls_by_operation)
    return {
        "seconds": seconds,
        "status": job.status,
        "resources": job.resources_scanned,
        "max_concurrency": provider.max_concurrency,
        "calls": calls,
        "attempts": attempts,
        "calls_per_resource": calls / max(job.resources_scanned, 1),
        "calls_by_operation": dict(by_op.most_common()),
        "calls_per_resource_by_type": {
            resource_type: {
                "calls": calls_by_type[resource_type],
                "resources": resources_by_type[resource_type],
                "per_resource": calls_by_type[resource_type] / max(resources_by_type[resource_type], 1),
            }
            for resource_type in sorted(calls_by_type)
        },
        "seconds_by_unit": per_unit,
        "errors": job.errors[:5],
    }, recorder


def floor(url: str, recorder: _Recorder, workers: int) -> dict:
    """The recorded calls replayed by plain boto3: listings in order, per-item calls in a pool of `workers`."""
    from devtools.fake_aws import fake_session
    from providers.collectors.base import client_config

    session = fake_session()
    config = client_config(max_workers=workers)
    clients: dict[tuple[str, str], object] = {}
    for call in recorder.calls:  # created up front, as the scan's clients are reused across items
        key = (call["service"], call["region"])
        if key not in clients:
            clients[key] = session.client(call["service"], region_name=call["region"], endpoint_url=url, config=config)

    def issue(call: dict) -> None:
        method = getattr(clients[(call["service"], call["region"])], xform_name(call["op"]))
        try:
            method(**call["params"])
        except ClientError:
            pass  # "no such configuration" answers count as calls, as they do in the scan

    t0 = time.perf_counter()
    issued = 0
    for unit in sorted({c["unit"] for c in recorder.calls}):
        calls = [c for c in recorder.calls if c["unit"] == unit]
        for call in (c for c in calls if not c["pool"]):
            issue(call)
            issued += 1
        items: dict[str, list[dict]] = {}
        for index, call in enumerate(c for c in calls if c["pool"]):
            key = next((str(call["params"][k]) for k in _ITEM_KEYS if k in call["params"]), f"#{index}")
            items.setdefault(key, []).append(call)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda group: [issue(c) for c in group], items.values()))
        issued += sum(len(g) for g in items.values())
    return {"seconds": time.perf_counter() - t0, "calls": issued, "threads": workers}


def run(quick: bool) -> dict:
    """Seed moto, scan it once through the engine, then replay the same calls bare."""
    sizes = (100, 50, 20) if quick else (1000, 500, 200)
    estate_scale = 1 if quick else 5
    server = MotoServer()
    try:
        seeded = seed(server.url, *sizes, estate_scale=estate_scale)
        scanned, recorder = full_scan(server.url)
        bare = floor(server.url, recorder, scanned["max_concurrency"])
    finally:
        server.stop()
    return {
        "seed": seeded,
        "scan": scanned,
        "floor": bare,
        "ratio": scanned["seconds"] / bare["seconds"],
        "mode": "inline: drifts.services.jobs.scan_unit per unit, in order, in this process (no Celery worker)",
    }
