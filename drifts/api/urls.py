from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .ignore_rules import IgnoreRuleViewSet
from .jobs import JobViewSet
from .views import DriftViewSet, ResourceDriftViewSet

router = SimpleRouter(trailing_slash=False)
router.register("drifts", DriftViewSet, basename="drift")
router.register("jobs", JobViewSet, basename="job")
router.register("ignore-rules", IgnoreRuleViewSet, basename="ignore-rule")
urlpatterns = [
    *router.urls,
    # Beside /resources/{id} (providers' API): a resource's drifts belong to this app.
    re_path(
        r"^resources/(?P<pk>[0-9]{1,18})/drifts$",
        ResourceDriftViewSet.as_view({"get": "list"}, name="Drifts"),
        name="resource-drifts",
    ),
]
