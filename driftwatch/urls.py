"""URL map: the admin, the API under /api/v1, its schema and docs, health probes and Prometheus metrics."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerView

from driftwatch.api.errors import api_not_found
from driftwatch.api.schema import CachedSchemaView
from driftwatch.health import healthz, readyz
from driftwatch.metrics import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/schema/", CachedSchemaView.as_view(), name="schema"),
    path("metrics", metrics_view, name="metrics"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("drifts.api.urls")),
    path("api/v1/", include("providers.api.urls")),
    path("api/v1/", include("baselines.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    # Anything else under /api/ is a JSON 404, with DEBUG on too, and never a CSRF failure.
    re_path(r"^api/", api_not_found),
]
