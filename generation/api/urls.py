from django.urls import path
from rest_framework.routers import SimpleRouter

from generation.api.views import (
    GenerationModelViewSet,
    JobViewSet,
    PromptModifierViewSet,
    StylePresetViewSet,
    SweepViewSet,
    TasteExportView,
    TasteLearningView,
    TasteResetView,
    TasteView,
)

router = SimpleRouter()
router.register("jobs", JobViewSet, basename="job")
router.register("models", GenerationModelViewSet, basename="generation-model")
router.register("styles", StylePresetViewSet, basename="style")
router.register("modifiers", PromptModifierViewSet, basename="modifier")
router.register("sweeps", SweepViewSet, basename="sweep")

urlpatterns = [
    *router.urls,
    path("taste/", TasteView.as_view(), name="taste"),
    path("taste/learning/", TasteLearningView.as_view(), name="taste-learning"),
    path("taste/reset/", TasteResetView.as_view(), name="taste-reset"),
    path("taste/export/", TasteExportView.as_view(), name="taste-export"),
]
