from rest_framework.routers import SimpleRouter

from .views import DriftViewSet

router = SimpleRouter(trailing_slash=False)
router.register("drifts", DriftViewSet, basename="drift")
urlpatterns = router.urls
