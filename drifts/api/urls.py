from rest_framework.routers import SimpleRouter

from .ignore_rules import IgnoreRuleViewSet
from .jobs import JobViewSet
from .views import DriftViewSet

router = SimpleRouter(trailing_slash=False)
router.register("drifts", DriftViewSet, basename="drift")
router.register("jobs", JobViewSet, basename="job")
router.register("ignore-rules", IgnoreRuleViewSet, basename="ignore-rule")
urlpatterns = router.urls
