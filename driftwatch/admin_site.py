"""The DriftWatch admin site: the default site, with panels that apps add to its index page."""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


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


@dataclass(frozen=True)
class IndexPanel:
    """A block of the admin index: `template` rendered with `name` bound to what `context(request)` returns."""

    name: str
    template: str
    context: Callable[[HttpRequest], dict]


class DriftWatchAdminSite(admin.AdminSite):
    """Admin site whose index opens with the panels apps add (drifts: the triage summary)."""

    site_header = "DriftWatch"
    site_title = "DriftWatch admin"
    index_title = "Triage overview"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._index_panels: list[IndexPanel] = []

    def add_index_panel(self, name: str, template: str, context: Callable[[HttpRequest], dict]) -> None:
        """Show `template` on the index page, above the app list; called from an app's admin.py."""
        self._index_panels = [p for p in self._index_panels if p.name != name]
        self._index_panels.append(IndexPanel(name, template, context))

    def index(self, request, extra_context=None):
        context = {"index_panels": [panel.template for panel in self._index_panels]}
        context.update({panel.name: panel.context(request) for panel in self._index_panels})
        return super().index(request, extra_context={**context, **(extra_context or {})})


class DriftWatchAdminConfig(AdminConfig):
    """Replaces django.contrib.admin in INSTALLED_APPS so `admin.site` is a DriftWatchAdminSite."""

    default_site = "driftwatch.admin_site.DriftWatchAdminSite"
