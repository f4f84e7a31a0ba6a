"""The DriftWatch admin site: the default site with a triage summary on its index page."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class ReadOnlyAdminMixin:
    """For pages of what scans and the system wrote: nobody adds, edits or deletes those rows here.

    Changes happen through actions and buttons that call services (triage, capture baseline).
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DriftWatchAdminSite(admin.AdminSite):
    """Admin site whose index opens with open drifts, critical findings, scans and a 30-day chart."""

    site_header = "DriftWatch"
    site_title = "DriftWatch admin"
    index_title = "Triage overview"

    def index(self, request, extra_context=None):
        # Imported here: this module is loaded from INSTALLED_APPS, before the models exist.
        from drifts.admin_dashboard import dashboard_context

        context = {"dashboard": dashboard_context(), **(extra_context or {})}
        return super().index(request, extra_context=context)


class DriftWatchAdminConfig(AdminConfig):
    """Replaces django.contrib.admin in INSTALLED_APPS so `admin.site` is a DriftWatchAdminSite."""

    default_site = "driftwatch.admin_site.DriftWatchAdminSite"
