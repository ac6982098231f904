"""Likes: idempotent, one per member per portrait (a database constraint), the portrait's
counter and trending score exact in the same transaction, only on portraits one may see —
through the service, the API, the portrait page's form and its script."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import user_delete
from config.errors import DomainError, NotFound, PermissionDenied
from gallery.models import Like
from gallery.services import like_add, like_remove
from gallery.signals import portrait_liked
from portraits.community import portrait_activity_record
from portraits.models import Portrait
from portraits.selectors import portrait_get_viewable
from tests.gallery.community import V, published, race_with_uncommitted, unpublished

JSON = {"HTTP_ACCEPT": "application/json"}


def like_url(portrait) -> str:
    return f"/p/{portrait.public_id}/like/"


def api_like_url(portrait) -> str:
    return f"/api/v1/portraits/{portrait.public_id}/like/"


def fresh(portrait) -> Portrait:
    return Portrait.objects.get(pk=portrait.pk)


@pytest.fixture
def portrait(alice):
    return published(alice, title="The Lighthouse Keeper")


# --- The service ---------------------------------------------------------------------------


def test_liking_twice_leaves_one_like_and_counts_it_once(portrait, bob):
    assert like_add(user=bob, portrait=portrait) is True
    assert like_add(user=bob, portrait=portrait) is False
    assert Like.objects.filter(portrait=portrait).count() == 1
    assert portrait.like_count == 1 and fresh(portrait).like_count == 1


def test_unliking_moves_the_count_and_trending_back_exactly(portrait, bob, carol):
    like_add(user=carol, portrait=portrait)  # an earlier like that stays
    before = fresh(portrait)

    like_add(user=bob, portrait=portrait)
    liked = fresh(portrait)
    assert liked.like_count == before.like_count + 1
    assert liked.trending > before.trending

    assert like_remove(user=bob, portrait=portrait) is True
    after = fresh(portrait)
    assert after.like_count == before.like_count == 1
    assert after.trending == pytest.approx(before.trending, abs=1e-9)


def test_unliking_a_like_from_yesterday_takes_back_its_own_term(portrait, bob, carol):
    """The like's own moment comes out of the score, not "now": a day-old like weighs a
    quarter of a fresh one, and taking a fresh one's term out would take too much."""
    like_add(user=carol, portrait=portrait)
    before = fresh(portrait).trending
    yesterday = timezone.now() - timedelta(days=1)
    # Bob's like, as it would stand had he liked it yesterday.
    Like.objects.create(user=bob, portrait=portrait, created_at=yesterday)
    Like.objects.filter(user=bob).update(created_at=yesterday)  # auto_now_add ignores it
    with transaction.atomic():
        portrait_activity_record(portrait_id=portrait.pk, kind="like", at=yesterday, delta=1)
    assert fresh(portrait).trending > before

    assert like_remove(user=bob, portrait=portrait) is True
    assert fresh(portrait).trending == pytest.approx(before, abs=1e-9)


def test_deleting_an_account_takes_its_likes_back_from_the_counters(portrait, bob, carol):
    """Its likes go with the account (a cascade): the counters must not keep counting them."""
    like_add(user=carol, portrait=portrait)  # a like that stays
    before = fresh(portrait)
    like_add(user=bob, portrait=portrait)

    user_delete(user=bob)

    after = fresh(portrait)
    assert Like.objects.filter(portrait=portrait).count() == 1
    assert after.like_count == 1
    assert after.trending == pytest.approx(before.trending, abs=1e-9)


def test_unliking_what_was_never_liked_changes_nothing(portrait, bob):
    before = fresh(portrait)
    assert like_remove(user=bob, portrait=portrait) is False
    after = fresh(portrait)
    assert (after.like_count, after.trending) == (0, before.trending)


def test_one_like_per_member_per_portrait_is_a_database_constraint(portrait, bob):
    Like.objects.create(user=bob, portrait=portrait)
    with pytest.raises(IntegrityError), transaction.atomic():
        Like.objects.create(user=bob, portrait=portrait)


def test_a_new_like_is_announced_once_inside_its_transaction(portrait, bob):
    heard = []

    def receiver(sender, *, like, **kwargs):
        heard.append((like.user_id, like.portrait_id, connection.in_atomic_block))

    portrait_liked.connect(receiver)
    try:
        like_add(user=bob, portrait=portrait)
        like_add(user=bob, portrait=portrait)
    finally:
        portrait_liked.disconnect(receiver)
    assert heard == [(bob.pk, portrait.pk, True)]


