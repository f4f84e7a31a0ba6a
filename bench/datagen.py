"""Synthetic findings at scale: providers, resources, baselines and drifts written with COPY."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

import psycopg

N_PROVIDERS = 5
# (resource type, share of resources): security groups and buckets dominate real estates.
TYPE_MIX = (
    ("ec2_security_group", 0.40),
    ("s3_bucket", 0.30),
    ("iam_role", 0.20),
    ("kms_key", 0.05),
    ("rds_instance", 0.05),
)
# Attribute paths a drift sits on, per type; a counter suffix keeps one path per (resource, drift).
PATHS = {
    "ec2_security_group": ("IngressRules", "EgressRules", "Tags.team", "Description"),
    "s3_bucket": ("Versioning", "PublicAccessBlock.BlockPublicAcls", "Encryption", "Policy", "Tags.owner"),
    "iam_role": ("AttachedManagedPolicies", "MaxSessionDuration", "InlinePolicies.app", "Tags.env"),
    "kms_key": ("KeyRotationEnabled", "Description", "Tags.app"),
    "rds_instance": ("PubliclyAccessible", "BackupRetentionPeriod", "MultiAZ"),
}
# Most findings are resolved, few are critical: the shape of a long-lived account.
STATUS_MIX = (("resolved", 0.90), ("detected", 0.07), ("investigating", 0.03))
SEVERITY_MIX = (("low", 0.60), ("medium", 0.30), ("high", 0.09), ("critical", 0.01))
TYPE_OF_DRIFT = (("configuration", 0.60), ("security", 0.30), ("compliance", 0.10))
RESOLUTION_MIX = (("reverted", 0.60), ("manual", 0.25), ("baseline_captured", 0.15))
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def _picker(mix, rng: random.Random):
    values, weights = zip(*mix, strict=True)
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)

    def pick() -> str:
        r = rng.random() * total
        for value, edge in zip(values, cumulative, strict=True):
            if r < edge:
                return value
        return values[-1]

    return pick


def _ts(value: datetime) -> str:
    return value.isoformat()


def _copy(cur, table: str, columns: tuple[str, ...], lines) -> None:
    """COPY text-format lines (already escaped, tab-separated) into a table, in large chunks."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= 20000:
                copy.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            copy.write("\n".join(chunk) + "\n")


