"""A parent the viewer may not see stays unseen on every surface of its remixes.

The story of every test here: alice paints a public portrait, bob remixes it (changing
its prompt, so the words he dropped are alice's alone), then alice makes hers private and
renames it — or deletes it, leaving a tombstone. Bob's remix, its job, its lineage, its
recipe and its Content Credentials must then show the parent only as "no longer
available" (with alice's credit) to anyone but alice and moderators: never its id, its
new or old title, or the words of its prompt. Alice still sees all of her own portrait.
"""

from __future__ import annotations

import json
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_token_create
from accounts.websocket import TokenOrSessionAuthMiddleware
from generation import services as generation_services
from generation.routing import websocket_urlpatterns
from portraits import services
from portraits.models import Portrait
from tests.support import paint_job

V = Portrait.Visibility
TIMEOUT = 20

PARENT_PROMPT = "a lighthouse keeper holding a crimson umbrella, oil painting"
REMIX_PROMPT = "a lighthouse keeper at dawn, oil painting"
# Words only the parent's prompt (and so its default title) has.
PARENT_ONLY_WORDS = ("crimson", "umbrella")
SECRET_TITLE = "Zephyrine's second thoughts"


def _leaks(text: str, parent: Portrait) -> list[str]:
    """What of ``parent`` appears in ``text``: its id, its titles, its own words."""
    found = [word for word in (*PARENT_ONLY_WORDS, SECRET_TITLE) if word in text]
    if parent.public_id in text:
        found.append(parent.public_id)
    return found


@pytest.fixture
def parent(alice, create_portrait):
    return create_portrait(alice, prompt=PARENT_PROMPT)


@pytest.fixture
def child(parent, bob, remix):
    """Bob's public remix, with his own prompt and seed."""
    return remix(parent, bob, prompt=REMIX_PROMPT, seed=77)


def _hide(parent: Portrait, how: str, by) -> None:
    if how == "private":
        services.portrait_update(
            portrait=parent, by=by, data={"visibility": V.PRIVATE, "title": SECRET_TITLE}
        )
    else:
        # Renamed first, so the tombstone's stored title is the secret one.
        services.portrait_update(portrait=parent, by=by, data={"title": SECRET_TITLE})
        assert services.portrait_delete(portrait=parent, by=by) is True  # a tombstone


def test_recipe_for_viewer_names_the_parent_only_when_it_is_visible():
    from portraits.recipe import recipe_for_viewer

    recipe = {"prompt": "a cat", "parent": "abc123", "model_source": "/srv/models/x"}
    flags = {"prompt_withheld": False, "negative_prompt_withheld": False}

    assert recipe_for_viewer(recipe, parent_visible=True) == {
        "prompt": "a cat",
        "parent": "abc123",
        **flags,
    }
    assert recipe_for_viewer(recipe, parent_visible=False) == {
        "prompt": "a cat",
        "parent": None,
        **flags,
    }
    # An original's recipe is the same either way.
    assert recipe_for_viewer({"prompt": "a", "parent": None}, parent_visible=False) == {
        "prompt": "a",
        "parent": None,
        **flags,
    }
    assert recipe["parent"] == "abc123"  # the stored recipe is never changed


def test_provenance_for_viewer_blanks_every_string_naming_a_hidden_portrait():
    from portraits.recipe import provenance_for_viewer

    provenance = {
        "portrait": {"id": "MINE", "url": "https://x/p/MINE/"},
        "parent": {"id": "HIDDEN", "url": "https://x/p/HIDDEN/"},
        "lineage": ["ROOT", "HIDDEN"],
        "recipe": {"prompt": "a cat", "parent": "HIDDEN", "seed": 3, "init_strength": None},
        "ingredients": [{"title": "Likeness portrait HIDDEN", "relationship": "parentOf"}],
    }

    shown = provenance_for_viewer(provenance, hidden_ids={"HIDDEN"})

    assert shown == {
        "portrait": {"id": "MINE", "url": "https://x/p/MINE/"},
        "parent": {"id": None, "url": None},
        "lineage": ["ROOT", None],
        "recipe": {"prompt": "a cat", "parent": None, "seed": 3, "init_strength": None},
        "ingredients": [{"title": None, "relationship": "parentOf"}],
    }
    assert provenance_for_viewer(provenance, hidden_ids=set()) is provenance


