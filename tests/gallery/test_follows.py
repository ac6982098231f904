"""Follows: idempotent, one per pair and never of oneself (database constraints behind the
service's refusals), only of active members — through the service, the API and the
profile's form and its script; and the follower and following lists."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from config.errors import DomainError, NotFound
from gallery.models import Follow
from gallery.services import follow_add, follow_remove
from gallery.signals import member_followed
from tests.gallery.community import race_with_uncommitted

JSON = {"HTTP_ACCEPT": "application/json"}


def api_follow_url(username: str) -> str:
    return f"/api/v1/users/{username}/follow/"


def follow_url(username: str) -> str:
    return f"/u/{username}/follow/"


# --- The service ---------------------------------------------------------------------------


def test_following_twice_leaves_one_follow(alice, bob):
    assert follow_add(follower=bob, followed=alice) is True
    assert follow_add(follower=bob, followed=alice) is False
    assert Follow.objects.filter(follower=bob, followed=alice).count() == 1


def test_unfollowing_is_idempotent(alice, bob):
    follow_add(follower=bob, followed=alice)
    assert follow_remove(follower=bob, followed=alice) is True
    assert follow_remove(follower=bob, followed=alice) is False
    assert not Follow.objects.exists()


def test_following_oneself_is_a_field_error_and_changes_nothing(alice):
    with pytest.raises(DomainError) as refused:
        follow_add(follower=alice, followed=alice)
    assert refused.value.field_errors == {"username": ["You cannot follow yourself."]}
    assert not Follow.objects.exists()


def test_an_inactive_member_cannot_be_followed(alice, bob):
    alice.is_active = False
    alice.save()
    with pytest.raises(NotFound):
        follow_add(follower=bob, followed=alice)
    assert not Follow.objects.exists()


def test_anonymous_cannot_follow(alice):
    with pytest.raises(DomainError):
        follow_add(follower=AnonymousUser(), followed=alice)


def test_one_follow_per_pair_is_a_database_constraint(alice, bob):
    Follow.objects.create(follower=bob, followed=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=bob, followed=alice)


def test_no_self_follow_is_a_database_constraint(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Follow.objects.create(follower=alice, followed=alice)


def test_a_new_follow_is_announced_once_inside_its_transaction(alice, bob):
    heard = []

    def receiver(sender, *, follow, **kwargs):
        heard.append((follow.follower_id, follow.followed_id, connection.in_atomic_block))

    member_followed.connect(receiver)
    try:
        follow_add(follower=bob, followed=alice)
        follow_add(follower=bob, followed=alice)
    finally:
        member_followed.disconnect(receiver)
    assert heard == [(bob.pk, alice.pk, True)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_follow_racing_an_uncommitted_one_makes_one_follow(alice, bob):
    """As for likes: the second waits on the unique index while the first is uncommitted,
    then meets the constraint and answers "already following"."""
    results = race_with_uncommitted(
        lambda: follow_add(follower=bob, followed=alice), what="the second follow waiting"
    )

    assert results == {"first": True, "second": False}
    assert Follow.objects.filter(follower=bob, followed=alice).count() == 1


# --- The API -------------------------------------------------------------------------------


def test_api_follow_is_idempotent_and_answers_the_state_and_counts(alice, bob_api):
    for _ in range(2):
        response = bob_api.put(api_follow_url("alice"))
        assert response.status_code == 200
        assert response.json() == {"followed": True, "follower_count": 1, "following_count": 0}
    for _ in range(2):
        response = bob_api.delete(api_follow_url("alice"))
        assert response.status_code == 200
        assert response.json() == {"followed": False, "follower_count": 0, "following_count": 0}
    assert not Follow.objects.exists()


def test_api_follow_state_for_anyone(alice, bob, bob_api, api):
    bob_api.put(api_follow_url("alice"))
    assert bob_api.get(api_follow_url("alice")).json()["followed"] is True
    assert api.get(api_follow_url("alice")).json() == {
        "followed": False,
        "follower_count": 1,
        "following_count": 0,
    }
    assert api.get(api_follow_url("bob")).json() == {
        "followed": False,
        "follower_count": 0,
        "following_count": 1,
    }


def test_api_following_oneself_is_a_400_with_a_field_error(alice, alice_api):
    response = alice_api.put(api_follow_url("alice"))
    assert response.status_code == 400
    assert response.json()["errors"] == {"username": ["You cannot follow yourself."]}
    assert not Follow.objects.exists()


@pytest.mark.parametrize("username", ["nobody", "gone"])
def test_api_following_a_member_who_does_not_exist_is_a_404(username, make_user, bob_api):
    make_user("gone", is_active=False)
    for method in (bob_api.put, bob_api.delete, bob_api.get):
        response = method(api_follow_url(username))
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert not Follow.objects.exists()


def test_api_anonymous_cannot_follow(alice, api):
    response = api.put(api_follow_url("alice"))
    assert response.status_code == 401
    assert not Follow.objects.exists()


def test_api_lists_followers_and_following_newest_first(alice, bob, carol, make_user):
    dave = make_user("dave", is_active=True)
    gone = make_user("gone")
    follow_add(follower=bob, followed=alice)
    follow_add(follower=carol, followed=alice)
    follow_add(follower=gone, followed=alice)
    follow_add(follower=alice, followed=dave)
    follow_add(follower=carol, followed=bob)  # carol follows bob: "followed" is per viewer
    gone.is_active = False
    gone.save()

    client = APIClient()
    client.force_authenticate(carol)
    response = client.get("/api/v1/users/alice/followers/")
    assert response.status_code == 200
    items = response.json()["results"]
    assert [item["user"]["username"] for item in items] == ["carol", "bob"]  # not gone
    assert [item["followed"] for item in items] == [False, True]
    assert "email" not in items[0]["user"]

    following = client.get("/api/v1/users/alice/following/").json()["results"]
    assert [item["user"]["username"] for item in following] == ["dave"]
    assert client.get(api_follow_url("alice")).json()["follower_count"] == 2


def test_api_follower_list_pages_with_cursors(alice, make_user, api):
    fans = [make_user(f"fan{n}") for n in range(5)]
    for fan in fans:
        follow_add(follower=fan, followed=alice)
    seen = []
    url = "/api/v1/users/alice/followers/?page_size=2"
    while url:
        page = api.get(url).json()
        seen += [item["user"]["username"] for item in page["results"]]
        url = page["next"]
    assert seen == [fan.username for fan in reversed(fans)]


def test_api_follower_list_refuses_a_forged_cursor(alice, api):
    response = api.get("/api/v1/users/alice/followers/?cursor=forged")
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


def test_api_follower_list_runs_a_fixed_number_of_queries(alice, make_user, bob):
    client = APIClient()
    client.force_authenticate(bob)

    def count_for(fans: int) -> int:
        for n in range(fans):
            follow_add(follower=make_user(f"fan{fans}x{n}"), followed=alice)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/users/alice/followers/").status_code == 200
        Follow.objects.all().delete()
        return len(queries)

    assert count_for(2) == count_for(9)


# --- The profile's follow button: a form without JavaScript, JSON for the script -----------


def test_the_follow_form_works_without_javascript_and_comes_back(alice, client, bob):
    client.force_login(bob)
    page = "/u/alice/"
    html = client.get(page).content.decode()
    assert f'action="{follow_url("alice")}"' in html and 'aria-pressed="false"' in html

    response = client.post(follow_url("alice"), {"intent": "follow", "next": page})
    assert response.status_code == 302 and response["Location"] == page
    assert Follow.objects.filter(follower=bob, followed=alice).exists()
    html = client.get(page).content.decode()
    assert 'aria-pressed="true"' in html and "1 follower<" in html

    client.post(follow_url("alice"), {"intent": "unfollow", "next": page})
    assert not Follow.objects.exists()


def test_the_script_gets_the_new_state_and_counts_as_json(alice, client, bob):
    client.force_login(bob)
    response = client.post(follow_url("alice"), {"intent": "follow"}, **JSON)
    assert response.status_code == 200
    assert response.json() == {"followed": True, "follower_count": 1, "following_count": 0}


def test_following_oneself_on_the_page_says_why_and_changes_nothing(alice, client):
    client.force_login(alice)
    assert f'action="{follow_url("alice")}"' not in client.get("/u/alice/").content.decode()
    response = client.post(follow_url("alice"), {"intent": "follow"}, follow=True)
    assert "You cannot follow yourself." in response.content.decode()
    response = client.post(follow_url("alice"), {"intent": "follow"}, **JSON)
    assert response.status_code == 400
    assert response.json()["errors"] == {"username": ["You cannot follow yourself."]}
    assert not Follow.objects.exists()


def test_following_nobody_on_the_page_is_a_404(make_user, client, bob):
    make_user("gone", is_active=False)
    client.force_login(bob)
    assert client.post(follow_url("nobody"), {"intent": "follow"}).status_code == 404
    assert client.post(follow_url("gone"), {"intent": "follow"}).status_code == 404
    response = client.post(follow_url("gone"), {"intent": "follow"}, **JSON)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert not Follow.objects.exists()


def test_anonymous_is_sent_to_log_in_and_back_to_the_profile(alice, client):
    html = client.get("/u/alice/").content.decode()
    assert "/accounts/login/?next=/u/alice/" in html
    response = client.post(follow_url("alice"), {"intent": "follow"})
    assert response["Location"] == "/accounts/login/?next=/u/alice/"
    assert client.post(follow_url("alice"), {"intent": "follow"}, **JSON).status_code == 401
    assert not Follow.objects.exists()
