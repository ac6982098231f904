"""Version 1 of the API, mounted at /api/v1/. Each app contributes its own routes."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("generation.api.urls")),
    path("", include("portraits.api.urls")),
]
