"""The Terraform state sources API: /state-sources (CRUD), /{id}/upload for CI, /{id}/refresh on demand."""

from django.conf import settings
from django.db import IntegrityError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from drifts.models import JobTrigger
from drifts.services import detection
from drifts.services import terraform as terraform_services
from driftwatch.api.errors import Conflict, PayloadTooLarge
from driftwatch.api.permissions import Access
from driftwatch.api.schema import errors
from driftwatch.api.serializers import EmptyBodySerializer

from ..models import StateSource, StateSourceKind
from .state_source_serializers import (
    RefreshResponseSerializer,
    StateSourceFilter,
    StateSourceSerializer,
    StateSourceWriteSerializer,
    UploadResponseSerializer,
)

ID_REGEX = r"[0-9]{1,18}"


@extend_schema_view(
    list=extend_schema(
        summary="List Terraform state sources", responses={200: StateSourceSerializer(many=True), **errors(400)}
    ),
    retrieve=extend_schema(summary="Get a state source", responses={200: StateSourceSerializer, **errors(404)}),
)
class StateSourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Where each provider's Terraform state is read. The bearer token is write-only (stored encrypted)."""

    queryset = StateSource.objects.filter(provider__deleted_at__isnull=True).order_by("provider_id", "name", "id")
    serializer_class = StateSourceSerializer
    filterset_class = StateSourceFilter
    # Reads: read + view_statesource; create, change, delete: admin (the defaults). A CI pipeline posting its
    # state, or someone asking for a fresh read, needs triage only: neither changes where state is read from.
    required_access = {
        "upload": Access("triage", "baselines.add_baseline"),
        "refresh": Access("triage", "drifts.add_detectionjob"),
    }
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _detail(self, source: StateSource, status_code=status.HTTP_200_OK) -> Response:
        return Response(StateSourceSerializer(source).data, status=status_code)

    @extend_schema(
        summary="Add a state source",
        request=StateSourceWriteSerializer,
        responses={201: StateSourceSerializer, **errors(400, 403)},
        examples=[
            OpenApiExample(
                "S3 glob",
                value={
                    "provider_id": 1,
                    "name": "prod",
                    "kind": "s3",
                    "bucket": "acme-tfstate",
                    "key": "envs/*/terraform.tfstate",
                },
                request_only=True,
            ),
        ],
    )
    def create(self, request):
        body = StateSourceWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        token = values.pop("token", None)
        provider = values.pop("provider")
        source = StateSource(provider=provider, **values)
        source.set_token(token)
        try:
            source.save()
        except IntegrityError:
            raise ValidationError(
                {"name": [f"Provider {provider.pk} already has a state source named {source.name!r}."]}
            ) from None
        return self._detail(source, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update a state source",
        description='Any subset of the create body except provider_id and kind. `"token": null` clears the token.',
        request=StateSourceWriteSerializer,
        responses={200: StateSourceSerializer, **errors(400, 403, 404)},
    )
    def partial_update(self, request, pk=None):
        source = self.get_object()
        body = StateSourceWriteSerializer(source, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        fields = list(values)
        if "token" in values:
            source.set_token(values.pop("token"))
            fields.remove("token")
            fields.append("token_encrypted")
        for name, value in values.items():
            setattr(source, name, value)
        try:
            source.save(update_fields=[*fields, "updated_at"])
        except IntegrityError:
            raise ValidationError({"name": ["This provider already has a state source with that name."]}) from None
        return self._detail(source)

    @extend_schema(
        summary="Delete a state source",
        description="The resources it declared go back to snapshot baselines (how they are now) and its open "
        "drifts are resolved; the drifts stay as history.",
        responses={204: None, **errors(403, 404)},
    )
    def destroy(self, request, pk=None):
        source = self.get_object()
        terraform_services.forget_source(source)
        source.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Upload a Terraform state",
        description="The request body is the state file itself (`terraform state pull`), sent as "
        "`application/json` or `application/octet-stream`, at most DRIFTWATCH_TF_STATE_MAX_BYTES. It is "
        "applied at once: a new serial or lineage replaces the baselines it declares, and drifts are opened "
        "and resolved against the resources as last scanned. An unchanged serial and lineage changes "
        "nothing (status unchanged). Only for sources of kind upload.",
        request={
            "application/json": {"type": "object"},
            "application/octet-stream": {"type": "string", "format": "binary"},
        },
        responses={200: UploadResponseSerializer, **errors(400, 403, 404, 409, 413)},
    )
    @action(detail=True, methods=["post"], parser_classes=[], url_path="upload")
    def upload(self, request, pk=None):
        source = self.get_object()
        if source.kind != StateSourceKind.UPLOAD:
            raise Conflict(
                f"State source {source.pk} reads {source.get_kind_display()}; only upload sources accept a state.",
                code="not_upload_source",
            )
        data = _read_body(request)
        try:
            outcome = terraform_services.apply_upload(source, data, actor=request.user)
        except terraform_services.StateApplyError as exc:
            if exc.code == "too_large":
                raise PayloadTooLarge(str(exc)) from None
            if exc.code == "stale_serial":
                raise Conflict(str(exc), code="stale_serial") from None
            raise ValidationError({"state": [str(exc)]}, code=exc.code) from None
        source.refresh_from_db()
        return Response({"source": StateSourceSerializer(source).data, "result": outcome.as_dict()})

    @extend_schema(
        summary="Read a state source now",
        description="Starts a detection job that reads the provider's S3 and HTTP state sources (202 with the "
        "job); when a scan of the provider is already running, that job is returned.",
        request=EmptyBodySerializer,
        responses={
            202: OpenApiResponse(RefreshResponseSerializer, description="Job started, or already running."),
            **errors(400, 403, 404, 409),
        },
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        source = self.get_object()
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        if source.kind == StateSourceKind.UPLOAD:
            raise Conflict("An upload source is read when a state is posted to /upload.", code="not_readable")
        if not source.enabled:
            raise Conflict(f"State source {source.pk} is disabled.", code="disabled")
        try:
            job, created = detection.start_detection(
                trigger=JobTrigger.API, provider_id=source.provider_id, user=request.user, terraform_only=True
            )
        except detection.ProviderNotFound as exc:
            raise NotFound(str(exc)) from None
        except detection.DetectionError as exc:
            raise Conflict(str(exc), code=exc.code) from None
        message = "State refresh started" if created else "A scan of this provider is already running"
        return Response({"job_id": job.pk, "status": job.status, "message": message}, status=status.HTTP_202_ACCEPTED)


def _read_body(request) -> bytes:
    """The raw request body, refusing one over the limit before and while reading it (413)."""
    limit = settings.DRIFTWATCH_TF_STATE_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ValidationError({"state": ["Bad Content-Length."]}) from None
    if declared > limit:
        raise PayloadTooLarge(f"The state file is {declared} bytes; the limit is {limit} bytes.")
    stream = request.stream
    data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        raise PayloadTooLarge(f"The state file is larger than the limit of {limit} bytes.")
    if not data:
        raise ValidationError({"state": ["The request body is empty; send the state file as the body."]})
    return data
