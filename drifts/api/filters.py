"""Filters of GET /api/v1/drifts (and the summary, which accepts the same ones)."""

from django_filters import rest_framework as filters

from driftwatch.api.filters import FilterResolver, IdFilter, UtcDateTimeFilter, choice_filter, text_filter

from ..models import Drift, DriftStatus, DriftType, Severity


class DriftFilter(filters.FilterSet):
    provider_id = IdFilter(field_name="provider_id", help_text="Filter by provider ID.")
    resource_id = IdFilter(field_name="resource_id", help_text="Filter by resource ID.")
    severity = choice_filter(
        Severity.choices,
        field_name="severity",
        help_text="critical, high, medium or low; several comma-separated.",
    )
    type = choice_filter(
        DriftType.choices,
        field_name="drift_type",
        help_text="configuration, security or compliance; several comma-separated.",
    )
    status = choice_filter(
        DriftStatus.choices,
        field_name="status",
        help_text="detected, investigating or resolved; several comma-separated.",
    )
    resource_type = text_filter(64, field_name="resource_type", help_text="e.g. s3_bucket")
    managed_by = choice_filter(
        [("terraform", "terraform")],
        field_name="managed_by",
        help_text="terraform: drifts of resources a Terraform state declares.",
    )
    terraform_finding = choice_filter(
        [("missing", "missing"), ("unmanaged", "unmanaged")],
        field_name="tf_finding",
        help_text="missing: declared by a state, not live; unmanaged: live, declared by no state.",
    )
    state_source = IdFilter(field_name="state_source_id", help_text="Drifts traced to one Terraform state source.")
    detected_after = UtcDateTimeFilter(
        field_name="detected_at", lookup_expr="gte", help_text="ISO 8601; findings detected at or after."
    )
    changed_by = text_filter(
        200,
        field_name="changed_by__actor",
        lookup_expr="icontains",
        help_text="Drifts whose change was made by an actor containing this text (case-insensitive), e.g. alice.",
    )
    detected_before = UtcDateTimeFilter(
        field_name="detected_at", lookup_expr="lt", help_text="ISO 8601; findings detected before."
    )

    class Meta:
        model = Drift
        fields = []


# The list's and the summary's filters, cleaned without a FilterSet per request.
DRIFT_FILTERS = FilterResolver(DriftFilter)
