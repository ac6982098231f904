"""Lineage: what each step changed, who sees what of a chain, and its fixed query cost."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portraits import imagefiles, selectors
from portraits.lineage import changes_for_viewer, compute_changes, word_diff
from portraits.models import Portrait
from tests.portraits.factories import PortraitFactory, recipe_for, remix_chain

V = Portrait.Visibility


def _fresh_client(user):
    """A client authenticated as a fresh copy of ``user``, as each real request gets
    (the same object would keep its permission cache from one request to the next)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(type(user).objects.get(pk=user.pk))
    return client


def test_word_diff_reports_equal_delete_and_insert_runs():
    assert word_diff("a woman with red hair", "a woman with long red hair, smiling") == [
        {"op": "equal", "text": "a woman with"},
        {"op": "insert", "text": "long"},
        {"op": "equal", "text": "red"},
        {"op": "delete", "text": "hair"},
        {"op": "insert", "text": "hair, smiling"},
    ]
    assert word_diff("same  words", "same words") == [{"op": "equal", "text": "same words"}]
    assert word_diff("", "new") == [{"op": "insert", "text": "new"}]


def test_changes_list_changed_parameters_style_and_img2img():
    old = recipe_for("a cat", seed=1, steps=4, style=None)
    new = recipe_for(
        "a cat",
        seed=2,
        steps=4,
        style="noir",
        style_name="Noir",
        init_strength=0.3,
        model="sd15",
        model_name="SD 1.5",
    )

    changes = compute_changes(old, new)

    assert changes["prompt_changed"] is False
    assert changes["params"] == {"model": ["Painter", "SD 1.5"], "seed": [1, 2]}
    assert changes["style"] == {"from": None, "to": {"slug": "noir", "name": "Noir"}}
    assert (changes["img2img"], changes["init_strength"]) == (True, 0.3)
    hidden = changes_for_viewer(changes, step_visible=True, parent_visible=False)
    assert hidden == {
        "changed": ["style", "model", "seed", "init_strength"],
        "img2img": True,
        "detail_hidden": True,
    }


def test_an_unchanged_prompt_shows_no_diff():
    old = recipe_for("a cat on a mat", steps=4)
    changes = compute_changes(old, recipe_for("a  cat on a mat ", steps=8))

    view = changes_for_viewer(changes, step_visible=True, parent_visible=True)

    assert (view["prompt_diff"], view["negative_prompt_diff"]) == ([], [])
    assert view["params"] == {"steps": [4, 8]} and view["changed"] == ["steps"]


@pytest.mark.django_db
def test_a_remix_that_changed_nothing_reads_no_changes_and_one_that_did_lists_only_that(
    alice, bob, create_portrait, remix, client, api
):
    original = create_portrait(alice, prompt="a violinist in the rain")
    same = remix(original, bob)
    more_steps = remix(original, bob, steps=9)

    same_page = client.get(same.get_absolute_url()).content.decode()
    steps_page = client.get(more_steps.get_absolute_url()).content.decode()
    lineage = api.get(f"/api/v1/portraits/{more_steps.public_id}/lineage/").json()

    assert "No changes." in same_page
    assert "<dt>Prompt</dt>" not in same_page
    assert "No changes." not in steps_page and "<dt>Prompt</dt>" not in steps_page
    assert '<del class="diff-del">4</del> → <ins class="diff-add">9</ins>' in steps_page
    assert lineage["steps"][1]["changes"]["prompt_diff"] == []
    assert lineage["steps"][1]["changes"]["params"] == {"steps": [4, 9]}


