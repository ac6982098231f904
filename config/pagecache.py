"""A short cache of what anonymous visitors see of public lists, dropped whenever
something that decides visibility changes.

The gallery's lists, a profile, a tag page, search, the Atom feeds and a remix tree are
the same for every visitor who is not signed in, and they are most of a public site's
traffic. :func:`cache_public` keeps such a response for ``PUBLIC_PAGE_TTL`` seconds,
keyed by its full URL (scheme and host too) and ``Accept`` header and by a *generation* that
:func:`public_pages_invalidate` moves on: the services call it whenever a portrait's
visibility changes, it is hidden or deleted, or a member's account closes, so nothing
that became private is served from here after that call (counts of likes and
remixes, and names, may be up to ``PUBLIC_PAGE_TTL`` seconds old, a little more under
load: past its TTL a page is made again by the one request that takes its lock, while
the others are served the old one for at most ``STALE_FOR`` seconds — so a busy page
does not have every visitor make it again at the same moment, every TTL).

Only requests that carry no credentials at all (no session cookie, no ``Authorization``
header) are served from or stored in it, and only a complete 200 response that set no
cookie and used no CSRF token: a member's pages (their likes, their nav) are never
cached. The cache is Django's default: shared through Redis by every web process in
production. During a Redis outage (``config.cache``) each process falls back to its own
memory, where an invalidation reaches only the process that made it: another process
may then serve a list from before it for ``PUBLIC_PAGE_TTL + STALE_FOR`` seconds at most
(and, once Redis answers again, a page Redis held from before the outage for what is
left of that).
"""

from __future__ import annotations

import functools
import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

GENERATION_KEY = "public-pages:generation"
# A page past its TTL is still served this long, while one request makes it again
# (never across an invalidation: that moves the generation, so the key).
STALE_FOR = 30
REFRESH_LOCK = 10  # seconds: a request that died while making a page holds it no longer
KEY = "public-pages:{generation}:{digest}"


def public_pages_invalidate() -> None:
    """Drop every cached public page: call after a change of what anyone may see."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not there yet (or evicted): any new value drops what was cached
        cache.set(GENERATION_KEY, 1, None)


def _has_credentials(request) -> bool:
    return (
        settings.SESSION_COOKIE_NAME in request.COOKIES
        or "HTTP_AUTHORIZATION" in request.META
        # DRF's test client authenticates a request by this attribute, with no header.
        or getattr(request, "_force_auth_user", None) is not None
    )


def _key(request) -> str:
    generation = cache.get(GENERATION_KEY, 0)
    # The whole URL, scheme and host included: the API's links are absolute, built from them.
    what = f"{request.build_absolute_uri()}\n{request.META.get('HTTP_ACCEPT', '')}"
    return KEY.format(generation=generation, digest=hashlib.sha256(what.encode()).hexdigest())


def _storable(request, response) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_USED")
    )


def cache_public(view):
    """Serve anonymous GETs of ``view`` from the public page cache (see the module)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD") or _has_credentials(request):
            return view(request, *args, **kwargs)
        ttl = settings.PUBLIC_PAGE_TTL
        if ttl <= 0:
            return view(request, *args, **kwargs)
        key = _key(request)
        hit = cache.get(key)
        if hit is not None:
            fresh_until, content, headers = hit
            # Past its TTL, one request (the one that takes the lock) paints it again
            # while the others are served what it was: no stampede every TTL.
            if time.time() < fresh_until or not cache.add(f"{key}:lock", 1, REFRESH_LOCK):
                response = HttpResponse(content)
                for name, value in headers:
                    response[name] = value
                return response
        response = view(request, *args, **kwargs)
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()  # a DRF or template response, rendered once here
        if _storable(request, response):
            entry = (time.time() + ttl, response.content, list(response.items()))
            cache.set(key, entry, ttl + STALE_FOR)
        cache.delete(f"{key}:lock")
        return response

    return wrapped
