from django.urls import path

import accounts.converters  # noqa: F401 - registers <username:…>
from gallery import views

app_name = "gallery"

urlpatterns = [
    path("", views.home, name="home"),
    path("u/<username:username>/", views.profile, name="profile"),
]
