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
cookie and used no CSRF token. A member's pages (their likes, their nav) are kept apart,
by ``PublicPageCache`` only, for one credential each (see ``_member_page``): any write of theirs, a notification for them or the end of their
credentials drops them (:func:`member_pages_invalidate`). The cache is Django's default: shared through Redis by every web process in
production. During a Redis outage (``config.cache``) each process falls back to its own
memory, where an invalidation reaches only the process that made it: another process
may then serve a list from before it for ``PUBLIC_PAGE_TTL + STALE_FOR`` seconds at most
(and, once Redis answers again, a page Redis held from before the outage for what is
left of that).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import pickle
import time
import weakref

import redis.asyncio
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse
from redis.exceptions import RedisError

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
    """Serve anonymous GETs of ``view`` from the public page cache (see the module), and
    mark a member's page for the member page cache (``PublicPageCache``, below)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        ttl = settings.PUBLIC_PAGE_TTL
        if request.method not in ("GET", "HEAD") or ttl <= 0:
            return view(request, *args, **kwargs)
        if _has_credentials(request):
            return _member_page(view, request, args, kwargs, ttl)
        key = _key(request)
        # PublicPageCache sends the one request that makes a stale page again.
        refresh = (getattr(request, "scope", None) or {}).get(REFRESH_SCOPE_KEY, False)
        hit = None if refresh else cache.get(key)
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


# --- A member's own pages, for a few seconds ------------------------------------------------

# Moved on by member_pages_invalidate; read before a member's page is made.
MEMBER_GENERATION_KEY = "member-pages:{user_id}"
MEMBER_GENERATION_TTL = 24 * 3600  # far longer than a page lives (PUBLIC_PAGE_TTL)
# Set by cache_public on a member's page it may be kept: "<member id> <generation>".
MEMBER_HEADER = "X-Member-Page"
_MEMBER = MEMBER_HEADER.lower().encode()


def member_pages_invalidate(*user_ids: int) -> None:
    """Drop every cached page of these members: call when something they see of their own
    changed (``MemberPagesMiddleware`` does after each of their writes; notifications and
    ended credentials call it too)."""
    for user_id in user_ids:
        key = MEMBER_GENERATION_KEY.format(user_id=user_id)
        try:
            cache.incr(key)
        except ValueError:
            # Never back to a value an earlier page was made under, should the key expire.
            cache.set(key, time.time_ns(), MEMBER_GENERATION_TTL)


def member_pages_generation(user_id: int) -> int:
    return cache.get(MEMBER_GENERATION_KEY.format(user_id=user_id), 0)


def member_pages_note(request, user_id: int) -> None:
    """Called by an authentication that runs inside the view (the API's tokens) when
    cache_public asked for it: the member's generation before their page is made."""
    if getattr(request, "_member_pages_wanted", False):
        request._member_pages_generation = (user_id, member_pages_generation(user_id))


def _member_page(view, request, args, kwargs, ttl: int):
    """Make a member's page; mark it for PublicPageCache when it may be kept for ``ttl``
    seconds and served again to the same credential (stale too, while one request makes it
    again, as a public page, but never across a change of theirs)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:  # a session: known before the view
        request._member_pages_generation = (user.pk, member_pages_generation(user.pk))
    else:
        request._member_pages_wanted = True  # a token: see member_pages_note
    response = view(request, *args, **kwargs)
    noted = getattr(request, "_member_pages_generation", None)
    if noted is None or not getattr(request.user, "is_authenticated", False):
        return response
    if noted[0] != request.user.pk:
        return response
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    # A page that used the CSRF token is kept only for the browser whose CSRF cookie it
    # was made for (PublicPageCache keys it by that cookie); Django sends that same cookie
    # again to renew its expiry. One that sets any other cookie (a new CSRF cookie, a
    # session that changed, messages shown) is never kept.
    csrf = settings.CSRF_COOKIE_NAME
    renewed = (
        {csrf}
        if response.cookies.get(csrf)
        and (response.cookies[csrf].value == request.COOKIES.get(csrf))
        else set()
    )
    if response.status_code == 200 and not response.streaming and set(response.cookies) == renewed:
        response[FRESH_UNTIL_HEADER] = repr(time.time() + ttl)
        response[MEMBER_HEADER] = f"{noted[0]} {noted[1]}"
    return response


class MemberPagesMiddleware:
    """After any write by a member (a like, a follow, settings, a sign-out...), drop the
    pages kept for them, so what they see next shows what they did."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            response = self.get_response(request)
            if not hasattr(request, "scope"):  # not ASGI: no PublicPageCache to read the marks
                for name in (FRESH_UNTIL_HEADER, MEMBER_HEADER):
                    if name in response:
                        del response[name]
            return response
        before = request.user.pk if request.user.is_authenticated else None
        response = self.get_response(request)
        after = getattr(request, "user", None)
        ids = {before, after.pk if after is not None and after.is_authenticated else None}
        ids.discard(None)
        if ids:
            member_pages_invalidate(*ids)
        return response


# --- Before Django: the ASGI application answers public pages itself -----------------------

# Set by cache_public on a fresh public page, for PublicPageCache; never sent out.
FRESH_UNTIL_HEADER = "X-Public-Page-Fresh-Until"
_FRESH_UNTIL = FRESH_UNTIL_HEADER.lower().encode()
# In the ASGI scope of the one request PublicPageCache sends to Django to make a stale
# page again: cache_public then makes it, whatever its own copy says.
REFRESH_SCOPE_KEY = "likeness.public_page_refresh"
ASGI_KEY = "public-pages-asgi:{digest}"


class PublicPageCache:
    """ASGI middleware: answer an anonymous GET of a public page from the public page
        cache without running Django's handler at all, fresh or, past its TTL, stale while one
        request makes it again.

        A cache hit inside Django costs 0.8 ms, through daphne and Django's ASGI handler (a
        thread per request, the middleware) ~6 ms (bench/README.md). This keeps, per URL as
        the client sent it, the *complete* response Django sent for a page that
        :func:`cache_public` marked fresh (its final headers, security ones included; the
        mark is removed), with the generation it was made under (and for a member's page, whose
    it is and their generation), and:

        * serves it while it is fresh and the generation has not moved;
        * past its TTL (and for at most ``STALE_FOR`` seconds), sends the one request that
          takes the page's lock to Django to make it again (``REFRESH_SCOPE_KEY`` in its
          scope) and serves the old page to every other request meanwhile — so no visitor
          waits for a page to be made while a copy of it exists;
        * sends everything else to Django, whose ``cache_public`` decides as before: a
          request with credentials, a page not cached or cached before an invalidation (the
          generation moved: never served, fresh or not), a response that sets a cookie.

        With Redis, it reads the generation and the page in one round trip of redis-py's
        asyncio client, on daphne's event loop (Django's async cache methods would run the
        blocking client in a thread); without Redis (the embedded default), the process's
        memory. A Redis error sends the request to Django, whose cache falls back to memory.
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
        credential = _credential(headers)
        if credential is None:  # a cookie this cache does not know how to key
            return await self.app(scope, receive, send)
        pages = _pages()
        digest = _asgi_digest(scope, headers, credential)
        try:
            generation, entry = await pages.read(digest)
            if entry is not None and entry[0] == generation:
                _, fresh_until, status, response_headers, body, member = entry
                # A member's page only as it was for them: nothing of theirs changed since.
                current = member is None or (await pages.member_generation(member[0]) == member[1])
                if current and (time.time() < fresh_until or not await pages.lock(digest)):
                    await send(
                        {
                            "type": "http.response.start",
                            "status": status,
                            "headers": response_headers,
                        }
                    )
                    await send(
                        {
                            "type": "http.response.body",
                            "body": b"" if scope["method"] == "HEAD" else body,
                        }
                    )
                    return None
                if current:  # the one request that makes the page again
                    scope = {**scope, REFRESH_SCOPE_KEY: True}
        except RedisError:
            return await self.app(scope, receive, send)
        recorder = _Recorder(send, pages, digest, generation, store=scope["method"] == "GET")
        return await self.app(scope, receive, recorder)


class _LocalPages:
    """The pages of the embedded default: Django's cache, which is then the process's
    memory (no I/O, so called from the event loop)."""

    async def read(self, digest: str):
        found = cache.get_many([GENERATION_KEY, ASGI_KEY.format(digest=digest)])
        return found.get(GENERATION_KEY, 0), found.get(ASGI_KEY.format(digest=digest))

    async def lock(self, digest: str) -> bool:
        return cache.add(ASGI_KEY.format(digest=digest) + ":lock", 1, REFRESH_LOCK)

    async def member_generation(self, user_id: int) -> int:
        return member_pages_generation(user_id)

    async def write(self, digest: str, entry, timeout: float) -> None:
        key = ASGI_KEY.format(digest=digest)
        cache.set(key, entry, timeout)
        cache.delete(key + ":lock")


class _RedisPages:
    """The pages in Redis, through redis-py's asyncio client on the running event loop,
    under the keys Django's cache would give them (its generation is a plain integer)."""

    def __init__(self, url: str):
        self.url = url
        self.clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        django_cache = caches["default"]
        self.generation_key = django_cache.make_key(GENERATION_KEY)
        self.make_key = lambda digest: django_cache.make_key(ASGI_KEY.format(digest=digest))
        self.member_key = lambda user_id: django_cache.make_key(
            MEMBER_GENERATION_KEY.format(user_id=user_id)
        )

    def _client(self):
        loop = asyncio.get_running_loop()
        client = self.clients.get(loop)
        if client is None:
            client = self.clients[loop] = redis.asyncio.Redis.from_url(
                self.url, socket_connect_timeout=1, socket_timeout=1
            )
        return client

    async def read(self, digest: str):
        raw_generation, raw_entry = await self._client().mget(
            self.generation_key, self.make_key(digest)
        )
        generation = int(raw_generation) if raw_generation is not None else 0
        return generation, pickle.loads(raw_entry) if raw_entry is not None else None

    async def lock(self, digest: str) -> bool:
        return bool(
            await self._client().set(self.make_key(digest) + ":lock", 1, nx=True, ex=REFRESH_LOCK)
        )

    async def member_generation(self, user_id: int) -> int:
        raw = await self._client().get(self.member_key(user_id))
        return int(raw) if raw is not None else 0

    async def write(self, digest: str, entry, timeout: float) -> None:
        key = self.make_key(digest)
        async with self._client().pipeline(transaction=False) as pipe:
            pipe.set(
                key, pickle.dumps(entry, pickle.HIGHEST_PROTOCOL), px=max(1, int(timeout * 1000))
            )
            pipe.delete(key + ":lock")
            await pipe.execute()


_redis_pages: dict[str, _RedisPages] = {}


def _pages():
    if isinstance(caches["default"], RedisCache):
        url = settings.CACHES["default"]["LOCATION"]
        if url not in _redis_pages:
            _redis_pages[url] = _RedisPages(url)
        return _redis_pages[url]
    return _LocalPages()


def _credential(headers) -> bytes | None:
    """What a page kept for this request is keyed by besides its URL: b"" for a visitor
    without credentials, the API token or the session and CSRF cookies for a member, or
    None (go to Django) for a request with a messages cookie: Django shows them once."""
    if b"authorization" in headers:
        return b"authorization:" + headers[b"authorization"]
    cookies = {}
    for part in headers.get(b"cookie", b"").split(b";"):
        name, _, value = part.strip().partition(b"=")
        cookies[name] = value
    if b"messages" in cookies:
        return None
    session = cookies.get(settings.SESSION_COOKIE_NAME.encode())
    if session is None:
        return b""
    return b"session:" + session + b"\ncsrf:" + cookies.get(settings.CSRF_COOKIE_NAME.encode(), b"")


def _asgi_digest(scope, headers, credential: bytes) -> str:
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
            credential,
        ]
    )
    return hashlib.sha256(what).hexdigest()


