from django.urls import path

import accounts.converters  # noqa: F401 - registers <username:…>
import portraits.converters  # noqa: F401 - registers <public_id:…>
from config.pagecache import cache_public
from gallery.feeds import NewestPortraitsFeed
from gallery.views import browse, notifications, site, social

app_name = "gallery"

urlpatterns = [
    # Browsing (gallery.views.browse): every state of a listing is its URL's query string.
    path("", browse.home, name="home"),
    path("explore/", browse.explore, name="explore"),
    path("tags/<str:slug>/", browse.tag, name="tag"),
    path("following/", browse.following, name="following-feed"),
    path("feeds/newest.atom", cache_public(NewestPortraitsFeed()), name="atom-newest"),
    path("favicon.ico", site.favicon, name="favicon"),
    # Likes and follows (the profile itself, /u/<username>/, is named in config.urls).
    path("p/<public_id:public_id>/like/", social.portrait_like, name="portrait-like"),
    path("u/<username:username>/follow/", social.member_follow, name="follow"),
    path("u/<username:username>/followers/", social.member_followers, name="followers"),
    path("u/<username:username>/following/", social.member_following, name="following"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path(
        "notifications/read/",
        notifications.notification_mark_read,
        name="notifications-read",
    ),
    path(
        "settings/notifications/",
        notifications.notification_settings,
        name="notification-settings",
    ),
]
