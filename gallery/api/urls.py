from django.urls import path

import accounts.converters  # noqa: F401 - registers <username:…>
import portraits.converters  # noqa: F401 - registers <public_id:…>
from config.pagecache import cache_public
from gallery.api import browse, notifications, social

urlpatterns = [
    # Browsing: the gallery, a tag's portraits, the Following feed (gallery.api.browse).
    path("gallery/", cache_public(browse.GalleryListView.as_view()), name="gallery"),
    path(
        "tags/<str:slug>/portraits/",
        cache_public(browse.TagPortraitsView.as_view()),
        name="tag-portraits",
    ),
    path(
        "feed/following/",
        cache_public(browse.FollowingFeedView.as_view()),  # kept for its member a few seconds
        name="feed-following",
    ),
    path(
        "notifications/",
        notifications.NotificationListView.as_view(),
        name="notification-list",
    ),
    path(
        "notifications/read/",
        notifications.NotificationReadView.as_view(),
        name="notification-read",
    ),
    path(
        "notifications/settings/",
        notifications.NotificationSettingsView.as_view(),
        name="notification-settings",
    ),
    # Likes and follows.
    path(
        "portraits/<public_id:public_id>/like/",
        social.PortraitLikeView.as_view(),
        name="portrait-like",
    ),
    path(
        "users/<username:username>/follow/", social.MemberFollowView.as_view(), name="user-follow"
    ),
    path(
        "users/<username:username>/followers/",
        social.MemberFollowersView.as_view(),
        name="user-followers",
    ),
    path(
        "users/<username:username>/following/",
        social.MemberFollowingView.as_view(),
        name="user-following",
    ),
]
