"""Publishing a portrait later, from its page or by API: it becomes public, its
``published_at`` is recorded once, and only its owner may do it."""

from __future__ import annotations

import math

import pytest
from django.urls import reverse
from django.utils import timezone

from config.errors import PermissionDenied
from portraits.community import portrait_activity_record, trending_term
from portraits.models import Portrait
from portraits.services import portrait_publish, portrait_update

V = Portrait.Visibility

pytestmark = pytest.mark.django_db


def _publish_url(portrait) -> str:
    return reverse("api:portrait-publish", kwargs={"public_id": portrait.public_id})


def _fresh(portrait) -> Portrait:
    return Portrait.objects.get(pk=portrait.pk)


def test_publishing_by_api_makes_it_public_and_records_when_once(alice, create_portrait, alice_api):
    portrait = create_portrait(alice, visibility=V.PRIVATE)
    assert portrait.published_at is None

    response = alice_api.post(_publish_url(portrait))

    assert response.status_code == 200
    data = response.json()
    published = _fresh(portrait)
    assert (data["visibility"], published.visibility) == ("public", V.PUBLIC)
    assert published.published_at is not None
    assert data["published_at"] is not None
    # Again, and after going private and public again: the first publication stands.
    alice_api.post(_publish_url(portrait))
    portrait_update(portrait=published, by=alice, data={"visibility": V.PRIVATE})
    assert _fresh(portrait).published_at == published.published_at
    alice_api.post(_publish_url(portrait))
    assert _fresh(portrait).published_at == published.published_at
    assert _fresh(portrait).visibility == V.PUBLIC


def test_publishing_keeps_the_likes_recorded_since_the_portrait_was_read(alice, create_portrait):
    """The publication's trending term is added to the score as it stands in the database
    (under the row lock), not to the copy read at the start of the request: a like that
    came in meanwhile keeps its term."""
    portrait = create_portrait(alice, visibility=V.UNLISTED)
    read_earlier = _fresh(portrait)
    liked_at = timezone.now()  # an unlisted portrait may be liked by anyone with its link
    portrait_activity_record(portrait_id=portrait.pk, kind="like", at=liked_at, delta=1)

    portrait_publish(portrait=read_earlier, by=alice)

    published = _fresh(portrait)
    expected = math.log2(
        2 ** trending_term("like", liked_at) + 2 ** trending_term("publish", published.published_at)
    )
    assert published.like_count == 1
    assert published.trending == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("visibility", [V.PRIVATE, V.UNLISTED])
def test_only_its_owner_may_publish_it(alice, bob, create_portrait, bob_api, api, visibility):
    portrait = create_portrait(alice, visibility=visibility)

    by_bob = bob_api.post(_publish_url(portrait))
    anonymous = api.post(_publish_url(portrait))

    # Someone who cannot see it: 404, its existence kept secret; who can: 403.
    assert by_bob.status_code == (404 if visibility == V.PRIVATE else 403)
    assert by_bob.json()["code"] in ("not_found", "permission_denied")
    assert anonymous.status_code in (401, 403)
    assert (_fresh(portrait).visibility, _fresh(portrait).published_at) == (visibility, None)


def test_a_moderator_cannot_publish_a_portrait_for_its_owner(alice, mod, create_portrait):
    """Moderators act through moderation's audited actions, never as the author."""
    portrait = create_portrait(alice, visibility=V.UNLISTED)

    with pytest.raises(PermissionDenied):
        portrait_publish(portrait=portrait, by=mod)

    assert _fresh(portrait).visibility == V.UNLISTED


def test_publishing_a_deleted_or_unknown_portrait_is_404(alice, create_portrait, remix, alice_api):
    portrait = create_portrait(alice, visibility=V.PRIVATE)
    remix(portrait, alice)
    from portraits.services import portrait_delete

    portrait_delete(portrait=portrait, by=alice)  # a tombstone: its child holds it

    assert alice_api.post(_publish_url(portrait)).status_code == 404
    assert alice_api.post("/api/v1/portraits/nosuchportrait/publish/").status_code == 404
    assert _fresh(portrait).published_at is None


