from django.urls import path
from rest_framework.routers import SimpleRouter

import accounts.converters  # noqa: F401 - registers <username:…>
from accounts.api import views

router = SimpleRouter()
router.register("me/tokens", views.ApiTokenViewSet, basename="me-token")

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/token/", views.TokenObtainView.as_view(), name="auth-token"),
    path("me/", views.MeView.as_view(), name="me"),
    path("me/avatar/", views.MeAvatarView.as_view(), name="me-avatar"),
    path("users/<username:username>/", views.UserDetailView.as_view(), name="user-detail"),
    *router.urls,
]