@pytest.mark.django_db
def test_private_ancestor_is_unavailable_to_others_but_keeps_credit_and_what_changed(
    alice, bob, carol, mod, create_portrait, remix, api, client
):
    original = create_portrait(alice, prompt="a garden at noon")
    middle = remix(original, alice, prompt="a secret garden with roses at noon", steps=8)
    leaf = remix(middle, carol, prompt="a public garden at noon with tulips", steps=4)
    Portrait.objects.filter(pk=middle.pk).update(visibility=V.PRIVATE)

    data = api.get(f"/api/v1/portraits/{leaf.public_id}/lineage/").json()

    assert [step["depth"] for step in data["steps"]] == [0, 1, 2]
    hidden = data["steps"][1]
    assert hidden["available"] is False
    assert hidden["id"] is hidden["title"] is hidden["prompt"] is hidden["thumbnail_url"] is None
    assert hidden["author"]["username"] == "alice"
    assert hidden["role"] == "remixer"
    assert hidden["changes"] == {
        "changed": ["prompt", "steps"],
        "img2img": False,
        "detail_hidden": True,
    }
    # Carol's public step diffs against the private one: its deleted words would leak it.
    assert data["steps"][2]["changes"]["detail_hidden"] is True
    assert data["steps"][2]["prompt"] == "a public garden at noon with tulips"
    assert "secret" not in str(data) and "roses" not in str(data)
    assert [c["username"] for c in data["credits"]] == ["alice", "carol"]
    # The page says the same.
    page = client.get(leaf.get_absolute_url()).content.decode()
    assert "No longer available" in page
    assert middle.public_id not in page
    assert "secret" not in page and "roses" not in page
    # So does the leaf's file, which was signed while the middle step was still public
    # and carries its manifest as the parent ingredient: no title or picture from it.
    download = client.get(f"/p/{leaf.public_id}/download/")
    assert download.status_code == 200
    leaf_file = b"".join(download.streaming_content)
    assert imagefiles.read_png_metadata(leaf_file)["provenance"]["portrait"]["id"] == (
        leaf.public_id
    )
    assert b"secret" not in leaf_file and b"roses" not in leaf_file
    credentials = api.get(f"/api/v1/portraits/{leaf.public_id}/credentials/").json()
    assert credentials["valid"] and credentials["parent"]["relationship"] == "parentOf"
    assert "secret" not in str(credentials) and "roses" not in str(credentials)
    credentials_page = client.get(f"/p/{leaf.public_id}/credentials/").content.decode()
    assert "Remixed from" in credentials_page
    assert "secret" not in credentials_page and "roses" not in credentials_page

    for viewer in (alice, mod):
        api.force_authenticate(viewer)
        full = api.get(f"/api/v1/portraits/{leaf.public_id}/lineage/").json()
        assert full["steps"][1]["available"] is True
        assert full["steps"][1]["prompt"] == "a secret garden with roses at noon"
        assert full["steps"][1]["changes"]["prompt_diff"] == [
            {"op": "equal", "text": "a"},
            {"op": "insert", "text": "secret"},
            {"op": "equal", "text": "garden"},
            {"op": "insert", "text": "with roses"},
            {"op": "equal", "text": "at noon"},
        ]
        assert full["steps"][2]["changes"]["params"] == {"steps": [8, 4]}


@pytest.mark.django_db
def test_lineage_endpoint_runs_a_fixed_number_of_queries_at_any_depth(
    alice, bob, carol, django_assert_num_queries
):
    authors = [alice, bob, carol]
    deep = remix_chain(authors, 50)
    shallow = remix_chain(authors, 5)
    for chain in (deep, shallow):  # a private step on the way exercises the checks
        Portrait.objects.filter(pk=chain[2].pk).update(visibility=V.PRIVATE)

    # 1-2: bob's permissions (is he a moderator?), read once per request;
    # 3: the portrait, with the viewable check; 4: every ancestor, by the stored path.
    as_bob = _fresh_client(bob)
    with django_assert_num_queries(4):
        deep_data = as_bob.get(f"/api/v1/portraits/{deep[-1].public_id}/lineage/").json()
    as_bob = _fresh_client(bob)
    with django_assert_num_queries(4):
        shallow_data = as_bob.get(f"/api/v1/portraits/{shallow[-1].public_id}/lineage/").json()

    assert len(deep_data["steps"]) == 51 and len(shallow_data["steps"]) == 6
    assert [step["depth"] for step in deep_data["steps"]] == list(range(51))
    assert deep_data["steps"][2]["available"] is False
    assert deep_data["steps"][50]["changes"]["prompt_diff"] == [
        {"op": "equal", "text": "a portrait of step"},
        {"op": "delete", "text": "49"},
        {"op": "insert", "text": "50"},
    ]
    assert [c["username"] for c in deep_data["credits"]] == ["alice", "bob", "carol"]


