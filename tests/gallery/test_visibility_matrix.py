"""Who sees which portrait, on every surface the community has: one matrix.

Viewers: the owner, another member who has not opted in to mature content (``other``),
a member who has (``adult``), nobody, a moderator (not opted in: moderators see every
rating). ``other``, ``adult`` and the moderator follow the owner. Portraits, all remixes
of a public original by someone else, each with words of its own and the same tag, one
per state × rating: a private one (published once, then made private again, so its
notifications exist), an unlisted one, a public one, and a public one hidden by
moderators; each rated general, and again rated mature. Each has a public remix of its
own by someone else (its *child*), whose lineage names it. For each surface the rule is
one of:

* *listed* — lists others browse (gallery, search, tags, profiles, feeds): public and
  not hidden only, for every viewer, the owner and moderators included; mature ones
  only for the owner, members who opted in and moderators. Atom feeds are read by feed
  readers, anonymous: never a mature one;
* *viewable* — opened by its id (page, files, API resource, a child's lineage): public
  and unlisted (mature: for those who opted in), plus the owner's own and everything
  for moderators;
* *rated out* — a shared mature portrait opened by someone who has not opted in: its
  page says it is marked mature (no title, no picture), the API says why (403);
* *shared* — OpenGraph tags: only pages anyone may open by link (public, unlisted,
  general), whoever looks;
* *remixes* — the list of an original's remixes: what the viewer may list, their own
  and all for moderators;
* *tree* — the family tree shows what the remixes do, and an unlisted member the viewer
  may open whose child they see (its lineage names it anyway); anything else keeps its
  place in the tree as "not available";
* *told* — notifications: about a portrait its recipient may still see (a mature one
  is not told at all to whom has not opted in).

A portrait "appears" when its public id or its title is anywhere in the response.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.services import user_mature_set
from gallery.services import follow_add
from portraits.models import Portrait
from portraits.services import portrait_update
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db
V = Portrait.Visibility

STATES = ("private", "unlisted", "public", "hidden")
RATINGS = ("general", "mature")
VIEWERS = ("owner", "other", "adult", "anonymous", "moderator")
SEES_MATURE = ("owner", "adult", "moderator")  # of the owner's portraits


def _rated(viewer, rating):
    return rating == "general" or viewer in SEES_MATURE


def _listed(viewer, state, rating):
    return state == "public" and _rated(viewer, rating)


def _in_atom(viewer, state, rating):
    # Feed readers are anonymous, whoever subscribes: what anyone may list.
    return _listed("anonymous", state, rating)


def _viewable(viewer, state, rating):
    if viewer in ("owner", "moderator"):
        return True
    return state in ("public", "unlisted") and _rated(viewer, rating)


def _rated_out(viewer, state, rating):
    return rating == "mature" and state in ("public", "unlisted") and not _rated(viewer, rating)


def _shared(viewer, state, rating):
    return state in ("public", "unlisted") and rating == "general"


def _in_remixes(viewer, state, rating):
    return viewer in ("owner", "moderator") or _listed(viewer, state, rating)


def _in_tree(viewer, state, rating):
    # As the remixes, except an unlisted one whose child the viewer sees: the child's
    # lineage names it anyway, so the tree does too (portraits.selectors._family_visible).
    return _in_remixes(viewer, state, rating) or (
        state == "unlisted" and _viewable(viewer, state, rating)
    )


def _followed(viewer, state, rating):
    return viewer in ("other", "adult", "moderator") and _listed(viewer, state, rating)


def _told(viewer, state, rating):
    # Told when first published (private was, then went private; unlisted never was);
    # the owner is never told about her own work, and nobody is told nothing.
    if viewer not in ("other", "adult", "moderator") or state == "unlisted":
        return False
    if not _rated(viewer, rating):
        return False
    return state == "public" or viewer == "moderator"


# surface → (its URL for a portrait's id, the rule). "{root}": the original's id;
# "{child}": the id of the portrait's own public remix.
SURFACES = {
    "gallery page": ("/", _listed),
    "explore page": ("/explore/?sort=newest", _listed),
    "gallery API": ("/api/v1/gallery/", _listed),
    "top API": ("/api/v1/gallery/?sort=top&period=all", _listed),
    "top of the week API": ("/api/v1/gallery/?sort=top&period=week", _listed),
    "trending API": ("/api/v1/gallery/?sort=trending", _listed),
    "remixed API": ("/api/v1/gallery/?sort=remixed", _listed),
    "search page": ("/explore/?q=quokka", _listed),
    "search API": ("/api/v1/gallery/?q=quokka", _listed),
    "tag page": ("/tags/matrix/", _listed),
    "tag API": ("/api/v1/tags/matrix/portraits/", _listed),
    "profile page": ("/u/alice/", _listed),
    "profile API filter": ("/api/v1/gallery/?author=alice", _listed),
    "newest Atom": ("/feeds/newest.atom", _in_atom),
    "profile Atom": ("/u/alice/feed.atom", _in_atom),
    "following page": ("/following/", _followed),
    "following API": ("/api/v1/feed/following/", _followed),
    "portrait page": ("/p/{id}/", _viewable),
    "portrait API": ("/api/v1/portraits/{id}/", _viewable),
    "thumbnail": ("/p/{id}/thumbnail/", _viewable),
    "image": ("/p/{id}/image/", _viewable),
    "download": ("/p/{id}/download/", _viewable),
    "lineage page": ("/p/{child}/", _viewable),
    "lineage API": ("/api/v1/portraits/{child}/lineage/", _viewable),
    "rated-out page": ("/p/{id}/", _rated_out),
    "rated-out API": ("/api/v1/portraits/{id}/", _rated_out),
    "OpenGraph": ("/p/{id}/", _shared),
    "tree page": ("/p/{root}/tree/", _in_tree),
    "tree API": ("/api/v1/portraits/{root}/tree/", _in_tree),
    "remixes page": ("/p/{root}/remixes/", _in_remixes),
    "remixes API": ("/api/v1/portraits/{root}/remixes/", _in_remixes),
    "notifications page": ("/notifications/", _told),
    "notifications API": ("/api/v1/notifications/", _told),
}
FILES = ("thumbnail", "image", "download", "portrait page", "portrait API")


@pytest.fixture
def dana(make_user):
    """A member who confirmed she is 18 or older and turned mature content on."""
    return user_mature_set(user=make_user("dana"), shows_mature=True, age_confirmed=True)


@pytest.fixture
def world(alice, bob, carol, dana, mod):
    """carol's public original; alice's eight remixes of it, one per state and rating,
    each with a public remix of carol's."""
    for follower in (bob, dana, mod):
        follow_add(follower=follower, followed=alice)
    root = PortraitFactory(author=carol, title="Zebra original", recipe=recipe_for("a zebra"))
    made, children = {}, {}
    for state in STATES:
        for rating in RATINGS:
            portrait = PortraitFactory(
                author=alice,
                parent=root,
                visibility=V.PRIVATE,
                title=f"Quokka {state} {rating} remix",
                recipe={**recipe_for(f"a quokka, {state} edition"), "seed": 7},
            )
            portrait_update(portrait=portrait, by=alice, data={"tags": ["matrix"]})
            if rating == "mature":
                portrait_update(portrait=portrait, by=alice, data={"rating": "mature"})
            if state in ("private", "public", "hidden"):
                portrait_update(portrait=portrait, by=alice, data={"visibility": V.PUBLIC})
            if state == "private":
                portrait_update(portrait=portrait, by=alice, data={"visibility": V.PRIVATE})
            if state == "unlisted":
                portrait_update(portrait=portrait, by=alice, data={"visibility": V.UNLISTED})
            if state == "hidden":
                Portrait.objects.filter(pk=portrait.pk).update(
                    hidden_at=timezone.now(), hidden_cause="moderation"
                )
            made[state, rating] = Portrait.objects.get(pk=portrait.pk)
            children[state, rating] = PortraitFactory(
                author=carol,
                parent=made[state, rating],
                title=f"Koala child {len(children)}",
                recipe={**recipe_for("a koala"), "seed": 8},
            )
    return root, made, children


def _client_for(viewer, *, alice, bob, dana, mod, client):
    user = {"owner": alice, "other": bob, "adult": dana, "moderator": mod}.get(viewer)
    if user is not None:
        client.force_login(user)
    return client


def _fetch(client, url):
    response = client.get(url, HTTP_ACCEPT="*/*")
    assert response.status_code < 500, (url, response.status_code)
    if response.get("Content-Type", "").startswith(("image/", "application/octet")):
        return response.status_code, "<file>"
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body.decode(errors="replace")


def _appears(surface, portrait, status, body) -> bool:
    if surface in FILES:
        return status == 200
    if surface == "rated-out page":
        return status == 403 and "marked mature" in body
    if surface == "rated-out API":
        return status == 403 and '"mature_content"' in body
    if surface == "OpenGraph":
        return status == 200 and 'property="og:title"' in body
    if status != 200:
        return False
    return portrait.public_id in body or portrait.title in body


@pytest.mark.parametrize("viewer", VIEWERS)
def test_visibility_matrix(viewer, world, alice, bob, dana, mod, client):
    """Every surface × every state and rating, for one viewer (the world is built once
    per viewer)."""
    root, made, children = world
    client = _client_for(viewer, alice=alice, bob=bob, dana=dana, mod=mod, client=client)
    wrong = []
    for surface, (url, rule) in SURFACES.items():
        for (state, rating), portrait in made.items():
            address = url.format(
                id=portrait.public_id,
                root=root.public_id,
                child=children[state, rating].public_id,
            )
            status, body = _fetch(client, address)
            appears = _appears(surface, portrait, status, body)
            if appears != rule(viewer, state, rating):
                seen = "appears" if appears else "missing"
                wrong.append(f"{surface}, {state} {rating}: {seen} (HTTP {status})")
            # A page that says it is mature says nothing else of it.
            shows = portrait.title in body or "/image/" in body or "/thumbnail/" in body
            if surface in ("rated-out page", "rated-out API") and status == 403 and shows:
                wrong.append(f"{surface}, {state} {rating}: shows the portrait")
    assert not wrong, f"as {viewer}:\n" + "\n".join(wrong)


def test_what_became_private_is_told_as_no_longer_available(world, bob, client):
    root, made, children = world
    client.force_login(bob)
    body = client.get("/notifications/").content.decode()
    assert "no longer available" in body
    private = made["private", "general"]
    assert private.public_id not in body and private.title not in body


def test_a_mature_portrait_is_not_even_counted_for_whom_has_not_opted_in(world, bob, dana):
    """The unread badge counts what the list shows: nothing of a mature portrait."""
    from gallery.notify import notifications_for, notifications_unread_count

    for member in (bob, dana):
        listed = notifications_for(user=member)
        assert notifications_unread_count(user=member) == listed.count()
    mature = {p.pk for (s, r), p in world[1].items() if r == "mature"}
    assert not {n.portrait_id for n in notifications_for(user=bob)} & mature
    assert {n.portrait_id for n in notifications_for(user=dana)} & mature
