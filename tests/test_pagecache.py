"""The public page cache (config.pagecache): anonymous lists are served from it, members'
pages never are, and what stops being public leaves every cached list at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gallery.services import like_add
from portraits.models import Portrait
from portraits.services import portrait_delete, portrait_update
from tests.portraits.factories import PortraitFactory

pytestmark = pytest.mark.django_db
V = Portrait.Visibility

CACHED = [
    "/",
    "/explore/?sort=trending",
    "/u/alice/",
    "/feeds/newest.atom",
    "/api/v1/gallery/",
    "/api/v1/gallery/?sort=top&period=all",
]


@pytest.fixture(autouse=True)
def _ttl(settings):
    settings.PUBLIC_PAGE_TTL = 60  # long enough that only an invalidation can drop it


@pytest.fixture
def portrait(alice):
    return PortraitFactory(author=alice, title="Heron at the weir")


def _get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode(), len(queries)


@pytest.mark.parametrize("url", CACHED)
def test_an_anonymous_list_is_served_from_the_cache(client, portrait, url):
    first, queries = _get(client, url)
    assert portrait.public_id in first and queries > 0
    again, queries = _get(client, url)
    assert again == first and queries == 0


@pytest.mark.parametrize(
    "change",
    [
        lambda p, owner: portrait_update(portrait=p, by=owner, data={"visibility": V.PRIVATE}),
        lambda p, owner: portrait_update(portrait=p, by=owner, data={"visibility": V.UNLISTED}),
        lambda p, owner: portrait_delete(portrait=p, by=owner),
    ],
    ids=["made private", "made unlisted", "deleted"],
)
@pytest.mark.parametrize("url", CACHED)
def test_what_stops_being_public_leaves_every_cached_list_at_once(
    client, alice, portrait, url, change, django_capture_on_commit_callbacks
):
    assert portrait.public_id in _get(client, url)[0]
    with django_capture_on_commit_callbacks(execute=True):
        change(portrait, alice)
    assert portrait.public_id not in _get(client, url)[0]


def test_a_closed_account_leaves_its_cached_profile_at_once(
    client, alice, portrait, django_capture_on_commit_callbacks
):
    from accounts.services import user_deactivate

    _get(client, "/u/alice/")
    with django_capture_on_commit_callbacks(execute=True):
        user_deactivate(user=alice)
    assert client.get("/u/alice/").status_code == 404


def test_a_members_pages_are_never_cached(client, alice, bob, portrait):
    client.force_login(bob)
    _get(client, "/")
    like_add(user=bob, portrait=portrait)
    body, queries = _get(client, "/")
    assert queries > 0 and 'class="gallery-count liked"' in body


def test_likes_may_be_a_few_seconds_old_for_visitors_but_not_for_the_api_with_a_token(
    client, bob, bob_api, portrait
):
    _get(client, "/api/v1/gallery/")
    like_add(user=bob, portrait=portrait)
    stale = client.get("/api/v1/gallery/").json()["results"][0]
    fresh = bob_api.get("/api/v1/gallery/").json()["results"][0]
    assert (stale["like_count"], fresh["like_count"]) == (0, 1)


def test_a_ttl_of_zero_turns_it_off(client, settings, portrait):
    settings.PUBLIC_PAGE_TTL = 0
    _get(client, "/")
    assert _get(client, "/")[1] > 0


def test_each_host_gets_links_to_itself(client, settings, portrait):
    """The API's links are absolute, built from the request's host and scheme: a page
    cached for one host (or for http) must not send another's visitors there."""
    settings.ALLOWED_HOSTS = ["likeness.test", "www.likeness.test"]
    first = client.get("/api/v1/gallery/", HTTP_HOST="www.likeness.test").json()
    second = client.get("/api/v1/gallery/", HTTP_HOST="likeness.test").json()
    assert first["results"][0]["url"].startswith("http://www.likeness.test/")
    assert second["results"][0]["url"].startswith("http://likeness.test/")


