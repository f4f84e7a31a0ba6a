"""Serializer building blocks every app's API shares: UTC timestamps, any-JSON fields, strict input, diffs."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def iso_utc(value) -> str | None:
    """ISO 8601 in UTC with a Z, seconds precision, as the API document shows."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


@extend_schema_field(OpenApiTypes.ANY)
class AnyJSONField(serializers.JSONField):
    """Any JSON value (object, array, string, number, boolean or null)."""


# One change of a structured diff (drift details, baseline comparison). No docstring: it would become the
# schema's description of DiffChange.
class DiffChangeSerializer(serializers.Serializer):
    path = serializers.CharField(allow_blank=True)
    op = serializers.ChoiceField(choices=["added", "removed", "changed"])
    baseline = AnyJSONField(allow_null=True)
    current = AnyJSONField(allow_null=True)


def _json_type_error(field: serializers.Field, value) -> str | None:
    """The error for a JSON value of the wrong type (DRF would coerce 1 to True, "5" to 5, 5 to "5")."""
    if value is None:
        return None  # the field's allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be a valid boolean (true or false)."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "A valid integer is required."
    if isinstance(field, serializers.CharField | serializers.ChoiceField | serializers.DateTimeField):
        return None if isinstance(value, str) else "Not a valid string."
    if isinstance(field, serializers.ListField):
        return None if isinstance(value, list) else "Expected a list of items."
    return None


class StrictSerializer(serializers.Serializer):
    """Input serializer that refuses unknown fields and JSON values of the wrong type, as the schema does."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["The request body must be a JSON object."]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: [f"Unknown or read-only field; accepted fields: {', '.join(self.fields)}."] for name in unknown}
            )
        wrong_type = {
            name: [error]
            for name, field in self.fields.items()
            if name in data and (error := _json_type_error(field, data[name]))
        }
        if wrong_type:
            raise serializers.ValidationError(wrong_type)
        return super().to_internal_value(data)


class EmptyBodySerializer(StrictSerializer):
    """Body of an action that takes no input (test, capture baseline): none or {}; any field is refused."""
