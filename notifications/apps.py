from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from driftwatch import metrics

        from . import metrics as notification_metrics

        metrics.register_collector(notification_metrics.collect)
