from django.urls import path

import accounts.converters  # noqa: F401 - registers <username:…>
from accounts import views

app_name = "accounts"

urlpatterns = [
    path("u/<username:username>/avatar/", views.avatar, name="avatar"),
    path("settings/", views.settings_profile, name="settings"),
    path("settings/content/", views.settings_content, name="content"),
    path("settings/tokens/", views.settings_tokens, name="tokens"),
    path("settings/tokens/<int:pk>/revoke/", views.settings_token_revoke, name="token-revoke"),
]
