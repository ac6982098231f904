"""Queue positions are published off the worker's path: a stalled channel layer cannot
hold up painting, and queued jobs' followers still learn where they stand."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from accounts.services import api_token_create
from accounts.websocket import TokenOrSessionAuthMiddleware
from config import broadcast
from config.channel_layers import ThreadSafeInMemoryChannelLayer
from generation import services
from generation.models import GenerationJob
from generation.routing import websocket_urlpatterns
from generation.tasks import run_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.inference]

TIMEOUT = 20


class QueuedSendsStallLayer(ThreadSafeInMemoryChannelLayer):
    """A channel layer whose sends of queue positions hang until ``release`` is set,
    as channels_redis does when Redis stops answering; every other send goes through."""

    release = threading.Event()
    stalled = threading.Event()

    async def group_send(self, group, message):
        if message.get("event", {}).get("type") == "queued":
            type(self).stalled.set()
            await asyncio.to_thread(type(self).release.wait)
        await super().group_send(group, message)


def _follow(job, user) -> WebsocketCommunicator:
    key = api_token_create(user=user, name="test")[1]
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    return WebsocketCommunicator(app, f"/ws/jobs/{job.pk}/?token={key}")


async def _position(ws) -> int:
    while True:
        event = await ws.receive_json_from(timeout=TIMEOUT)
        if event["type"] == "queued":
            return event["position"]


def _submit(user, prompt, capture, steps=2):
    """Each job a different number of steps: none can be painted in another's call, so
    the jobs behind the one started stay in the queue (``job_claim_batch``)."""
    with capture(execute=False):  # queued, never sent: the test runs them
        return services.job_submit(user=user, spec={"prompt": prompt, "steps": steps})


def test_a_start_whose_queue_positions_stall_still_paints_and_followers_get_them(
    alice, tiny_model, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.QueuedSendsStallLayer"}}
    QueuedSendsStallLayer.release.clear()
    QueuedSendsStallLayer.stalled.clear()
    # A send waits for as long as the layer stalls (not config.broadcast's 5 s): the stall
    # is real for whoever makes it.
    send = broadcast.run_on_layer_loop
    monkeypatch.setattr(
        broadcast, "run_on_layer_loop", lambda coroutine, timeout=None: send(coroutine, 3600)
    )
    first = _submit(alice, "first in line", django_capture_on_commit_callbacks)
    second = _submit(alice, "second in line", django_capture_on_commit_callbacks, steps=3)
    follower = _follow(second, alice)

    async def scenario():
        connected, _ = await follower.connect(timeout=TIMEOUT)
        assert connected
        state = await follower.receive_json_from(timeout=TIMEOUT)
        assert state["job"]["queue_position"] == 2
        worker = threading.Thread(target=run_job.apply, args=([str(first.pk)],), daemon=True)
        worker.start()
        try:
            await database_sync_to_async(worker.join)(TIMEOUT)
            painted_while_stalled = (
                not worker.is_alive() and not QueuedSendsStallLayer.release.is_set()
            )
            assert QueuedSendsStallLayer.stalled.is_set()  # the positions' send did hang
        finally:
            QueuedSendsStallLayer.release.set()
        position = await _position(follower)
        await database_sync_to_async(worker.join)(TIMEOUT)
        await follower.disconnect()
        return painted_while_stalled, position

    try:
        painted_while_stalled, position = async_to_sync(scenario)()
    finally:
        QueuedSendsStallLayer.release.set()
        broadcast.resume()
    assert painted_while_stalled, "the worker waited for the queue positions' broadcast"
    first.refresh_from_db()
    assert first.status == GenerationJob.Status.SUCCEEDED
    assert position == 1


def test_a_cancel_tells_every_job_behind_it_its_new_position(
    alice, tiny_model, django_capture_on_commit_callbacks
):
    first = _submit(alice, "first", django_capture_on_commit_callbacks)
    second = _submit(alice, "second", django_capture_on_commit_callbacks, steps=3)
    third = _submit(alice, "third", django_capture_on_commit_callbacks, steps=4)
    followers = [_follow(second, alice), _follow(third, alice)]

    async def scenario():
        for ws in followers:
            assert (await ws.connect(timeout=TIMEOUT))[0]
            assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "state"
        await database_sync_to_async(services.job_cancel)(job=first, by=alice)
        positions = [await _position(ws) for ws in followers]
        for ws in followers:
            await ws.disconnect()
        return positions

    assert async_to_sync(scenario)() == [1, 2]
