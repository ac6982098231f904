"""The family of an idea: a portrait's remix tree, as each viewer may see it, in a fixed
number of queries, bounded for a huge family (page and API)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portraits import selectors
from portraits.models import Portrait
from portraits.recipe import UNTITLED_REMIX, title_from_prompt
from portraits.services import portrait_delete, portrait_update
from tests.portraits.factories import PortraitFactory, recipe_for

V = Portrait.Visibility

pytestmark = pytest.mark.django_db


def _fresh_api(user=None):
    """An API client as a fresh request sees ``user`` (no permission cache carried over)."""
    from rest_framework.test import APIClient

    client = APIClient()
    if user is not None:
        client.force_authenticate(type(user).objects.get(pk=user.pk))
    return client


def _tree_url(portrait) -> str:
    return reverse("api:portrait-tree", kwargs={"public_id": portrait.public_id})


def _by_id(data) -> dict[str, dict]:
    return {member["id"]: member for member in data["members"] if member["id"]}


def _tree_markup(response) -> str:
    """The tree itself, from a tree page (the site's navigation has lists of its own)."""
    return response.content.decode().split('class="tree-scroll"')[1].split("</main>")[0]


@pytest.fixture
def family(alice, bob, carol, create_portrait, remix):
    """An original and its descendants, with every kind of member a stranger cannot see::

    original (alice, public)
      public_remix (bob, public)
        hidden (bob, public, hidden by moderators)
        tombstone (alice, deleted, kept for its child)
          after_tombstone (carol, public)
      private (carol, private)
        under_private (carol, public)
    """
    original = create_portrait(alice, prompt="a lighthouse at dusk")
    public_remix = remix(original, bob, prompt="a lighthouse at dawn")
    hidden = remix(public_remix, bob, prompt="a lighthouse at dawn, in fog")
    Portrait.objects.filter(pk=hidden.pk).update(
        hidden_at=timezone.now(), hidden_cause="moderation"
    )
    tombstone = remix(public_remix, alice, prompt="a lighthouse at dawn, gulls")
    after_tombstone = remix(tombstone, carol, prompt="a lighthouse at dawn, many gulls")
    assert portrait_delete(portrait=tombstone, by=alice) is True
    private = remix(original, carol, prompt="a forbidden tower", visibility=V.PRIVATE)
    under_private = remix(private, carol, prompt="a keeper alone by the sea")
    return {
        name: Portrait.objects.get(pk=portrait.pk)
        for name, portrait in {
            "original": original,
            "public_remix": public_remix,
            "hidden": hidden,
            "tombstone": tombstone,
            "after_tombstone": after_tombstone,
            "private": private,
            "under_private": under_private,
        }.items()
    }


def test_tree_keeps_private_hidden_and_deleted_members_in_place_without_title_or_picture(
    family, api
):
    data = api.get(_tree_url(family["after_tombstone"])).json()

    assert data["total"] == data["shown"] == 7 and data["left_out"] == 0
    members = data["members"]
    # Shallowest first, each parent before its children; the original is key 0.
    assert [m["key"] for m in members] == list(range(7))
    assert members[0]["parent"] is None and members[0]["id"] == family["original"].public_id
    assert all(m["parent"] < m["key"] for m in members[1:])
    assert [m["depth"] for m in members] == sorted(m["depth"] for m in members)

    visible = _by_id(data)
    assert set(visible) == {
        family[name].public_id
        for name in ("original", "public_remix", "after_tombstone", "under_private")
    }
    unavailable = [m for m in members if not m["available"]]
    assert len(unavailable) == 3
    for member in unavailable:
        assert member["id"] is None and member["title"] is None and member["url"] is None
        assert member["thumbnail_url"] is None and member["visibility"] is None
        assert member["changes"]["detail_hidden"] is True
    # Each keeps its author's credit and role, and its children hang under it.
    credits = sorted((m["author"]["username"], m["role"], m["is_deleted"]) for m in unavailable)
    assert credits == [
        ("alice", "remixer", True),
        ("bob", "remixer", False),
        ("carol", "remixer", False),
    ]
    tombstone = next(m for m in unavailable if m["is_deleted"])
    after = visible[family["after_tombstone"].public_id]
    assert after["parent"] == tombstone["key"] and after["is_current"] is True
    assert tombstone["parent"] == visible[family["public_remix"].public_id]["key"]
    private = next(m for m in unavailable if m["author"]["username"] == "carol")
    assert visible[family["under_private"].public_id]["parent"] == private["key"]
    # Nothing of what is unavailable is anywhere in the answer.
    text = str(data)
    for name in ("hidden", "tombstone", "private"):
        assert family[name].public_id not in text
        assert family[name].title not in text
    # A visible edge says what changed, word by word, where its parent is visible too.
    remix_edge = visible[family["public_remix"].public_id]["changes"]
    assert {"op": "insert", "text": "dawn"} in remix_edge["prompt_diff"]
    # Under a member the viewer cannot see, only the names of what changed.
    assert visible[family["under_private"].public_id]["changes"] == {
        "changed": ["prompt"],
        "img2img": False,
        "detail_hidden": True,
    }


def test_tree_page_draws_nested_lists_with_not_available_members(family, client):
    response = client.get(
        reverse("portraits:tree", kwargs={"public_id": family["public_remix"].public_id})
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<em>Not available</em>") == 2
    # The public one moderators hid says so (issue 10), still crediting its author.
    assert html.count("<em>Removed by moderators</em>") == 1
    for name in ("hidden", "tombstone", "private"):
        assert family[name].public_id not in html
        assert family[name].title not in html
    for name in ("original", "public_remix", "after_tombstone", "under_private"):
        assert family[name].get_absolute_url() in html
    # Real nested lists: as many lists opened as closed, one per member with children.
    tree = _tree_markup(response)
    assert tree.count("<ul") == tree.count("</ul>") == 1 + 4
    assert tree.count('<li class="tree-item">') == tree.count("</li>") == 7
    # The current portrait is marked, for eyes and for screen readers.
    assert html.count('aria-current="page"') == 1
    assert "this portrait" in html
    assert "Carol" in html and "Alice Liddell" in html  # credits of unavailable members


def test_members_see_their_own_private_and_hidden_portraits_in_the_tree(family, bob, carol, mod):
    as_carol = _by_id(_fresh_api(carol).get(_tree_url(family["original"])).json())
    as_bob = _by_id(_fresh_api(bob).get(_tree_url(family["original"])).json())
    as_mod = _by_id(_fresh_api(mod).get(_tree_url(family["original"])).json())

    private, hidden = family["private"].public_id, family["hidden"].public_id
    assert private in as_carol and as_carol[private]["title"] == family["private"].title
    assert as_carol[private]["visibility"] == "private"
    assert private not in as_bob and hidden not in as_carol
    assert hidden in as_bob  # hidden by moderators: still its owner's
    assert {private, hidden} <= set(as_mod)
    # A tombstone is nobody's to open, not even a moderator's.
    assert family["tombstone"].public_id not in as_mod


def test_a_portrait_you_cannot_see_has_no_tree(family, bob, client):
    private = family["private"]
    url = reverse("portraits:tree", kwargs={"public_id": private.public_id})

    assert _fresh_api(bob).get(_tree_url(private)).status_code == 404
    assert _fresh_api().get(_tree_url(private)).status_code == 404
    assert _fresh_api().get(_tree_url(family["tombstone"])).status_code == 404
    assert _fresh_api().get("/api/v1/portraits/nosuchportrait/tree/").status_code == 404
    client.force_login(bob)
    assert client.get(url).status_code == 404
    assert (
        client.get(reverse("portraits:tree", kwargs={"public_id": "nosuchportrait"})).status_code
        == 404
    )


def test_an_unlisted_member_is_shown_only_where_a_page_you_can_open_names_it(alice, bob, carol):
    original = PortraitFactory(author=alice)
    unlisted_leaf = PortraitFactory(author=carol, parent=original, visibility=V.UNLISTED)
    unlisted_middle = PortraitFactory(author=carol, parent=original, visibility=V.UNLISTED)
    public_below = PortraitFactory(author=carol, parent=unlisted_middle)

    as_bob = _by_id(_fresh_api(bob).get(_tree_url(original)).json())
    from_the_leaf = _by_id(_fresh_api(bob).get(_tree_url(unlisted_leaf)).json())
    as_carol = _by_id(_fresh_api(carol).get(_tree_url(original)).json())

    # A tree lists: an unlisted portrait nobody linked to stays unlisted...
    assert unlisted_leaf.public_id not in as_bob
    # ...but one above a portrait bob can see is in that portrait's lineage anyway.
    assert {original.public_id, unlisted_middle.public_id, public_below.public_id} == set(as_bob)
    # Opened by its link, the unlisted portrait is in its own tree; its owner sees it always.
    assert unlisted_leaf.public_id in from_the_leaf and unlisted_leaf.public_id in as_carol


def test_titles_made_from_words_kept_from_a_private_step_read_untitled_remix(alice, bob, carol):
    original = PortraitFactory(author=alice, recipe=recipe_for("a quiet harbour"))
    secret = PortraitFactory(
        author=carol, parent=original, visibility=V.PRIVATE, recipe=recipe_for("a secret harbour")
    )
    kept = PortraitFactory(
        author=bob,
        parent=secret,
        recipe=recipe_for("a secret harbour", seed=5),
        title=title_from_prompt("a secret harbour"),
    )
    kept_again = PortraitFactory(
        author=alice,
        parent=kept,
        recipe=recipe_for("a secret harbour", seed=6),
        title=title_from_prompt("a secret harbour"),
    )
    rows = [original, secret, kept, kept_again]

    for viewer in (bob, carol, None):
        family = selectors.portrait_family(
            portrait=Portrait.objects.get(pk=kept_again.pk), viewer=viewer
        )
        titles = {m.step.public_id: m.step.title for m in family.members if m.step.available}
        for row in rows:
            if row.public_id in titles:  # the one rule, read through the standard selector
                fresh = Portrait.objects.get(pk=row.pk)
                assert titles[row.public_id] == selectors.portrait_title_for(
                    portrait=fresh, viewer=viewer
                )
    as_bob = selectors.portrait_family(portrait=kept_again, viewer=bob)
    assert [m.step.title for m in as_bob.members][3] == UNTITLED_REMIX
    assert [m.step.title for m in as_bob.members][2] == title_from_prompt("a secret harbour")


def _family_of(size: int, authors) -> list[Portrait]:
    """An original and ``size - 1`` descendants: a branching tree with private members and
    remixes that kept their parent's prompt (so whose words are withheld is worked out)."""
    original = PortraitFactory(author=authors[0], recipe=recipe_for("a tree of ideas"))
    rows = [original]
    for n in range(1, size):
        parent = rows[(n - 1) // 2]
        rows.append(
            PortraitFactory(
                author=authors[n % len(authors)],
                parent=parent,
                visibility=V.PRIVATE if n % 5 == 0 else V.PUBLIC,
                recipe=recipe_for(
                    parent.recipe["prompt"] if n % 3 == 0 else f"a tree of ideas, branch {n}",
                    seed=n,
                ),
            )
        )
    return rows


def test_tree_runs_the_same_queries_for_3_members_and_for_40(
    alice, bob, carol, client, django_assert_num_queries
):
    small = _family_of(3, [alice, bob, carol])
    large = _family_of(40, [alice, bob, carol])

    # Permissions (2: is bob a moderator?), the portrait, the original, its descendants.
    for rows in (small, large):
        as_bob = _fresh_api(bob)
        with django_assert_num_queries(5):
            data = as_bob.get(_tree_url(rows[-1])).json()
        assert data["shown"] == len(rows)
        # The original's own tree: it is the root, no query for that.
        as_bob = _fresh_api(bob)
        with django_assert_num_queries(4):
            as_bob.get(_tree_url(rows[0]))

    client.force_login(bob)
    client.get("/")  # settle the session
    counts = []
    for rows in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(
                reverse("portraits:tree", kwargs={"public_id": rows[-1].public_id})
            )
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_huge_tree_is_shown_shallowest_first_to_the_bound_saying_how_many_were_left_out(
    alice, bob, settings, client, django_assert_num_queries
):
    settings.PORTRAIT_FAMILY_MAX_MEMBERS = 10
    rows = _family_of(25, [alice, bob])

    # One more query than a tree within the bound: the size of the whole tree.
    as_bob = _fresh_api(bob)
    with django_assert_num_queries(6):
        data = as_bob.get(_tree_url(rows[1])).json()

    assert (data["total"], data["shown"], data["left_out"], data["max_members"]) == (25, 10, 15, 10)
    members = data["members"]
    expected = sorted(rows, key=lambda row: (row.depth, row.created_at, row.pk))[:10]
    assert [m["depth"] for m in members] == [row.depth for row in expected]
    # Connected: every member's parent is among those shown.
    assert all(0 <= m["parent"] < m["key"] for m in members[1:])
    assert data["current"] == 1 and members[1]["is_current"]
    # Deeper than the bound: the tree says so, and where this portrait is.
    deep = _fresh_api(bob).get(_tree_url(rows[-1])).json()
    assert deep["current"] is None and not any(m["is_current"] for m in deep["members"])

    html = client.get(reverse("portraits:tree", kwargs={"public_id": rows[-1].public_id}))
    text = html.content.decode()
    assert "25 portraits in this family" in text
    assert "Showing the first 10" in text and "15 later or deeper ones are not shown" in text
    assert "This portrait is among them" in text


def test_a_chain_deeper_than_a_templates_recursion_draws_as_nested_lists(alice, bob, client):
    chain = [PortraitFactory(author=alice)]
    for _ in range(300):
        chain.append(PortraitFactory(author=bob, parent=chain[-1]))

    response = client.get(reverse("portraits:tree", kwargs={"public_id": chain[-1].public_id}))

    tree = _tree_markup(response)
    assert response.status_code == 200
    assert tree.count("<ul") == tree.count("</ul>") == 301


def test_every_portrait_page_links_to_its_family_tree_with_its_size(family, client):
    for name, size in (("original", 7), ("under_private", 7)):
        response = client.get(family[name].get_absolute_url())
        tree = reverse("portraits:tree", kwargs={"public_id": family[name].public_id})
        assert f'href="{tree}">Family tree ({size})</a>' in response.content.decode()

    lone = PortraitFactory(author=family["original"].author)
    html = client.get(lone.get_absolute_url()).content.decode()
    assert "Family tree (1)" in html


def test_portrait_resource_links_its_tree(family, api):
    data = api.get(f"/api/v1/portraits/{family['original'].public_id}/").json()
    assert data["links"]["tree"].endswith(_tree_url(family["original"]))


def test_deleting_the_last_remix_of_a_tombstone_shrinks_the_tree(
    alice, bob, create_portrait, remix
):
    original = create_portrait(alice)
    child = remix(original, bob)
    grandchild = remix(child, alice)
    portrait_delete(portrait=child, by=bob)
    assert selectors.portrait_family_size(portrait=original) == 3

    portrait_delete(portrait=grandchild, by=alice)  # the tombstone above goes too

    assert selectors.portrait_family_size(portrait=original) == 1
    family = selectors.portrait_family(portrait=original, viewer=None)
    assert len(family.members) == 1 and family.root.step.is_current


def test_making_a_member_private_hides_it_from_others_tree_at_once(
    alice, bob, create_portrait, remix
):
    original = create_portrait(alice)
    child = remix(original, bob)
    assert child.public_id in _by_id(_fresh_api(alice).get(_tree_url(original)).json())

    portrait_update(portrait=child, by=bob, data={"visibility": V.PRIVATE})

    data = _fresh_api(alice).get(_tree_url(original)).json()
    assert child.public_id not in _by_id(data) and data["total"] == 2
    assert data["members"][1]["author"]["username"] == "bob"
