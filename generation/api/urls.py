from rest_framework.routers import SimpleRouter

from generation.api.views import (
    GenerationModelViewSet,
    JobViewSet,
    PromptModifierViewSet,
    StylePresetViewSet,
    SweepViewSet,
    TasteViewSet,
)

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("models", GenerationModelViewSet, basename="generation-model")
router.register("styles", StylePresetViewSet, basename="style")
router.register("modifiers", PromptModifierViewSet, basename="modifier")
router.register("sweeps", SweepViewSet, basename="sweep")
router.register("taste", TasteViewSet, basename="taste")

urlpatterns = router.urls