def test_past_its_ttl_one_request_makes_a_page_again_while_others_get_the_old_one(client, portrait):
    from django.core.cache import cache
    from django.test import RequestFactory

    from config import pagecache

    first, _ = _get(client, "/")
    key = pagecache._key(RequestFactory().get("/"))
    _, content, headers = cache.get(key)
    cache.set(key, (0.0, content, headers))  # its TTL is over
    cache.add(f"{key}:lock", 1)  # another request is making it again
    stale, queries = _get(client, "/")
    assert stale == first and queries == 0
    cache.delete(f"{key}:lock")
    again, queries = _get(client, "/")  # this one takes the lock and makes it
    assert queries > 0
    fresh_until, _, _ = cache.get(key)
    assert fresh_until > 0 and cache.get(f"{key}:lock") is None


# --- Before Django: config.pagecache.PublicPageCache in the ASGI application ---------------


def _asgi_get(app, path, *, headers=()):
    from asgiref.sync import async_to_sync
    from channels.testing import HttpCommunicator

    async def get():
        communicator = HttpCommunicator(
            app, "GET", path, headers=[(b"host", b"testserver"), *headers]
        )
        return await communicator.get_response(timeout=30)

    return async_to_sync(get)()


@pytest.fixture
def counted_site():
    """The public page cache around Django's own ASGI application, counting what reaches
    Django."""
    from django.core.asgi import get_asgi_application

    from config.pagecache import PublicPageCache

    django_app = get_asgi_application()
    reached = []

    async def django(scope, receive, send):
        reached.append(scope["path"])
        await django_app(scope, receive, send)

    return PublicPageCache(django), reached


@pytest.mark.django_db(transaction=True)
def test_a_fresh_public_page_is_answered_before_django_with_all_its_headers(alice, counted_site):
    site, reached = counted_site
    portrait = PortraitFactory(author=alice, title="Heron at the weir")
    first = _asgi_get(site, "/")
    second = _asgi_get(site, "/")
    assert reached == ["/"]  # the second never reached Django
    assert second["status"] == 200 and second["body"] == first["body"]
    assert portrait.public_id.encode() in second["body"]
    names = {name.lower() for name, _ in second["headers"]}
    assert b"x-frame-options" in names and b"x-content-type-options" in names
    assert b"x-public-page-fresh-until" not in names | {n.lower() for n, _ in first["headers"]}


@pytest.mark.django_db(transaction=True)
def test_before_django_too_what_stops_being_public_is_gone_at_once(alice, counted_site):
    site, reached = counted_site
    portrait = PortraitFactory(author=alice, title="Heron at the weir")
    assert portrait.public_id.encode() in _asgi_get(site, "/api/v1/gallery/")["body"]
    portrait_update(portrait=portrait, by=alice, data={"visibility": V.PRIVATE})
    assert portrait.public_id.encode() not in _asgi_get(site, "/api/v1/gallery/")["body"]
    assert reached == ["/api/v1/gallery/", "/api/v1/gallery/"]


@pytest.mark.django_db(transaction=True)
def test_before_django_requests_with_credentials_and_other_hosts_go_to_django(alice, counted_site):
    site, reached = counted_site
    PortraitFactory(author=alice)
    _asgi_get(site, "/")
    _asgi_get(site, "/", headers=[(b"cookie", b"theme=dark; sessionid=abc")])
    _asgi_get(site, "/", headers=[(b"authorization", b"Token lk_nothing")])
    _asgi_get(site, "/", headers=[(b"accept", b"text/html")])
    _asgi_get(site, "/?sort=trending")
    assert len(reached) == 5


# --- A member's own pages, kept for them a few seconds ---------------------------------------


def _member_cookies(client, user) -> list[tuple[bytes, bytes]]:
    """The cookies a signed-in browser sends: its session and its CSRF cookie."""
    client.force_login(user)
    client.get("/following/")  # sets the CSRF cookie, as a first page would
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())
    return [(b"cookie", cookie.encode())]


@pytest.fixture
def followed_portrait(alice, bob):
    from gallery.services import follow_add

    follow_add(follower=bob, followed=alice)
    return PortraitFactory(author=alice, title="Heron at the weir")


