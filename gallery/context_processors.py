"""What every page's navigation shows of the gallery: the unread notifications badge."""

from __future__ import annotations

from functools import cache

from gallery.notify import notifications_unread_count


def unread_notifications(request) -> dict:
    """``unread_notifications``: the signed-in member's unread count, read once and only
    if a template shows it (one count over the partial index ``gallery_unread_idx``).
    Nothing, and no query, for anonymous visitors."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    @cache
    def count() -> int:  # templates call a callable: at most once a request
        return notifications_unread_count(user=user)

    return {"unread_notifications": count}
