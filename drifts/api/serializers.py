"""Drift representations, named exactly as the user's API document names them."""

from rest_framework import serializers

from driftwatch.api.serializers import AnyJSONField, DiffChangeSerializer, StrictSerializer, iso_utc

from ..models import AttributionStatus, DriftStatus, Resolution


class ActorPartsSerializer(serializers.Serializer):
    account_id = serializers.CharField(allow_null=True)
    user_name = serializers.CharField(allow_null=True, help_text="IAM or Identity Center user; SSO session's user.")
    role_name = serializers.CharField(allow_null=True, help_text="The assumed role (sessionContext.sessionIssuer).")
    session_name = serializers.CharField(allow_null=True)
    invoked_by = serializers.CharField(allow_null=True, help_text="The AWS service that made the call, if any.")


class ChangedBySerializer(serializers.Serializer):
    """Who made the change behind a drift, from the CloudTrail event that matched it."""

    actor = serializers.CharField(help_text='One line: "alice@example.com via AWSReservedSSO_Admin_...", "bob".')
    actor_arn = serializers.CharField(allow_null=True)
    actor_type = serializers.CharField(
        help_text="CloudTrail's userIdentity.type: IAMUser, AssumedRole, Root, AWSService, IdentityCenterUser, ..."
    )
    actor_parts = ActorPartsSerializer()
    event_name = serializers.CharField(help_text="e.g. PutBucketPublicAccessBlock")
    event_id = serializers.CharField(allow_null=True)
    event_source = serializers.CharField(allow_null=True, help_text="e.g. s3.amazonaws.com")
    event_time = serializers.DateTimeField()
    aws_region = serializers.CharField(allow_null=True)
    source_ip = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField(allow_null=True)
    confidence = serializers.ChoiceField(
        choices=["exact", "resource"],
        help_text="exact: the event's name makes this very change; resource: another write to the same resource.",
    )


_CHANGED_BY_ORDER = tuple(ChangedBySerializer().fields)
_PARTS_ORDER = tuple(ActorPartsSerializer().fields)


def _ordered(document: dict | None, order: tuple) -> dict | None:
    # The documented key order (JSONB hands keys back in its own); unknown keys follow.
    if not isinstance(document, dict):
        return document
    return {**{k: document.get(k) for k in order if k in document}, **document}


def attribution_fields(row: dict) -> dict:
    """changed_by, and why it is null (pending, not found, unavailable: <reason>) when it is, from a drift row."""
    changed_by = _ordered(row["changed_by"], _CHANGED_BY_ORDER)
    if changed_by and isinstance(changed_by.get("actor_parts"), dict):
        changed_by["actor_parts"] = _ordered(changed_by["actor_parts"], _PARTS_ORDER)
    return {
        "changed_by": changed_by,
        "attribution_status": row["attribution_status"],
        "attribution_reason": row["attribution_reason"] or None,
    }


class DriftSerializer(serializers.Serializer):
    """A drift finding in a list."""

    id = serializers.IntegerField()
    resource_id = serializers.IntegerField()
    resource_name = serializers.CharField()
    resource_type = serializers.CharField()
    drift_type = serializers.ChoiceField(choices=["configuration", "security", "compliance"])
    severity = serializers.ChoiceField(choices=["critical", "high", "medium", "low"])
    status = serializers.ChoiceField(choices=DriftStatus.choices)
    summary = serializers.CharField()
    baseline_value = AnyJSONField(allow_null=True)
    current_value = AnyJSONField(allow_null=True)
    detected_at = serializers.DateTimeField()
    changed_by = ChangedBySerializer(allow_null=True, help_text="null until CloudTrail attribution finds the event.")
    attribution_status = serializers.ChoiceField(choices=AttributionStatus.choices)
    attribution_reason = serializers.CharField(
        allow_null=True, help_text='Why changed_by is null, e.g. "attribution unavailable: access denied to ...".'
    )

    # The columns a list row is read with (`.values(*VALUES)`), so a page is never built from model instances.
    VALUES = (
        "id",
        "resource_id",
        "resource__name",
        "resource_type",
        "drift_type",
        "severity",
        "status",
        "summary",
        "baseline_value",
        "current_value",
        "detected_at",
        "changed_by",
        "attribution_status",
        "attribution_reason",
    )

    def to_representation(self, row: dict) -> dict:
        # Built by hand from a `.values(*VALUES)` row: this runs for every row of every list page.
        return {
            "id": row["id"],
            "resource_id": row["resource_id"],
            "resource_name": row["resource__name"],
            "resource_type": row["resource_type"],
            "drift_type": row["drift_type"],
            "severity": row["severity"],
            "status": row["status"],
            "summary": row["summary"],
            "baseline_value": row["baseline_value"],
            "current_value": row["current_value"],
            "detected_at": iso_utc(row["detected_at"]),
            **attribution_fields(row),
        }


class BaselineRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    captured_at = serializers.DateTimeField()


class DriftEventSerializer(serializers.Serializer):
    from_status = serializers.ChoiceField(choices=DriftStatus.choices, allow_null=True)
    to_status = serializers.ChoiceField(choices=DriftStatus.choices)
    actor = serializers.CharField(allow_null=True, help_text="Username; null for the system.")
    note = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField()


class TerraformRefSerializer(serializers.Serializer):
    """Where the code declares what this drift differs from (null when no Terraform state is involved)."""

    finding = serializers.ChoiceField(
        choices=["attribute", "missing", "unmanaged"],
        help_text="attribute: live differs from code; missing: declared, not live; unmanaged: live, not declared.",
    )
    state_source_id = serializers.IntegerField(allow_null=True)
    state_source_name = serializers.CharField(allow_null=True)
    address = serializers.CharField(allow_null=True, help_text="e.g. module.network.aws_security_group.web[0]")
    serial = serializers.IntegerField(allow_null=True)


def terraform_ref(row: dict) -> dict | None:
    """The drift's Terraform trace for the detail view, from a detail row."""
    if not row["managed_by"] and not row["tf_finding"]:
        return None
    return {
        "finding": row["tf_finding"] or "attribute",
        "state_source_id": row["state_source_id"],
        "state_source_name": row["state_source__name"],
        "address": row["tf_address"] or None,
        "serial": row["tf_serial"],
    }


class DriftDetailSerializer(DriftSerializer):
    """The full drift record: the list fields plus path, diff, baseline, job and the status history."""

    provider_id = serializers.IntegerField()
    path = serializers.CharField(allow_blank=True)
    diff = DiffChangeSerializer(many=True)
    baseline = BaselineRefSerializer(allow_null=True)
    job_id = serializers.IntegerField(allow_null=True)
    last_seen_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.ChoiceField(choices=Resolution.choices, allow_null=True)
    events = DriftEventSerializer(many=True)
    managed_by = serializers.ChoiceField(choices=["terraform"], allow_null=True)
    terraform = TerraformRefSerializer(allow_null=True)

    # A detail row: the list's columns and these (`.values(*VALUES)`); its events come from EVENT_VALUES.
    VALUES = (
        *DriftSerializer.VALUES,
        "provider_id",
        "path",
        "diff",
        "baseline_id",
        "baseline__captured_at",
        "job_id",
        "last_seen_at",
        "updated_at",
        "resolved_at",
        "resolution",
        "managed_by",
        "tf_finding",
        "tf_address",
        "tf_serial",
        "state_source_id",
        "state_source__name",
    )
    EVENT_VALUES = ("from_status", "to_status", "actor__username", "note", "at")

    def to_representation(self, row: dict) -> dict:
        """`row` is a `.values(*VALUES)` row with "events": its `.values(*EVENT_VALUES)` rows, oldest first."""
        data = super().to_representation(row)
        data.update(
            provider_id=row["provider_id"],
            path=row["path"],
            diff=row["diff"],
            baseline=(
                {"id": row["baseline_id"], "captured_at": iso_utc(row["baseline__captured_at"])}
                if row["baseline_id"] is not None
                else None
            ),
            job_id=row["job_id"],
            last_seen_at=iso_utc(row["last_seen_at"]),
            updated_at=iso_utc(row["updated_at"]),
            resolved_at=iso_utc(row["resolved_at"]),
            resolution=row["resolution"],
            managed_by=row["managed_by"] or None,
            terraform=terraform_ref(row),
            events=[
                {
                    "from_status": e["from_status"],
                    "to_status": e["to_status"],
                    "actor": e["actor__username"],
                    "note": e["note"],
                    "at": iso_utc(e["at"]),
                }
                for e in row["events"]
            ],
        )
        return data


class DriftPatchSerializer(StrictSerializer):
    partial_on_patch = False  # PATCH /drifts/{id} always needs a status; the schema must say it is required

    status = serializers.ChoiceField(choices=[DriftStatus.INVESTIGATING, DriftStatus.RESOLVED])
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class DriftResolveSerializer(StrictSerializer):
    capture_baseline = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class DetectRequestSerializer(StrictSerializer):
    provider_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class DetectResponseSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    status = serializers.CharField()
    message = serializers.CharField()


class CountsBySeveritySerializer(serializers.Serializer):
    critical = serializers.IntegerField()
    high = serializers.IntegerField()
    medium = serializers.IntegerField()
    low = serializers.IntegerField()


class CountsByStatusSerializer(serializers.Serializer):
    detected = serializers.IntegerField()
    investigating = serializers.IntegerField()
    resolved = serializers.IntegerField()


class DriftSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_severity = CountsBySeveritySerializer()
    by_status = CountsByStatusSerializer()
