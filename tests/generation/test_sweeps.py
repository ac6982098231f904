"""Sweeps: one idea painted along one axis, as one board.

The expansion is pure (``generation.sweeps``); the service, the API and the board's
choices run on the real database; painting runs the real tiny pipeline through the
worker's task, so "one pipeline call" is what the worker really did.
"""

from __future__ import annotations

import re
import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from accounts.services import api_token_create
from accounts.websocket import TokenOrSessionAuthMiddleware
from config.errors import DomainError, QuotaExceeded
from generation import inference, services
from generation.models import GenerationJob, Sweep
from generation.routing import websocket_urlpatterns
from generation.sweeps import SweepError, cell_caption, prompt_alternatives, sweep_cells
from generation.tasks import run_job
from portraits.selectors import portrait_get_viewable, portrait_origin
from tests.conftest import _api_client
from tests.support import paint_job

Status = GenerationJob.Status
BASE = {"prompt": "an old sailor", "steps": 2}


# --- Expanding an axis ------------------------------------------------------------------------


def test_prompt_alternatives_expand_every_combination_in_order():
    expanded = prompt_alternatives("a {smiling|serious} woman in {red | blue}, oil")

    assert expanded == [
        ("a smiling woman in red, oil", ("smiling", "red")),
        ("a smiling woman in blue, oil", ("smiling", "blue")),
        ("a serious woman in red, oil", ("serious", "red")),
        ("a serious woman in blue, oil", ("serious", "blue")),
    ]
    assert prompt_alternatives("a {bearded|} man")[1] == ("a man", ("",))


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("a {smiling|serious woman", "never closed"),
        ("a smiling|serious} woman", "closes no {"),
        ("a {smiling|{very|not} serious} woman", "cannot be nested"),
        ("a {smiling} woman", "at least two alternatives"),
        ("a smiling woman", "Write the alternatives"),
    ],
)
def test_malformed_alternatives_are_refused_with_what_is_wrong(prompt, message):
    with pytest.raises(SweepError, match=message) as refused:
        prompt_alternatives(prompt)
    assert set(refused.value.errors) == {"prompt"}


def test_every_cell_shares_one_seed_unless_the_seed_is_the_axis():
    styles = sweep_cells("styles", ["watercolour", "film-noir"], BASE, max_cells=16)
    guidance = sweep_cells("guidance", "3, 7.5, 12", {**BASE, "seed": 42}, max_cells=16)
    seeds = sweep_cells("seeds", 4, {**BASE, "seed": 42}, max_cells=16)

    assert [c.spec["style"] for c in styles] == ["watercolour", "film-noir"]
    assert styles[0].spec["seed"] == styles[1].spec["seed"] is not None
    assert [c.label for c in guidance] == [
        {"guidance_scale": 3.0},
        {"guidance_scale": 7.5},
        {"guidance_scale": 12.0},
    ]
    assert {c.spec["seed"] for c in guidance} == {42}
    assert len({c.spec["seed"] for c in seeds}) == 4 and all(
        c.label == {"seed": c.spec["seed"]} for c in seeds
    )
    assert all(c.spec["num_images"] == 1 for c in [*styles, *guidance, *seeds])
    assert [cell_caption(c.label) for c in guidance] == [
        "Guidance 3",
        "Guidance 7.5",
        "Guidance 12",
    ]
    assert cell_caption({"style": "film-noir"}, {"film-noir": "Film noir"}) == "Film noir"


@pytest.mark.parametrize(
    "axis, values, field, message",
    [
        ("colours", ["red", "blue"], "axis", "Choose one of"),
        ("styles", [], "values", "at least 2 styles"),
        ("styles", ["watercolour"], "values", "at least 2 styles"),
        ("styles", [f"s{i}" for i in range(13)], "values", "At most 12 styles"),
        ("seeds", 17, "values", "At most 16 variations"),
        ("seeds", "many", "values", "a whole number"),
        ("steps", [10, 10], "values", "Each value once"),
        ("steps", [10, 12.5], "values", "not a whole number"),
        ("guidance", ["high", 7], "values", "not a number"),
        ("guidance", {"a": 1}, "values", "a list"),
        ("prompt", None, "prompt", "Write the alternatives"),
    ],
)
def test_a_sweep_that_cannot_be_expanded_says_why(axis, values, field, message):
    with pytest.raises(SweepError, match=message) as refused:
        sweep_cells(axis, values, BASE, max_cells=16)
    assert set(refused.value.errors) == {field}


