"""Filters of GET /api/v1/drifts (and the summary, which accepts the same ones)."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from driftwatch.api.filters import CsvChoiceFilter, IdFilter, csv_choice_schema

from ..models import Drift, DriftStatus, DriftType, Severity


@extend_schema_field(csv_choice_schema(Severity.choices))
class SeverityFilter(CsvChoiceFilter):
    pass


@extend_schema_field(csv_choice_schema(DriftType.choices))
class TypeFilter(CsvChoiceFilter):
    pass


@extend_schema_field(csv_choice_schema(DriftStatus.choices))
class StatusFilter(CsvChoiceFilter):
    pass


class DriftFilter(filters.FilterSet):
    provider_id = IdFilter(field_name="provider_id", help_text="Filter by provider ID.")
    resource_id = IdFilter(field_name="resource_id", help_text="Filter by resource ID.")
    severity = SeverityFilter(
        field_name="severity",
        choices=Severity.choices,
        help_text="critical, high, medium or low; several comma-separated.",
    )
    type = TypeFilter(
        field_name="drift_type",
        choices=DriftType.choices,
        help_text="configuration, security or compliance; several comma-separated.",
    )
    status = StatusFilter(
        field_name="status",
        choices=DriftStatus.choices,
        help_text="detected, investigating or resolved; several comma-separated.",
    )
    resource_type = filters.CharFilter(field_name="resource_type", max_length=64, help_text="e.g. s3_bucket")
    detected_after = filters.IsoDateTimeFilter(
        field_name="detected_at", lookup_expr="gte", help_text="ISO 8601; findings detected at or after."
    )
    detected_before = filters.IsoDateTimeFilter(
        field_name="detected_at", lookup_expr="lt", help_text="ISO 8601; findings detected before."
    )

    class Meta:
        model = Drift
        fields = []
