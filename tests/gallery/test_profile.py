"""Profiles: who a member is, their follower and following counts and lists, and their
public portraits in the gallery's sorts — only what anyone may list, a page at a time,
in a fixed number of queries whatever the size."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gallery.services import follow_add, like_add
from tests.gallery.community import V, published, unpublished


def shown_ids(html: str) -> list[str]:
    """The portraits of a grid, in order (``data-id`` of each card)."""
    return re.findall(r'<figure class="gallery-card" data-id="([^"]+)"', html)


def names_listed(html: str) -> list[str]:
    return re.findall(r'<span class="muted">@([^<]+)</span>', html)


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# --- Counts and the follow button ----------------------------------------------------------


def test_the_profile_shows_follower_and_following_counts_with_links(
    alice, bob, carol, make_user, client
):
    gone = make_user("gone")
    follow_add(follower=bob, followed=alice)
    follow_add(follower=carol, followed=alice)
    follow_add(follower=gone, followed=alice)
    follow_add(follower=alice, followed=bob)
    gone.is_active = False  # a closed account counts nowhere
    gone.save()

    html = client.get("/u/alice/").content.decode()
    assert "2 followers</span>" in html and "1 following</span>" in html
    assert 'href="/u/alice/followers/"' in html and 'href="/u/alice/following/"' in html
    assert 'rel="alternate" type="application/atom+xml"' in html and "/u/alice/feed.atom" in html


def test_the_follow_button_shows_whether_the_viewer_follows(alice, bob, client):
    client.force_login(bob)
    assert 'aria-pressed="false"' in client.get("/u/alice/").content.decode()
    follow_add(follower=bob, followed=alice)
    html = client.get("/u/alice/").content.decode()
    assert 'aria-pressed="true"' in html and 'name="intent" value="unfollow"' in html


def test_ones_own_profile_has_no_follow_button_but_an_edit_link(alice, client):
    client.force_login(alice)
    html = client.get("/u/alice/").content.decode()
    assert "/u/alice/follow/" not in html and "Edit profile" in html


def test_a_profile_of_nobody_or_a_closed_account_is_a_404(make_user, client):
    make_user("gone", is_active=False)
    for url in ("/u/nobody/", "/u/gone/", "/u/gone/followers/", "/u/nobody/following/"):
        assert client.get(url).status_code == 404


def test_a_profile_and_its_lists_answer_to_any_letter_case(alice, client):
    assert client.get("/u/ALICE/")["Location"] == "/u/alice/"
    assert client.get("/u/Alice/followers/")["Location"] == "/u/alice/followers/"


# --- Portraits: only the listed ones, in the gallery's sorts ---------------------------------


def test_the_profile_lists_only_the_members_listed_portraits(alice, bob, client):
    public = published(alice)
    unpublished(alice)  # private
    unpublished(alice, visibility=V.UNLISTED)
    published(alice, hidden_at=timezone.now(), hidden_cause="moderation")
    published(alice, deleted_at=timezone.now())
    published(bob)

    for viewer in (None, bob, alice):
        if viewer is not None:
            client.force_login(viewer)
        assert shown_ids(client.get("/u/alice/").content.decode()) == [public.public_id]


def test_the_profile_sorts_as_the_gallery_does(alice, bob, carol, client):
    old = published(alice, ago=timedelta(days=10), title="Old")
    new = published(alice, ago=timedelta(hours=1), title="New")
    loved = published(alice, ago=timedelta(days=3), title="Loved")
    for fan in (bob, carol):
        like_add(user=fan, portrait=loved)
    like_add(user=bob, portrait=old)
    published(bob, parent=old)  # a remix of "Old"
    type(old).objects.filter(pk=old.pk).update(remix_count=1)

    def order(query: str) -> list[str]:
        response = client.get(f"/u/alice/{query}")
        assert response.status_code == 200
        return shown_ids(response.content.decode())

    assert order("") == [new.public_id, loved.public_id, old.public_id]
    assert order("?sort=top") == [loved.public_id, old.public_id, new.public_id]
    assert order("?sort=top&period=week") == [loved.public_id, new.public_id]
    assert order("?sort=remixed")[0] == old.public_id
    assert order("?sort=trending")[0] == loved.public_id
    html = client.get("/u/alice/?sort=top").content.decode()
    assert re.search(r'href="/u/alice/\?sort=top" aria-current="page"', html)
    assert 'href="/u/alice/?sort=top&amp;period=week"' in html


@pytest.mark.parametrize(
    "query, message",
    [
        ("?sort=best", "Choose one of: newest"),
        ("?sort=top&period=decade", "Choose one of: day"),
        ("?sort=relevance", "needs a search"),
    ],
)
def test_a_sort_that_is_not_one_of_ours_is_a_400_with_its_message(query, message, alice, client):
    published(alice)
    response = client.get(f"/u/alice/{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and message in html
    assert shown_ids(html) == []


def test_a_forged_cursor_is_a_400_not_a_500(alice, client):
    published(alice)
    response = client.get("/u/alice/?cursor=forged")
    assert response.status_code == 400


def test_load_more_pages_through_every_portrait_once(alice, client):
    portraits = [published(alice, ago=timedelta(minutes=n)) for n in range(30)]
    html = client.get("/u/alice/").content.decode()
    first = shown_ids(html)
    assert first == [portrait.public_id for portrait in portraits[:24]]
    next_url = re.search(r'href="([^"]+)" rel="next" data-gallery-next', html).group(1)
    published(alice, ago=timedelta(0))  # a new one meanwhile shifts nothing
    second = shown_ids(client.get(next_url.replace("&amp;", "&")).content.decode())
    assert second == [portrait.public_id for portrait in portraits[24:]]

    fragment = client.get(next_url.replace("&amp;", "&") + "&fragment=1").content.decode()
    assert "<html" not in fragment and shown_ids(fragment) == second


def test_the_profile_shows_an_empty_list_kindly(alice, client):
    assert (
        "Alice Liddell has not published a portrait yet."
        in client.get("/u/alice/").content.decode()
    )


# --- Followers and following ----------------------------------------------------------------


def test_the_followers_page_lists_followers_newest_first_with_follow_buttons(
    alice, bob, carol, make_user, client
):
    dave = make_user("dave")
    follow_add(follower=bob, followed=alice)
    follow_add(follower=carol, followed=alice)
    follow_add(follower=dave, followed=alice)
    follow_add(follower=bob, followed=carol)  # bob, viewing, follows carol already
    client.force_login(bob)

    html = client.get("/u/alice/followers/").content.decode()
    assert names_listed(html) == ["dave", "carol", "bob"]
    assert "3 followers</span>" in html
    # carol: pressed; dave: not; bob himself: no button.
    assert re.search(r'/u/carol/follow/".*?aria-pressed="true"', html, re.S)
    assert re.search(r'/u/dave/follow/".*?aria-pressed="false"', html, re.S)
    assert "/u/bob/follow/" not in html


def test_the_follow_lists_header_button_says_whether_you_follow_that_member(
    alice, bob, carol, client
):
    """The header's button is about the member whose list it is, not about the people
    listed: bob follows carol (listed), not alice (whose followers these are)."""
    follow_add(follower=carol, followed=alice)
    follow_add(follower=bob, followed=carol)
    client.force_login(bob)
    html = client.get("/u/alice/followers/").content.decode()
    assert re.search(r'/u/alice/follow/".*?name="intent" value="follow"', html, re.S)
    assert re.search(r'/u/alice/follow/".*?aria-pressed="false"', html, re.S)

    # carol's followers: bob alone, whom he cannot follow; but he does follow carol.
    html = client.get("/u/carol/followers/").content.decode()
    assert re.search(r'/u/carol/follow/".*?aria-pressed="true"', html, re.S)


def test_the_following_page_lists_whom_the_member_follows(alice, bob, carol, client):
    follow_add(follower=alice, followed=bob)
    follow_add(follower=alice, followed=carol)
    html = client.get("/u/alice/following/").content.decode()
    assert names_listed(html) == ["carol", "bob"]
    assert 'aria-current="page"' in html
    assert "bob does not follow anyone yet." in client.get("/u/bob/following/").content.decode()


def test_the_followers_page_pages_with_cursors(alice, make_user, client):
    fans = [make_user(f"fan{n:02}") for n in range(50)]
    for fan in fans:
        follow_add(follower=fan, followed=alice)
    html = client.get("/u/alice/followers/").content.decode()
    first = names_listed(html)
    assert len(first) == 48
    older = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    second = names_listed(client.get(older).content.decode())
    assert first + second == [fan.username for fan in reversed(fans)]
    assert client.get("/u/alice/followers/?cursor=forged").status_code == 400


def test_following_from_a_list_comes_back_to_the_list(alice, bob, carol, client):
    follow_add(follower=carol, followed=alice)
    client.force_login(bob)
    response = client.post("/u/carol/follow/", {"intent": "follow", "next": "/u/alice/followers/"})
    assert response["Location"] == "/u/alice/followers/"


# --- A fixed number of queries, whatever the size ---------------------------------------------


def test_the_profile_runs_a_fixed_number_of_queries(alice, bob, make_user, client):
    client.force_login(bob)
    published(alice)
    follow_add(follower=make_user("fan0"), followed=alice)
    few = queries_for(client, "/u/alice/")
    for n in range(1, 8):
        portrait = published(alice)
        like_add(user=bob, portrait=portrait)
        follow_add(follower=make_user(f"fan{n}"), followed=alice)
    follow_add(follower=bob, followed=alice)
    assert queries_for(client, "/u/alice/") == few
    assert queries_for(client, "/u/alice/?sort=top") == queries_for(client, "/u/alice/?sort=top")


def test_the_follower_lists_run_a_fixed_number_of_queries(alice, bob, make_user, client):
    client.force_login(bob)
    follow_add(follower=make_user("fan0"), followed=alice)
    few = queries_for(client, "/u/alice/followers/")
    for n in range(1, 9):
        fan = make_user(f"fan{n}")
        follow_add(follower=fan, followed=alice)
        follow_add(follower=alice, followed=fan)
        if n % 2:
            follow_add(follower=bob, followed=fan)
    assert queries_for(client, "/u/alice/followers/") == few
    assert queries_for(client, "/u/alice/following/") == few
