from django.contrib import admin
from django.urls import include, path

import accounts.converters  # noqa: F401 - registers <username:…>
from config.api.docs import SchemaView, SwaggerView
from config.health import healthz
from config.pagecache import cache_public
from gallery.feeds import MemberPortraitsFeed
from gallery.views.social import profile

admin.site.site_header = "Likeness moderation"
admin.site.site_title = "Likeness admin"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("config.api.urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # A member's public page, shown by the gallery (it lists portraits) but named here, at
    # the root: accounts (``User.get_absolute_url``) and portraits link to it, and neither
    # may know the gallery app.
    path("u/<username:username>/", profile, name="profile"),
    path(
        "u/<username:username>/feed.atom",
        cache_public(MemberPortraitsFeed()),
        name="profile-atom",
    ),
    path("", include("accounts.urls")),
    path("", include("generation.urls")),
    path("", include("portraits.urls")),
    path("", include("gallery.urls")),
    path("", include("moderation.urls")),
]

# JSON in the API's error shape under /api/, the site's pages elsewhere (config.views).
handler400 = "config.views.bad_request"
handler403 = "config.views.permission_denied"
handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
