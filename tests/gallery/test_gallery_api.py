"""The gallery's API: the items' shape, cursor links, the tag and Following lists, bad
input as 400s with field errors, the schema, and fixed query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.models import Follow, Like
from portraits.community import portrait_activity_record
from portraits.models import Portrait
from tests.gallery.conftest import V, ids
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def every_page(client, url, params=None) -> list[dict]:
    items = []
    response = client.get(url, params or {})
    while True:
        assert response.status_code == 200, response.json()
        body = response.json()
        items += body["results"]
        if not body["next"]:
            return items
        response = client.get(body["next"])


def test_an_item_has_what_a_gallery_shows(alice, bob, gallery_portrait, api, bob_api, painter):
    portrait = gallery_portrait(
        alice,
        title="The lighthouse keeper",
        likes=2,
        remixes=1,
        tags=("sea", "night"),
        style="film-noir",
        thumbnail_width=12,
        thumbnail_height=15,
    )
    Like.objects.create(user=bob, portrait=portrait)
    (item,) = api.get("/api/v1/gallery/").json()["results"]
    assert item["id"] == portrait.public_id
    assert item["title"] == "The lighthouse keeper"
    assert item["author"] == {"name": "Alice Liddell", "username": "alice", "url": "/u/alice/"}
    base = f"http://testserver/p/{portrait.public_id}/"
    assert item["url"] == base
    assert item["thumbnail_url"] == base + "thumbnail/"
    assert (item["thumbnail_width"], item["thumbnail_height"]) == (12, 15)
    assert (item["like_count"], item["remix_count"]) == (2, 1)
    assert item["published_at"].endswith("Z")
    assert (item["style"], item["model"]) == ("film-noir", "painter")
    assert sorted(item["tags"]) == ["night", "sea"]
    assert item["liked"] is None  # anonymous
    assert bob_api.get("/api/v1/gallery/").json()["results"][0]["liked"] is True


def test_the_next_link_walks_every_page_once(alice, gallery_portrait, api):
    portraits = [gallery_portrait(alice, likes=20 - n) for n in range(7)]
    first = api.get("/api/v1/gallery/", {"sort": "top", "page_size": 3}).json()
    assert "cursor=" in first["next"] and "sort=top" in first["next"]
    items = every_page(api, "/api/v1/gallery/", {"sort": "top", "page_size": 3})
    assert ids(items) == ids(portraits)


def test_the_tag_list(alice, bob, gallery_portrait, api):
    tagged = gallery_portrait(alice, tags=("sea",))
    gallery_portrait(bob, tags=("sea",), visibility=V.PRIVATE)
    gallery_portrait(bob)
    assert ids(every_page(api, "/api/v1/tags/sea/portraits/")) == ids([tagged])
    assert every_page(api, "/api/v1/tags/never-used/portraits/") == []
    assert api.get("/api/v1/tags/Not A Tag/portraits/").status_code == 404
    assert ids(every_page(api, "/api/v1/gallery/", {"tag": "sea"})) == ids([tagged])


def test_the_following_feed_needs_a_member(alice, bob, carol, gallery_portrait, api, bob_api):
    Follow.objects.create(follower=bob, followed=carol)
    theirs = gallery_portrait(carol)
    gallery_portrait(alice)
    assert ids(every_page(bob_api, "/api/v1/feed/following/")) == ids([theirs])
    response = api.get("/api/v1/feed/following/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"


BAD = [
    ({"sort": "best"}, "sort"),
    ({"sort": ""}, "sort"),
    ({"sort": "relevance"}, "sort"),
    ({"period": "decade"}, "period"),
    ({"style": "nope"}, "style"),
    ({"model": "nope"}, "model"),
    ({"tag": "!!!"}, "tag"),
    ({"author": "nobody"}, "author"),
    ({"has_remixes": "yes"}, "has_remixes"),
    ({"has_remixes": ""}, "has_remixes"),
    ({"q": "x" * 5000}, "q"),
    ({"q": "the of and"}, "q"),
    ({"q": ""}, "q"),
    ({"cursor": "garbage"}, "cursor"),
    ({"cursor": ""}, "cursor"),
    ({"cursor": "eyJkIjoiMSJ9:1xY0gO:forged"}, "cursor"),
    ({"page_size": "0"}, "page_size"),
    ({"page_size": "101"}, "page_size"),
    ({"page_size": "ten"}, "page_size"),
    ({"page_size": "9" * 5000}, "page_size"),
]


@pytest.mark.parametrize(("params", "field"), BAD)
def test_bad_input_is_a_400_with_field_errors_and_changes_nothing(
    params, field, alice, gallery_portrait, api, alice_api
):
    portrait = gallery_portrait(alice, likes=1)
    before = list(Portrait.objects.values_list("id", "like_count", "trending", "updated_at"))
    for client, path in ((api, "/api/v1/gallery/"), (alice_api, "/api/v1/feed/following/")):
        response = client.get(path, params)
        assert response.status_code == 400, (path, response.content)
        body = response.json()
        assert body["code"] == "invalid" and field in body["errors"], body
    assert (
        list(Portrait.objects.values_list("id", "like_count", "trending", "updated_at")) == before
    )
    assert Like.objects.count() == 0 and portrait.like_count == 1


def test_a_cursor_from_another_listing_is_refused(alice, gallery_portrait, api):
    for n in range(3):
        gallery_portrait(alice, likes=n)
    top = api.get("/api/v1/gallery/", {"sort": "top", "page_size": 1}).json()
    cursor = top["next"].split("cursor=")[1]
    from urllib.parse import unquote

    response = api.get("/api/v1/gallery/", {"sort": "trending", "cursor": unquote(cursor)})
    assert response.status_code == 400
    assert "another listing" in response.json()["errors"]["cursor"][0]


def test_the_schema_documents_the_gallery(api, db):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/gallery/"]["get"]
    assert operation["operationId"] == "gallery_list"
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) >= {
        "sort",
        "period",
        "style",
        "model",
        "tag",
        "author",
        "has_remixes",
        "q",
        "cursor",
        "page_size",
    }
    assert set(parameters["sort"]["schema"]["enum"]) == {
        "newest",
        "top",
        "trending",
        "remixed",
        "relevance",
    }
    assert set(parameters["period"]["schema"]["enum"]) == {"day", "week", "month", "year", "all"}
    assert parameters["q"]["schema"]["maxLength"] == 200
    assert "400" in operation["responses"]
    item = schema["components"]["schemas"]["GalleryItem"]["properties"]
    assert {"like_count", "remix_count", "published_at", "tags", "liked"} <= set(item)
    assert "/api/v1/tags/{slug}/portraits/" in schema["paths"]
    assert "/api/v1/feed/following/" in schema["paths"]


@pytest.fixture
def sixty(alice, bob, carol):
    """60 public remixes that kept their original's prompt (titles need the withheld
    query), with tags; carol likes every other one."""
    original = PortraitFactory(author=alice, recipe=recipe_for("a keeper of lighthouses"))
    for n in range(60):
        remix = PortraitFactory(
            author=bob, parent=original, recipe=recipe_for("a keeper of lighthouses", seed=n)
        )
        portrait_activity_record(portrait_id=remix.pk, kind="like", at=timezone.now(), delta=1)
        if n % 2:
            Like.objects.create(user=carol, portrait=remix)


@pytest.mark.parametrize("who", ["anonymous", "carol"])
@pytest.mark.parametrize("sort", ["newest", "top"])
def test_an_api_page_costs_the_same_queries_for_5_and_50_items(sort, who, sixty, carol, api):
    if who == "carol":
        api.force_authenticate(carol)
    api.get("/api/v1/gallery/", {"page_size": 1})  # what the viewer may do, read once

    def cost(page_size):
        counts = []
        url, params = "/api/v1/gallery/", {"sort": sort, "page_size": page_size}
        for _ in range(2):  # the first page, and the next
            with CaptureQueriesContext(connection) as captured:
                body = api.get(url, params).json()
            assert len(body["results"]) == min(page_size, 61 - page_size * len(counts))
            counts.append(len(captured))
            url, params = body["next"], None
        return counts

    assert cost(5) == cost(50)
