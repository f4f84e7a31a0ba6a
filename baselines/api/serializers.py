"""Baseline representations: history items, one baseline with its config, and the diff of two."""

from rest_framework import serializers

from driftwatch.api.serializers import AnyJSONField, DiffChangeSerializer, iso_utc

from ..models import BaselineSource


class BaselineSerializer(serializers.Serializer):
    """A baseline in a resource's history (without its config, which can be large)."""

    id = serializers.IntegerField()
    resource_id = serializers.IntegerField()
    captured_at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=BaselineSource.choices)
    captured_by = serializers.CharField(allow_null=True, help_text="Username; null for the system.")
    is_current = serializers.BooleanField()
    config_hash = serializers.CharField()

    def to_representation(self, baseline) -> dict:
        return {
            "id": baseline.pk,
            "resource_id": baseline.resource_id,
            "captured_at": iso_utc(baseline.captured_at),
            "source": baseline.source,
            "captured_by": baseline.captured_by.get_username() if baseline.captured_by_id else None,
            "is_current": baseline.is_current,
            "config_hash": baseline.config_hash,
        }


class BaselineDetailSerializer(BaselineSerializer):
    """One baseline with the configuration it captured."""

    config = AnyJSONField()

    def to_representation(self, baseline) -> dict:
        data = super().to_representation(baseline)
        data["config"] = baseline.config
        return data


class BaselineCompareSerializer(serializers.Serializer):
    """The changes that turn baseline `from` into baseline `to` (in each change: baseline = from, current = to)."""

    resource_id = serializers.IntegerField()
    from_ = BaselineSerializer()
    to = BaselineSerializer()
    changes = DiffChangeSerializer(many=True)

    def get_fields(self):
        # `from` is a Python keyword, so the field is declared as from_ and renamed here.
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields
