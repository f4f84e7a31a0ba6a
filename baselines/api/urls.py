from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .state_sources import StateSourceViewSet
from .views import ID_REGEX, BaselineViewSet, ResourceBaselineViewSet

router = SimpleRouter(trailing_slash=False)
router.register("baselines", BaselineViewSet, basename="baseline")
router.register("state-sources", StateSourceViewSet, basename="state-source")
urlpatterns = [
    *router.urls,
    # Beside /resources/{id} (providers' API): a resource's baselines belong to this app.
    re_path(
        rf"^resources/(?P<pk>{ID_REGEX})/baselines$",
        ResourceBaselineViewSet.as_view({"get": "list"}, name="Baselines"),
        name="resource-baselines",
    ),
    re_path(
        rf"^resources/(?P<pk>{ID_REGEX})/baseline$",
        ResourceBaselineViewSet.as_view({"post": "capture"}, name="Baseline"),
        name="resource-baseline",
    ),
]
