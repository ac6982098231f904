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
            fresh = time.time() < fresh_until
            if fresh or not cache.add(f"{key}:lock", 1, REFRESH_LOCK):
                response = HttpResponse(content)
                for name, value in headers:
                    response[name] = value
                if fresh:
                    response[FRESH_UNTIL_HEADER] = repr(fresh_until)
                return response
        response = view(request, *args, **kwargs)
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response.render()  # a DRF or template response, rendered once here
        if _storable(request, response):
            entry = (time.time() + ttl, response.content, list(response.items()))
            cache.set(key, entry, ttl + STALE_FOR)
            response[FRESH_UNTIL_HEADER] = repr(entry[0])
        cache.delete(f"{key}:lock")
        return response

    return wrapped


# --- Before Django: the ASGI application answers fresh pages itself ----------------------

# Set by cache_public on a fresh public page, for PublicPageCache; never sent out.
FRESH_UNTIL_HEADER = "X-Public-Page-Fresh-Until"
_FRESH_UNTIL = FRESH_UNTIL_HEADER.lower().encode()
ASGI_KEY = "public-pages-asgi:{generation}:{digest}"


class PublicPageCache:
    """ASGI middleware: answer an anonymous GET whose page is fresh in the public page
    cache without running Django's handler at all.

    A cache hit inside Django costs 0.8 ms, through daphne and Django's ASGI handler (a
    thread per request, the middleware) ~6 ms (bench/README.md). This keeps, per URL as
    the client sent it, the *complete* response Django sent for a page that
    :func:`cache_public` marked fresh (its final headers, security ones included; the
    mark is removed), under the same generation, and serves it until it is no longer
    fresh. Everything else — a stale or missing page, a request with credentials, a
    response that sets a cookie — goes to Django, whose ``cache_public`` decides as before.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or settings.PUBLIC_PAGE_TTL <= 0
        ):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if b"authorization" in headers or _session_cookie(headers.get(b"cookie", b"")):
            return await self.app(scope, receive, send)
        key = ASGI_KEY.format(
            generation=await cache.aget(GENERATION_KEY, 0), digest=_asgi_digest(scope, headers)
        )
        hit = await cache.aget(key)
        if hit is not None and time.time() < hit[0]:
            _, status, response_headers, body = hit
            await send(
                {"type": "http.response.start", "status": status, "headers": response_headers}
            )
            await send(
                {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
            )
            return None
        return await self.app(scope, receive, _Recorder(send, key, store=scope["method"] == "GET"))


def _session_cookie(raw: bytes) -> bool:
    name = settings.SESSION_COOKIE_NAME.encode()
    return any(part.strip().split(b"=", 1)[0] == name for part in raw.split(b";"))


def _asgi_digest(scope, headers) -> str:
    scheme = scope.get("scheme", "http")
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy is not None:
        name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        scheme = "https" if headers.get(name, b"").decode("latin-1") == proxy[1] else "http"
    what = b"\n".join(
        [
            scheme.encode(),
            headers.get(b"host", b""),
            scope.get("root_path", "").encode() + (scope.get("raw_path") or scope["path"].encode()),
            scope.get("query_string", b""),
            headers.get(b"accept", b""),
        ]
    )
    return hashlib.sha256(what).hexdigest()


class _Recorder:
    """Passes a response on, without the fresh mark; keeps a marked one for PublicPageCache."""

    def __init__(self, send, key: str, *, store: bool):
        self.send, self.key, self.store = send, key, store
        self.start = None
        self.body: list[bytes] = []

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            marked = [value for name, value in headers if name.lower() == _FRESH_UNTIL]
            if marked:
                headers = [(n, v) for n, v in headers if n.lower() != _FRESH_UNTIL]
                message = {**message, "headers": headers}
                cookies = any(name.lower() == b"set-cookie" for name, _ in headers)
                if self.store and message["status"] == 200 and not cookies:
                    self.start = (float(marked[0]), message["status"], headers)
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body.append(message.get("body", b""))
            if not message.get("more_body", False):
                fresh_until, status, headers = self.start
                ttl = fresh_until - time.time()
                if ttl > 0:
                    entry = (fresh_until, status, headers, b"".join(self.body))
                    await cache.aset(self.key, entry, ttl)
                self.start = None
        await self.send(message)
