"""Small factories for the Provider -> Resource -> Baseline -> Drift chain, values pinned."""

import itertools
from datetime import UTC, datetime, timedelta

from baselines.models import Baseline, BaselineSource
from drifts.models import Drift, DriftEvent
from providers.models import Provider, Resource, config_hash

_seq = itertools.count(1)
T0 = datetime(2024, 1, 15, 14, 30, tzinfo=UTC)

S3_CONFIG = {
    "PublicAccessBlock": {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    },
    "Tags": {"env": "prod"},
    "Versioning": "Enabled",
}


def make_provider(**kw) -> Provider:
    n = next(_seq)
    values = {"name": f"prov-{n}", "regions": ["us-east-1"], "endpoint_url": None}
    values.update(kw)
    return Provider.objects.create(**values)


def make_resource(provider: Provider, *, config: dict | None = None, baseline: dict | None = None, **kw) -> Resource:
    """A resource with a current baseline (the baseline config defaults to the resource's config)."""
    n = next(_seq)
    config = config if config is not None else S3_CONFIG
    values = {
        "provider": provider,
        "resource_type": "s3_bucket",
        "external_id": f"arn:aws:s3:::data-lake-bucket-{n}",
        "name": f"data-lake-bucket-{n}",
        "region": "us-east-1",
        "config": config,
        "config_hash": config_hash(config),
    }
    values.update(kw)
    resource = Resource.objects.create(**values)
    base = baseline if baseline is not None else config
    Baseline.objects.create(
        resource=resource,
        config=base,
        config_hash=config_hash(base),
        source=BaselineSource.DISCOVERED,
        captured_at=T0 - timedelta(days=1),
    )
    return resource


def make_drift(resource: Resource, *, detected_at=None, **kw) -> Drift:
    """A detected drift with its creation event (as the scan writes it)."""
    values = {
        "resource": resource,
        "provider_id": resource.provider_id,
        "resource_type": resource.resource_type,
        "baseline": resource.baselines.filter(is_current=True).first(),
        "path": "PublicAccessBlock.BlockPublicAcls",
        "drift_type": "security",
        "severity": "critical",
        "summary": "S3 bucket BlockPublicAcls changed from true to false",
        "baseline_value": True,
        "current_value": False,
        "diff": [{"path": "PublicAccessBlock.BlockPublicAcls", "op": "changed", "baseline": True, "current": False}],
        "detected_at": detected_at or T0,
        "last_seen_at": detected_at or T0,
        "updated_at": detected_at or T0,
    }
    values.update(kw)
    drift = Drift.objects.create(**values)
    DriftEvent.objects.create(
        drift=drift, from_status=None, to_status="detected", note="Detected by scan.", at=drift.detected_at
    )
    return drift