@pytest.mark.django_db(transaction=True)
def test_a_members_feed_is_kept_for_that_browser_only(
    client, alice, bob, carol, followed_portrait, counted_site
):
    from django.test import Client

    site, reached = counted_site
    bobs = _member_cookies(client, bob)
    first = _asgi_get(site, "/following/", headers=bobs)
    again = _asgi_get(site, "/following/", headers=bobs)
    assert first["status"] == 200 and followed_portrait.public_id.encode() in first["body"]
    assert again["body"] == first["body"] and reached == ["/following/"]
    names = {name.lower() for name, _ in again["headers"]}
    assert b"x-member-page" not in names and b"x-public-page-fresh-until" not in names
    # Another member, and bob in another browser, are made their own page.
    _asgi_get(site, "/following/", headers=_member_cookies(Client(), carol))
    _asgi_get(site, "/following/", headers=_member_cookies(Client(), bob))
    assert reached == ["/following/"] * 3


@pytest.mark.django_db(transaction=True)
def test_a_members_write_drops_the_pages_kept_for_them(
    client, alice, bob, followed_portrait, counted_site
):
    site, reached = counted_site
    bobs = _member_cookies(client, bob)
    before = _asgi_get(site, "/following/", headers=bobs)["body"]
    response = client.post(f"/p/{followed_portrait.public_id}/like/", {"liked": "true"})
    assert response.status_code in (200, 302)
    after = _asgi_get(site, "/following/", headers=bobs)["body"]
    assert reached == ["/following/", "/following/"] and after != before


@pytest.mark.django_db(transaction=True)
def test_a_notification_or_an_ended_credential_drops_the_pages_kept_for_them(
    client, alice, bob, carol, followed_portrait, counted_site
):
    from accounts.services import credentials_revoked
    from gallery.services import follow_add

    site, reached = counted_site
    bobs = _member_cookies(client, bob)
    _asgi_get(site, "/following/", headers=bobs)
    follow_add(follower=carol, followed=bob)  # bob is told: his unread count moves
    _asgi_get(site, "/following/", headers=bobs)
    credentials_revoked(user_id=bob.pk)
    _asgi_get(site, "/following/", headers=bobs)
    assert reached == ["/following/"] * 3


@pytest.mark.django_db(transaction=True)
def test_a_token_clients_feed_is_kept_for_that_token(alice, bob, followed_portrait, counted_site):
    from accounts.services import api_token_create

    site, reached = counted_site
    _, key = api_token_create(user=bob, name="bot")
    _, other = api_token_create(user=bob, name="other bot")
    token = [(b"authorization", f"Token {key}".encode())]
    first = _asgi_get(site, "/api/v1/feed/following/", headers=token)
    again = _asgi_get(site, "/api/v1/feed/following/", headers=token)
    assert first["status"] == 200 and again["body"] == first["body"]
    assert followed_portrait.public_id.encode() in first["body"]
    _asgi_get(
        site, "/api/v1/feed/following/", headers=[(b"authorization", f"Token {other}".encode())]
    )
    _asgi_get(site, "/api/v1/feed/following/", headers=[(b"authorization", b"Token lk_wrong")])
    assert reached == ["/api/v1/feed/following/"] * 3


@pytest.mark.django_db(transaction=True)
def test_a_page_with_messages_to_show_is_never_kept(client, bob, followed_portrait, counted_site):
    site, reached = counted_site
    bobs = _member_cookies(client, bob)
    with_messages = [(b"cookie", bobs[0][1] + b"; messages=abc")]
    _asgi_get(site, "/following/", headers=with_messages)
    _asgi_get(site, "/following/", headers=with_messages)
    assert reached == ["/following/"] * 2


def test_outside_asgi_the_marks_are_never_sent(client, bob, followed_portrait):
    client.force_login(bob)
    client.get("/following/")
    response = client.get("/following/")
    assert response.status_code == 200
    assert "X-Member-Page" not in response and "X-Public-Page-Fresh-Until" not in response
