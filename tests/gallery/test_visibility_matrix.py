"""Who sees which portrait, on every surface the community has: one matrix.

Viewers: the owner, another member (who follows the owner), nobody, a moderator (who
follows the owner too). Portraits, all remixes of a public original by someone else,
each with words of its own and the same tag: a private one (published once, then made
private again, so its notifications exist), an unlisted one, a public one, and a public
one hidden by moderators. For each surface the rule is one of:

* *listed* — lists others browse (gallery, search, tags, profiles, feeds, Atom): public
  and not hidden only, for every viewer, the owner and moderators included;
* *viewable* — opened by its id (page, files, API resource): public and unlisted, plus
  the owner's own and everything for moderators;
* *shared* — OpenGraph tags: only pages anyone may open by link (public, unlisted);
* *tree* — the family tree shows a member the viewer may list (their own, public, or
  all for moderators); anything else keeps its place as "not available";
* *told* — notifications: about a portrait its recipient may still see.

A portrait "appears" when its public id or its title is anywhere in the response.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from gallery.services import follow_add
from portraits.models import Portrait
from portraits.services import portrait_update
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db
V = Portrait.Visibility

STATES = ("private", "unlisted", "public", "hidden")
VIEWERS = ("owner", "other", "anonymous", "moderator")


def _listed(viewer, state):
    return state == "public"


def _viewable(viewer, state):
    return viewer in ("owner", "moderator") or state in ("public", "unlisted")


def _shared(viewer, state):
    return state in ("public", "unlisted") and _viewable(viewer, state)


def _in_tree(viewer, state):
    return viewer in ("owner", "moderator") or state == "public"


def _followed(viewer, state):
    return viewer in ("other", "moderator") and state == "public"


def _told(viewer, state):
    # Told when first published (private was, then went private; unlisted never was);
    # the owner is never told about her own work, and nobody is told nothing.
    if viewer not in ("other", "moderator") or state == "unlisted":
        return False
    return state == "public" or viewer == "moderator"


# surface → (how to fetch it for a portrait's id, the rule).
SURFACES = {
    "gallery page": (lambda w: "/", _listed),
    "explore page": (lambda w: "/explore/?sort=newest", _listed),
    "gallery API": (lambda w: "/api/v1/gallery/", _listed),
    "top API": (lambda w: "/api/v1/gallery/?sort=top&period=all", _listed),
    "trending API": (lambda w: "/api/v1/gallery/?sort=trending", _listed),
    "search page": (lambda w: "/explore/?q=quokka", _listed),
    "search API": (lambda w: "/api/v1/gallery/?q=quokka", _listed),
    "tag page": (lambda w: "/tags/matrix/", _listed),
    "tag API": (lambda w: "/api/v1/tags/matrix/portraits/", _listed),
    "profile page": (lambda w: "/u/alice/", _listed),
    "newest Atom": (lambda w: "/feeds/newest.atom", _listed),
    "profile Atom": (lambda w: "/u/alice/feed.atom", _listed),
    "following page": (lambda w: "/following/", _followed),
    "following API": (lambda w: "/api/v1/feed/following/", _followed),
    "portrait page": (lambda w: f"/p/{w}/", _viewable),
    "portrait API": (lambda w: f"/api/v1/portraits/{w}/", _viewable),
    "thumbnail": (lambda w: f"/p/{w}/thumbnail/", _viewable),
    "image": (lambda w: f"/p/{w}/image/", _viewable),
    "OpenGraph": (lambda w: f"/p/{w}/", _shared),
    "tree page": (lambda w: "/p/{root}/tree/", _in_tree),
    "tree API": (lambda w: "/api/v1/portraits/{root}/tree/", _in_tree),
    "notifications page": (lambda w: "/notifications/", _told),
    "notifications API": (lambda w: "/api/v1/notifications/", _told),
}


@pytest.fixture
def world(alice, bob, carol, mod):
    """carol's public original; alice's four remixes of it, one per state."""
    follow_add(follower=bob, followed=alice)
    follow_add(follower=mod, followed=alice)
    root = PortraitFactory(author=carol, title="Zebra original", recipe=recipe_for("a zebra"))
    made = {}
    for state in STATES:
        portrait = PortraitFactory(
            author=alice,
            parent=root,
            visibility=V.PRIVATE,
            title=f"Quokka {state} remix",
            recipe={**recipe_for(f"a quokka, {state} edition"), "seed": 7},
        )
        portrait_update(portrait=portrait, by=alice, data={"tags": ["matrix"]})
        if state in ("private", "public", "hidden"):
            portrait_update(portrait=portrait, by=alice, data={"visibility": V.PUBLIC})
        if state == "private":
            portrait_update(portrait=portrait, by=alice, data={"visibility": V.PRIVATE})
        if state == "unlisted":
            portrait_update(portrait=portrait, by=alice, data={"visibility": V.UNLISTED})
        if state == "hidden":
            Portrait.objects.filter(pk=portrait.pk).update(hidden_at=timezone.now())
        made[state] = Portrait.objects.get(pk=portrait.pk)
    return root, made


def _client_for(viewer, *, alice, bob, mod, client):
    user = {"owner": alice, "other": bob, "moderator": mod}.get(viewer)
    if user is not None:
        client.force_login(user)
    return client


def _fetch(client, url):
    response = client.get(url, HTTP_ACCEPT="*/*")
    assert response.status_code < 500, (url, response.status_code)
    if response.status_code != 200:
        return response.status_code, ""
    if response.get("Content-Type", "").startswith(("image/", "application/octet")):
        return 200, "<file>"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return 200, body.decode(errors="replace")


@pytest.mark.parametrize("viewer", VIEWERS)
def test_visibility_matrix(viewer, world, alice, bob, mod, client):
    """Every surface × every state, for one viewer (the world is built once per viewer)."""
    root, made = world
    client = _client_for(viewer, alice=alice, bob=bob, mod=mod, client=client)
    wrong = []
    for surface, (url_for, rule) in SURFACES.items():
        for state, portrait in made.items():
            url = url_for(portrait.public_id).format(root=root.public_id)
            status, body = _fetch(client, url)
            if surface in ("thumbnail", "image", "portrait page", "portrait API"):
                appears = status == 200
            elif surface == "OpenGraph":
                appears = 'property="og:title"' in body
            else:
                appears = portrait.public_id in body or portrait.title in body
            if appears != rule(viewer, state):
                seen = "appears" if appears else "missing"
                wrong.append(f"{surface}, {state}: {seen} (HTTP {status})")
    assert not wrong, f"as {viewer}:\n" + "\n".join(wrong)


def test_what_became_private_is_told_as_no_longer_available(world, bob, client):
    root, made = world
    client.force_login(bob)
    body = client.get("/notifications/").content.decode()
    assert "no longer available" in body
    assert made["private"].public_id not in body and made["private"].title not in body
