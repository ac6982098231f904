"""Sharing: the Atom feeds carry only listed portraits, and link previews (OpenGraph and
Twitter cards) are on public and unlisted portrait pages only, saying what anyone may see."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.utils import timezone

from portraits.models import Portrait
from portraits.recipe import title_from_prompt
from tests.gallery.conftest import V
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
HOUR = timedelta(hours=1)


def _entries(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    return [
        {
            "title": entry.findtext(f"{ATOM}title"),
            "link": entry.find(f"{ATOM}link").get("href"),
            "author": entry.findtext(f"{ATOM}author/{ATOM}name"),
            "summary": entry.findtext(f"{ATOM}summary"),
        }
        for entry in feed.findall(f"{ATOM}entry")
    ]


@pytest.fixture
def every_visibility(alice, bob, gallery_portrait):
    made = {
        "public": gallery_portrait(alice, ago=2 * HOUR, title="Public one"),
        "bobs": gallery_portrait(bob, ago=HOUR, title="Bob's one"),
        "private": gallery_portrait(alice, title="Private one", visibility=V.PRIVATE),
        "unlisted": gallery_portrait(alice, title="Unlisted one", visibility=V.UNLISTED),
        "hidden": gallery_portrait(alice, title="Hidden one"),
        "deleted": gallery_portrait(alice, title="Deleted one"),
    }
    Portrait.objects.filter(pk=made["hidden"].pk).update(
        hidden_at=timezone.now(), hidden_cause="moderation"
    )
    Portrait.objects.filter(pk=made["deleted"].pk).update(deleted_at=timezone.now())
    return made


def test_the_newest_feed_carries_only_listed_portraits(every_visibility, client):
    entries = _entries(client.get("/feeds/newest.atom"))
    assert [entry["title"] for entry in entries] == ["Bob's one", "Public one"]
    public = every_visibility["public"]
    assert entries[1]["link"] == f"https://likeness.test/p/{public.public_id}/"
    assert entries[1]["author"] == "Alice Liddell"
    assert f"https://likeness.test/p/{public.public_id}/thumbnail/" in entries[1]["summary"]
    body = client.get("/feeds/newest.atom").content.decode()
    for secret in ("Private one", "Unlisted one", "Hidden one", "Deleted one"):
        assert secret not in body


def test_a_members_feed_carries_their_public_portraits(every_visibility, client):
    entries = _entries(client.get("/u/alice/feed.atom"))
    assert [entry["title"] for entry in entries] == ["Public one"]
    feed = ET.fromstring(client.get("/u/alice/feed.atom").content)
    assert feed.findtext(f"{ATOM}title") == "Alice Liddell on Likeness"
    assert client.get("/u/nobody/feed.atom").status_code == 404


def test_a_feed_titles_a_remix_as_anyone_may_read_it(alice, bob, client):
    """A remix that kept the words of a portrait gone private: its default title (made
    from those words) must not reach a feed reader."""
    words = "a keeper of secret lighthouses"
    parent = PortraitFactory(author=alice, recipe=recipe_for(words))
    PortraitFactory(
        author=bob, parent=parent, title=title_from_prompt(words), recipe=recipe_for(words, seed=2)
    )
    Portrait.objects.filter(pk=parent.pk).update(visibility=V.PRIVATE)
    body = client.get("/feeds/newest.atom").content.decode()
    assert "secret" not in body.lower()
    assert "Untitled remix" in body


def test_pages_link_their_feeds(alice, gallery_portrait, client):
    gallery_portrait(alice)
    for path in ("/", "/explore/"):
        html = client.get(path).content.decode()
        assert re.search(
            r'<link rel="alternate" type="application/atom\+xml"[^>]*href="/feeds/newest.atom"',
            html,
        ), path


# --- Link previews -------------------------------------------------------------------------


def _meta(html: str) -> dict[str, str]:
    return dict(
        re.findall(r'<meta (?:property|name)="((?:og|twitter):[^"]+)" content="([^"]*)"', html)
    )


@pytest.mark.parametrize("visibility", [V.PUBLIC, V.UNLISTED])
def test_public_and_unlisted_pages_carry_link_previews(visibility, alice, gallery_portrait, client):
    portrait = gallery_portrait(alice, title="The lighthouse keeper", visibility=visibility)
    html = client.get(f"/p/{portrait.public_id}/").content.decode()
    meta = _meta(html)
    assert meta["og:title"] == meta["twitter:title"] == "The lighthouse keeper"
    image = f"https://likeness.test/p/{portrait.public_id}/image/"
    assert meta["og:image"] == meta["twitter:image"] == image
    assert meta["og:url"] == f"https://likeness.test/p/{portrait.public_id}/"
    assert meta["twitter:card"] == "summary_large_image"
    assert "Alice Liddell" in meta["og:description"]
    assert '<meta name="author" content="Alice Liddell">' in html
    # The image is one anyone may fetch.
    client.logout()
    assert client.get(image.removeprefix("https://likeness.test")).status_code == 200
    # An unlisted page is for those with the link: not for search engines.
    assert ('<meta name="robots" content="noindex">' in html) == (visibility == V.UNLISTED)


@pytest.mark.parametrize("state", ["private", "hidden"])
def test_private_and_hidden_pages_carry_none_not_even_for_their_owner(
    state, alice, gallery_portrait, client
):
    portrait = gallery_portrait(
        alice, title="Only mine", visibility=V.PRIVATE if state == "private" else V.PUBLIC
    )
    if state == "hidden":
        Portrait.objects.filter(pk=portrait.pk).update(
            hidden_at=timezone.now(), hidden_cause="moderation"
        )
    client.force_login(alice)
    response = client.get(f"/p/{portrait.public_id}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Only mine" in html  # the owner sees the page...
    assert _meta(html) == {}  # ...but nothing a preview could carry elsewhere
    assert 'rel="canonical"' not in html


def test_previews_title_a_remix_as_anyone_may_read_it(alice, bob, client):
    words = "a keeper of secret lighthouses"
    parent = PortraitFactory(author=alice, recipe=recipe_for(words))
    remix = PortraitFactory(
        author=bob, parent=parent, title=title_from_prompt(words), recipe=recipe_for(words, seed=2)
    )
    Portrait.objects.filter(pk=parent.pk).update(visibility=V.PRIVATE)
    client.force_login(bob)  # its author reads the words; a preview must not carry them
    html = client.get(f"/p/{remix.public_id}/").content.decode()
    assert _meta(html)["og:title"] == "Untitled remix"


def test_the_home_page_previews_with_a_public_portrait(alice, gallery_portrait, client):
    gallery_portrait(alice, visibility=V.PRIVATE)
    public = gallery_portrait(alice, ago=2 * HOUR)
    meta = _meta(client.get("/").content.decode())
    assert meta["og:title"].startswith("Likeness")
    assert meta["og:image"] == f"https://likeness.test/p/{public.public_id}/image/"
    assert meta["og:url"] == "https://likeness.test/"