def test_the_like_and_its_counters_commit_or_roll_back_together(portrait, bob):
    """One transaction: when anything in it fails (here a receiver of the signal), neither
    the like nor the portrait's counter and score are left behind."""
    before = fresh(portrait)

    def receiver(sender, **kwargs):
        raise RuntimeError("a receiver failed")

    portrait_liked.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            like_add(user=bob, portrait=portrait)
    finally:
        portrait_liked.disconnect(receiver)
    after = fresh(portrait)
    assert not Like.objects.exists()
    assert (after.like_count, after.trending) == (before.like_count, before.trending)


def test_a_portrait_one_cannot_see_is_not_found_before_anything_changes(alice, bob):
    private = unpublished(alice)
    with pytest.raises(NotFound):
        portrait_get_viewable(viewer=bob, public_id=private.public_id)
    assert not Like.objects.exists()


def test_a_moderator_who_sees_a_private_or_hidden_portrait_still_cannot_like_it(alice, mod):
    private = unpublished(alice)
    hidden = published(alice, hidden_at=timezone.now(), hidden_cause="moderation")
    for portrait in (private, hidden):
        seen = portrait_get_viewable(viewer=mod, public_id=portrait.public_id)
        with pytest.raises(PermissionDenied):
            like_add(user=mod, portrait=seen)
        assert fresh(portrait).like_count == 0
    assert not Like.objects.exists()


def test_an_author_may_like_their_own_private_portrait_and_anyone_an_unlisted_one(alice, bob):
    private = unpublished(alice)
    unlisted = unpublished(alice, visibility=V.UNLISTED)
    assert like_add(user=alice, portrait=private) is True
    assert like_add(user=bob, portrait=unlisted) is True
    assert fresh(private).like_count == 1 and fresh(unlisted).like_count == 1


def test_anonymous_cannot_like(portrait):
    with pytest.raises(DomainError):
        like_add(user=AnonymousUser(), portrait=portrait)
    assert not Like.objects.exists()


