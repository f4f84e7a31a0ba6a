"""The notifications API: /webhooks (every channel's subscriptions), their deliveries, tests and redelivery.

Reading needs any token; every change (create, update, delete, test, rotate, redeliver) a token that may
administer (today: write scope). Secrets are shown once: the signing secret at creation and rotation.
"""

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from driftwatch.api.errors import Conflict
from driftwatch.api.filters import choice_filter, text_filter
from driftwatch.api.permissions import Access
from driftwatch.api.schema import errors
from driftwatch.api.serializers import EmptyBodySerializer, iso_utc

from .. import services
from ..models import Channel, Delivery, DeliveryStatus, Subscription
from .serializers import (
    DeliverySerializer,
    RedeliveredSerializer,
    RedeliverFailedSerializer,
    RotatedSecretSerializer,
    RotateSecretSerializer,
    SubscriptionCreatedSerializer,
    SubscriptionSerializer,
    SubscriptionWriteSerializer,
    TestResultSerializer,
)

ID_REGEX = r"[0-9]{1,18}"


class DeliveryFilter(filters.FilterSet):
    status = choice_filter(
        DeliveryStatus.choices, field_name="status", help_text="pending, succeeded or failed; several comma-separated."
    )
    event_type = text_filter(64, field_name="event_type", help_text="e.g. drift.detected, digest, batch, ping")

    class Meta:
        model = Delivery
        fields = []


@extend_schema_view(
    list=extend_schema(
        summary="List notification subscriptions", responses={200: SubscriptionSerializer(many=True), **errors(400)}
    ),
    retrieve=extend_schema(summary="Get a subscription", responses={200: SubscriptionSerializer, **errors(404)}),
)
class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Where DriftWatch sends events: signed webhooks, Slack incoming webhooks and email."""

    queryset = Subscription.objects.order_by("name", "id")
    serializer_class = SubscriptionSerializer
    # Reads need read + view_subscription, writes admin + add/change/delete_subscription (the defaults);
    # the actions that change a subscription's state or send say so. Deliveries are read with the webhook.
    required_access = {
        "test": Access("admin", "notifications.change_subscription"),
        "rotate_secret": Access("admin", "notifications.change_subscription"),
        "redeliver_failed": Access("admin", "notifications.change_subscription"),
        "redeliver": Access("admin", "notifications.change_subscription"),
        "deliveries": Access("read", "notifications.view_subscription", "notifications.view_delivery"),
    }
    lookup_value_regex = ID_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    @extend_schema(
        summary="Create a subscription",
        description="For a webhook the response carries its signing secret (`whsec_...`), shown only once.",
        request=SubscriptionWriteSerializer,
        responses={201: SubscriptionCreatedSerializer, **errors(400, 403)},
    )
    def create(self, request):
        body = SubscriptionWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        if "name" not in values or "channel" not in values:
            missing = [f for f in ("name", "channel") if f not in values]
            raise ValidationError({f: ["This field is required."] for f in missing})
        try:
            sub, secret = services.create_subscription(values, request.user)
        except services.NameTaken as exc:
            raise ValidationError({"name": [str(exc)]}) from None
        return Response({**SubscriptionSerializer(sub).data, "secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Update a subscription",
        description="Any subset of the create body except channel.",
        request=SubscriptionWriteSerializer,
        responses={200: SubscriptionSerializer, **errors(400, 403, 404)},
    )
    def partial_update(self, request, pk=None):
        sub = self.get_object()
        body = SubscriptionWriteSerializer(sub, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            sub = services.update_subscription(sub, dict(body.validated_data), request.user)
        except services.NameTaken as exc:
            raise ValidationError({"name": [str(exc)]}) from None
        return Response(SubscriptionSerializer(sub).data)

    @extend_schema(
        summary="Delete a subscription",
        description="Its delivery log goes with it.",
        responses={204: None, **errors(403, 404)},
    )
    def destroy(self, request, pk=None):
        services.delete_subscription(self.get_object(), request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send a test ping",
        description="Sends a `ping` event now and answers with the delivery (the only call that waits on a receiver).",
        request=EmptyBodySerializer,
        responses={200: TestResultSerializer, **errors(403, 404)},
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test(self, request, pk=None):
        sub = self.get_object()
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        delivery = services.send_test(sub, request.user)
        return Response(
            {"ok": delivery.status == DeliveryStatus.SUCCEEDED, "delivery": DeliverySerializer(delivery).data}
        )

    @extend_schema(
        summary="Rotate the signing secret",
        description="A new secret, shown only in this response; the old one keeps signing alongside it (two "
        "signatures in webhook-signature) for `grace_hours`.",
        request=RotateSecretSerializer,
        responses={200: RotatedSecretSerializer, **errors(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        sub = self.get_object()
        body = RotateSecretSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if sub.channel != Channel.WEBHOOK:
            raise Conflict("Only webhook subscriptions have a signing secret.", code="no_signing_secret")
        sub, secret = services.rotate_secret(sub, request.user, grace_hours=body.validated_data.get("grace_hours"))
        return Response({"secret": secret, "previous_secret_expires_at": iso_utc(sub.previous_secret_expires_at)})

    @extend_schema(
        summary="List a subscription's deliveries",
        description="Newest first.",
        parameters=[
            OpenApiParameter("status", str, description="pending, succeeded or failed; several comma-separated."),
            OpenApiParameter("event_type", str, description="e.g. drift.detected, digest, batch, ping."),
            OpenApiParameter("page", int, description="Page number."),
            OpenApiParameter("per_page", int, description="Results per page (max 100)."),
        ],
        responses={200: DeliverySerializer(many=True), **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], url_path="deliveries")
    def deliveries(self, request, pk=None):
        sub = self.get_object()
        queryset = DeliveryFilter(request.query_params, Delivery.objects.filter(subscription_id=sub.pk).order_by("-id"))
        if not queryset.is_valid():
            raise ValidationError(queryset.errors)
        page = self.paginate_queryset(queryset.qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(
        summary="Redeliver one delivery",
        description="Queues a finished delivery again: same body, same webhook-id, signed afresh. 409 while pending.",
        request=EmptyBodySerializer,
        responses={202: DeliverySerializer, **errors(403, 404, 409)},
    )
    @action(detail=True, methods=["post"], url_path=rf"deliveries/(?P<delivery_id>{ID_REGEX})/redeliver")
    def redeliver(self, request, pk=None, delivery_id=None):
        sub = self.get_object()
        EmptyBodySerializer(data=request.data).is_valid(raise_exception=True)
        delivery = Delivery.objects.filter(subscription_id=sub.pk, pk=delivery_id).first()
        if delivery is None:
            raise NotFound()
        if delivery.status == DeliveryStatus.PENDING:
            raise Conflict("This delivery is still pending.", code="delivery_pending")
        services.redeliver(Delivery.objects.filter(pk=delivery.pk), request.user)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Redeliver every failed delivery since a time",
        request=RedeliverFailedSerializer,
        responses={202: RedeliveredSerializer, **errors(400, 403, 404)},
    )
    @action(detail=True, methods=["post"], url_path="redeliver-failed")
    def redeliver_failed(self, request, pk=None):
        sub = self.get_object()
        body = RedeliverFailedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        failed = Delivery.objects.filter(
            subscription_id=sub.pk, status=DeliveryStatus.FAILED, created_at__gte=body.validated_data["since"]
        )
        return Response({"redelivered": services.redeliver(failed, request.user)}, status=status.HTTP_202_ACCEPTED)
