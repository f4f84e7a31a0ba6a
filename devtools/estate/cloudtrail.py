"""CloudTrail trails, per region and unit of scale: a single-region trail; in the first region also a
multi-region trail with logging on."""

from __future__ import annotations

from devtools.estate.common import Region
from devtools.fake_aws import tag_list


def seed_trails(r: Region, i: int, logs_bucket: str) -> None:
    cloudtrail = r.client("cloudtrail")
    if r.first:
        org = f"{r.prefix}-org-{i}"
        trail = cloudtrail.create_trail(
            Name=org,
            S3BucketName=logs_bucket,
            IsMultiRegionTrail=True,
            EnableLogFileValidation=True,
            IncludeGlobalServiceEvents=True,
            TagsList=tag_list({"env": "prod"}),
        )
        cloudtrail.start_logging(Name=org)
        r.add("cloudtrail_trail", trail["TrailARN"], org, id=org, kind="org")
    local = f"{r.prefix}-local-{r.name}-{i}"
    trail = cloudtrail.create_trail(
        Name=local, S3BucketName=logs_bucket, S3KeyPrefix="local", IncludeGlobalServiceEvents=False
    )
    r.add("cloudtrail_trail", trail["TrailARN"], local, id=local, kind="local")
