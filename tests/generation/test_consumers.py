"""ws/jobs/<id>/: who may subscribe, the state on connect, live events from a real run."""

from __future__ import annotations

import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from accounts.services import api_token_create
from accounts.websocket import TokenOrSessionAuthMiddleware
from generation import events, services
from generation.models import GenerationJob
from generation.routing import websocket_urlpatterns
from generation.tasks import run_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.inference]

TIMEOUT = 20


def token_for(user) -> str:
    return api_token_create(user=user, name="test")[1]


def communicator(job_id, user=None) -> WebsocketCommunicator:
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    path = f"/ws/jobs/{job_id}/"
    if user is not None:
        path += f"?token={token_for(user)}"
    return WebsocketCommunicator(app, path)


@pytest.fixture
def queued_job(alice, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return services.job_submit(user=alice, spec={"prompt": "a violinist", "steps": 6})


async def _connect(ws: WebsocketCommunicator):
    connected, code = await ws.connect(timeout=TIMEOUT)
    return ws, connected, code


async def _refusal(ws: WebsocketCommunicator):
    """Connect and return the close code the consumer answers with (after accepting:
    closing before accepting would reach a browser as an HTTP 403, without the code)."""
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected, "refusals accept the handshake, so the client sees the close code"
    first = await ws.receive_output(timeout=TIMEOUT)
    assert first["type"] == "websocket.close", first  # no state before the refusal
    assert await ws.receive_nothing(timeout=0.2)
    return first["code"]


def test_anonymous_is_refused_with_4401(queued_job):
    assert async_to_sync(_refusal)(communicator(queued_job.pk)) == 4401


def test_a_stranger_is_refused_with_4404_without_learning_the_job_exists(queued_job, bob):
    assert async_to_sync(_refusal)(communicator(queued_job.pk, bob)) == 4404
    # The very answer for a job that does not exist at all.
    assert async_to_sync(_refusal)(communicator(uuid.uuid4(), bob)) == 4404


def test_a_refused_client_is_not_subscribed_to_the_job_s_events(queued_job, bob, settings):
    from channels.layers import get_channel_layer

    # On the in-memory layer, whose group membership a test can read (channels_redis
    # keeps it in Redis behind a private key scheme); the consumer is the same.
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "config.channel_layers.ThreadSafeInMemoryChannelLayer"}
    }
    bob_ws = communicator(queued_job.pk, bob)

    async def scenario():
        await _refusal(bob_ws)
        layer = get_channel_layer()
        return layer.groups.get(events.job_group(queued_job.pk), {})

    assert async_to_sync(scenario)() == {}


def test_owner_and_moderator_get_the_current_state_at_once(queued_job, alice, mod):
    async def scenario(user_ws):
        ws, connected, _ = await _connect(user_ws)
        assert connected
        first = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return first

    for user in (alice, mod):
        state = async_to_sync(scenario)(communicator(queued_job.pk, user))
        assert state["type"] == "state"
        assert state["job"]["id"] == str(queued_job.pk)
        assert state["job"]["status"] == "queued"
        assert state["job"]["queue_position"] == 1


def test_a_late_subscriber_gets_the_finished_job_with_its_images(queued_job, alice):
    run_job.apply(args=[str(queued_job.pk)])
    alice_ws = communicator(queued_job.pk, alice)

    async def scenario():
        ws, connected, _ = await _connect(alice_ws)
        state = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return state

    state = async_to_sync(scenario)()
    assert state["job"]["status"] == "succeeded"
    assert len(state["job"]["portraits"]) == 1
    assert state["job"]["portraits"][0]["image_url"]


def _events_until_final(ws):
    async def collect():
        events = []
        while True:
            event = await ws.receive_json_from(timeout=TIMEOUT)
            events.append(event)
            if event["type"] in {"done", "failed", "cancelled"}:
                return events

    return collect()


def test_progress_previews_and_done_arrive_live(queued_job, alice):
    alice_ws = communicator(queued_job.pk, alice)

    async def scenario():
        ws, connected, _ = await _connect(alice_ws)
        assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "state"
        worker = threading.Thread(target=run_job.apply, args=([str(queued_job.pk)],))
        worker.start()
        events = await _events_until_final(ws)
        await database_sync_to_async(worker.join)()
        await ws.disconnect()
        return events

    events = async_to_sync(scenario)()
    kinds = [e["type"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    progress = [e for e in events if e["type"] == "progress"]
    assert [e["step"] for e in progress] == list(range(1, 7))
    assert all(e["total"] == 6 and e["eta_seconds"] >= 0 for e in progress)
    previews = [e["preview"] for e in progress]
    assert all(p.startswith("data:image/jpeg;base64,") for p in previews)
    assert len(set(previews)) > 1  # the preview changes as the latents do
    done = events[-1]["job"]
    assert done["status"] == "succeeded" and len(done["portraits"]) == 1


def test_cancel_stops_a_running_job_at_the_next_step_and_keeps_no_image(
    alice, tiny_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_submit(user=alice, spec={"prompt": "slow", "steps": 40})
    alice_ws = communicator(job.pk, alice)

    async def scenario():
        ws, connected, _ = await _connect(alice_ws)
        await ws.receive_json_from(timeout=TIMEOUT)
        worker = threading.Thread(target=run_job.apply, args=([str(job.pk)],))
        worker.start()
        events = []
        while True:
            event = await ws.receive_json_from(timeout=TIMEOUT)
            events.append(event)
            if event["type"] == "progress" and event["step"] == 2:
                fresh = await database_sync_to_async(GenerationJob.objects.get)(pk=job.pk)
                await database_sync_to_async(services.job_cancel)(job=fresh, by=alice)
            if event["type"] in {"done", "failed", "cancelled"}:
                break
        await database_sync_to_async(worker.join)()
        await ws.disconnect()
        return events

    events = async_to_sync(scenario)()
    assert events[-1]["type"] == "cancelled"
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED
    assert job.progress_step < 40
    assert not job.portraits.exists()
