from rest_framework.routers import SimpleRouter

from .views import ProviderViewSet, ResourceViewSet

router = SimpleRouter(trailing_slash=False)
router.register("providers", ProviderViewSet, basename="provider")
router.register("resources", ResourceViewSet, basename="resource")
urlpatterns = router.urls
