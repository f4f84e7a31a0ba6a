from django.apps import AppConfig


class DriftsConfig(AppConfig):
    """The drifts app; adds its gauges (findings, running work, scan times) to /metrics."""

    name = "drifts"

    def ready(self) -> None:
        from driftwatch import metrics

        from . import metrics as drift_metrics

        metrics.register_collector(drift_metrics.collect)

        from django.db.models.signals import post_migrate

        from .counters import ensure_sqlite_triggers

        post_migrate.connect(ensure_sqlite_triggers, sender=self, dispatch_uid="drifts.ensure_sqlite_triggers")
