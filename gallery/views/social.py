from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import user_get_public
from config.api.pagination import cursor_page
from config.errors import DomainError, NotFound, http_status_for
from config.pagecache import cache_public
from gallery import selectors, services
from gallery.selectors import (
    PAGE_SIZE,
    PERIOD_LABELS,
    RELEVANCE,
    SORT_LABELS,
    GalleryQuery,
    GalleryScope,
    gallery_page,
    gallery_query_parse,
)
from portraits.selectors import portrait_get_viewable

# The sorts a profile offers: the gallery's, but relevance (a profile has no search).
PROFILE_SORTS = {key: label for key, label in SORT_LABELS.items() if key != RELEVANCE}


@cache_public
@require_GET
def profile(request, username: str):
    """A member's public face: who they are, their follower counts and their public
    portraits, in the gallery's sorts (``?sort=`` newest | top | trending | remixed, and
    ``?period=`` for top), a cursor page at a time (``gallery.selectors.gallery_page``,
    so the same order, cursors and infinite scroll as the gallery).

    In the gallery, not in accounts: it shows portraits and follows, and accounts sits
    below both. A sort or cursor that is not one of ours is a 400 with its message.
    """
    try:
        member = user_get_public(username=username)
    except NotFound:
        raise Http404("No such member.") from None
    if member.username != username:
        return redirect(member, permanent=True)
    base_url = member.get_absolute_url()
    error, page, query = None, None, GalleryQuery()
    try:
        # Only the sort and its period: the member is the profile's, not a filter.
        query = gallery_query_parse(
            {name: request.GET[name] for name in ("sort", "period") if name in request.GET},
            blank_is_absent=True,
        )
        if query.sort == RELEVANCE:
            raise DomainError(
                "A profile cannot be sorted by relevance.",
                field_errors={"sort": [f"Choose one of: {', '.join(PROFILE_SORTS)}."]},
            )
        page = gallery_page(
            query=query,
            viewer=request.user,
            cursor=request.GET.get("cursor") or None,
            page_size=PAGE_SIZE,
            scope=GalleryScope(author=member),
        )
    except DomainError as exc:
        error = exc
    params = query.as_params()
    next_url = None
    if page is not None and page.next_cursor:
        next_url = f"{base_url}?{urlencode({**params, 'cursor': page.next_cursor})}"
    context = {
        "member": member,
        "portraits": page.items if page else [],
        "liked_ids": page.liked_ids if page else frozenset(),
        "next_url": next_url,
    }
    if request.GET.get("fragment") == "1" and error is None:  # gallery.js: the next cards
        return render(request, "gallery/_page.html", context)
    context.update(
        query=query,
        error=error,
        sort=query.effective_sort,
        sorts=PROFILE_SORTS,
        periods=PERIOD_LABELS,
        counts=selectors.follow_counts(user=member),
        followed=selectors.follows(viewer=request.user, user=member),
    )
    status = http_status_for(error) if error is not None else 200
    return render(request, "gallery/profile.html", context, status=status)


# --- Likes and follows -------------------------------------------------------------------
# One URL each for the page's form (a POST that is sent back where it came from, so the
# buttons work without JavaScript) and for its script (the same POST with
# ``Accept: application/json``, answered with the new state, so the page need not reload).

FOLLOWS_PAGE_SIZE = 48