# --- The remixer's job: page and API ------------------------------------------------


@pytest.mark.parametrize("how", ["private", "deleted"])
def test_job_page_shows_a_hidden_parent_as_no_longer_available(
    how, alice, bob, parent, child, client
):
    _hide(parent, how, alice)
    client.force_login(bob)

    page = client.get(child.job.get_absolute_url()).content.decode()

    assert "no longer available" in page
    assert "Alice Liddell" in page  # the parent's author keeps her credit
    assert _leaks(page, parent) == []
    assert REMIX_PROMPT in page  # bob's own recipe is his


def test_job_page_links_a_visible_parent_by_its_current_title(bob, parent, child, client):
    services.portrait_update(portrait=parent, by=parent.author, data={"title": "Renamed"})
    client.force_login(bob)

    page = client.get(child.job.get_absolute_url()).content.decode()

    assert f'remix of <a href="{parent.get_absolute_url()}">Renamed</a>' in page
    assert "no longer available" not in page


@pytest.mark.parametrize("how", ["private", "deleted"])
def test_job_api_names_no_hidden_parent(how, alice, bob_api, parent, child):
    _hide(parent, how, alice)

    data = bob_api.get(reverse("api:job-detail", kwargs={"pk": child.job.pk})).json()

    assert data["recipe"]["parent"] is None
    assert data["parent"]["available"] is False
    assert data["parent"]["id"] is data["parent"]["title"] is data["parent"]["url"] is None
    assert data["parent"]["author"]["username"] == "alice"
    assert _leaks(json.dumps(data), parent) == []
    assert data["recipe"]["prompt"] == REMIX_PROMPT


def test_a_job_whose_parent_is_gone_altogether_still_reads_as_a_remix(
    alice, bob, parent, client, django_capture_on_commit_callbacks
):
    from generation.services import job_cancel

    with django_capture_on_commit_callbacks(execute=False):  # no Celery: never painted
        job = generation_services.job_submit_remix(
            portrait=parent, user=bob, changes={"prompt": REMIX_PROMPT}
        )
    job_cancel(job=job, by=bob)
    # Nothing builds on it any more, so the row goes (the job's link is set null).
    assert services.portrait_delete(portrait=parent, by=alice) is False
    client.force_login(bob)

    data = client.get(reverse("api:job-detail", kwargs={"pk": job.pk})).json()
    page = client.get(job.get_absolute_url()).content.decode()

    assert data["parent"] == {
        "available": False,
        "id": None,
        "title": None,
        "url": None,
        "author": None,
        "removed_by_moderators": False,
    }
    assert data["recipe"]["parent"] is None
    assert "remix of <em>a portrait, no longer available</em>" in page
    assert _leaks(page, parent) == []


