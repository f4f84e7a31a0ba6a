"""Provider and resource representations; credentials are accepted on input and never rendered back."""

import re
from functools import lru_cache

import boto3
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from driftwatch.api.serializers import AnyJSONField, StrictSerializer, iso_utc

from ..models import Provider, ProviderKind
from ..services import EndpointNotAllowed, check_endpoint_url

# A bounded upper limit so the value always fits the column; a year between scans is already absurd.
MAX_SCAN_INTERVAL_MINUTES = 525_600
_ROLE_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$", re.ASCII)
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$", re.ASCII)
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", re.ASCII)
# S3's "safe" key characters; the trail's S3KeyPrefix, without leading or trailing slashes.
_KEY_PREFIX = re.compile(r"^[\w!.*'()/-]{1,200}$", re.ASCII)


@lru_cache(maxsize=1)
def aws_region_names() -> frozenset[str]:
    """Every region botocore knows for EC2 in the commercial, China and GovCloud partitions (no network)."""
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in ("aws", "aws-cn", "aws-us-gov")
        for region in session.get_available_regions("ec2", partition_name=partition)
    )


@extend_schema_field({"type": "string", "enum": sorted(aws_region_names())})
class RegionField(serializers.CharField):
    """An AWS region name; validate_regions checks it, the schema lists the names as an enum."""


# --- output -------------------------------------------------------------------------------------------


