"""State source representations: the token is accepted on input and never rendered back."""

import re

from django_filters import rest_framework as filters
from rest_framework import serializers

from driftwatch import outbound
from driftwatch.api.filters import IdFilter
from driftwatch.api.serializers import StrictSerializer, iso_utc
from providers.models import Provider

from ..models import StateReadStatus, StateSource, StateSourceKind

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What each kind needs, and what it must not have.
_KIND_FIELDS = {
    StateSourceKind.S3: ({"bucket", "key"}, {"url", "token"}),
    StateSourceKind.HTTP: ({"url"}, {"bucket", "key"}),
    StateSourceKind.UPLOAD: (set(), {"bucket", "key", "url", "token"}),
}


class StateFileSerializer(serializers.Serializer):
    key = serializers.CharField(allow_blank=True, help_text='The S3 key for a glob source; "" otherwise.')
    serial = serializers.IntegerField(allow_null=True)
    lineage = serializers.CharField(allow_blank=True)
    terraform_version = serializers.CharField(allow_blank=True)
    resources = serializers.IntegerField(help_text="Resources it declares that DriftWatch compares.")
    applied_at = serializers.CharField(allow_null=True)


class StateSourceSerializer(serializers.Serializer):
    """A state source as the API shows it: where it reads, has_token (never the token), and what it applied."""

    id = serializers.IntegerField()
    provider_id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=StateSourceKind.choices)
    bucket = serializers.CharField(allow_null=True)
    key = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    has_token = serializers.BooleanField()
    enabled = serializers.BooleanField()
    last_status = serializers.ChoiceField(choices=StateReadStatus.choices)
    last_error = serializers.CharField(allow_blank=True)
    last_read_at = serializers.DateTimeField(allow_null=True)
    last_applied_at = serializers.DateTimeField(allow_null=True)
    files = StateFileSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, source) -> dict:
        return {
            "id": source.pk,
            "provider_id": source.provider_id,
            "name": source.name,
            "kind": source.kind,
            "bucket": source.bucket or None,
            "key": source.key or None,
            "url": source.url or None,
            "has_token": source.has_token,
            "enabled": source.enabled,
            "last_status": source.last_status,
            "last_error": source.last_error,
            "last_read_at": iso_utc(source.last_read_at),
            "last_applied_at": iso_utc(source.last_applied_at),
            "files": [
                {
                    "key": key,
                    "serial": head.get("serial"),
                    "lineage": head.get("lineage", ""),
                    "terraform_version": head.get("terraform_version", ""),
                    "resources": head.get("resources", 0),
                    "applied_at": head.get("applied_at"),
                }
                for key, head in sorted((source.heads or {}).items())
            ],
            "created_at": iso_utc(source.created_at),
            "updated_at": iso_utc(source.updated_at),
        }


class StateSourceWriteSerializer(StrictSerializer):
    """Body of POST (provider_id, name, kind and the kind's fields) and PATCH (any subset but provider/kind)."""

    provider_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=StateSourceKind.choices)
    bucket = serializers.CharField(max_length=63, required=False, help_text="s3: the bucket.")
    key = serializers.CharField(
        max_length=1024,
        required=False,
        help_text="s3: the object key, or a glob (`envs/*/terraform.tfstate`; `*` does not cross `/`).",
    )
    url = serializers.CharField(
        max_length=2048, required=False, help_text="http: the state's HTTPS URL (Terraform http backend, HCP)."
    )
    token = serializers.CharField(
        max_length=4096,
        required=False,
        allow_null=True,
        write_only=True,
        help_text="http: write-only bearer token, stored encrypted; null on PATCH clears it.",
    )
    enabled = serializers.BooleanField(required=False)

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_bucket(self, value: str) -> str:
        if not _BUCKET.match(value) or ".." in value:
            raise serializers.ValidationError("Not a valid S3 bucket name.")
        return value

    def validate_key(self, value: str) -> str:
        value = value.strip()
        if not value or value.startswith("/"):
            raise serializers.ValidationError("An S3 key, without a leading '/'.")
        return value

    def validate_url(self, value: str) -> str:
        try:
            outbound.normalize_url(value)
            return outbound.check_url(value)
        except outbound.URLNotAllowed as exc:
            raise serializers.ValidationError(str(exc)) from None
        except outbound.OutboundError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict) -> dict:
        instance = self.instance
        if instance is not None:
            fixed = [name for name in ("provider_id", "kind") if name in attrs]
            if fixed:
                raise serializers.ValidationError(
                    {name: ["Cannot be changed; create another source."] for name in fixed}
                )
            kind = instance.kind
        else:
            missing = [name for name in ("provider_id", "name", "kind") if name not in attrs]
            if missing:
                raise serializers.ValidationError({name: ["This field is required."] for name in missing})
            kind = attrs["kind"]
            provider = Provider.objects.live().filter(pk=attrs.pop("provider_id")).first()
            if provider is None:
                raise serializers.ValidationError({"provider_id": ["No such provider."]})
            attrs["provider"] = provider
        needed, refused = _KIND_FIELDS[kind]
        bad = sorted(name for name in refused if name in attrs and attrs[name] is not None)
        if bad:
            raise serializers.ValidationError({name: [f"Not used by a {kind} source."] for name in bad})
        if instance is None:
            absent = sorted(name for name in needed if not attrs.get(name))
            if absent:
                raise serializers.ValidationError({name: [f"Required for a {kind} source."] for name in absent})
        return attrs


class UploadResultSerializer(serializers.Serializer):
    key = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=["applied", "unchanged"])
    serial = serializers.IntegerField(allow_null=True)
    lineage = serializers.CharField(allow_blank=True)
    declared = serializers.IntegerField(help_text="Resources the state declares that DriftWatch compares.")
    unsupported = serializers.DictField(child=serializers.IntegerField(), help_text="Terraform types not compared.")
    warnings = serializers.ListField(child=serializers.CharField())
    drifts_new = serializers.IntegerField()
    drifts_updated = serializers.IntegerField()
    drifts_resolved = serializers.IntegerField()
    retired = serializers.IntegerField(help_text="Resources the previous serial declared and this one does not.")


class UploadResponseSerializer(serializers.Serializer):
    source = StateSourceSerializer()
    result = UploadResultSerializer()


class RefreshResponseSerializer(serializers.Serializer):
    job_id = serializers.IntegerField()
    status = serializers.CharField()
    message = serializers.CharField()


class StateSourceFilter(filters.FilterSet):
    provider_id = IdFilter(field_name="provider_id", help_text="Sources of one provider.")

    class Meta:
        model = StateSource
        fields = []