def test_job_list_reads_remixes_parents_in_a_fixed_number_of_queries(
    alice, bob, carol, create_portrait, remix, django_assert_max_num_queries
):
    from rest_framework.test import APIClient

    def remix_jobs(count):
        for n in range(count):
            original = create_portrait((alice, carol)[n % 2], prompt=f"original {n}")
            remix(original, bob, seed=n)

    api = APIClient()
    api.force_authenticate(bob)
    remix_jobs(2)
    with django_assert_max_num_queries(20) as few:
        first = api.get("/api/v1/jobs/").json()
    remix_jobs(6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        second = api.get("/api/v1/jobs/").json()

    assert len(first["results"]) == 2 and len(second["results"]) == 8
    assert {job["parent"]["author"]["username"] for job in second["results"]} == {"alice", "carol"}


def test_moderator_sees_the_private_parent_of_any_job(alice, mod, parent, child):
    from rest_framework.test import APIClient

    _hide(parent, "private", alice)
    api = APIClient()
    api.force_authenticate(mod)

    data = api.get(reverse("api:job-detail", kwargs={"pk": child.job.pk})).json()

    assert data["recipe"]["parent"] == parent.public_id
    assert data["parent"]["title"] == SECRET_TITLE


# --- The remix's portrait: API, page, lineage, credentials --------------------------


@pytest.mark.parametrize("viewer", ["anonymous", "bob"])
def test_portrait_api_of_a_public_remix_names_no_private_parent(viewer, alice, bob, parent, child):
    from rest_framework.test import APIClient

    _hide(parent, "private", alice)
    api = APIClient()
    if viewer == "bob":
        api.force_authenticate(bob)

    data = api.get(f"/api/v1/portraits/{child.public_id}/").json()

    assert data["recipe"]["parent"] is None
    assert data["parent"]["available"] is False and data["parent"]["id"] is None
    assert data["changes"]["detail_hidden"] is True
    assert data["changes"]["changed"] == ["prompt", "seed"]
    assert [credit["username"] for credit in data["credits"]] == ["alice", "bob"]
    assert _leaks(json.dumps(data), parent) == []
    assert data["recipe"]["prompt"] == REMIX_PROMPT


@pytest.mark.parametrize("how", ["private", "deleted"])
def test_lineage_api_and_page_of_a_remix_reveal_nothing_of_a_hidden_parent(
    how, alice, parent, child, api, client
):
    _hide(parent, how, alice)

    lineage = api.get(f"/api/v1/portraits/{child.public_id}/lineage/").json()
    page = client.get(child.get_absolute_url()).content.decode()

    first, second = lineage["steps"]
    assert first["available"] is False and first["author"]["username"] == "alice"
    assert second["changes"] == {
        "changed": ["prompt", "seed"],
        "img2img": False,
        "detail_hidden": True,
    }
    assert _leaks(json.dumps(lineage), parent) == []
    assert "No longer available" in page
    assert _leaks(page, parent) == []


def test_credentials_of_a_public_remix_name_no_private_parent(alice, parent, child, api, client):
    _hide(parent, "private", alice)

    report = api.get(f"/api/v1/portraits/{child.public_id}/credentials/").json()
    page = client.get(f"/p/{child.public_id}/credentials/").content.decode()

    # Still a verified remix, but its parent is not named.
    assert report["valid"] is True
    assert report["parent"]["relationship"] == "parentOf"
    assert report["parent"]["title"] is None
    assert report["png_provenance"]["parent"] == {"id": None, "url": None}
    assert report["png_provenance"]["lineage"] == [None]
    assert report["png_provenance"]["recipe"]["parent"] is None
    assert report["png_provenance"]["portrait"]["id"] == child.public_id
    assert _leaks(json.dumps(report), parent) == []
    assert "Remixed from" in page and "no longer available" in page
    assert _leaks(page, parent) == []


def test_the_parent_s_owner_still_sees_everything_of_her_own_parent(alice, parent, child):
    from rest_framework.test import APIClient

    _hide(parent, "private", alice)
    api = APIClient()
    api.force_authenticate(alice)

    data = api.get(f"/api/v1/portraits/{child.public_id}/").json()
    lineage = api.get(f"/api/v1/portraits/{child.public_id}/lineage/").json()
    report = api.get(f"/api/v1/portraits/{child.public_id}/credentials/").json()

    assert data["recipe"]["parent"] == parent.public_id
    assert data["parent"] | {"author": None} == {
        "available": True,
        "id": parent.public_id,
        "title": SECRET_TITLE,
        "url": f"http://testserver{parent.get_absolute_url()}",
        "author": None,
        "removed_by_moderators": False,
    }
    assert {"op": "delete", "text": "holding a crimson umbrella,"} in data["changes"]["prompt_diff"]
    assert lineage["steps"][0]["title"] == SECRET_TITLE
    assert lineage["steps"][0]["prompt"] == PARENT_PROMPT
    assert report["png_provenance"]["parent"]["id"] == parent.public_id
    assert report["png_provenance"]["lineage"] == [parent.public_id]
    assert report["parent"]["title"] == f"Likeness portrait {parent.public_id}"


def test_a_private_step_in_the_middle_is_scrubbed_from_the_leaf_s_credentials(
    alice, bob, carol, create_portrait, remix, api
):
    original = create_portrait(alice, prompt="a garden")
    middle = remix(original, bob, prompt="a secret garden")
    leaf = remix(middle, carol, prompt="a public garden")
    services.portrait_update(portrait=middle, by=bob, data={"visibility": V.PRIVATE})

    report = api.get(f"/api/v1/portraits/{leaf.public_id}/credentials/").json()

    assert report["png_provenance"]["lineage"] == [original.public_id, None]
    assert report["png_provenance"]["parent"] == {"id": None, "url": None}
    assert middle.public_id not in json.dumps(report)


def test_remixing_a_parent_you_cannot_see_is_a_404_that_names_nothing(
    alice, bob, parent, child, client
):
    _hide(parent, "private", alice)
    client.force_login(bob)

    response = client.get(f"{reverse('generation:job-create')}?remix={parent.public_id}")

    assert response.status_code == 404
    assert _leaks(response.content.decode(), parent) == []


# --- The job's WebSocket -------------------------------------------------------------


def _communicator(job_id, user) -> WebsocketCommunicator:
    token = api_token_create(user=user, name="test")[1]
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    return WebsocketCommunicator(app, f"/ws/jobs/{job_id}/?token={token}")


def _finish(job_id) -> None:
    """What the worker does, with hand-made pictures instead of the pipeline."""
    paint_job(job_id, worker="test")


@pytest.mark.django_db(transaction=True)
def test_job_websocket_state_and_done_name_no_hidden_parent(
    alice, bob, parent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # no Celery: the test paints
        job = generation_services.job_submit_remix(
            portrait=parent, user=bob, changes={"prompt": REMIX_PROMPT}
        )
    _hide(parent, "private", alice)
    ws = _communicator(job.pk, bob)

    async def scenario():
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert connected
        received = [await ws.receive_json_from(timeout=TIMEOUT)]
        worker = threading.Thread(target=_finish, args=(job.pk,))
        worker.start()
        while received[-1]["type"] not in {"done", "failed", "cancelled"}:
            received.append(await ws.receive_json_from(timeout=TIMEOUT))
        await database_sync_to_async(worker.join)()
        await ws.disconnect()
        return received

    received = async_to_sync(scenario)()

    state, done = received[0], received[-1]
    assert (state["type"], done["type"]) == ("state", "done")
    for message in (state, done):
        assert message["job"]["recipe"]["parent"] is None
        assert message["job"]["parent"]["available"] is False
        assert message["job"]["parent"]["author"]["username"] == "alice"
        assert _leaks(json.dumps(message), parent) == []
    assert len(done["job"]["portraits"]) == 1


# --- A remix that kept its parent's prompt ---------------------------------------------
#
# Words a remixer did not write are the parent author's: once the step that wrote them is
# hidden from a viewer (private to someone else, or a tombstone), a public remix that kept
# them unchanged shows them to nobody but its own author and moderators, on any surface.

KEPT_PROMPT = "a quillwort gardener in a copper greenhouse, oil painting"
KEPT_NEGATIVE = "blurry, marrowfat"
KEPT_WORDS = ("quillwort", "marrowfat")
NEUTRAL_TITLE = "Untitled remix"


def _kept_words(text: str) -> list[str]:
    return [word for word in KEPT_WORDS if word in text]


@pytest.fixture
def kept_parent(alice, create_portrait):
    return create_portrait(alice, prompt=KEPT_PROMPT, negative_prompt=KEPT_NEGATIVE)


@pytest.fixture
def kept(kept_parent, bob, remix):
    """Bob's public remix that changed only the seed: its prompt and title are alice's words."""
    portrait = remix(kept_parent, bob, seed=91)
    assert portrait.recipe["prompt"] == KEPT_PROMPT
    assert portrait.changes["prompt_changed"] is False
    assert "quillwort" in portrait.title  # the default title, made from the kept prompt
    return portrait


def _as(viewer_name: str, request):
    """A page client and an API client for ``viewer_name`` ("anonymous" or a member)."""
    from django.test import Client
    from rest_framework.test import APIClient

    page, api = Client(), APIClient()
    if viewer_name != "anonymous":
        user = request.getfixturevalue(viewer_name)
        page.force_login(user)
        api.force_authenticate(user)
    return page, api


@pytest.mark.parametrize("how", ["private", "deleted"])
@pytest.mark.parametrize("viewer", ["anonymous", "carol"])
def test_a_kept_prompt_is_withheld_once_its_parent_is_hidden(
    how, viewer, alice, kept_parent, kept, request
):
    _hide(kept_parent, how, alice)
    page, api = _as(viewer, request)

    data = api.get(f"/api/v1/portraits/{kept.public_id}/").json()
    lineage = api.get(f"/api/v1/portraits/{kept.public_id}/lineage/").json()
    report = api.get(f"/api/v1/portraits/{kept.public_id}/credentials/").json()
    detail = page.get(kept.get_absolute_url()).content.decode()
    credentials = page.get(f"/p/{kept.public_id}/credentials/").content.decode()
    download = page.get(f"/p/{kept.public_id}/download/")

    assert data["recipe"]["prompt"] is None and data["recipe"]["styled_prompt"] is None
    assert data["recipe"]["negative_prompt"] is None
    assert data["recipe"]["prompt_withheld"] is True
    assert data["recipe"]["negative_prompt_withheld"] is True
    assert data["recipe"]["seed"] == 91  # the rest of the recipe is bob's, and shown
    assert data["title"] == NEUTRAL_TITLE
    assert lineage["steps"][1]["title"] == NEUTRAL_TITLE
    assert lineage["steps"][1]["prompt"] is None
    assert lineage["steps"][1]["prompt_withheld"] is True
    assert report["valid"] is True
    for text in (json.dumps(data), json.dumps(lineage), json.dumps(report)):
        assert _kept_words(text) == [] and _leaks(text, kept_parent) == []
    assert f"<h1>{NEUTRAL_TITLE}</h1>" in detail
    assert "kept from a portrait that is no longer available" in detail
    for text in (detail, credentials, download["Content-Disposition"]):
        assert _kept_words(text) == []


@pytest.mark.parametrize("viewer", ["anonymous", "carol"])
def test_lists_show_a_remix_that_kept_a_hidden_prompt_by_a_neutral_title(
    viewer, alice, bob, kept_parent, kept, remix, request
):
    # Bob remixes his own remix, keeping the prompt again: two steps from alice's words.
    again = remix(kept, bob, seed=92)
    _hide(kept_parent, "private", alice)
    page, api = _as(viewer, request)

    remixes_api = api.get(f"/api/v1/portraits/{kept.public_id}/remixes/").json()
    remixes_page = page.get(f"/p/{kept.public_id}/remixes/").content.decode()
    home = page.get("/").content.decode()
    profile = page.get("/u/bob/").content.decode()
    again_data = api.get(f"/api/v1/portraits/{again.public_id}/").json()

    assert [item["id"] for item in remixes_api["results"]] == [again.public_id]
    assert remixes_api["results"][0]["title"] == NEUTRAL_TITLE
    assert again_data["recipe"]["prompt_withheld"] is True
    assert again_data["title"] == NEUTRAL_TITLE
    for text in (json.dumps(remixes_api), remixes_page, home, profile, json.dumps(again_data)):
        assert _kept_words(text) == []
    assert NEUTRAL_TITLE in remixes_page and NEUTRAL_TITLE in home and NEUTRAL_TITLE in profile


@pytest.mark.parametrize("how", ["private", "deleted"])
def test_remixing_a_remix_whose_kept_prompt_is_withheld_starts_from_an_empty_prompt(
    how, alice, carol, kept_parent, kept, client
):
    _hide(kept_parent, how, alice)
    client.force_login(carol)

    response = client.get(f"{reverse('generation:job-create')}?remix={kept.public_id}")
    page = response.content.decode()

    assert response.status_code == 200
    assert _kept_words(page) == []
    assert f"Remix “{NEUTRAL_TITLE}”" in page
    assert "kept from a portrait that is no longer available" in page


def test_the_api_remix_of_a_withheld_prompt_needs_a_prompt_and_never_shows_the_old_one(
    alice, carol, kept_parent, kept, paint
):
    from rest_framework.test import APIClient

    from portraits.models import Portrait

    _hide(kept_parent, "private", alice)
    api = APIClient()
    api.force_authenticate(carol)
    url = f"/api/v1/portraits/{kept.public_id}/remix/"

    refused = api.post(url, {"seed": 5}, format="json")
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"prompt"}
    assert _kept_words(refused.content.decode()) == []

    accepted = api.post(url, {"prompt": "a gardener of my own"}, format="json")
    assert accepted.status_code == 201
    job = accepted.json()
    assert _kept_words(json.dumps(job)) == []  # her job: no inherited negative prompt either
    assert job["parent"]["title"] == NEUTRAL_TITLE
    from generation.models import GenerationJob

    (mine,) = paint(GenerationJob.objects.get(pk=job["id"]))
    Portrait.objects.filter(pk=mine.pk).update(
        visibility=V.PUBLIC, published_at=timezone.now(), trending=0.0
    )
    # Her diff would show the words she replaced: the parent's, withheld from her.
    data = api.get(f"/api/v1/portraits/{mine.public_id}/").json()
    lineage = api.get(f"/api/v1/portraits/{mine.public_id}/lineage/").json()
    assert data["recipe"]["prompt"] == "a gardener of my own"
    assert "prompt" in data["changes"]["changed"]
    assert data["changes"]["prompt_diff"] == []
    assert "prompt" in data["changes"]["diff_withheld"]
    for text in (json.dumps(data), json.dumps(lineage)):
        assert _kept_words(text) == []


@pytest.mark.parametrize("how", ["private", "deleted"])
@pytest.mark.parametrize("viewer", ["bob", "mod"])
def test_the_remix_s_author_and_moderators_still_see_a_kept_prompt(
    how, viewer, alice, kept_parent, kept, request
):
    _hide(kept_parent, how, alice)
    page, api = _as(viewer, request)
    default_title = kept.title

    data = api.get(f"/api/v1/portraits/{kept.public_id}/").json()
    lineage = api.get(f"/api/v1/portraits/{kept.public_id}/lineage/").json()
    detail = page.get(kept.get_absolute_url()).content.decode()
    report = api.get(f"/api/v1/portraits/{kept.public_id}/credentials/").json()

    assert data["recipe"]["prompt"] == KEPT_PROMPT
    assert data["recipe"]["negative_prompt"] == KEPT_NEGATIVE
    assert data["recipe"]["prompt_withheld"] is False
    assert data["title"] == default_title
    assert lineage["steps"][1]["prompt"] == KEPT_PROMPT
    assert KEPT_PROMPT in detail and default_title in detail
    assert KEPT_PROMPT in report["png_parameters"]
    assert report["png_provenance"]["recipe"]["prompt"] == KEPT_PROMPT
    if viewer == "bob":
        form = page.get(f"{reverse('generation:job-create')}?remix={kept.public_id}")
        assert KEPT_PROMPT in form.content.decode()


def test_a_kept_prompt_stays_shown_while_its_parent_is_visible(kept_parent, kept, api):
    data = api.get(f"/api/v1/portraits/{kept.public_id}/").json()

    assert data["recipe"]["prompt"] == KEPT_PROMPT
    assert data["recipe"]["prompt_withheld"] is False
    assert data["title"] == kept.title


def test_a_renamed_remix_keeps_its_title_when_its_kept_prompt_is_withheld(
    alice, bob, kept_parent, kept, api
):
    services.portrait_update(portrait=kept, by=bob, data={"title": "Bob's greenhouse"})
    _hide(kept_parent, "private", alice)

    data = api.get(f"/api/v1/portraits/{kept.public_id}/").json()

    assert data["title"] == "Bob's greenhouse"
    assert data["recipe"]["prompt"] is None


@pytest.mark.parametrize("how", ["private", "deleted"])
@pytest.mark.parametrize("viewer", ["anonymous", "carol"])
def test_a_remix_that_changed_its_prompt_shows_it_to_everyone(
    how, viewer, alice, parent, child, request
):
    _hide(parent, how, alice)
    page, api = _as(viewer, request)

    data = api.get(f"/api/v1/portraits/{child.public_id}/").json()
    detail = page.get(child.get_absolute_url()).content.decode()

    assert data["recipe"]["prompt"] == REMIX_PROMPT
    assert data["recipe"]["prompt_withheld"] is False
    assert data["title"] == child.title == REMIX_PROMPT
    assert REMIX_PROMPT in detail


def test_recipe_for_viewer_blanks_the_withheld_prompts_and_says_so():
    from portraits.recipe import recipe_for_viewer

    recipe = {
        "prompt": "a cat",
        "styled_prompt": "noir, a cat",
        "negative_prompt": "dogs",
        "styled_negative_prompt": "dogs, color",
        "seed": 3,
        "parent": "abc",
    }

    shown = recipe_for_viewer(recipe, parent_visible=False, withhold=("prompt",))

    assert shown == {
        "prompt": None,
        "styled_prompt": None,
        "negative_prompt": "dogs",
        "styled_negative_prompt": "dogs, color",
        "seed": 3,
        "parent": None,
        "prompt_withheld": True,
        "negative_prompt_withheld": False,
    }
    assert recipe["prompt"] == "a cat"  # the stored recipe is never changed


def test_lists_decide_what_is_withheld_in_a_fixed_number_of_queries(
    alice, bob, carol, painter, client, settings, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from portraits.recipe import title_from_prompt
    from tests.portraits.factories import PortraitFactory, recipe_for

    settings.GENERATION_MAX_ACTIVE_JOBS = 10  # carol's remix jobs stay queued
    size = {"width": 64, "height": 64}
    original = PortraitFactory(author=alice, recipe=recipe_for(KEPT_PROMPT, **size))
    api = APIClient()
    api.force_authenticate(carol)
    client.force_login(carol)

    def add_kept_remixes(count):
        for n in range(count):
            kept = PortraitFactory(
                author=bob,
                parent=original,
                title=title_from_prompt(KEPT_PROMPT),
                recipe=recipe_for(KEPT_PROMPT, seed=100 + n, **size),
            )
            with django_capture_on_commit_callbacks(execute=False):  # queued, never painted
                generation_services.job_submit_remix(
                    portrait=kept, user=carol, changes={"prompt": "mine"}
                )

    def counts():
        found = {}
        for name, get in {
            "home": lambda: client.get("/"),
            "profile": lambda: client.get("/u/bob/"),
            "jobs": lambda: api.get("/api/v1/jobs/"),
        }.items():
            with CaptureQueriesContext(connection) as queries:
                response = get()
            assert response.status_code == 200
            assert _kept_words(response.content.decode()) == []
            found[name] = len(queries)
        return found

    add_kept_remixes(2)
    services.portrait_update(portrait=original, by=alice, data={"visibility": V.PRIVATE})
    few = counts()
    add_kept_remixes(4)
    many = counts()

    assert few == many
    jobs = api.get("/api/v1/jobs/").json()["results"]
    assert {job["parent"]["title"] for job in jobs} == {NEUTRAL_TITLE}


# --- The files written after an ancestor became private --------------------------------


def test_a_file_painted_after_an_ancestor_went_private_names_it_nowhere(
    parent, child, alice, carol, remix
):
    """Carol remixes bob's public remix after alice made the original private: the new
    file (served to anyone who may see carol's portrait) names neither alice's portrait
    nor carries bob's file, whose manifest and chunks name it. It still says it is a
    remix, and the chain keeps its length."""
    from portraits import credentials, selectors

    _hide(parent, "private", alice)
    grandchild = remix(child, carol, prompt="a lighthouse keeper at dusk", seed=5)
    data = selectors.portrait_original_bytes(portrait=grandchild)
    assert parent.public_id.encode() not in data
    report = credentials.file_report(data)
    assert report["valid"] and report["trusted"], report["validation_errors"]
    provenance = report["png_provenance"]
    assert provenance["lineage"] == [None, child.public_id]
    assert provenance["parent"]["id"] == child.public_id
    assert report["parent"]["title"] == f"Likeness portrait {child.public_id}"
    assert report["parent"]["manifest_label"] is None  # bob's file is not inside


def test_an_author_s_own_private_ancestors_stay_in_the_file(alice, create_portrait, remix):
    """Private is the default: remixing your own private work keeps the whole chain."""
    from portraits import credentials, selectors

    original = create_portrait(alice, prompt="a bell ringer", visibility=V.PRIVATE)
    again = remix(original, alice, prompt="a bell ringer at night", visibility=V.PRIVATE)
    report = credentials.file_report(selectors.portrait_original_bytes(portrait=again))
    assert report["png_provenance"]["lineage"] == [original.public_id]
    assert report["parent"]["manifest_label"]  # the parent's signed file is inside