def test_portrait_resource_shows_publication_counts_and_tags(
    alice, bob, create_portrait, remix, alice_api, api
):
    portrait = create_portrait(alice)
    remix(portrait, bob)
    remix(portrait, bob, visibility=V.PRIVATE)  # counted: the tree shows its place
    portrait_update(portrait=portrait, by=alice, data={"tags": "harbour, dusk"})

    data = api.get(f"/api/v1/portraits/{portrait.public_id}/").json()

    assert data["published_at"] is not None
    assert (data["like_count"], data["remix_count"]) == (0, 2)
    assert data["tags"] == ["dusk", "harbour"]
    never = create_portrait(alice, visibility=V.PRIVATE)
    assert alice_api.get(f"/api/v1/portraits/{never.public_id}/").json()["published_at"] is None


def test_schema_documents_publish_tree_and_the_new_fields(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "post" in paths["/api/v1/portraits/{public_id}/publish/"]
    assert "get" in paths["/api/v1/portraits/{public_id}/tree/"]
    assert "post" in paths["/api/v1/jobs/{id}/publish/"]
    portrait = schema["components"]["schemas"]["Portrait"]["properties"]
    assert {"published_at", "like_count", "remix_count", "tags"} <= set(portrait)
    member = schema["components"]["schemas"]["FamilyMember"]["properties"]
    assert {"key", "parent", "available", "author", "changes"} <= set(member)


# --- The portrait page --------------------------------------------------------------------


def _visibility_url(portrait) -> str:
    return reverse("portraits:visibility", kwargs={"public_id": portrait.public_id})


def test_owner_publishes_from_the_portrait_page_and_sees_when(alice, create_portrait, client):
    portrait = create_portrait(alice, visibility=V.PRIVATE)
    client.force_login(alice)
    page = client.get(portrait.get_absolute_url()).content.decode()
    assert 'name="visibility" value="public">Publish</button>' in page
    assert "published" not in page.split("</header>")[0]

    response = client.post(_visibility_url(portrait), {"visibility": "public"}, follow=True)

    assert response.redirect_chain[-1][0] == portrait.get_absolute_url()
    published = _fresh(portrait)
    assert published.visibility == V.PUBLIC and published.published_at is not None
    html = response.content.decode()
    assert "Published: it is in the gallery now." in html
    assert f'datetime="{published.published_at.isoformat()}"' in html
    # Public now: no Publish button, an Unpublish one.
    assert ">Publish</button>" not in html
    assert 'value="private" class="secondary">Unpublish (make private)</button>' in html


def test_owner_unpublishes_from_the_portrait_page(alice, create_portrait, client):
    portrait = create_portrait(alice)
    first = portrait.published_at
    client.force_login(alice)

    client.post(_visibility_url(portrait), {"visibility": "private"})

    assert (_fresh(portrait).visibility, _fresh(portrait).published_at) == (V.PRIVATE, first)


def test_others_see_no_publish_buttons_and_cannot_post_them(alice, bob, create_portrait, client):
    unlisted = create_portrait(alice, visibility=V.UNLISTED)
    private = create_portrait(alice, visibility=V.PRIVATE)
    client.force_login(bob)

    page = client.get(unlisted.get_absolute_url()).content.decode()

    assert _visibility_url(unlisted) not in page
    assert client.post(_visibility_url(unlisted), {"visibility": "public"}).status_code == 403
    assert client.post(_visibility_url(private), {"visibility": "public"}).status_code == 404
    client.logout()
    anonymous = client.post(_visibility_url(unlisted), {"visibility": "public"})
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert _fresh(unlisted).visibility == V.UNLISTED and _fresh(private).visibility == V.PRIVATE


@pytest.mark.parametrize("value", ["", "everyone", "PUBLIC", "public\x00"])
def test_a_bad_visibility_from_the_page_is_a_message_and_changes_nothing(
    alice, create_portrait, client, value
):
    portrait = create_portrait(alice, visibility=V.PRIVATE)
    client.force_login(alice)

    response = client.post(_visibility_url(portrait), {"visibility": value}, follow=True)

    assert "Choose one of: private, unlisted, public." in response.content.decode()
    assert (_fresh(portrait).visibility, _fresh(portrait).published_at) == (V.PRIVATE, None)


def test_the_page_buttons_want_a_post(alice, create_portrait, client):
    portrait = create_portrait(alice, visibility=V.PRIVATE)
    client.force_login(alice)

    assert client.get(_visibility_url(portrait)).status_code == 405
    assert _fresh(portrait).visibility == V.PRIVATE
