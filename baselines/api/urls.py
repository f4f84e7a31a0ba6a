from rest_framework.routers import SimpleRouter

from .views import BaselineViewSet

router = SimpleRouter(trailing_slash=False)
router.register("baselines", BaselineViewSet, basename="baseline")
urlpatterns = router.urls