def _resource_config(resource_type: str, name: str) -> dict:
    if resource_type == "s3_bucket":
        return {
            "Acl": {"Grants": [{"Grantee": {"ID": "owner", "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]},
            "Encryption": None,
            "Logging": None,
            "Policy": None,
            "PublicAccessBlock": {"BlockPublicAcls": True, "BlockPublicPolicy": True},
            "Tags": {"owner": "team-a"},
            "Versioning": "Enabled",
        }
    if resource_type == "ec2_security_group":
        return {
            "Description": f"{name} group",
            "EgressRules": [{"FromPort": None, "IpProtocol": "-1", "Source": "0.0.0.0/0", "ToPort": None}],
            "GroupName": name,
            "IngressRules": [{"FromPort": 443, "IpProtocol": "tcp", "Source": "10.0.0.0/8", "ToPort": 443}],
            "Tags": {"team": "platform"},
            "VpcId": "vpc-0123456789",
        }
    return {"Name": name, "Tags": {"app": "bench"}, "Enabled": True}


def truncate(conn: psycopg.Connection) -> None:
    """Empty every table the generator fills (and what hangs off them), restarting ids."""
    conn.execute(
        "TRUNCATE drifts_driftevent, drifts_drift, baselines_baseline, providers_resource, providers_scanscope,"
        " drifts_jobunit, drifts_detectionjob, providers_provider RESTART IDENTITY CASCADE"
    )


def generate(dsn: str, n_drifts: int, n_resources: int, seed: int = 6, skip_fk_triggers: bool = True) -> dict:
    """Replace the data set with n_drifts over n_resources and N_PROVIDERS providers; returns timings."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        truncate(conn)
        conn.execute("SET synchronous_commit = off")
        if skip_fk_triggers:
            # A bulk load whose keys are correct by construction: skip the per-row FK checks (and the
            # counter triggers, which rebuild_counts() then replaces). Needs a superuser.
            conn.execute("SET session_replication_role = replica")
        cur = conn.cursor()
        _copy(
            cur,
            "providers_provider",
            (
                "id",
                "name",
                "kind",
                "regions",
                "credentials_encrypted",
                "enabled",
                "scan_interval_minutes",
                "max_concurrency",
                "created_at",
                "updated_at",
                "cloudtrail_bucket",
                "cloudtrail_prefix",
                "report_unmanaged",
            ),
            (
                f"{p}\tbench-account-{p}\taws\t{json.dumps(list(REGIONS))}\t\tt\t60\t8\t{_ts(now)}\t{_ts(now)}\t\t\tf"
                for p in range(1, N_PROVIDERS + 1)
            ),
        )
        pick_type = _picker(TYPE_MIX, rng)
        # Skewed: the first provider holds about half the estate.
        provider_weights = [0.5, 0.2, 0.15, 0.1, 0.05][:N_PROVIDERS]
        pick_provider = _picker([(p + 1, w) for p, w in enumerate(provider_weights)], rng)
        resources = []  # (provider_id, resource_type) by id - 1
        res_lines, base_lines = [], []
        for rid in range(1, n_resources + 1):
            rtype, pid = pick_type(), pick_provider()
            resources.append((pid, rtype))
            name = f"{rtype.split('_')[-1]}-{rid:07d}"
            config = json.dumps(_resource_config(rtype, name), separators=(",", ":"))
            digest = f"{rid:064x}"
            region = REGIONS[rid % len(REGIONS)]
            res_lines.append(
                f"{rid}\t{pid}\t{rtype}\tarn:bench:{rtype}:{rid}\t{name}\t{region}\t{config}\t{digest}"
                f"\t{_ts(now - timedelta(days=400))}\t{_ts(now)}\t\\N"
            )
            base_lines.append(
                f"{rid}\t{rid}\t{config}\t{digest}\t{_ts(now - timedelta(days=400))}\t\\N\tdiscovered\tt\t\t\t{{}}"
            )
        _copy(
            cur,
            "providers_resource",
            (
                "id",
                "provider_id",
                "resource_type",
                "external_id",
                "name",
                "region",
                "config",
                "config_hash",
                "first_seen_at",
                "last_seen_at",
                "deleted_at",
            ),
            res_lines,
        )
        _copy(
            cur,
            "baselines_baseline",
            (
                "id",
                "resource_id",
                "config",
                "config_hash",
                "captured_at",
                "captured_by_id",
                "source",
                "is_current",
                "state_key",
                "address",
                "declared_by",
            ),
            base_lines,
        )
        del res_lines, base_lines
        t_resources = time.perf_counter() - started

        pick_status, pick_sev = _picker(STATUS_MIX, rng), _picker(SEVERITY_MIX, rng)
        pick_kind, pick_res = _picker(TYPE_OF_DRIFT, rng), _picker(RESOLUTION_MIX, rng)
        year = 365 * 86400
        start, step = now - timedelta(seconds=year), year / max(n_drifts, 1)

        def drift_lines():
            for did in range(1, n_drifts + 1):
                rid = (did - 1) % n_resources + 1
                nth = (did - 1) // n_resources  # distinct per resource, so the open-drift constraint holds
                pid, rtype = resources[rid - 1]
                paths = PATHS[rtype]
                path = f"{paths[nth % len(paths)]}" if nth < len(paths) else f"{paths[nth % len(paths)]}.{nth}"
                status, severity = pick_status(), pick_sev()
                # Ids grow with time, as they do in a live table (and the COPY appends to the indexes).
                detected = start + timedelta(seconds=int(step * did + rng.random() * step))
                if status == "resolved":
                    resolved = detected + timedelta(seconds=int(rng.random() * 86400 * 7))
                    resolved_at, resolution, updated = _ts(resolved), pick_res(), _ts(resolved)
                else:
                    resolved_at, resolution, updated = "\\N", "\\N", _ts(detected)
                diff = f'[{{"op":"changed","path":"{path}","baseline":"old-{nth}","current":"new-{did}"}}]'
                yield (
                    f"{did}\t{rid}\t{pid}\t{rtype}\t{rid}\t\\N\t{path}\t{pick_kind()}\t{severity}\t{status}"
                    f'\t{path} changed on {rtype} {rid}\t"old-{nth}"\t"new-{did}"\t{diff}\t{_ts(detected)}'
                    f"\t{_ts(detected)}\t{updated}\t{resolved_at}\t\\N\t{resolution}\tnot_attempted\t\t0\t\t\t"
                )

        t0 = time.perf_counter()
        _copy(
            cur,
            "drifts_drift",
            (
                "id",
                "resource_id",
                "provider_id",
                "resource_type",
                "baseline_id",
                "job_id",
                "path",
                "drift_type",
                "severity",
                "status",
                "summary",
                "baseline_value",
                "current_value",
                "diff",
                "detected_at",
                "last_seen_at",
                "updated_at",
                "resolved_at",
                "resolved_by_id",
                "resolution",
                # Columns added since (attribution, Terraform), at their defaults.
                "attribution_status",
                "attribution_reason",
                "attribution_attempts",
                "managed_by",
                "tf_address",
                "tf_finding",
            ),
            drift_lines(),
        )
        t_drifts = time.perf_counter() - t0
        for table in ("providers_provider", "providers_resource", "baselines_baseline", "drifts_drift"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        t0 = time.perf_counter()
        conn.execute("ANALYZE providers_provider, providers_resource, baselines_baseline, drifts_drift")
        t_analyze = time.perf_counter() - t0
    counters = rebuild_counters()
    return {
        "drifts": n_drifts,
        "resources": n_resources,
        "providers": N_PROVIDERS,
        "seconds_total": time.perf_counter() - started,
        "seconds_resources_and_baselines": t_resources,
        "seconds_drifts_copy": t_drifts,
        "seconds_analyze": t_analyze,
        "counters": counters,
    }


def rebuild_counters() -> dict:
    """Call the app's counter rebuild when it has one (COPY fires row triggers too, so this is a safety net)."""
    try:
        from drifts.counters import rebuild_counts
    except ImportError:
        return {"rebuilt": False, "note": "drifts.counters.rebuild_counts not present: nothing to rebuild"}
    t0 = time.perf_counter()
    rebuild_counts()
    return {"rebuilt": True, "seconds": time.perf_counter() - t0}