class ProviderSerializer(serializers.Serializer):
    """A provider as the API shows it: settings, counts and has_credentials, never the credentials."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ProviderKind.choices)
    regions = serializers.ListField(child=serializers.CharField())
    endpoint_url = serializers.CharField(allow_null=True)
    role_arn = serializers.CharField(allow_null=True)
    external_id = serializers.CharField(allow_null=True)
    has_credentials = serializers.BooleanField()
    scan_interval_minutes = serializers.IntegerField()
    max_concurrency = serializers.IntegerField()
    cloudtrail_bucket = serializers.CharField(
        allow_null=True, help_text="The trail's S3 bucket attribution reads; null: CloudTrail LookupEvents."
    )
    cloudtrail_prefix = serializers.CharField(allow_null=True, help_text="The trail's S3 key prefix, if any.")
    enabled = serializers.BooleanField()
    report_unmanaged = serializers.BooleanField(
        help_text="Report live resources no Terraform state of this provider declares (off by default)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_scanned_at = serializers.DateTimeField(allow_null=True)
    resource_count = serializers.IntegerField(help_text="Live (not deleted) resources.")
    open_drift_count = serializers.IntegerField(help_text="Drifts detected or under investigation.")

    def to_representation(self, provider) -> dict:
        # Built by hand: runs for every row of a list page, and must never touch credentials_encrypted's value.
        return {
            "id": provider.pk,
            "name": provider.name,
            "kind": provider.kind,
            "regions": list(provider.regions or []),
            "endpoint_url": provider.endpoint_url or None,
            "role_arn": provider.role_arn or None,
            "external_id": provider.external_id or None,
            "has_credentials": provider.has_credentials,
            "scan_interval_minutes": provider.scan_interval_minutes,
            "max_concurrency": provider.max_concurrency,
            "cloudtrail_bucket": provider.cloudtrail_bucket or None,
            "cloudtrail_prefix": provider.cloudtrail_prefix or None,
            "enabled": provider.enabled,
            "report_unmanaged": provider.report_unmanaged,
            "created_at": iso_utc(provider.created_at),
            "updated_at": iso_utc(provider.updated_at),
            "last_scanned_at": iso_utc(provider.last_scanned_at),
            "resource_count": provider.resource_count,
            "open_drift_count": provider.open_drift_count,
        }


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    account = serializers.CharField()
    arn = serializers.CharField()


# --- input --------------------------------------------------------------------------------------------


class CredentialsSerializer(StrictSerializer):
    """Static AWS keys; write-only (they are encrypted on save and never returned)."""

    access_key_id = serializers.CharField(max_length=128, trim_whitespace=True)
    secret_access_key = serializers.CharField(max_length=256, trim_whitespace=True)
    session_token = serializers.CharField(max_length=4096, required=False, trim_whitespace=True)

    def validate(self, attrs: dict) -> dict:
        # Checked here, not by `required`: a PATCH makes nested fields optional, and half a key pair is useless.
        missing = [name for name in ("access_key_id", "secret_access_key") if not attrs.get(name)]
        if missing:
            raise serializers.ValidationError({name: ["This field is required."] for name in missing})
        return attrs


class ProviderWriteSerializer(StrictSerializer):
    """Body of POST (all of name, kind, regions required) and PATCH (any subset) on /providers."""

    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ProviderKind.choices)
    regions = serializers.ListField(
        child=RegionField(max_length=32),
        allow_empty=False,
        min_length=1,  # what allow_empty=False enforces, spelled so the schema says minItems: 1
        max_length=64,
        help_text="AWS region names, e.g. us-east-1.",
    )
    endpoint_url = serializers.CharField(
        max_length=500,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="http(s) URL of an AWS-compatible endpoint (moto, LocalStack); hosts are allow-listed.",
    )
    role_arn = serializers.CharField(max_length=2048, required=False, allow_null=True, allow_blank=True)
    external_id = serializers.CharField(max_length=1224, required=False, allow_null=True, allow_blank=True)
    credentials = CredentialsSerializer(
        required=False,
        allow_null=True,
        help_text="Write-only. Omit (or null) to use the default AWS credential chain; null on PATCH clears them.",
    )
    scan_interval_minutes = serializers.IntegerField(min_value=1, max_value=MAX_SCAN_INTERVAL_MINUTES, required=False)
    max_concurrency = serializers.IntegerField(min_value=1, max_value=64, required=False)
    cloudtrail_bucket = serializers.CharField(
        max_length=63,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="S3 bucket of the account's (organization) trail: attribution reads its log files there instead "
        "of calling LookupEvents. Null or empty: LookupEvents.",
    )
    cloudtrail_prefix = serializers.CharField(
        max_length=200,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="The trail's S3 key prefix (the part before AWSLogs/), if it has one.",
    )
    enabled = serializers.BooleanField(required=False)
    report_unmanaged = serializers.BooleanField(
        required=False, help_text="Report live resources no Terraform state of this provider declares."
    )

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        taken = Provider.objects.live().filter(name=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(f"A provider named {value!r} already exists.")
        return value

    def validate_regions(self, value: list[str]) -> list[str]:
        known = aws_region_names()
        unknown = [region for region in value if region not in known]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown AWS region {', '.join(repr(r[:40]) for r in unknown[:5])}; use names such as us-east-1."
            )
        return list(dict.fromkeys(value))  # de-duplicated, order kept

    def validate_endpoint_url(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return check_endpoint_url(value)
        except EndpointNotAllowed as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_role_arn(self, value: str | None) -> str | None:
        if not value:
            return None
        if not _ROLE_ARN.match(value):
            raise serializers.ValidationError("Expected an IAM role ARN: arn:aws:iam::123456789012:role/Name.")
        return value

    def validate_external_id(self, value: str | None) -> str | None:
        if not value:
            return None
        if not _EXTERNAL_ID.match(value):
            raise serializers.ValidationError("2 to 1224 characters of letters, digits and +=,.@:/-_")
        return value

    def validate_cloudtrail_bucket(self, value: str | None) -> str:
        if not value:
            return ""
        if not _BUCKET_NAME.match(value) or ".." in value:
            raise serializers.ValidationError("Expected an S3 bucket name: 3 to 63 lowercase letters, digits, . and -.")
        return value

    def validate_cloudtrail_prefix(self, value: str | None) -> str:
        value = (value or "").strip("/")
        if value and (not _KEY_PREFIX.match(value) or "//" in value):
            raise serializers.ValidationError("Up to 200 characters of letters, digits, / and !-_.*'()")
        return value

    def validate(self, attrs: dict) -> dict:
        role_arn = attrs["role_arn"] if "role_arn" in attrs else getattr(self.instance, "role_arn", None)
        external_id = attrs["external_id"] if "external_id" in attrs else getattr(self.instance, "external_id", None)
        if external_id and not role_arn:
            raise serializers.ValidationError({"external_id": ["external_id is only used with role_arn."]})
        return attrs


# --- resources ----------------------------------------------------------------------------------------


class ResourceSerializer(serializers.Serializer):
    """A resource in a list."""

    id = serializers.IntegerField()
    provider_id = serializers.IntegerField()
    resource_type = serializers.CharField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    region = serializers.CharField()
    last_seen_at = serializers.DateTimeField()
    deleted_at = serializers.DateTimeField(allow_null=True)
    open_drift_count = serializers.IntegerField()

    def to_representation(self, resource) -> dict:
        return {
            "id": resource.pk,
            "provider_id": resource.provider_id,
            "resource_type": resource.resource_type,
            "external_id": resource.external_id,
            "name": resource.name,
            "region": resource.region,
            "last_seen_at": iso_utc(resource.last_seen_at),
            "deleted_at": iso_utc(resource.deleted_at),
            "open_drift_count": resource.open_drift_count,
        }


class CurrentBaselineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    captured_at = serializers.DateTimeField()
    source = serializers.CharField()
    captured_by = serializers.CharField(allow_null=True, help_text="Username; null for the system.")
    config = AnyJSONField()


class OpenDriftsBySeveritySerializer(serializers.Serializer):
    critical = serializers.IntegerField()
    high = serializers.IntegerField()
    medium = serializers.IntegerField()
    low = serializers.IntegerField()


class ResourceDetailSerializer(ResourceSerializer):
    """One resource: the list fields plus its current config, current baseline and open drifts by severity."""

    first_seen_at = serializers.DateTimeField()
    config = AnyJSONField()
    current_baseline = CurrentBaselineSerializer(allow_null=True)
    open_drifts_by_severity = OpenDriftsBySeveritySerializer()

    def to_representation(self, resource) -> dict:
        data = super().to_representation(resource)
        baseline = self.context.get("current_baseline")
        data.update(
            first_seen_at=iso_utc(resource.first_seen_at),
            config=resource.config,
            current_baseline=(
                {
                    "id": baseline.pk,
                    "captured_at": iso_utc(baseline.captured_at),
                    "source": baseline.source,
                    "captured_by": baseline.captured_by.get_username() if baseline.captured_by_id else None,
                    "config": baseline.config,
                }
                if baseline is not None
                else None
            ),
            open_drifts_by_severity=self.context["open_drifts_by_severity"],
        )
        return data