class _Recorder:
    """Passes a response on, without the fresh mark; keeps a marked one for PublicPageCache,
    with the generation read before Django made it (an invalidation meanwhile makes it
    never served)."""

    def __init__(self, send, pages, digest: str, generation: int, *, store: bool):
        self.send, self.pages, self.digest, self.generation = send, pages, digest, generation
        self.store = store
        self.start = None
        self.body: list[bytes] = []

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            headers = message.get("headers") or []
            marked = [value for name, value in headers if name.lower() == _FRESH_UNTIL]
            member = [value for name, value in headers if name.lower() == _MEMBER]
            if marked or member:
                headers = [(n, v) for n, v in headers if n.lower() not in (_FRESH_UNTIL, _MEMBER)]
                message = {**message, "headers": headers}
            if marked:
                owner = tuple(int(part) for part in member[0].split()) if member else None
                # A member's page may renew its CSRF cookie (cache_public checked that).
                cookies = any(name.lower() == b"set-cookie" for name, _ in headers)
                if self.store and message["status"] == 200 and (owner or not cookies):
                    self.start = (float(marked[0]), message["status"], headers, owner)
        elif message["type"] == "http.response.body" and self.start is not None:
            self.body.append(message.get("body", b""))
            if not message.get("more_body", False):
                fresh_until, status, headers, member = self.start
                self.start = None
                timeout = fresh_until + STALE_FOR - time.time()
                if timeout > 0:
                    body = b"".join(self.body)
                    entry = (self.generation, fresh_until, status, headers, body, member)
                    with contextlib.suppress(RedisError):
                        await self.pages.write(self.digest, entry, timeout)
        await self.send(message)
