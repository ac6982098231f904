"""ws/jobs/: one socket for a member's "My jobs" page — their jobs only, their state at once,
then every job event of theirs (and nobody else's) as it happens."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from accounts.services import api_token_create
from accounts.websocket import TokenOrSessionAuthMiddleware
from generation import events, services
from generation.routing import websocket_urlpatterns
from tests.support import paint_job

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20


def list_socket(user=None, since=None) -> WebsocketCommunicator:
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    query = []
    if user is not None:
        query.append(f"token={api_token_create(user=user, name='test')[1]}")
    if since is not None:
        query.append(f"since={since.isoformat().replace('+', '%2B')}")
    return WebsocketCommunicator(app, "/ws/jobs/" + ("?" + "&".join(query) if query else ""))


def submit(user, **spec):
    spec.setdefault("prompt", "a beekeeper")
    return services.job_submit(user=user, spec=spec)


async def _open(ws) -> dict:
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    state = await ws.receive_json_from(timeout=TIMEOUT)
    assert state["type"] == "state"
    return state


def _state_of(ws) -> dict:
    async def scenario():
        state = await _open(ws)
        await ws.disconnect()
        return state

    return async_to_sync(scenario)()


def test_anonymous_is_refused_with_4401():
    async def scenario():
        connected, _ = await (ws := list_socket()).connect(timeout=TIMEOUT)
        assert connected  # accepted, then closed: the client sees the code
        closed = await ws.receive_output(timeout=TIMEOUT)
        await ws.disconnect()
        return closed

    closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": 4401}


def test_the_state_on_connect_is_my_active_jobs_and_nobody_else_s(alice, bob, mod, painter):
    finished = submit(alice)
    paint_job(finished.pk)
    queued = submit(alice)
    submit(bob)

    state = _state_of(list_socket(alice))

    assert [row["id"] for row in state["jobs"]] == [str(queued.pk)]
    (row,) = state["jobs"]
    assert row["status"] == "queued" and row["queue_position"] == 1
    assert row["url"] == queued.get_absolute_url() and row["thumbnail"] is None
    # A moderator's list is their own too, though they may open anyone's job.
    assert _state_of(list_socket(mod))["jobs"] == []


def test_a_job_that_ended_after_the_page_was_drawn_is_in_the_state_with_its_picture(alice, painter):
    before = submit(alice)
    paint_job(before.pk)
    drawn_at = timezone.now()
    after = submit(alice)
    (portrait,) = paint_job(after.pk)
    cancelled = submit(alice)
    services.job_cancel(job=cancelled, by=alice)

    state = _state_of(list_socket(alice, since=drawn_at))

    rows = {row["id"]: row for row in state["jobs"]}
    assert set(rows) == {str(after.pk), str(cancelled.pk)}  # not the one that ended before
    assert rows[str(after.pk)]["status"] == "succeeded"
    assert rows[str(after.pk)]["thumbnail"]["url"] == f"/p/{portrait.public_id}/thumbnail/"
    assert rows[str(cancelled.pk)]["status"] == "cancelled"
    assert state["at"] >= drawn_at.isoformat()


def test_my_job_s_events_reach_my_list_and_nobody_else_s(alice, bob, painter):
    job = submit(alice, steps=8)
    alice_ws, bob_ws = list_socket(alice), list_socket(bob)

    async def scenario():
        await _open(alice_ws)
        await _open(bob_ws)
        running = await database_sync_to_async(services.job_start)(job_id=job.pk, worker="w")
        started = await alice_ws.receive_json_from(timeout=TIMEOUT)
        # As the worker's step reporter publishes it, preview and all.
        await database_sync_to_async(events.publish)(
            job.pk,
            {"type": "progress", "step": 3, "total": 8, "eta_seconds": 1.0, "preview": "data:x"},
            user_id=alice.pk,
        )
        progress = await alice_ws.receive_json_from(timeout=TIMEOUT)
        await database_sync_to_async(services.job_cancel)(job=running, by=alice)
        ended = await alice_ws.receive_json_from(timeout=TIMEOUT)
        nothing_for_bob = await bob_ws.receive_nothing(timeout=0.5)
        await alice_ws.disconnect()
        await bob_ws.disconnect()
        return started, progress, ended, nothing_for_bob

    started, progress, ended, nothing_for_bob = async_to_sync(scenario)()
    assert started == {"type": "started", "job_id": str(job.pk), "worker": "w", "total": 8}
    assert progress == {
        "type": "progress",
        "job_id": str(job.pk),
        "step": 3,
        "total": 8,
        "eta_seconds": 1.0,  # no preview: a list shows thumbnails, not kilobytes per step
    }
    assert ended["type"] == "job"
    assert ended["job"]["id"] == str(job.pk) and ended["job"]["status"] == "cancelled"
    assert nothing_for_bob


def test_a_finished_job_reaches_my_list_with_its_thumbnail(alice, painter):
    job = submit(alice)
    ws = list_socket(alice)

    async def scenario():
        await _open(ws)
        (portrait,) = await database_sync_to_async(paint_job)(job.pk)
        seen = []
        while not seen or seen[-1]["type"] != "job":
            seen.append(await ws.receive_json_from(timeout=TIMEOUT))
        await ws.disconnect()
        return portrait, seen

    portrait, seen = async_to_sync(scenario)()
    assert [event["type"] for event in seen] == ["started", "job"]
    row = seen[-1]["job"]
    assert row["status"] == "succeeded"
    assert row["thumbnail"]["url"] == f"/p/{portrait.public_id}/thumbnail/"


def test_queue_positions_reach_the_list_of_each_job_s_owner(alice, bob, painter):
    first, alices = submit(bob), submit(alice)
    ws = list_socket(alice)

    async def scenario():
        await _open(ws)
        await database_sync_to_async(services.publish_queue_positions)()
        moved = await ws.receive_json_from(timeout=TIMEOUT)
        only_mine = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return moved, only_mine

    moved, only_mine = async_to_sync(scenario)()
    assert moved == {"type": "queued", "job_id": str(alices.pk), "position": 2}
    assert only_mine  # bob's job's position went to bob's list alone
    assert first.user == bob


def test_a_refresh_sends_the_state_again_since_when_asked(alice, painter):
    job = submit(alice)
    ws = list_socket(alice)

    async def scenario():
        first = await _open(ws)
        await database_sync_to_async(services.job_cancel)(job=job, by=alice)
        await ws.receive_json_from(timeout=TIMEOUT)  # the cancelled row, live
        await ws.send_json_to({"type": "refresh", "since": first["at"]})
        again = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.send_json_to({"type": "refresh", "since": "not a time"})
        active_only = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return again, active_only

    again, active_only = async_to_sync(scenario)()
    assert again["type"] == "state"
    assert [(row["id"], row["status"]) for row in again["jobs"]] == [(str(job.pk), "cancelled")]
    assert active_only["jobs"] == []
