"""The gallery's browsing pages: home, explore, a tag's page and the Following feed.

Each parses the query string (``gallery.selectors.gallery_query_parse``), reads one
page (``gallery_page``) and renders the grid. Every state is a URL: the filter bar is a
GET form, and "Load more" is a link to the next cursor, so all of it works without
JavaScript; ``gallery/gallery.js`` turns the link into infinite scroll by fetching the
same URL with ``fragment=1`` (the cards and the next link only).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from config.errors import DomainError, http_status_for
from config.pagecache import cache_public
from gallery.selectors import (
    PAGE_SIZE,
    PERIOD_LABELS,
    SORT_LABELS,
    GalleryQuery,
    GalleryScope,
    gallery_page,
    gallery_query_parse,
)
from generation.selectors import model_list_enabled, style_list_enabled
from portraits.community import tag_normalise


def _listing(request, *, template: str, scope: GalleryScope, context: dict, base_url: str):
    """Render one page of a listing at ``base_url``, or its fragment, or the filters'
    errors (a 400 page with the message; no grid)."""
    error = None
    query = GalleryQuery()
    try:
        query = gallery_query_parse(request.GET, blank_is_absent=True)
        page = gallery_page(
            query=query,
            viewer=request.user,
            cursor=request.GET.get("cursor") or None,
            page_size=PAGE_SIZE,
            scope=scope,
        )
    except DomainError as exc:
        error, page = exc, None
    params = query.as_params()
    next_url = None
    if page is not None and page.next_cursor:
        next_url = f"{base_url}?{urlencode({**params, 'cursor': page.next_cursor})}"
    context = {
        **context,
        "query": query,
        "page": page,
        "portraits": page.items if page else [],
        "liked_ids": page.liked_ids if page else frozenset(),
        "next_url": next_url,
        "error": error,
        "base_url": base_url,
    }
    if request.GET.get("fragment") == "1" and error is None:
        return render(request, "gallery/_page.html", context)
    context.update(
        sorts=SORT_LABELS,
        periods=PERIOD_LABELS,
        raw=request.GET,
        styles=style_list_enabled(),
        models=model_list_enabled(),
        is_first_page=not request.GET.get("cursor"),
    )
    status = http_status_for(error) if error is not None else 200
    return render(request, template, context, status=status)


@cache_public
@require_GET
def home(request):
    """The front door: what Likeness is, then the gallery's newest, as on /explore/."""
    return _listing(
        request,
        template="gallery/home.html",
        scope=GalleryScope(),
        context={"feed_url": reverse("gallery:atom-newest")},
        base_url=reverse("gallery:explore"),
    )


@cache_public
@require_GET
def explore(request):
    """The whole gallery, every sort and filter."""
    return _listing(
        request,
        template="gallery/explore.html",
        scope=GalleryScope(),
        context={"feed_url": reverse("gallery:atom-newest")},
        base_url=reverse("gallery:explore"),
    )


@cache_public
@require_GET
def tag(request, slug: str):
    """The portraits filed under one tag. Any well-formed tag has a page (empty if none
    is listed): whether a tag exists at all is not told, since private portraits'
    tags would give it away."""
    try:
        if tag_normalise(slug) != slug:
            raise ValueError(slug)
    except ValueError:
        raise Http404("No such tag.") from None
    return _listing(
        request,
        template="gallery/tag.html",
        scope=GalleryScope(tag=slug),
        context={"tag": slug},
        base_url=reverse("gallery:tag", kwargs={"slug": slug}),
    )


@login_required
@require_GET
@cache_public  # kept for its member a few seconds (config.pagecache)
def following(request):
    """New public portraits by the people the viewer follows."""
    return _listing(
        request,
        template="gallery/following.html",
        scope=GalleryScope(following=True),
        context={},
        base_url=reverse("gallery:following-feed"),
    )