def test_too_many_combinations_are_refused_before_anything_is_painted():
    with pytest.raises(
        SweepError, match=r"At most 16 combinations in one sweep \(this asks for 27\)"
    ):
        sweep_cells("prompt", None, {"prompt": "{a|b|c} {d|e|f} {g|h|i}"}, max_cells=16)


# --- Submitting ---------------------------------------------------------------------------------


@pytest.fixture
def styled(tiny_model, style_presets):
    return tiny_model


def test_a_style_sweep_is_one_job_per_style_sharing_everything_but_the_style(styled, alice):
    sweep = services.sweep_submit(
        user=alice,
        spec={**BASE, "seed": 9},
        axis="styles",
        values=["watercolour", "film-noir", "neon-futurism"],
    )

    cells = list(sweep.cells.order_by("sweep_position"))
    assert [job.style.slug for job in cells] == ["watercolour", "film-noir", "neon-futurism"]
    assert [job.sweep_position for job in cells] == [0, 1, 2]
    assert {(job.seed, job.steps, job.prompt, job.num_images, job.status) for job in cells} == {
        (9, 2, "an old sailor", 1, Status.QUEUED)
    }
    assert len({job.recipe["styled_prompt"] for job in cells}) == 3
    assert sweep.axis == "styles" and sweep.prompt == "an old sailor"


def test_bad_cells_are_refused_with_every_error_and_nothing_is_created(styled, alice):
    with pytest.raises(DomainError) as refused:
        services.sweep_submit(
            user=alice,
            spec={"prompt": "an old sailor", "steps": 500},
            axis="guidance",
            values=[7, 25],
        )

    assert refused.value.field_errors == {
        "values": ["Guidance 25: Must be between 0 and 20."],
        "steps": ["Must be between 1 and 50."],
    }
    with pytest.raises(DomainError) as refused:
        services.sweep_submit(
            user=alice, spec={"prompt": ""}, axis="styles", values=["watercolour", "gothic"]
        )
    assert refused.value.field_errors["values"] == ["gothic: Unknown style “gothic”."]
    assert "prompt" in refused.value.field_errors
    with pytest.raises(DomainError) as refused:
        services.sweep_submit(user=alice, spec={"steps": 0}, axis="styles", values=["watercolour"])
    assert set(refused.value.field_errors) == {"values", "prompt", "steps"}
    assert not Sweep.objects.exists() and not GenerationJob.objects.exists()


def test_a_sweep_counts_against_the_quota_by_its_cells(styled, alice, settings):
    settings.GENERATION_MAX_ACTIVE_JOBS = 4
    services.job_submit(user=alice, spec=BASE)

    with pytest.raises(QuotaExceeded, match="This sweep paints 4 cells and you have 1 job"):
        services.sweep_submit(user=alice, spec=BASE, axis="seeds", values=4)
    assert not Sweep.objects.exists() and GenerationJob.objects.count() == 1

    services.sweep_submit(user=alice, spec=BASE, axis="seeds", values=3)
    assert GenerationJob.objects.count() == 4


# --- Painting ------------------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch):
    made: list[list[str]] = []
    real = inference.generate_batch

    def generate_batch(specs, on_step=None):
        made.append([spec.prompt for spec in specs])
        return real(specs, on_step)

    monkeypatch.setattr(inference, "generate_batch", generate_batch)
    return made


