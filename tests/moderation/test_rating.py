"""Content rating: owners rate their portraits general or mature (page and API), a
moderator's rating locks it, and members see mature portraits only once they opted in
with an age confirmation (settings page and ``/api/v1/me/``). Who sees what on every
surface is ``tests/gallery/test_visibility_matrix.py``; here, the controls and their
refusals."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.services import user_mature_set
from config.errors import DomainError
from generation.services import job_submit_remix
from moderation.services import portrait_rate
from portraits.models import Portrait
from portraits.selectors import portrait_family
from portraits.services import portrait_update
from tests.moderation.decisions import moderator_make, rule_make
from tests.portraits.factories import PortraitFactory, recipe_for
from tests.support import paint_job

pytestmark = pytest.mark.django_db
R = Portrait.Rating
V = Portrait.Visibility


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"
    settings.PUBLIC_PAGE_TTL = 0  # on_commit never runs in a test's transaction


@pytest.fixture
def mod(make_user):
    return moderator_make(make_user)


@pytest.fixture
def portrait(alice):
    return PortraitFactory(author=alice, title="Bathers at dusk", recipe=recipe_for("bathers"))


def api_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def gallery_ids(client) -> set[str]:
    return {item["id"] for item in client.get("/api/v1/gallery/").json()["results"]}


def locked_mature(portrait, mod) -> Portrait:
    portrait_rate(
        moderator=mod,
        portrait=portrait,
        rating=R.MATURE,
        rule=rule_make("Nudity is rated mature"),
        reason="Nudity.",
    )
    portrait.refresh_from_db()
    return portrait


# --- The owner rates ----------------------------------------------------------------------


def test_an_owner_rates_a_portrait_mature_on_its_edit_page(client, alice, portrait):
    client.force_login(alice)
    page = client.get(f"/p/{portrait.public_id}/edit/").content.decode()
    assert 'name="rating" value="general" id="id_rating_0" checked' in page
    response = client.post(
        f"/p/{portrait.public_id}/edit/",
        {"title": portrait.title, "visibility": V.PUBLIC, "rating": R.MATURE, "tags": ""},
    )
    assert response.status_code == 302
    portrait.refresh_from_db()
    assert portrait.rating == R.MATURE and not portrait.rating_locked
    assert portrait.public_id not in gallery_ids(api_for())
    assert "Mature" in client.get(f"/p/{portrait.public_id}/").content.decode()


def test_an_edit_form_without_a_rating_leaves_it_as_it_is(client, alice, portrait):
    portrait_update(portrait=portrait, by=alice, data={"rating": R.MATURE})
    client.force_login(alice)
    response = client.post(
        f"/p/{portrait.public_id}/edit/", {"title": "Renamed", "visibility": V.PUBLIC}
    )
    assert response.status_code == 302
    portrait.refresh_from_db()
    assert (portrait.title, portrait.rating) == ("Renamed", R.MATURE)


def test_an_owner_rates_by_api_and_back(alice, portrait):
    client = api_for(alice)
    response = client.patch(
        f"/api/v1/portraits/{portrait.public_id}/", {"rating": "mature"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["rating"] == "mature" and response.json()["rating_locked"] is False
    assert portrait.public_id not in gallery_ids(api_for())
    response = client.patch(
        f"/api/v1/portraits/{portrait.public_id}/", {"rating": "general"}, format="json"
    )
    assert response.json()["rating"] == "general"
    assert portrait.public_id in gallery_ids(api_for())


@pytest.mark.parametrize("value", ["adult", "", None, 1, ["mature"]])
def test_a_rating_that_is_not_one_is_refused(alice, portrait, value):
    response = api_for(alice).patch(
        f"/api/v1/portraits/{portrait.public_id}/", {"rating": value}, format="json"
    )
    assert response.status_code == 400
    assert "rating" in response.json()["errors"]
    portrait.refresh_from_db()
    assert portrait.rating == R.GENERAL
    with pytest.raises(DomainError) as refused:
        portrait_update(portrait=portrait, by=alice, data={"rating": value})
    assert "rating" in refused.value.field_errors


def test_someone_else_cannot_rate_a_portrait(bob, portrait):
    response = api_for(bob).patch(
        f"/api/v1/portraits/{portrait.public_id}/", {"rating": "mature"}, format="json"
    )
    assert response.status_code == 403
    portrait.refresh_from_db()
    assert portrait.rating == R.GENERAL


# --- A moderator's rating is locked ----------------------------------------------------


def test_a_locked_rating_is_refused_with_a_field_error_by_the_service(alice, mod, portrait):
    portrait = locked_mature(portrait, mod)
    with pytest.raises(DomainError) as refused:
        portrait_update(portrait=portrait, by=alice, data={"rating": R.GENERAL, "title": "New"})
    assert "Moderators rated this portrait mature" in refused.value.field_errors["rating"][0]
    portrait.refresh_from_db()
    assert (portrait.rating, portrait.rating_locked, portrait.title) == (
        R.MATURE,
        True,
        "Bathers at dusk",
    )
    # Its own rating again is no change, and other fields save.
    portrait_update(portrait=portrait, by=alice, data={"rating": R.MATURE, "title": "New"})
    portrait.refresh_from_db()
    assert (portrait.rating, portrait.title) == (R.MATURE, "New")


def test_a_locked_rating_is_refused_by_api(alice, mod, portrait):
    portrait = locked_mature(portrait, mod)
    response = api_for(alice).patch(
        f"/api/v1/portraits/{portrait.public_id}/",
        {"rating": "general", "title": "Renamed"},
        format="json",
    )
    assert response.status_code == 400
    assert "only they can change its rating" in response.json()["errors"]["rating"][0]
    portrait.refresh_from_db()
    assert (portrait.rating, portrait.title) == (R.MATURE, "Bathers at dusk")
    detail = api_for(alice).get(f"/api/v1/portraits/{portrait.public_id}/").json()
    assert (detail["rating"], detail["rating_locked"]) == ("mature", True)


def test_a_locked_rating_is_refused_on_the_edit_page(client, alice, mod, portrait):
    portrait = locked_mature(portrait, mod)
    client.force_login(alice)
    page = client.get(f"/p/{portrait.public_id}/edit/").content.decode()
    assert "Moderators set this rating" in page
    response = client.post(
        f"/p/{portrait.public_id}/edit/",
        {"title": portrait.title, "visibility": V.PUBLIC, "rating": R.GENERAL},
    )
    assert response.status_code == 400
    assert "only they can change its rating" in response.content.decode()
    portrait.refresh_from_db()
    assert portrait.rating == R.MATURE
    page = client.get(f"/p/{portrait.public_id}/").content.decode()
    assert "rated by moderators" in page


def test_a_lock_that_lands_after_the_owner_read_the_portrait_still_refuses(alice, portrait):
    stale = Portrait.objects.get(pk=portrait.pk)
    # A moderator rates it general and locks it meanwhile (as portrait_rate writes it).
    Portrait.objects.filter(pk=portrait.pk).update(rating=R.GENERAL, rating_locked=True)
    with pytest.raises(DomainError) as refused:
        portrait_update(portrait=stale, by=alice, data={"rating": R.MATURE, "title": "Mine"})
    assert "rated this portrait general" in refused.value.field_errors["rating"][0]
    assert stale.title == "Bathers at dusk" and stale.rating == R.GENERAL
    portrait.refresh_from_db()
    assert (portrait.rating, portrait.title) == (R.GENERAL, "Bathers at dusk")


# --- Members opt in, with an age confirmation -------------------------------------------


def test_opting_in_on_the_settings_page_needs_the_age_confirmation(client, bob, portrait):
    portrait_update(portrait=portrait, by=portrait.author, data={"rating": R.MATURE})
    client.force_login(bob)
    page = client.get("/settings/content/").content.decode()
    assert "I am 18 or older" in page and "Mature content is <strong>off</strong>" in page

    refused = client.post("/settings/content/", {"shows_mature": "on"})
    assert refused.status_code == 400
    assert "Confirm that you are 18 or older" in refused.content.decode()
    bob.refresh_from_db()
    assert not bob.shows_mature and bob.mature_confirmed_at is None

    back = f"/p/{portrait.public_id}/"
    response = client.post(
        "/settings/content/", {"shows_mature": "on", "age_confirmed": "on", "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back
    bob.refresh_from_db()
    assert bob.shows_mature and bob.mature_confirmed_at is not None
    assert client.get(back).status_code == 200

    confirmed = bob.mature_confirmed_at
    response = client.post("/settings/content/", {})  # unticked: off again
    assert response.status_code == 302
    bob.refresh_from_db()
    assert not bob.shows_mature and bob.mature_confirmed_at == confirmed
    assert client.get(back).status_code == 403


def test_the_settings_page_never_sends_anyone_elsewhere(client, bob):
    client.force_login(bob)
    response = client.post(
        "/settings/content/",
        {"shows_mature": "on", "age_confirmed": "on", "next": "https://evil.example/"},
    )
    assert response["Location"] == "/settings/content/"


def test_opting_in_by_api_needs_the_age_confirmation(bob, portrait):
    portrait_update(portrait=portrait, by=portrait.author, data={"rating": R.MATURE})
    client = api_for(bob)
    me = client.get("/api/v1/me/").json()
    assert (me["shows_mature"], me["mature_confirmed_at"]) == (False, None)
    assert "age_confirmed" not in me

    refused = client.patch("/api/v1/me/", {"shows_mature": True}, format="json")
    assert refused.status_code == 400
    assert "age_confirmed" in refused.json()["errors"]
    refused = client.patch(
        "/api/v1/me/", {"shows_mature": True, "age_confirmed": "yes"}, format="json"
    )
    assert refused.status_code == 400
    bob.refresh_from_db()
    assert not bob.shows_mature
    assert client.get(f"/api/v1/portraits/{portrait.public_id}/").status_code == 403

    response = client.patch(
        "/api/v1/me/", {"shows_mature": True, "age_confirmed": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["shows_mature"] is True
    assert response.json()["mature_confirmed_at"] is not None
    assert client.get(f"/api/v1/portraits/{portrait.public_id}/").status_code == 200
    assert portrait.public_id in gallery_ids(client)

    response = client.patch("/api/v1/me/", {"shows_mature": False}, format="json")
    assert response.json()["shows_mature"] is False
    assert portrait.public_id not in gallery_ids(client)


def test_a_refused_profile_change_keeps_the_setting_as_it_was(bob):
    response = api_for(bob).patch(
        "/api/v1/me/",
        {"shows_mature": True, "age_confirmed": True, "display_name": "x" * 500},
        format="json",
    )
    assert response.status_code == 400
    bob.refresh_from_db()
    assert not bob.shows_mature and bob.mature_confirmed_at is None


def test_a_mature_portrait_is_refused_by_api_with_its_reason(portrait):
    portrait_update(portrait=portrait, by=portrait.author, data={"rating": R.MATURE})
    response = api_for().get(f"/api/v1/portraits/{portrait.public_id}/")
    assert response.status_code == 403
    assert response.json()["code"] == "mature_content"
    assert portrait.title not in response.content.decode()


def test_the_mature_page_shows_nothing_of_the_portrait(client, portrait):
    portrait_update(portrait=portrait, by=portrait.author, data={"rating": R.MATURE})
    response = client.get(f"/p/{portrait.public_id}/")
    body = response.content.decode()
    assert response.status_code == 403
    assert "marked mature" in body and "Log in" in body
    assert portrait.title not in body and "og:" not in body and "/image/" not in body
    assert "no-store" in response["Cache-Control"] or "private" in response["Cache-Control"]


def test_a_private_mature_portrait_is_still_a_plain_404(client, alice):
    private = PortraitFactory(author=alice, visibility=V.PRIVATE, rating=R.MATURE)
    assert client.get(f"/p/{private.public_id}/").status_code == 404
    assert api_for().get(f"/api/v1/portraits/{private.public_id}/").status_code == 404


# --- What follows from a rating --------------------------------------------------------


def test_a_mature_member_of_a_tree_keeps_its_place_and_credit(alice, bob, carol):
    root = PortraitFactory(author=carol, recipe=recipe_for("a harbour"))
    mature = PortraitFactory(author=alice, parent=root, rating=R.MATURE, title="Nude study")
    PortraitFactory(author=carol, parent=mature, title="Clothed again")
    family = portrait_family(portrait=root, viewer=bob)
    members = {member.step.author_name: member for member in family.members}
    held = members["Alice Liddell"]
    assert not held.step.available and held.step.title is None and held.step.public_id is None
    assert family.total == 3
    tree = api_for(bob).get(f"/api/v1/portraits/{root.public_id}/tree/").json()
    assert "Nude study" not in str(tree) and mature.public_id not in str(tree)
    assert any(m["author"]["name"] == "Alice Liddell" for m in tree["members"])


def test_a_mature_public_file_never_sits_in_a_shared_cache(client, alice):
    general = PortraitFactory(author=alice)
    mature = PortraitFactory(author=alice, rating=R.MATURE)
    client.force_login(alice)
    assert "public" in client.get(f"/p/{general.public_id}/thumbnail/")["Cache-Control"]
    cache_control = client.get(f"/p/{mature.public_id}/thumbnail/")["Cache-Control"]
    assert "private" in cache_control and "public" not in cache_control


def test_a_remix_of_a_mature_portrait_starts_mature(painter, alice, bob):
    user_mature_set(user=bob, shows_mature=True, age_confirmed=True)
    parent = PortraitFactory(author=alice, rating=R.MATURE, recipe=recipe_for("a bather"))
    changes = {"seed": 5, "width": 64, "height": 64}
    (child,) = paint_job(job_submit_remix(user=bob, portrait=parent, changes=changes).pk)
    assert child.rating == R.MATURE and not child.rating_locked


def test_rating_changes_what_anonymous_visitors_see_at_once_through_the_page_cache(
    settings, client, alice, portrait, django_capture_on_commit_callbacks
):
    settings.PUBLIC_PAGE_TTL = 60
    assert portrait.public_id in client.get("/explore/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        portrait_update(portrait=portrait, by=alice, data={"rating": R.MATURE})
    assert portrait.public_id not in client.get("/explore/").content.decode()


def test_the_rating_gate_costs_no_query_of_its_own(client, bob, alice):
    for n in range(3):
        PortraitFactory(author=alice, rating=R.MATURE if n % 2 else R.GENERAL)
    client.force_login(bob)
    with CaptureQueriesContext(connection) as opted_out:
        client.get("/explore/")
    user_mature_set(user=bob, shows_mature=True, age_confirmed=True)
    with CaptureQueriesContext(connection) as opted_in:
        client.get("/explore/")
    assert len(opted_in) == len(opted_out)
