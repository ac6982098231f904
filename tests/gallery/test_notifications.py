"""Notifications: who hears of a remix, a like, a follow and a publication; opt-outs; how
a notification reads once its portrait is out of sight; marking read (page and API); the
unread count in the navigation; fixed query counts."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.services import user_deactivate, user_delete
from gallery.models import Follow, Notification, NotificationSettings
from gallery.notify import UNAVAILABLE, notifications_for, notifications_present
from gallery.services import follow_add, follow_remove, like_add, like_remove
from gallery.views import notifications as views_notifications
from portraits.models import Portrait
from portraits.services import portrait_delete, portrait_update
from tests.portraits.factories import PortraitFactory, recipe_for, remix_chain

pytestmark = pytest.mark.django_db

V = Portrait.Visibility


@pytest.fixture
def dave(make_user):
    return make_user("dave", display_name="Dave")


def publish(portrait: Portrait) -> Portrait:
    """Publish as its author does (the ``portrait_published`` signal fires)."""
    return portrait_update(portrait=portrait, by=portrait.author, data={"visibility": "public"})


def private_remix(parent: Portrait, author, prompt="a new take") -> Portrait:
    return PortraitFactory(
        author=author,
        parent=parent,
        visibility=V.PRIVATE,
        recipe=recipe_for(prompt, seed=99),
    )


def inbox(user, kind=None) -> list[Notification]:
    qs = Notification.objects.filter(recipient=user)
    if kind:
        qs = qs.filter(kind=kind)
    return list(qs.order_by("id"))


def opt_out(user, **kinds):
    NotificationSettings.objects.update_or_create(user=user, defaults=kinds)


# --- Remixes ----------------------------------------------------------------------------


def test_publishing_a_remix_notifies_every_author_up_the_chain_but_the_remixer(
    alice, bob, carol, dave
):
    # alice → bob → carol → alice → (dave's remix): alice credited twice, notified once.
    chain = remix_chain([alice, bob, carol], 3)
    remix = private_remix(chain[-1], dave)
    assert Notification.objects.count() == 0  # painted privately: nobody hears yet

    publish(remix)

    for member in (alice, bob, carol):
        (notification,) = inbox(member)
        assert notification.kind == Notification.Kind.REMIX
        assert notification.actor == dave
        assert notification.portrait == remix
    assert inbox(dave) == []


def test_the_remixer_is_not_notified_of_their_own_step_in_the_chain(alice, bob):
    original, bobs = remix_chain([alice, bob], 1)
    publish(private_remix(bobs, alice))
    assert inbox(alice) == []
    assert [n.actor for n in inbox(bob)] == [alice]


def test_gone_accounts_up_the_chain_are_not_notified(alice, bob, carol, dave):
    original, bobs, carols = remix_chain([alice, bob, carol], 2)
    user_deactivate(user=bob)
    user_delete(user=alice)  # her portrait keeps her name, without an account
    publish(private_remix(carols, dave))
    assert [n.recipient for n in Notification.objects.all()] == [carol]


def test_a_tombstone_up_the_chain_still_credits_its_author(alice, bob, carol):
    original, bobs = remix_chain([alice, bob], 1)
    remix = private_remix(bobs, carol)
    portrait_delete(portrait=bobs, by=bob)  # has a remix: stays as a tombstone
    publish(remix)
    assert {n.recipient for n in Notification.objects.all()} == {alice, bob}


def test_publishing_again_after_going_private_notifies_nobody_twice(alice, bob):
    remix = private_remix(PortraitFactory(author=alice), bob)
    publish(remix)
    portrait_update(portrait=remix, by=bob, data={"visibility": "private"})
    publish(remix)
    assert len(inbox(alice)) == 1


def test_a_rolled_back_publication_leaves_no_notification(alice, bob):
    from django.db import transaction

    remix = private_remix(PortraitFactory(author=alice), bob)
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(remix)
        raise RuntimeError
    assert Notification.objects.count() == 0


# --- Followers ----------------------------------------------------------------------------


def test_followers_hear_of_a_first_publication(alice, bob, carol, dave):
    follow_add(follower=bob, followed=alice)
    follow_add(follower=carol, followed=alice)
    Notification.objects.all().delete()  # the follow notifications are not this test's
    portrait = PortraitFactory(author=alice, visibility=V.PRIVATE)
    publish(portrait)
    assert {n.recipient for n in inbox(bob) + inbox(carol)} == {bob, carol}
    assert all(n.kind == "publish" and n.portrait == portrait for n in Notification.objects.all())
    assert inbox(dave) == [] and inbox(alice) == []


def test_a_follower_credited_up_the_chain_gets_the_remix_notification_only(alice, bob):
    follow_add(follower=alice, followed=bob)
    Notification.objects.all().delete()
    publish(private_remix(PortraitFactory(author=alice), bob))
    assert [n.kind for n in inbox(alice)] == ["remix"]


def test_deactivated_followers_are_not_notified(alice, bob):
    Follow.objects.create(follower=bob, followed=alice)
    user_deactivate(user=bob)
    publish(PortraitFactory(author=alice, visibility=V.PRIVATE))
    assert inbox(bob) == []


# --- Likes and follows ----------------------------------------------------------------------


def test_a_like_notifies_the_author_once_per_liker(alice, bob):
    portrait = PortraitFactory(author=alice)
    like_add(user=bob, portrait=portrait)
    like_remove(user=bob, portrait=portrait)
    like_add(user=bob, portrait=portrait)
    (notification,) = inbox(alice)
    assert (notification.kind, notification.actor, notification.portrait) == ("like", bob, portrait)


def test_liking_ones_own_portrait_notifies_nobody(alice):
    like_add(user=alice, portrait=PortraitFactory(author=alice))
    assert Notification.objects.count() == 0


def test_a_follow_notifies_once_per_follower(alice, bob):
    follow_add(follower=bob, followed=alice)
    follow_remove(follower=bob, followed=alice)
    follow_add(follower=bob, followed=alice)
    (notification,) = inbox(alice)
    assert (notification.kind, notification.actor, notification.portrait) == ("follow", bob, None)


@pytest.mark.parametrize("kind", ["remix", "like", "follow", "publish"])
def test_a_kind_turned_off_is_not_created_and_the_others_still_are(alice, bob, kind):
    opt_out(alice, **{kind: False})
    follow_add(follower=alice, followed=bob)  # for bob's publication to reach alice
    follow_add(follower=bob, followed=alice)
    mine = PortraitFactory(author=alice)
    like_add(user=bob, portrait=mine)
    publish(private_remix(mine, bob))  # alice is credited: a remix, not a publish
    publish(PortraitFactory(author=bob, visibility=V.PRIVATE))
    kinds = {n.kind for n in inbox(alice)}
    assert kinds == {"remix", "like", "follow", "publish"} - {kind}


# --- How a notification reads, for its recipient ------------------------------------------------


def _present(user):
    return notifications_present(list(notifications_for(user=user)), viewer=user)


@pytest.fixture
def followed_publication(alice, bob):
    follow_add(follower=bob, followed=alice)
    portrait = PortraitFactory(author=alice, visibility=V.PRIVATE, title="Dusk over the bay")
    publish(portrait)
    return portrait


def test_a_visible_portrait_is_named_linked_and_shown(bob, followed_publication):
    item = _present(bob)[0]
    assert item.kind == "publish"
    assert item.text == "Alice Liddell published a new portrait “Dusk over the bay”."
    assert item.portrait.available
    assert item.portrait.url == followed_publication.get_absolute_url()
    assert item.portrait.thumbnail_url.endswith("/thumbnail/") or item.portrait.thumbnail_url
    assert item.actor_url == reverse("profile", kwargs={"username": "alice"})


@pytest.mark.parametrize("how", ["private", "hidden", "deleted"])
def test_a_portrait_out_of_sight_reads_as_no_longer_available(
    bob, alice, followed_publication, how, client
):
    portrait = followed_publication
    if how == "private":
        portrait_update(portrait=portrait, by=alice, data={"visibility": "private"})
    elif how == "hidden":
        Portrait.objects.filter(pk=portrait.pk).update(
            hidden_at=timezone.now(), hidden_cause="moderation"
        )
    else:  # a tombstone: deleted, but kept for a remix of it
        private_remix(portrait, alice)
        assert portrait_delete(portrait=portrait, by=alice)
    item = [i for i in _present(bob) if i.kind == "publish"][0]
    assert not item.portrait.available
    assert item.portrait.title is None and item.portrait.url is None
    assert item.portrait.thumbnail_url is None
    assert item.text == f"Alice Liddell published {UNAVAILABLE}."
    # Neither the page nor the API names it, links it or shows it.
    client.force_login(bob)
    for response in (
        client.get(reverse("gallery:notifications")),
        client.get("/api/v1/notifications/"),
    ):
        body = response.content.decode()
        assert response.status_code == 200
        assert UNAVAILABLE in body
        assert "Dusk over the bay" not in body
        assert portrait.public_id not in body


def test_deleting_a_portrait_row_deletes_its_notifications(bob, alice, followed_publication):
    assert not portrait_delete(portrait=followed_publication, by=alice)  # no tombstone
    assert [n.kind for n in inbox(bob)] == []


def test_the_list_is_read_in_a_fixed_number_of_queries(alice, bob, client, make_user):
    def fill(count: int) -> int:
        Notification.objects.all().delete()
        chain = remix_chain([alice, bob], count)
        for portrait in chain[1:]:
            Notification.objects.create(
                recipient=alice, kind="remix", actor=portrait.author, portrait=portrait
            )
        client.force_login(alice)
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("gallery:notifications")).status_code == 200
        with CaptureQueriesContext(connection) as api:
            response = client.get("/api/v1/notifications/")
            assert len(response.json()["results"]) == count
        return len(page), len(api)

    assert fill(3) == fill(30)


# --- The navigation's unread count --------------------------------------------------------


def _notification_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "gallery_notification" in q["sql"]]


def test_the_navigation_shows_the_unread_count_in_one_query(alice, bob, client):
    follow_add(follower=bob, followed=alice)
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("portraits:mine"))
    html = response.content.decode()
    assert "data-unread-count>1</span>" in html
    assert "gallery/notifications.js" in html
    assert len(_notification_queries(queries)) == 1


def test_anonymous_visitors_cost_no_notification_query(client, alice):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("gallery:home"))
    assert response.status_code == 200
    assert _notification_queries(queries) == []
    assert "data-unread-badge" not in response.content.decode()


def test_the_notifications_page_needs_a_sign_in(client):
    response = client.get(reverse("gallery:notifications"))
    assert response.status_code == 302 and "login" in response["Location"]


# --- Marking read ----------------------------------------------------------------------------


@pytest.fixture
def three_for_alice(alice, bob, carol, dave):
    for follower in (bob, carol, dave):
        follow_add(follower=follower, followed=alice)
    return inbox(alice)


def test_opening_the_page_marks_nothing_read(client, alice, three_for_alice):
    client.force_login(alice)
    html = client.get(reverse("gallery:notifications")).content.decode()
    assert html.count('class="notification is-unread"') == 3
    assert Notification.objects.filter(read_at__isnull=True).count() == 3


def test_mark_all_read_on_the_page(client, alice, bob, three_for_alice):
    follow_add(follower=alice, followed=bob)  # bob's, untouched
    client.force_login(alice)
    response = client.post(reverse("gallery:notifications-read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()
    assert Notification.objects.get(recipient=bob).read_at is None
    html = client.get(reverse("gallery:notifications")).content.decode()
    assert "is-unread" not in html
    assert "data-unread-badge hidden" in html


def test_mark_one_read_on_the_page_and_never_someone_elses(client, alice, bob, three_for_alice):
    follow_add(follower=alice, followed=bob)
    bobs = inbox(bob)[0]
    first, second, third = three_for_alice
    client.force_login(alice)
    client.post(reverse("gallery:notifications-read"), {"id": [first.pk, bobs.pk]})
    assert [n.read_at is not None for n in inbox(alice)] == [True, False, False]
    assert Notification.objects.get(pk=bobs.pk).read_at is None


def test_a_malformed_id_on_the_page_is_a_400(client, alice, three_for_alice):
    client.force_login(alice)
    response = client.post(reverse("gallery:notifications-read"), {"id": ["x"]})
    assert response.status_code == 400
    assert Notification.objects.filter(read_at__isnull=True).count() == 3


def test_mark_read_by_api_only_touches_the_callers_own(alice_api, alice, bob, three_for_alice):
    follow_add(follower=alice, followed=bob)
    bobs = inbox(bob)[0]
    first = three_for_alice[0]
    response = alice_api.post(
        "/api/v1/notifications/read/", {"ids": [first.pk, bobs.pk]}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"marked": 1, "unread_count": 2}
    assert Notification.objects.get(pk=bobs.pk).read_at is None
    response = alice_api.post("/api/v1/notifications/read/", {}, format="json")
    assert response.json() == {"marked": 2, "unread_count": 0}
    assert Notification.objects.get(pk=bobs.pk).read_at is None


@pytest.mark.parametrize(
    "body",
    [{"ids": "1"}, {"ids": ["1"]}, {"ids": [1.5]}, {"ids": [True]}, {"ids": [0]}, {"all": True}],
)
def test_mark_read_by_api_refuses_malformed_bodies(alice_api, three_for_alice, body):
    response = alice_api.post("/api/v1/notifications/read/", body, format="json")
    assert response.status_code == 400
    assert Notification.objects.filter(read_at__isnull=True).count() == 3


def test_api_list_has_unread_count_and_filters_unread(alice_api, three_for_alice):
    first = three_for_alice[0]
    alice_api.post("/api/v1/notifications/read/", {"ids": [first.pk]}, format="json")
    everything = alice_api.get("/api/v1/notifications/").json()
    assert everything["unread_count"] == 2
    assert [n["id"] for n in everything["results"]] == [n.pk for n in reversed(three_for_alice)]
    assert [n["read"] for n in everything["results"]] == [False, False, True]
    assert everything["results"][0]["actor"]["username"] == "dave"
    assert everything["results"][0]["portrait"] is None
    assert everything["results"][0]["text"] == "Dave started following you."
    unread = alice_api.get("/api/v1/notifications/", {"unread": "true"}).json()
    assert {n["id"] for n in unread["results"]} == {n.pk for n in three_for_alice[1:]}
    assert alice_api.get("/api/v1/notifications/", {"unread": "yes"}).status_code == 400


def test_api_list_is_cursor_paginated(alice_api, three_for_alice):
    page = alice_api.get("/api/v1/notifications/", {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = alice_api.get(page["next"]).json()
    assert [n["id"] for n in page["results"] + rest["results"]] == [
        n.pk for n in reversed(three_for_alice)
    ]


def test_api_needs_authentication(api):
    assert api.get("/api/v1/notifications/").status_code == 401
    assert api.post("/api/v1/notifications/read/", {}, format="json").status_code == 401
    assert api.get("/api/v1/notifications/settings/").status_code == 401


# --- Settings ---------------------------------------------------------------------------------


def test_settings_page_turns_a_kind_off(client, alice, bob):
    client.force_login(alice)
    page = client.get(reverse("gallery:notification-settings")).content.decode()
    assert 'name="like"' in page and "checked" in page
    # Linked from the account settings.
    assert (
        reverse("gallery:notification-settings")
        in client.get(reverse("accounts:settings")).content.decode()
    )
    response = client.post(
        reverse("gallery:notification-settings"), {"remix": "on", "follow": "on", "publish": "on"}
    )
    assert response.status_code == 302
    settings = NotificationSettings.objects.get(user=alice)
    assert (settings.remix, settings.like, settings.follow, settings.publish) == (
        True,
        False,
        True,
        True,
    )
    like_add(user=bob, portrait=PortraitFactory(author=alice))
    assert inbox(alice) == []


def test_settings_api_reads_defaults_without_writing_and_patches(alice_api, alice):
    assert alice_api.get("/api/v1/notifications/settings/").json() == {
        "remix": True,
        "like": True,
        "follow": True,
        "publish": True,
    }
    assert not NotificationSettings.objects.filter(user=alice).exists()
    response = alice_api.patch("/api/v1/notifications/settings/", {"publish": False}, format="json")
    assert response.json() == {"remix": True, "like": True, "follow": True, "publish": False}
    assert NotificationSettings.objects.get(user=alice).publish is False


@pytest.mark.parametrize("body", [{"publish": "no"}, {"publish": 0}, {"sms": True}])
def test_settings_api_refuses_what_is_not_a_boolean_kind(alice_api, alice, body):
    response = alice_api.patch("/api/v1/notifications/settings/", body, format="json")
    assert response.status_code == 400
    assert not NotificationSettings.objects.filter(user=alice).exists()


def test_titles_made_of_kept_words_cost_no_query_per_item(alice, bob, carol, client):
    """Remixes that kept their parent's prompt: whether their default titles may be read
    is decided for the whole page at once (``portraits_withheld``), whatever its size."""

    def fill(count: int) -> int:
        Notification.objects.all().delete()
        for index in range(count):
            original = PortraitFactory(author=carol, recipe=recipe_for(f"a lighthouse {index}"))
            kept = PortraitFactory(
                author=bob, parent=original, recipe=recipe_for(f"a lighthouse {index}", seed=5)
            )
            Notification.objects.create(recipient=alice, kind="publish", actor=bob, portrait=kept)
        client.force_login(alice)
        with CaptureQueriesContext(connection) as api:
            assert len(client.get("/api/v1/notifications/").json()["results"]) == count
        return len(api)

    assert fill(3) == fill(30)


def test_the_page_is_cursor_paginated_and_a_forged_cursor_is_a_400(client, alice, bob):
    portrait = PortraitFactory(author=alice)
    made = [
        Notification.objects.create(recipient=alice, kind="like", actor=bob, portrait=portrait)
        for _ in range(views_notifications.PAGE_SIZE + 2)
    ]
    client.force_login(alice)
    first = client.get(reverse("gallery:notifications"))
    ids = [int(i) for i in re.findall(r'id="notification-(\d+)"', first.content.decode())]
    assert ids == [n.pk for n in reversed(made)][: views_notifications.PAGE_SIZE]
    # A new notification arriving meanwhile does not shift the next page.
    Notification.objects.create(recipient=alice, kind="follow", actor=bob)
    older = first.context["next"]
    rest = client.get(older).content.decode()
    assert [int(i) for i in re.findall(r'id="notification-(\d+)"', rest)] == [
        made[1].pk,
        made[0].pk,
    ]
    for forged in ("garbage", older.split("cursor=")[1][:-3] + "abc"):
        response = client.get(reverse("gallery:notifications"), {"cursor": forged})
        assert response.status_code == 400
