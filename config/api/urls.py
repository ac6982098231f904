"""Version 1 of the API, mounted at /api/v1/. Each app contributes its own routes."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from generation.api.views import PortraitSubmissionViewSet

app_name = "api"

# Remixing or reproducing a portrait submits a job: generation's endpoints at a portrait's
# URL (portraits, to generation's left, cannot import them). Only their two actions.
portrait_submissions = SimpleRouter()
portrait_submissions.register("portraits", PortraitSubmissionViewSet, basename="portrait")

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("generation.api.urls")),
    path("", include("portraits.api.urls")),
    path("", include("gallery.api.urls")),
    path("", include("moderation.api.urls")),
    *portrait_submissions.urls,
]
