"""Drift representations, named exactly as the user's API document names them."""

from rest_framework import serializers

from driftwatch.api.serializers import AnyJSONField, DiffChangeSerializer, StrictSerializer, iso_utc

from ..models import DriftStatus, Resolution


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

    def to_representation(self, drift) -> dict:
        # Built by hand: this runs for every row of every list page.
        return {
            "id": drift.pk,
            "resource_id": drift.resource_id,
            "resource_name": drift.resource.name,
            "resource_type": drift.resource_type,
            "drift_type": drift.drift_type,
            "severity": drift.severity,
            "status": drift.status,
            "summary": drift.summary,
            "baseline_value": drift.baseline_value,
            "current_value": drift.current_value,
            "detected_at": iso_utc(drift.detected_at),
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


def terraform_ref(drift) -> dict | None:
    """The drift's Terraform trace for the detail view."""
    if not drift.managed_by and not drift.tf_finding:
        return None
    source = drift.state_source if drift.state_source_id else None
    return {
        "finding": drift.tf_finding or "attribute",
        "state_source_id": drift.state_source_id,
        "state_source_name": source.name if source is not None else None,
        "address": drift.tf_address or None,
        "serial": drift.tf_serial,
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

    def to_representation(self, drift) -> dict:
        data = super().to_representation(drift)
        baseline = drift.baseline
        data.update(
            provider_id=drift.provider_id,
            path=drift.path,
            diff=drift.diff,
            baseline={"id": baseline.pk, "captured_at": iso_utc(baseline.captured_at)} if baseline else None,
            job_id=drift.job_id,
            last_seen_at=iso_utc(drift.last_seen_at),
            updated_at=iso_utc(drift.updated_at),
            resolved_at=iso_utc(drift.resolved_at),
            resolution=drift.resolution,
            managed_by=drift.managed_by or None,
            terraform=terraform_ref(drift),
            events=[
                {
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "actor": e.actor.get_username() if e.actor_id else None,
                    "note": e.note,
                    "at": iso_utc(e.at),
                }
                for e in drift.events.all()
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