@pytest.mark.django_db
def test_remixes_endpoint_and_portrait_detail_run_fixed_queries_at_any_depth(
    alice, bob, carol, django_assert_num_queries
):
    deep = remix_chain([alice, bob, carol], 50)
    for n in range(30):
        PortraitFactory(author=bob, parent=deep[-2], recipe=recipe_for(f"remix {n}"))

    # Permissions (2), the portrait, then one page / the ancestors (for the credits).
    as_bob = _fresh_client(bob)
    with django_assert_num_queries(4):
        page = as_bob.get(f"/api/v1/portraits/{deep[-2].public_id}/remixes/?page_size=25").json()
    assert len(page["results"]) == 25 and page["next"]
    # The portrait: permissions (2), the portrait, its ancestors, its tags.
    as_bob = _fresh_client(bob)
    with django_assert_num_queries(5):
        detail = as_bob.get(f"/api/v1/portraits/{deep[-1].public_id}/").json()
    assert len(detail["credits"]) == 3


@pytest.mark.django_db
def test_lineage_page_runs_a_fixed_number_of_queries_at_any_depth(
    alice, bob, carol, client, django_assert_num_queries
):
    deep = remix_chain([alice, bob, carol], 50)
    shallow = remix_chain([alice, bob, carol], 5)
    client.force_login(bob)
    client.get("/")  # settle the session

    counts = []
    for chain in (deep, shallow):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            response = client.get(chain[-1].get_absolute_url())
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_remixes_list_shows_public_and_own_but_not_others_unlisted_or_private(
    alice, bob, carol, create_portrait, remix, api
):
    original = create_portrait(alice)
    public = remix(original, bob, prompt="public remix")
    unlisted = remix(original, bob, prompt="unlisted remix", visibility=V.UNLISTED)
    carols = remix(original, carol, prompt="carol's private remix", visibility=V.PRIVATE)

    url = reverse("api:portrait-remixes", kwargs={"public_id": original.public_id})
    anonymous = {item["id"] for item in api.get(url).json()["results"]}
    api.force_authenticate(carol)
    as_carol = {item["id"] for item in api.get(url).json()["results"]}

    assert anonymous == {public.public_id}
    assert as_carol == {public.public_id, carols.public_id}
    assert unlisted.public_id not in as_carol


@pytest.mark.django_db
def test_a_deleted_account_is_still_credited_by_name(alice, bob, create_portrait, remix):
    original = create_portrait(alice)
    child = remix(original, bob)
    alice.delete()

    credits = selectors.portrait_credits(portrait=Portrait.objects.get(pk=child.pk))

    assert [(c.name, c.username, c.role) for c in credits] == [
        ("Alice Liddell", None, "original"),
        ("bob", "bob", "remixer"),
    ]


@pytest.mark.django_db
def test_a_closed_account_is_credited_by_name_without_a_link_to_its_gone_profile(
    alice, bob, client, create_portrait, remix
):
    from accounts.services import user_deactivate

    original = create_portrait(alice)
    child = remix(original, bob)
    user_deactivate(user=alice)

    credits = selectors.portrait_credits(portrait=Portrait.objects.get(pk=child.pk))
    assert [(c.name, c.username) for c in credits] == [("Alice Liddell", None), ("bob", "bob")]
    lineage = client.get(f"/api/v1/portraits/{child.public_id}/lineage/").json()
    assert lineage["steps"][0]["author"]["url"] is None
    assert "/u/alice/" not in client.get("/").content.decode()
    assert "/u/bob/" in client.get("/").content.decode()
