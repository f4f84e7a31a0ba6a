"""`manage.py notifications`: list subscriptions, send a test ping, show failed deliveries, redeliver."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notifications import services
from notifications.models import Delivery, DeliveryStatus, Subscription


class Command(BaseCommand):
    help = "Notification subscriptions: list, test, failed, redeliver."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every subscription, its state and pending/failed counts")
        test = sub.add_parser("test", help="send a ping to one subscription now")
        test.add_argument("subscription_id", type=int)
        failed = sub.add_parser("failed", help="failed deliveries of one subscription, newest first")
        failed.add_argument("subscription_id", type=int)
        failed.add_argument("--limit", type=int, default=20)
        again = sub.add_parser("redeliver", help="queue again every failed delivery since a time")
        again.add_argument("subscription_id", type=int)
        again.add_argument("--since", required=True, help="ISO 8601, e.g. 2026-11-29T00:00:00Z")

    def _subscription(self, pk: int) -> Subscription:
        sub = Subscription.objects.filter(pk=pk).first()
        if sub is None:
            raise CommandError(f"no subscription #{pk}")
        return sub

    def handle(self, *args, action, **options):
        if action == "list":
            for sub in Subscription.objects.order_by("name"):
                pending = sub.deliveries.filter(status=DeliveryStatus.PENDING).count()
                failed = sub.deliveries.filter(status=DeliveryStatus.FAILED).count()
                state = "enabled" if sub.enabled else f"disabled ({sub.disabled_reason or 'by an admin'})"
                self.stdout.write(
                    f"#{sub.pk} {sub.name} [{sub.channel}] {state}; pending {pending}, failed {failed}; "
                    f"events {', '.join(sub.event_types)}"
                )
        elif action == "test":
            delivery = services.send_test(self._subscription(options["subscription_id"]), None)
            if delivery.status != DeliveryStatus.SUCCEEDED:
                raise CommandError(f"ping failed: {delivery.error}")
            self.stdout.write(f"ping delivered (HTTP {delivery.response_status or 'ok'}, {delivery.duration_ms} ms)")
        elif action == "failed":
            sub = self._subscription(options["subscription_id"])
            rows = Delivery.objects.filter(subscription=sub, status=DeliveryStatus.FAILED).order_by("-id")
            for d in rows[: options["limit"]]:
                self.stdout.write(f"#{d.pk} {d.event_type} {d.created_at:%Y-%m-%dT%H:%M:%SZ} x{d.attempts}: {d.error}")
        else:
            sub = self._subscription(options["subscription_id"])
            try:
                since = datetime.fromisoformat(options["since"].replace("Z", "+00:00"))
            except ValueError:
                raise CommandError("--since must be ISO 8601, e.g. 2026-11-29T00:00:00Z") from None
            if timezone.is_naive(since):
                since = timezone.make_aware(since, timezone.UTC)
            failed = Delivery.objects.filter(subscription=sub, status=DeliveryStatus.FAILED, created_at__gte=since)
            self.stdout.write(f"{services.redeliver(failed, None)} delivery(ies) queued again")
