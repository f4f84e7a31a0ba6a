"""DriftWatch project package: settings, urls, the Celery app and the API plumbing."""

from .celery import app as celery_app

__all__ = ["celery_app"]