@pytest.mark.inference
@pytest.mark.django_db(transaction=True)
def test_compatible_cells_paint_in_one_call_and_others_in_one_call_per_group(
    styled, alice, calls, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the test runs the messages
        styles = services.sweep_submit(
            user=alice,
            spec=BASE,
            axis="styles",
            values=["watercolour", "film-noir", "ukiyo-e", "pop-art"],
        )
        steps = services.sweep_submit(user=alice, spec=BASE, axis="steps", values=[3, 4])

    first = styles.cells.get(sweep_position=0)
    assert run_job.apply(args=[str(first.pk)]).get() == Status.SUCCEEDED
    assert len(calls) == 1 and len(calls[0]) == 4  # the four styles, one pipeline call
    painted = list(styles.cells.all())
    assert {job.status for job in painted} == {Status.SUCCEEDED}
    assert len({job.batch_id for job in painted}) == 1 and painted[0].batch_jobs == 4

    for job in steps.cells.order_by("sweep_position"):
        run_job.apply(args=[str(job.pk)]).get()
    assert len(calls) == 3  # steps differ: one call each
    assert len({job.batch_id for job in steps.cells.all()}) == 2


def test_cancelling_a_sweep_cancels_its_active_cells_and_one_cell_alone(styled, alice):
    sweep = services.sweep_submit(user=alice, spec=BASE, axis="seeds", values=3)
    one = sweep.cells.get(sweep_position=1)

    services.job_cancel(job=one, by=alice)
    assert sorted(sweep.cells.values_list("status", flat=True)) == sorted(
        [Status.QUEUED, Status.CANCELLED, Status.QUEUED]
    )
    assert len(services.sweep_cancel(sweep=sweep, by=alice)) == 2
    assert set(sweep.cells.values_list("status", flat=True)) == {Status.CANCELLED}


def test_one_cell_is_cancelled_from_the_board_and_the_api(styled, alice, alice_api, client):
    sweep = services.sweep_submit(user=alice, spec=BASE, axis="seeds", values=3)
    url = f"/api/v1/sweeps/{sweep.pk}/cancel/"

    answer = alice_api.post(url, {"cell": 2}, format="json")
    assert answer.status_code == 200
    assert [c["job"]["status"] for c in answer.json()["cells"]] == ["queued", "queued", "cancelled"]
    again = alice_api.post(url, {"cell": 2}, format="json")
    assert again.status_code == 409  # already ended: nothing changed
    assert alice_api.post(url, {"cell": 7}, format="json").json()["errors"] == {
        "cell": ["No cell 7 in this sweep."]
    }
    client.force_login(alice)
    page = client.get(sweep.get_absolute_url()).content.decode()
    assert page.count('class="inline cell-cancel"') == 2  # the two still queued
    client.post(f"/sweeps/{sweep.pk}/cancel/", {"cell": "0"})
    assert list(sweep.cells.order_by("sweep_position").values_list("status", flat=True)) == [
        Status.CANCELLED,
        Status.QUEUED,
        Status.CANCELLED,
    ]


# --- The API and the board's choices ---------------------------------------------------------


def test_a_rest_client_sweeps_triages_and_compares(styled, alice_api):
    made = alice_api.post(
        "/api/v1/sweeps/",
        {**BASE, "axis": "styles", "values": ["watercolour", "film-noir", "ukiyo-e"]},
        format="json",
    )

    assert made.status_code == 201, made.json()
    body = made.json()
    assert made["Location"] == body["api_url"]
    assert [cell["caption"] for cell in body["cells"]] == [
        "Watercolour",
        "Film noir",
        "Ukiyo-e woodblock",
    ]
    assert body["ws_url"] == f"/ws/sweeps/{body['id']}/"
    assert body["cells"][0]["job"]["status"] == "queued"
    url = body["api_url"]

    kept = alice_api.post(f"{url}triage/", {"cell": 2, "choice": "keep"}, format="json")
    assert kept.status_code == 200
    assert [cell["choice"] for cell in kept.json()["cells"]] == ["", "", "keep"]
    alice_api.post(f"{url}triage/", {"cell": 0, "choice": "discard"}, format="json")
    compared = alice_api.post(f"{url}compare/", {"cells": [2, 1]}, format="json")
    assert compared.json()["compare"] == [2, 1]

    again = alice_api.get(url).json()  # the board as it was left
    assert [cell["choice"] for cell in again["cells"]] == ["discard", "", "keep"]
    assert again["compare"] == [2, 1] and again["counts"]["kept"] == 1
    listed = alice_api.get("/api/v1/sweeps/").json()["results"]
    assert [(row["id"], row["counts"]["cells"], row["counts"]["kept"]) for row in listed] == [
        (body["id"], 3, 1)
    ]


def test_bad_sweeps_and_choices_get_field_errors_and_change_nothing(styled, alice_api):
    refused = alice_api.post(
        "/api/v1/sweeps/",
        {"prompt": "x", "steps": "many", "axis": "styles", "values": ["watercolour"]},
        format="json",
    )
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert set(errors) == {"steps", "values"}
    nested = alice_api.post(
        "/api/v1/sweeps/", {"prompt": "a {b|{c|d}}", "axis": "prompt"}, format="json"
    )
    assert nested.status_code == 400 and "nested" in nested.json()["errors"]["prompt"][0]
    assert alice_api.post("/api/v1/sweeps/", {"prompt": "x"}, format="json").status_code == 400
    assert not Sweep.objects.exists()

    sweep = alice_api.post(
        "/api/v1/sweeps/", {**BASE, "axis": "seeds", "values": 2}, format="json"
    ).json()
    for body in ({"cell": 5, "choice": "keep"}, {"cell": 0, "choice": "love"}):
        answer = alice_api.post(f"{sweep['api_url']}triage/", body, format="json")
        assert answer.status_code == 400, body
    same = alice_api.post(f"{sweep['api_url']}compare/", {"cells": [1, 1]}, format="json")
    assert same.status_code == 400 and "two different cells" in same.json()["errors"]["cells"][0]
    assert set(GenerationJob.objects.values_list("sweep_choice", flat=True)) == {""}


def test_a_retried_sweep_with_its_idempotency_key_is_the_same_sweep(styled, alice_api):
    body = {**BASE, "axis": "seeds", "values": 3}
    first = alice_api.post("/api/v1/sweeps/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = alice_api.post("/api/v1/sweeps/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again.json()["id"] == first.json()["id"] and again["Location"] == first["Location"]
    assert Sweep.objects.count() == 1 and GenerationJob.objects.count() == 3
    other = alice_api.post(
        "/api/v1/sweeps/", {**body, "values": 4}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422
    assert GenerationJob.objects.count() == 3


def test_another_member_cannot_see_or_triage_a_sweep(styled, alice, bob_api, mod):
    sweep = services.sweep_submit(user=alice, spec=BASE, axis="seeds", values=2)
    url = f"/api/v1/sweeps/{sweep.pk}/"

    for client in (bob_api, _api_client(mod)):
        assert client.get(url).status_code == 404
        assert client.post(f"{url}triage/", {"cell": 0, "choice": "keep"}).status_code == 404
        assert client.post(f"{url}cancel/").status_code == 404
        assert client.get("/api/v1/sweeps/").json()["results"] == []
    assert set(sweep.cells.values_list("sweep_choice", "status")) == {("", "queued")}


# --- Live: ws/sweeps/<id>/ ----------------------------------------------------------------------


def sweep_socket(sweep_id, user=None) -> WebsocketCommunicator:
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    path = f"/ws/sweeps/{sweep_id}/"
    if user is not None:
        path += f"?token={api_token_create(user=user, name='test')[1]}"
    return WebsocketCommunicator(app, path)


@pytest.mark.inference
@pytest.mark.django_db(transaction=True)
def test_the_board_follows_every_cell_live_over_one_socket(
    styled, alice, bob, settings, django_capture_on_commit_callbacks
):
    settings.GENERATION_PROGRESS_INTERVAL = 0  # every step
    with django_capture_on_commit_callbacks(execute=False):
        sweep = services.sweep_submit(
            user=alice, spec={**BASE, "steps": 3}, axis="styles", values=["watercolour", "pop-art"]
        )
    first = sweep.cells.get(sweep_position=0)
    ws = sweep_socket(sweep.pk, alice)

    async def scenario():
        connected, _ = await ws.connect(timeout=20)
        assert connected
        state = await ws.receive_json_from(timeout=20)
        worker = threading.Thread(target=run_job.apply, args=([str(first.pk)],))
        worker.start()
        received, ended = [], set()
        while len(ended) < 2:  # both cells, painted in one call by the worker
            event = await ws.receive_json_from(timeout=20)
            received.append(event)
            if event["type"] == "cell":
                ended.add(event["cell"]["position"])
        await database_sync_to_async(worker.join)()
        await ws.disconnect()
        return state, received

    state, received = async_to_sync(scenario)()
    assert state["type"] == "state"
    assert [cell["caption"] for cell in state["sweep"]["cells"]] == ["Watercolour", "Pop art"]
    cells = {str(job.pk): job.sweep_position for job in sweep.cells.all()}
    progress = [e for e in received if e["type"] == "progress"]
    assert {cells[e["job_id"]] for e in progress} == {0, 1}  # every cell's own steps
    assert all(e["preview"].startswith("data:image/jpeg;base64,") for e in progress)
    finished = [e["cell"] for e in received if e["type"] == "cell"]
    assert {(c["position"], c["job"]["status"]) for c in finished} == {
        (0, "succeeded"),
        (1, "succeeded"),
    }
    assert all(c["job"]["portraits"][0]["image_url"] for c in finished)

    # Not hers: refused as a sweep that does not exist.
    async def refused(socket):
        await socket.connect(timeout=20)
        closed = await socket.receive_output(timeout=20)
        await socket.disconnect()
        return closed["code"]

    assert async_to_sync(refused)(sweep_socket(sweep.pk, bob)) == 4404
    assert async_to_sync(refused)(sweep_socket(uuid.uuid4(), bob)) == 4404
    assert async_to_sync(refused)(sweep_socket(sweep.pk)) == 4401


# --- Pages (without JavaScript) --------------------------------------------------------------


def test_a_member_sweeps_from_the_page_and_triages_without_javascript(styled, alice, client):
    client.force_login(alice)
    page = client.get("/sweeps/new/?prompt=an+old+sailor&axis=styles")
    assert page.status_code == 200
    assert 'value="an old sailor"' in page.content.decode() or "an old sailor</textarea>" in (
        page.content.decode()
    )

    refused = client.post(
        "/sweeps/new/", {"prompt": "an old sailor", "axis": "styles", "styles": ["watercolour"]}
    )
    assert refused.status_code == 400
    assert "A sweep needs at least 2 styles." in refused.content.decode()
    assert not Sweep.objects.exists()

    made = client.post(
        "/sweeps/new/",
        {
            "prompt": "an old sailor",
            "axis": "styles",
            "styles": ["watercolour", "film-noir"],
            "steps": 2,
        },
    )
    sweep = Sweep.objects.get()
    assert made.status_code == 302 and made["Location"] == sweep.get_absolute_url()
    board = client.get(sweep.get_absolute_url()).content.decode()
    assert "Watercolour" in board and "Film noir" in board
    assert 'aria-keyshortcuts="K"' in board

    cell_page = client.get(sweep.cells.get(sweep_position=1).get_absolute_url()).content.decode()
    assert f'href="{sweep.get_absolute_url()}#cell-1">a sweep</a>' in cell_page
    kept = client.post(f"{sweep.get_absolute_url()}triage/", {"cell": "1", "choice": "keep"})
    assert kept.status_code == 302 and kept["Location"].endswith("#cell-1")
    assert sweep.cells.get(sweep_position=1).sweep_choice == "keep"
    client.post(f"{sweep.get_absolute_url()}compare/", {"cells": ["1", "0"]})
    board = client.get(sweep.get_absolute_url()).content.decode()
    assert 'aria-pressed="true" aria-keyshortcuts="K"' in board
    assert 'id="compare" aria-labelledby="compare-title">' in board  # shown, not hidden
    client.post(f"{sweep.get_absolute_url()}cancel/")
    assert set(sweep.cells.values_list("status", flat=True)) == {Status.CANCELLED}
    assert client.get("/sweeps/").content.decode().count(sweep.get_absolute_url()) == 1


def test_the_variation_count_error_shows_on_its_own_field(styled, alice, client):
    client.force_login(alice)
    answer = client.post("/sweeps/new/", {"prompt": "x", "axis": "seeds", "variations": "40"})
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "At most 16 variations in one sweep (this asks for 40)." in page
    assert not GenerationJob.objects.exists()


def test_the_create_form_and_a_portrait_open_the_sweep_page_with_their_recipe(
    styled, alice, client
):
    client.force_login(alice)
    create = client.get("/create/").content.decode()
    assert "Try in several styles" in create and "?prefill=1" in create
    opened = client.post(
        "/sweeps/new/?prefill=1",
        {"prompt": "a beekeeper", "steps": "3", "axis": "seeds", "num_images": "2"},
    )
    page = opened.content.decode()
    assert opened.status_code == 200 and "a beekeeper</textarea>" in page
    assert re.search(r'<input type="radio" name="axis" value="seeds"[^>]* checked', page)
    assert not Sweep.objects.exists() and "errorlist" not in page  # opened, not submitted

    (portrait,) = paint_job(services.job_submit(user=alice, spec={"prompt": "a glazier"}).pk)
    from_portrait = client.get(f"/sweeps/new/?portrait={portrait.public_id}&axis=styles")
    assert "a glazier</textarea>" in from_portrait.content.decode()
    assert client.get("/sweeps/new/?portrait=nope").status_code == 404


def test_a_sweep_s_portrait_says_where_it_came_from_and_shows_only_visible_siblings(
    styled, alice, bob, client, alice_api, api, django_assert_num_queries
):
    from portraits.services import portrait_update

    sweep = services.sweep_submit(
        user=alice, spec=BASE, axis="styles", values=["watercolour", "film-noir", "pop-art"]
    )
    painted = [paint_job(job.pk)[0] for job in sweep.cells.order_by("sweep_position")]
    for portrait in painted[:2]:
        portrait_update(portrait=portrait, by=alice, data={"visibility": "public"})

    mine = alice_api.get(f"/api/v1/portraits/{painted[0].public_id}/").json()["origin"]
    assert (mine["kind"], mine["axis"], mine["caption"]) == ("sweep", "styles", "Watercolour")
    assert mine["sweep"]["url"] == sweep.get_absolute_url()
    assert [s["caption"] for s in mine["siblings"]] == ["Film noir", "Pop art"]

    # Anyone else: the siblings they may see, never the board or the private cell.
    theirs = api.get(f"/api/v1/portraits/{painted[0].public_id}/").json()["origin"]
    assert theirs["sweep"] is None
    assert [s["id"] for s in theirs["siblings"]] == [painted[1].public_id]
    client.force_login(bob)
    page = client.get(painted[0].get_absolute_url()).content.decode()
    assert "From a sweep" in page and painted[1].public_id in page
    assert painted[2].public_id not in page and str(sweep.pk) not in page
    client.force_login(alice)
    assert sweep.get_absolute_url() in client.get(painted[0].get_absolute_url()).content.decode()
    lone = paint_job(services.job_submit(user=alice, spec=BASE).pk)[0]
    assert alice_api.get(f"/api/v1/portraits/{lone.public_id}/").json()["origin"] is None
    # A portrait no sweep painted costs its page and resource no query for it.
    read = portrait_get_viewable(viewer=alice, public_id=lone.public_id)
    with django_assert_num_queries(0):
        assert portrait_origin(portrait=read, viewer=alice) is None


# --- The prompt builder -------------------------------------------------------------------------


def test_prompt_builder_chips_add_their_words_on_the_page_and_through_the_api(
    styled, prompt_modifiers, alice, client, alice_api, api
):
    modifiers = api.get("/api/v1/modifiers/").json()
    by_slug = {m["slug"]: m for m in modifiers}
    assert {m["category"] for m in modifiers} == {"mood", "lighting", "time", "framing", "medium"}
    assert by_slug["time-dusk"]["text"] == "at dusk"

    client.force_login(alice)
    page = client.get("/create/").content.decode()
    assert "+ “at dusk”" in page and 'name="modifiers" value="time-dusk"' in page
    client.post("/create/", {"prompt": "a fisherman", "modifiers": ["time-dusk", "mood-smiling"]})
    assert GenerationJob.objects.get().prompt == "a fisherman, at dusk, with a smile"

    made = alice_api.post(
        "/api/v1/jobs/",
        {"prompt": "a fisherman at dusk", "modifiers": ["time-dusk", "lighting-candlelight"]},
        format="json",
    )
    assert made.status_code == 201
    assert made.json()["recipe"]["prompt"] == "a fisherman at dusk, warm candlelight"  # once

    refused = alice_api.post(
        "/api/v1/jobs/", {"prompt": "x", "modifiers": ["time-noon"]}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["errors"]["modifiers"] == ["Unknown modifier “time-noon”."]
    swept = services.sweep_submit(
        user=alice,
        spec={**BASE, "modifiers": ["framing-profile"]},
        axis="styles",
        values=["watercolour", "pop-art"],
    )
    assert {job.prompt for job in swept.cells.all()} == {"an old sailor, in profile"}
    assert GenerationJob.objects.count() == 4


def test_a_board_reads_in_the_same_few_queries_however_many_cells(
    styled, alice, alice_api, django_assert_num_queries
):
    boards = []
    for cells in (2, 6):
        sweep = services.sweep_submit(user=alice, spec=BASE, axis="seeds", values=cells)
        for job in sweep.cells.all():
            paint_job(job.pk)
        boards.append(f"/api/v1/sweeps/{sweep.pk}/")
    alice_api.get(boards[0])  # the member's permissions, read once and kept

    for url in boards:  # the sweep, its cells (with their queue places), their portraits
        with django_assert_num_queries(3):
            assert len(alice_api.get(url).json()["cells"]) in (2, 6)