def _wants_json(request) -> bool:
    """A script's request rather than a form's (a browser's form accepts ``*/*``)."""
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _back(request, fallback: str):
    """Back where the form was (its ``next``), if that is on this site; else ``fallback``."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


def _login_first(request, next_url: str, message: str):
    if _wants_json(request):
        return JsonResponse(
            {"detail": message, "code": "not_authenticated", "errors": {}}, status=401
        )
    return redirect_to_login(next_url)


def _refused(request, error: DomainError, fallback: str):
    """A service's refusal: the one error shape for a script, a message on the page for a
    form. What the viewer may not see is a 404 either way."""
    if _wants_json(request):
        body = {"detail": error.message, "code": error.code, "errors": error.field_errors}
        return JsonResponse(body, status=http_status_for(error))
    if isinstance(error, NotFound):
        raise Http404(error.message)
    messages.error(request, error.message)
    return _back(request, fallback)


def _chosen(request, on: str, off: str) -> bool:
    """The form's ``intent``: True for ``on``, False for ``off``. A button says which it
    means (not "toggle"), so a double click or a stale tab cannot undo itself."""
    intent = request.POST.get("intent")
    if intent not in (on, off):
        raise DomainError(
            f"Choose to {on} or to {off}.", field_errors={"intent": [f"Choose {on} or {off}."]}
        )
    return intent == on


@require_POST
def portrait_like(request, public_id: str):
    """Like (``intent=like``) or unlike (``intent=unlike``) a portrait. A script gets
    ``{"liked", "like_count"}``; anyone who cannot see the portrait gets a 404."""
    page = reverse("portraits:detail", kwargs={"public_id": public_id})
    if not request.user.is_authenticated:
        return _login_first(request, page, "Log in to like portraits.")
    try:
        portrait = portrait_get_viewable(viewer=request.user, public_id=public_id)
        liked = _chosen(request, "like", "unlike")
        if liked:
            services.like_add(user=request.user, portrait=portrait)
        else:
            services.like_remove(user=request.user, portrait=portrait)
    except DomainError as error:
        return _refused(request, error, page)
    if _wants_json(request):
        return JsonResponse({"liked": liked, "like_count": portrait.like_count})
    return _back(request, page)


@require_POST
def member_follow(request, username: str):
    """Follow (``intent=follow``) or unfollow (``intent=unfollow``) a member. A script
    gets ``{"followed", "follower_count", "following_count"}``; following oneself is
    refused with a message (a 400 with a field error for a script)."""
    page = reverse("profile", kwargs={"username": username})
    if not request.user.is_authenticated:
        return _login_first(request, page, "Log in to follow members.")
    try:
        member = user_get_public(username=username)
        followed = _chosen(request, "follow", "unfollow")
        if followed:
            services.follow_add(follower=request.user, followed=member)
        else:
            services.follow_remove(follower=request.user, followed=member)
    except DomainError as error:
        return _refused(request, error, page)
    if _wants_json(request):
        counts = selectors.follow_counts(user=member)
        return JsonResponse(
            {
                "followed": followed,
                "follower_count": counts.followers,
                "following_count": counts.following,
            }
        )
    return _back(request, member.get_absolute_url())


@require_GET
def member_followers(request, username: str):
    """Who follows a member, newest first, a page at a time."""
    return _follows_page(request, username, "followers")


@require_GET
def member_following(request, username: str):
    """Whom a member follows, newest first, a page at a time."""
    return _follows_page(request, username, "following")


def _follows_page(request, username: str, which: str):
    try:
        member = user_get_public(username=username)
    except NotFound:
        raise Http404("No such member.") from None
    if member.username != username:
        return redirect(f"gallery:{which}", username=member.username, permanent=True)
    if which == "followers":
        rows, person = selectors.followers_of(user=member), "follower"
    else:
        rows, person = selectors.following_of(user=member), "followed"
    follows, next_link, previous_link = cursor_page(request, rows, page_size=FOLLOWS_PAGE_SIZE)
    people = [getattr(follow, person) for follow in follows]
    context = {
        "member": member,
        "which": which,
        "people": people,
        # Whether the viewer follows the member (the header's button), and whom they
        # follow among the people listed (theirs): two questions, two names.
        "followed": selectors.follows(viewer=request.user, user=member),
        "followed_people": selectors.followed_among(viewer=request.user, users=people),
        "counts": selectors.follow_counts(user=member),
        "next_link": next_link,
        "previous_link": previous_link,
    }
    return render(request, "gallery/follows.html", context)
