"""Browsing the gallery: each sort and filter returns the right portraits in the right
order, pages stay stable while portraits arrive and likes change, bad input is refused
before any query, and a page costs the same number of queries whatever its size."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

from accounts.permissions import is_moderator
from config.errors import DomainError
from gallery.models import Follow, Like
from gallery.selectors import (
    SNAPSHOT_SIZE,
    GalleryQuery,
    GalleryScope,
    gallery_page,
    gallery_query_parse,
)
from portraits.community import portrait_activity_record
from portraits.models import Portrait
from tests.gallery.conftest import V, activity, ids
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db

ANONYMOUS = AnonymousUser()
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def listing(viewer=ANONYMOUS, *, scope=None, page_size=24, **params) -> list[str]:
    """Every page of a listing, followed by cursor, as public ids."""
    query = gallery_query_parse(params)
    found, cursor = [], None
    while True:
        page = gallery_page(
            query=query, viewer=viewer, cursor=cursor, page_size=page_size, scope=scope
        )
        found += ids(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


# --- Orderings -----------------------------------------------------------------------------


def test_newest_goes_by_when_a_portrait_was_published_not_painted(alice, gallery_portrait):
    painted_first = gallery_portrait(alice, ago=HOUR)
    painted_later = gallery_portrait(alice, ago=2 * DAY)
    # Painted first, published last: its creation is older than the other's.
    Portrait.objects.filter(pk=painted_first.pk).update(created_at=timezone.now() - 3 * DAY)
    assert listing() == [painted_first.public_id, painted_later.public_id]
    assert listing(sort="newest") == [painted_first.public_id, painted_later.public_id]


def test_only_listed_portraits_appear(alice, bob, gallery_portrait):
    public = gallery_portrait(alice)
    gallery_portrait(alice, visibility=V.PRIVATE)
    gallery_portrait(alice, visibility=V.UNLISTED)
    hidden = gallery_portrait(bob)
    Portrait.objects.filter(pk=hidden.pk).update(
        hidden_at=timezone.now(), hidden_cause="moderation"
    )
    deleted = gallery_portrait(bob)
    Portrait.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    for sort in ("newest", "top", "trending", "remixed"):
        assert listing(alice, sort=sort) == [public.public_id], sort


def test_top_counts_likes_within_the_period_of_publication(alice, gallery_portrait):
    year_old = gallery_portrait(alice, ago=200 * DAY, likes=9)
    month_old = gallery_portrait(alice, ago=20 * DAY, likes=7)
    week_old = gallery_portrait(alice, ago=3 * DAY, likes=5)
    today = gallery_portrait(alice, ago=2 * HOUR, likes=2)
    unliked = gallery_portrait(alice, ago=HOUR)
    everything = [year_old, month_old, week_old, today, unliked]

    assert listing(sort="top") == ids(everything)
    assert listing(sort="top", period="all") == ids(everything)
    assert listing(sort="top", period="year") == ids(everything)
    assert listing(sort="top", period="month") == ids([month_old, week_old, today, unliked])
    assert listing(sort="top", period="week") == ids([week_old, today, unliked])
    assert listing(sort="top", period="day") == ids([today, unliked])
    # Ties: the later id first, so the order is total and a cursor can sit between them.
    tied = gallery_portrait(alice, ago=HOUR, likes=2)
    assert listing(sort="top", period="day") == ids([tied, today, unliked])


def test_trending_decays_old_activity_and_rewards_recent(alice, bob, gallery_portrait):
    # Many likes three days ago (six half-lives): worth 7/64 of one like now.
    faded = gallery_portrait(alice, ago=3 * DAY, likes=6, activity_ago=3 * DAY)
    fresh = gallery_portrait(bob, ago=HOUR, likes=2)
    assert listing(sort="top") == ids([faded, fresh])
    assert listing(sort="trending") == ids([fresh, faded])

    # The old one is liked again, now: recent likes bring it back above.
    activity(faded, "like", 3)
    assert listing(sort="trending") == ids([faded, fresh])
    # A remix weighs three likes.
    activity(fresh, "remix", 1)
    assert listing(sort="trending") == ids([fresh, faded])


def test_most_remixed(alice, gallery_portrait):
    once = gallery_portrait(alice, remixes=1, likes=10)
    thrice = gallery_portrait(alice, remixes=3)
    never = gallery_portrait(alice, likes=20)
    assert listing(sort="remixed") == ids([thrice, once, never])


# --- Filters -------------------------------------------------------------------------------


def test_filters_by_style_model_tag_author_and_remixes(
    alice, bob, gallery_portrait, style_presets, painter
):
    baroque = gallery_portrait(alice, style="baroque-chiaroscuro", tags=("candle", "night"))
    noir = gallery_portrait(bob, style="film-noir", tags=("night",), remixes=2)
    other_model = gallery_portrait(bob, model="turbo")
    everything = [other_model, noir, baroque]
    assert listing() == ids(everything)

    assert listing(style="baroque-chiaroscuro") == ids([baroque])
    assert listing(model="painter") == ids([noir, baroque])
    assert listing(tag="night") == ids([noir, baroque])
    assert listing(tag="#Candle") == ids([baroque])  # normalised as tags are
    assert listing(author="bob") == ids([other_model, noir])
    assert listing(author="BOB") == ids([other_model, noir])
    assert listing(has_remixes="true") == ids([noir])
    assert listing(has_remixes="false") == ids(everything)
    # Filters combine.
    assert listing(tag="night", author="alice") == ids([baroque])
    assert listing(tag="night", style="film-noir", has_remixes="true") == ids([noir])
    assert listing(tag="night", author="alice", style="film-noir") == []
    # A tag's page (scope) with another tag: portraits with both.
    assert listing(scope=GalleryScope(tag="night"), tag="candle") == ids([baroque])


def test_profile_scope_lists_one_members_public_portraits(alice, bob, gallery_portrait):
    mine = gallery_portrait(alice, likes=1)
    gallery_portrait(alice, visibility=V.PRIVATE)
    gallery_portrait(bob)
    assert listing(scope=GalleryScope(author=alice), sort="top") == ids([mine])


def test_following_feed_lists_new_portraits_of_followed_members(
    alice, bob, carol, gallery_portrait, client
):
    Follow.objects.create(follower=carol, followed=alice)
    old = gallery_portrait(alice, ago=DAY)
    new = gallery_portrait(alice, ago=HOUR)
    gallery_portrait(alice, visibility=V.PRIVATE)
    gallery_portrait(bob)
    following = GalleryScope(following=True)
    assert listing(carol, scope=following) == ids([new, old])
    assert listing(bob, scope=following) == []
    assert listing(ANONYMOUS, scope=following) == []

    assert client.get("/following/").status_code == 302  # log in first
    client.force_login(carol)
    html = client.get("/following/").content.decode()
    assert _card_ids(html) == ids([new, old])


def test_tag_page_lists_tagged_portraits_and_never_tells_whether_a_tag_exists(
    alice, gallery_portrait, client
):
    tagged = gallery_portrait(alice, tags=("lighthouse",))
    gallery_portrait(alice, tags=("secret-plan",), visibility=V.PRIVATE)
    response = client.get("/tags/lighthouse/")
    assert response.status_code == 200
    assert _card_ids(response.content.decode()) == ids([tagged])
    assert tagged.tags.get().get_absolute_url() == "/tags/lighthouse/"
    # A tag only a private portrait carries reads like one nobody ever used.
    secret = client.get("/tags/secret-plan/")
    never = client.get("/tags/never-used/")
    assert secret.status_code == never.status_code == 200
    assert _card_ids(secret.content.decode()) == _card_ids(never.content.decode()) == []
    # Not a tag at all: 404.
    assert client.get("/tags/Not%20A%20Tag/").status_code == 404


# --- Pagination: stable while portraits arrive and likes change ---------------------------


def test_newest_pages_are_stable_while_new_portraits_arrive(alice, gallery_portrait):
    originals = [gallery_portrait(alice, ago=(10 - n) * HOUR) for n in range(7)]
    query = GalleryQuery()
    first = gallery_page(query=query, viewer=ANONYMOUS, page_size=3)
    assert ids(first.items) == ids(originals[::-1][:3])
    for _ in range(3):
        gallery_portrait(alice, ago=timedelta(0))  # newer than everything: before page 1
    rest, cursor = [], first.next_cursor
    while cursor:
        page = gallery_page(query=query, viewer=ANONYMOUS, cursor=cursor, page_size=3)
        rest += ids(page.items)
        cursor = page.next_cursor
    assert ids(first.items) + rest == ids(originals[::-1])


@pytest.mark.parametrize("sort", ["top", "trending", "remixed"])
def test_score_pages_are_stable_while_counts_change(sort, alice, bob, gallery_portrait):
    kind = "remix" if sort == "remixed" else "like"
    counter = f"{kind}{'es' if kind == 'remix' else 's'}"
    portraits = [gallery_portrait(alice, ago=HOUR, **{counter: 10 - n}) for n in range(9)]
    order = ids(portraits)  # 10, 9, ... 2 of them
    query = gallery_query_parse({"sort": sort})
    first = gallery_page(query=query, viewer=ANONYMOUS, page_size=3)
    assert ids(first.items) == order[:3]

    # Meanwhile: the last becomes the most popular, the first the least, and a new one
    # arrives above everything.
    activity(portraits[-1], kind, 30)
    for _ in range(10):
        portrait_activity_record(
            portrait_id=portraits[0].pk, kind=kind, at=timezone.now(), delta=-1
        )
    gallery_portrait(bob, ago=timedelta(0), **{counter: 50})

    seen, cursor = ids(first.items), first.next_cursor
    while cursor:
        page = gallery_page(query=query, viewer=ANONYMOUS, cursor=cursor, page_size=3)
        seen += ids(page.items)
        cursor = page.next_cursor
    # Every portrait of the first page's moment, once each, in that moment's order.
    assert seen == order


def test_a_portrait_that_leaves_the_gallery_between_pages_is_skipped_not_shown(
    alice, gallery_portrait
):
    portraits = [gallery_portrait(alice, likes=10 - n) for n in range(6)]
    query = gallery_query_parse({"sort": "top"})
    first = gallery_page(query=query, viewer=ANONYMOUS, page_size=3)
    Portrait.objects.filter(pk=portraits[4].pk).update(visibility=V.PRIVATE)
    second = gallery_page(query=query, viewer=ANONYMOUS, cursor=first.next_cursor, page_size=3)
    assert ids(second.items) == ids([portraits[3], portraits[5]])
    assert second.next_cursor is None


def test_an_expired_snapshot_carries_on_by_keyset(alice, gallery_portrait):
    portraits = [gallery_portrait(alice, likes=10 - n) for n in range(7)]
    query = gallery_query_parse({"sort": "top"})
    first = gallery_page(query=query, viewer=ANONYMOUS, page_size=3)
    cache.clear()  # the snapshot is gone (expired, evicted, another process's memory)
    second = gallery_page(query=query, viewer=ANONYMOUS, cursor=first.next_cursor, page_size=3)
    assert ids(second.items) == ids(portraits[3:6])
    third = gallery_page(query=query, viewer=ANONYMOUS, cursor=second.next_cursor, page_size=3)
    assert ids(third.items) == ids(portraits[6:])
    assert third.next_cursor is None


def test_past_a_full_snapshot_pages_continue_without_repeating_it(
    alice, gallery_portrait, monkeypatch
):
    monkeypatch.setattr("gallery.selectors.SNAPSHOT_SIZE", 4)
    portraits = [gallery_portrait(alice, likes=20 - n) for n in range(8)]
    query = gallery_query_parse({"sort": "top"})
    first = gallery_page(query=query, viewer=ANONYMOUS, page_size=3)
    # The snapshot holds the first four; one of them falls below the rest meanwhile.
    for _ in range(20):
        portrait_activity_record(
            portrait_id=portraits[3].pk, kind="like", at=timezone.now(), delta=-1
        )
    seen, cursor = ids(first.items), first.next_cursor
    while cursor:
        page = gallery_page(query=query, viewer=ANONYMOUS, cursor=cursor, page_size=3)
        seen += ids(page.items)
        cursor = page.next_cursor
    assert seen == ids(portraits)
    assert SNAPSHOT_SIZE == 1000  # the module's own value, as imported


# --- Cursors -------------------------------------------------------------------------------


def test_a_cursor_only_continues_the_listing_it_came_from(alice, gallery_portrait):
    for n in range(4):
        gallery_portrait(alice, likes=n)
    top = gallery_page(query=gallery_query_parse({"sort": "top"}), viewer=ANONYMOUS, page_size=2)
    for other in ({"sort": "newest"}, {"sort": "top", "period": "week"}, {"sort": "trending"}):
        with pytest.raises(DomainError) as caught:
            gallery_page(
                query=gallery_query_parse(other),
                viewer=ANONYMOUS,
                cursor=top.next_cursor,
                page_size=2,
            )
        assert "cursor" in caught.value.field_errors


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "eyJkIjoiMTIzIn0:1xY0gO:forged-signature",
        "x" * 5000,
        "\x00",
    ],
)
def test_a_malformed_or_forged_cursor_is_a_field_error(cursor, alice, gallery_portrait):
    gallery_portrait(alice)
    with pytest.raises(DomainError) as caught:
        gallery_page(query=GalleryQuery(), viewer=ANONYMOUS, cursor=cursor, page_size=2)
    assert list(caught.value.field_errors) == ["cursor"]


def test_a_cursor_signed_for_something_else_is_refused(alice, gallery_portrait):
    from django.core import signing

    gallery_portrait(alice)
    # Signed with the site's key, but not by the gallery (another salt): refused.
    other = signing.dumps({"d": "x", "k": [1, 1]}, salt="something.else")
    with pytest.raises(DomainError):
        gallery_page(query=GalleryQuery(), viewer=ANONYMOUS, cursor=other)


# --- Bad input -----------------------------------------------------------------------------


BAD = [
    ({"sort": "best"}, "sort"),
    ({"sort": ""}, "sort"),
    ({"sort": "relevance"}, "sort"),  # needs a search
    ({"period": "decade"}, "period"),
    ({"style": "no-such-style"}, "style"),
    ({"style": "bad style!"}, "style"),
    ({"model": "no-such-model"}, "model"),
    ({"tag": "!!!"}, "tag"),
    ({"tag": "x" * 60}, "tag"),
    ({"author": "nobody"}, "author"),
    ({"author": "bad name!"}, "author"),
    ({"has_remixes": "maybe"}, "has_remixes"),
    ({"q": "portrait " * 30}, "q"),
    ({"q": "the and of"}, "q"),
    ({"q": "¿?!"}, "q"),
    ({"q": "red\x00fox"}, "q"),
    ({"q": "red\x1bfox"}, "q"),
]


@pytest.mark.parametrize(("params", "field"), BAD)
def test_bad_parameters_are_field_errors(params, field, alice, style_presets, painter):
    with pytest.raises(DomainError) as caught:
        gallery_query_parse(params)
    assert list(caught.value.field_errors) == [field]


def test_every_bad_parameter_is_reported_at_once(db):
    with pytest.raises(DomainError) as caught:
        gallery_query_parse({"sort": "x", "period": "y", "has_remixes": "z"})
    assert set(caught.value.field_errors) == {"sort", "period", "has_remixes"}


def test_a_page_shows_the_message_for_bad_parameters(alice, gallery_portrait, client):
    gallery_portrait(alice)
    response = client.get("/explore/", {"sort": "best", "q": "the"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose one of: newest, top, trending, remixed, relevance." in html
    assert "Search for at least one word besides" in html
    assert _card_ids(html) == []
    # A blank field from the form means "any".
    response = client.get("/explore/", {"sort": "", "q": "", "style": "", "period": ""})
    assert response.status_code == 200
    assert client.get("/explore/", {"cursor": "forged"}).status_code == 400


# --- Pages ---------------------------------------------------------------------------------


def _card_ids(html: str) -> list[str]:
    return re.findall(r'class="gallery-card" data-id="([^"]+)"', html)


def _next_link(html: str) -> str | None:
    found = re.search(r'href="([^"]+)" rel="next" data-gallery-next', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_grid_shows_lazy_webp_thumbnails_titles_authors_and_counts(
    alice, bob, gallery_portrait, client
):
    liked = gallery_portrait(alice, likes=2, remixes=1, title="Lady with a lamp")
    Like.objects.create(user=bob, portrait=liked)
    html = client.get("/").content.decode()
    card = html[html.index(f'data-id="{liked.public_id}"') :]
    card = card[: card.index("</figure>")]
    assert f'src="/p/{liked.public_id}/thumbnail/"' in card
    assert 'width="16" height="16"' in card and 'loading="lazy"' in card
    assert "Lady with a lamp" in card and 'href="/u/alice/"' in card
    assert '</svg>2<span class="visually-hidden"> likes' in card
    assert '</svg>1<span class="visually-hidden"> remix</span>' in card
    assert "including yours" not in card

    client.force_login(bob)
    html = client.get("/explore/").content.decode()
    card = html[html.index(f'data-id="{liked.public_id}"') :]
    assert "including yours" in card[: card.index("</figure>")]


def test_load_more_works_without_javascript_and_as_a_fragment(alice, gallery_portrait, client):
    portraits = [gallery_portrait(alice, likes=40 - n) for n in range(30)]
    html = client.get("/explore/", {"sort": "top", "tag": ""}).content.decode()
    assert _card_ids(html) == ids(portraits[:24])
    link = _next_link(html)
    assert link.startswith("/explore/?") and "sort=top" in link and "tag=" not in link
    assert parse_qs(urlparse(link).query)["cursor"]

    # The link as a plain page: the rest of the grid, and no further link.
    html = client.get(link).content.decode()
    assert _card_ids(html) == ids(portraits[24:])
    assert _next_link(html) is None and "<html" in html

    # The same link as the script asks for it: only the cards.
    fragment = client.get(link + "&fragment=1").content.decode()
    assert _card_ids(fragment) == ids(portraits[24:])
    assert "<html" not in fragment and "gallery-filters" not in fragment


def test_every_state_of_the_gallery_is_a_url(alice, gallery_portrait, client, style_presets):
    gallery_portrait(alice, style="film-noir", remixes=1)
    html = client.get(
        "/explore/",
        {"sort": "remixed", "period": "week", "style": "film-noir", "has_remixes": "true"},
    ).content.decode()
    assert re.search(r'<option value="remixed" selected>', html)
    assert re.search(r'<option value="week" selected>', html)
    assert re.search(r'<option value="film-noir" selected>', html)
    assert 'name="has_remixes" value="true" checked' in html
    assert len(_card_ids(html)) == 1


def test_home_links_its_atom_feed_and_explore(alice, gallery_portrait, client):
    gallery_portrait(alice)
    html = client.get("/").content.decode()
    assert '<link rel="alternate" type="application/atom+xml"' in html
    assert 'href="/feeds/newest.atom"' in html
    assert 'href="/explore/"' in html


# --- Queries: fixed whatever the page size -------------------------------------------------


@pytest.fixture
def many_remixes(alice, bob, carol):
    """An original and 60 public remixes by bob that kept its prompt, so that titles need
    the one ``portraits_withheld`` query on every page (for anyone but bob); carol likes
    every other one."""
    original = PortraitFactory(author=alice, recipe=recipe_for("a keeper of lighthouses"))
    remixes = []
    for n in range(60):
        remix = PortraitFactory(
            author=bob, parent=original, recipe=recipe_for("a keeper of lighthouses", seed=n)
        )
        portrait_activity_record(portrait_id=remix.pk, kind="like", at=timezone.now(), delta=1)
        if n % 2:
            Like.objects.create(user=carol, portrait=remix)
        remixes.append(remix)
    return remixes


@pytest.mark.parametrize("page_size", [5, 50])
@pytest.mark.parametrize("sort", ["newest", "top", "trending", "remixed"])
@pytest.mark.parametrize("who", ["anonymous", "carol"])
def test_a_page_costs_a_fixed_number_of_queries_whatever_its_size(
    page_size, sort, who, many_remixes, carol, django_assert_num_queries
):
    viewer = carol if who == "carol" else ANONYMOUS
    query = gallery_query_parse({"sort": sort})
    is_moderator(viewer)  # what the viewer may do is read once a request, not a page
    # The rows, what is withheld of their titles, and (members) which they like; a
    # score sort's first page also reads its snapshot's ids.
    later = 2 + (who == "carol")
    first = later + (sort != "newest")
    with django_assert_num_queries(first):
        page = gallery_page(query=query, viewer=viewer, page_size=page_size)
        [item.title for item in page.items]
    assert len(page.items) == page_size
    with django_assert_num_queries(later):
        page = gallery_page(
            query=query, viewer=viewer, cursor=page.next_cursor, page_size=page_size
        )
    assert len(page.items) == min(page_size, 61 - page_size)
    if who == "carol":
        assert page.liked_ids and page.liked_ids < {p.pk for p in page.items}


def test_the_page_costs_the_same_queries_for_5_and_50_portraits(
    many_remixes, carol, client, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(carol)
    client.get("/")  # settle the session

    def cost(page_size):
        monkeypatch.setattr("gallery.views.browse.PAGE_SIZE", page_size)
        counts = []
        for params in ({"sort": "top"}, {"sort": "newest"}):
            with CaptureQueriesContext(connection) as captured:
                response = client.get("/explore/", params)
            assert len(_card_ids(response.content.decode())) == page_size
            counts.append(len(captured))
        return counts

    assert cost(5) == cost(50)
