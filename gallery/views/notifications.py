"""The notifications pages: the list, marking read, and which kinds a member wants.

Opening the list changes nothing (a GET is safe: a reload, a prefetch or a link preview
must not mark anything read); "Mark read" and "Mark all read" are explicit POSTs.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.api.pagination import cursor_page
from gallery.forms import NotificationSettingsForm
from gallery.notify import (
    MARK_READ_MAX_IDS,
    notification_settings_for,
    notification_settings_update,
    notifications_for,
    notifications_mark_read,
    notifications_present,
    notifications_unread_count,
)

PAGE_SIZE = 30


@login_required
@require_GET
def notification_list(request):
    # Newest first, stable while new ones arrive; a cursor not of ours is a 400 page.
    items, next_link, _ = cursor_page(
        request, notifications_for(user=request.user), page_size=PAGE_SIZE
    )
    context = {
        "notifications": notifications_present(items, viewer=request.user),
        "unread_count": notifications_unread_count(user=request.user),
        "next": next_link,
        "newest": reverse("gallery:notifications") if request.GET.get("cursor") else None,
    }
    return render(request, "gallery/notifications.html", context)


def _ids(request) -> list[int] | None:
    """The ``id`` fields of a "mark read" form (None: all of them); a malformed one is a 400."""
    raw = request.POST.getlist("id")
    if not raw:
        return None
    if len(raw) > MARK_READ_MAX_IDS or not all(v.isascii() and v.isdigit() for v in raw):
        raise BadRequest("Not a notification.")
    return [int(value) for value in raw if len(value) <= 18]


@login_required
@require_POST
def notification_mark_read(request):
    ids = _ids(request)
    marked = notifications_mark_read(user=request.user, ids=ids)
    if ids is None:
        messages.success(request, "All your notifications are marked read.")
    elif marked:
        messages.success(request, "Marked read.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("gallery:notifications")
    return redirect(target)


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    current = notification_settings_for(user=request.user)
    if request.method == "POST":
        form = NotificationSettingsForm(request.POST, instance=current)
        if form.is_valid():
            notification_settings_update(user=request.user, changes=form.cleaned_data)
            messages.success(request, "Your notification settings are saved.")
            return redirect("gallery:notification-settings")
    else:
        form = NotificationSettingsForm(instance=current)
    return render(request, "gallery/notification_settings.html", {"form": form})