# --- Concurrency (PostgreSQL: real connections, real locks) ---------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_like_racing_an_uncommitted_one_by_the_same_member_counts_once(alice, bob):
    """The race made certain: the first like is inserted and not yet committed when the
    second arrives; the second waits on the unique index, meets the constraint when the
    first commits, and counts as "already liked" (the savepoint keeps its transaction)."""
    portrait = published(alice)
    results = race_with_uncommitted(
        lambda: like_add(user=bob, portrait=fresh(portrait)), what="the second like waiting"
    )

    assert results == {"first": True, "second": False}
    assert Like.objects.filter(user=bob, portrait=portrait).count() == 1
    assert fresh(portrait).like_count == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_members_liking_at_once_are_all_counted(alice, make_user):
    portrait = published(alice)
    fans = [make_user(f"fan{n}") for n in range(6)]
    barrier = threading.Barrier(len(fans) * 2)
    errors = []

    def like(fan) -> None:
        try:
            barrier.wait(timeout=30)
            like_add(user=fan, portrait=fresh(portrait))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    # Each fan twice at once: every like counted exactly once.
    threads = [threading.Thread(target=like, args=(fan,)) for fan in fans for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert Like.objects.filter(portrait=portrait).count() == len(fans)
    assert fresh(portrait).like_count == len(fans)


# --- The API -------------------------------------------------------------------------------


def test_api_like_is_idempotent_and_answers_the_state(portrait, bob_api):
    for _ in range(2):
        response = bob_api.put(api_like_url(portrait))
        assert response.status_code == 200
        assert response.json() == {"liked": True, "like_count": 1}
    assert bob_api.get(api_like_url(portrait)).json() == {"liked": True, "like_count": 1}
    for _ in range(2):
        response = bob_api.delete(api_like_url(portrait))
        assert response.status_code == 200
        assert response.json() == {"liked": False, "like_count": 0}
    assert not Like.objects.exists()


def test_api_anonymous_may_read_the_count_but_not_like(portrait, bob_api, api):
    bob_api.put(api_like_url(portrait))
    assert api.get(api_like_url(portrait)).json() == {"liked": False, "like_count": 1}
    response = api.put(api_like_url(portrait))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert fresh(portrait).like_count == 1


@pytest.mark.parametrize("kind", ["private", "hidden", "deleted", "unknown"])
def test_api_liking_a_portrait_one_cannot_see_is_a_404_and_changes_nothing(kind, alice, bob_api):
    if kind == "private":
        target = unpublished(alice)
    elif kind == "hidden":
        target = published(alice, hidden_at=timezone.now(), hidden_cause="moderation")
    elif kind == "deleted":
        target = published(alice, deleted_at=timezone.now())
    else:
        target = Portrait(public_id="no-such-portrait")
    for method in (bob_api.put, bob_api.delete, bob_api.get):
        response = method(api_like_url(target))
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert not Like.objects.exists()
    if target.pk:
        assert fresh(target).like_count == 0


def test_api_a_moderator_liking_a_hidden_portrait_is_refused(alice, mod):
    hidden = published(alice, hidden_at=timezone.now(), hidden_cause="moderation")
    client = APIClient()
    client.force_authenticate(mod)
    response = client.put(api_like_url(hidden))
    assert response.status_code == 403
    assert response.json()["code"] == "not_likeable"
    assert fresh(hidden).like_count == 0


def test_api_a_malformed_id_is_a_json_404(bob_api):
    response = bob_api.put("/api/v1/portraits/%00nope/like/")
    assert response.status_code in (400, 404)
    assert "detail" in response.json()


# --- The portrait page: a form without JavaScript, JSON for the script ---------------------


def test_the_like_form_works_without_javascript_and_comes_back_to_the_page(portrait, client, bob):
    client.force_login(bob)
    page = portrait.get_absolute_url()
    html = client.get(page).content.decode()
    assert 'aria-pressed="false"' in html and "0 likes" in html
    assert f'action="{like_url(portrait)}"' in html

    response = client.post(like_url(portrait), {"intent": "like", "next": page})
    assert response.status_code == 302 and response["Location"] == page
    assert fresh(portrait).like_count == 1

    html = client.get(page).content.decode()
    assert 'aria-pressed="true"' in html and "1 like<" in html
    assert 'name="intent" value="unlike"' in html

    client.post(like_url(portrait), {"intent": "unlike", "next": page})
    assert fresh(portrait).like_count == 0 and not Like.objects.exists()


def test_a_double_submitted_like_form_still_counts_once(portrait, client, bob):
    client.force_login(bob)
    for _ in range(2):
        client.post(like_url(portrait), {"intent": "like"})
    assert fresh(portrait).like_count == 1


def test_the_script_gets_the_new_state_as_json(portrait, client, bob):
    client.force_login(bob)
    response = client.post(like_url(portrait), {"intent": "like"}, **JSON)
    assert response.status_code == 200
    assert response.json() == {"liked": True, "like_count": 1}
    response = client.post(like_url(portrait), {"intent": "unlike"}, **JSON)
    assert response.json() == {"liked": False, "like_count": 0}


def test_the_like_form_never_redirects_off_the_site(portrait, client, bob):
    client.force_login(bob)
    response = client.post(like_url(portrait), {"intent": "like", "next": "https://evil.example/"})
    assert response["Location"] == portrait.get_absolute_url()


def test_the_like_form_refuses_an_unknown_intent(portrait, client, bob):
    client.force_login(bob)
    response = client.post(like_url(portrait), {"intent": "toggle"}, **JSON)
    assert response.status_code == 400
    assert response.json()["errors"] == {"intent": ["Choose like or unlike."]}
    response = client.post(like_url(portrait), {"intent": "toggle"})
    assert response.status_code == 302
    assert "Choose to like or to unlike." in client.get(response["Location"]).content.decode()
    assert not Like.objects.exists()


def test_the_like_form_is_a_404_for_a_portrait_one_cannot_see(alice, client, bob):
    private = unpublished(alice)
    client.force_login(bob)
    assert client.post(like_url(private), {"intent": "like"}).status_code == 404
    response = client.post(like_url(private), {"intent": "like"}, **JSON)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert not Like.objects.exists()


def test_anonymous_is_sent_to_log_in_and_back_to_the_portrait(portrait, client):
    page = portrait.get_absolute_url()
    html = client.get(page).content.decode()
    assert "/accounts/login/?next=" in html and "0 likes" in html
    assert f'action="{like_url(portrait)}"' not in html  # a link to log in, not a form

    response = client.post(like_url(portrait), {"intent": "like"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert response["Location"] == f"/accounts/login/?next={page}"
    assert client.post(like_url(portrait), {"intent": "like"}, **JSON).status_code == 401
    assert not Like.objects.exists()


def test_the_like_form_only_takes_posts(portrait, client, bob):
    client.force_login(bob)
    assert client.get(like_url(portrait)).status_code == 405
