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
    # As a client does: the consumer ends on the disconnect, not cancelled with the loop.
    await ws.disconnect()
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


def test_progress_previews_and_done_arrive_live(queued_job, alice, settings):
    settings.GENERATION_PROGRESS_INTERVAL = 0  # every step (the default reports a few a second)
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
    assert progress[-1]["eta_seconds"] == 0  # the last step: nothing left to wait for
    previews = [e["preview"] for e in progress]
    assert all(p.startswith("data:image/jpeg;base64,") for p in previews)
    assert len(set(previews)) > 1  # the preview changes as the latents do
    done = events[-1]["job"]
    assert done["status"] == "succeeded" and len(done["portraits"]) == 1


def test_cancel_stops_a_running_job_at_the_next_step_and_keeps_no_image(
    alice, tiny_model, django_capture_on_commit_callbacks, settings
):
    # Every step reported, so the next one sees the cancel (throttled reports see it at the
    # next report: tests/generation/test_tasks.py).
    settings.GENERATION_PROGRESS_INTERVAL = 0
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
            if event["type"] == "progress" and event["step"] == 1:
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


# --- Malformed paths -----------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["not-a-uuid", "123", "%00", "' OR 1=1 --"])
def test_a_job_id_that_is_not_a_uuid_is_refused_like_an_unknown_job(bob, job_id):
    key = token_for(bob)
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    ws = WebsocketCommunicator(app, f"/ws/jobs/{job_id}/?token={key}")
    assert async_to_sync(_refusal)(ws) == 4404
    anonymous = WebsocketCommunicator(app, f"/ws/jobs/{job_id}/")
    assert async_to_sync(_refusal)(anonymous) == 4401


# (/ws/jobs/ itself is routed: the "My jobs" socket, tests/generation/test_job_list_socket.py.)
@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/jobs/a/b/", "/"])
def test_a_path_no_app_routes_is_refused_with_4404_by_the_site(bob, path, settings):
    settings.CELERY_INPROCESS_WORKER = False  # importing the ASGI module would start one
    from config.asgi import application

    ws = WebsocketCommunicator(application, f"{path}?token={token_for(bob)}")
    assert async_to_sync(_refusal)(ws) == 4404


# --- Revoked credentials close open sockets ------------------------------------------------------


def _session_cookie(client) -> tuple[bytes, bytes]:
    from django.conf import settings as django_settings

    name = django_settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


def _app():
    return TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))


def _with_token(job_id, key):
    return WebsocketCommunicator(_app(), f"/ws/jobs/{job_id}/?token={key}")


def _with_session(job_id, client):
    return WebsocketCommunicator(_app(), f"/ws/jobs/{job_id}/", headers=[_session_cookie(client)])


async def _open(ws):
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "state"
    return ws


async def _closed_with(ws) -> int:
    """The code the server closes with next; fails if it relays anything first."""
    message = await ws.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def _still_open(ws) -> bool:
    """Still relaying: a refresh is answered with the state (and nothing else came first)."""
    await ws.send_json_to({"type": "refresh"})
    message = await ws.receive_json_from(timeout=TIMEOUT)
    return message["type"] == "state"


@pytest.fixture
def bobs_job(bob, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return services.job_submit(user=bob, spec={"prompt": "a cellist", "steps": 6})


def test_revoking_a_token_closes_its_open_socket_with_4401_and_no_other(
    queued_job, bobs_job, alice, bob
):
    from accounts.services import api_token_revoke

    token, key = api_token_create(user=alice, name="revoked")
    _, other_key = api_token_create(user=alice, name="kept")
    bobs_key = token_for(bob)

    async def scenario():
        revoked = await _open(_with_token(queued_job.pk, key))
        kept = await _open(_with_token(queued_job.pk, other_key))
        bobs = await _open(_with_token(bobs_job.pk, bobs_key))
        await database_sync_to_async(api_token_revoke)(user=alice, token_id=token.pk)
        code = await _closed_with(revoked)
        open_still = (await _still_open(kept), await _still_open(bobs))
        for ws in (revoked, kept, bobs):
            await ws.disconnect()
        return code, open_still

    assert async_to_sync(scenario)() == (4401, (True, True))


def test_logging_out_closes_that_session_s_socket_with_4401(queued_job, alice, client):
    from django.test import Client
    from django.urls import reverse

    client.force_login(alice)
    other_browser = Client()
    other_browser.force_login(alice)

    async def scenario():
        logged_out = await _open(_with_session(queued_job.pk, client))
        other = await _open(_with_session(queued_job.pk, other_browser))
        response = await database_sync_to_async(client.post)(reverse("account_logout"))
        assert response.status_code == 302
        code = await _closed_with(logged_out)
        kept = await _still_open(other)
        await logged_out.disconnect()
        await other.disconnect()
        return code, kept

    assert async_to_sync(scenario)() == (4401, True)


def test_a_password_change_closes_every_socket_and_revokes_every_token(queued_job, alice, client):
    from django.urls import reverse

    from accounts.models import ApiToken
    from tests.conftest import PASSWORD

    client.force_login(alice)
    key = token_for(alice)
    new_password = "a-long-unusual-passphrase-42"

    async def scenario():
        by_token = await _open(_with_token(queued_job.pk, key))
        by_session = await _open(_with_session(queued_job.pk, client))
        response = await database_sync_to_async(client.post)(
            reverse("account_change_password"),
            {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password},
        )
        assert response.status_code == 302
        codes = (await _closed_with(by_token), await _closed_with(by_session))
        await by_token.disconnect()
        await by_session.disconnect()
        return codes

    assert async_to_sync(scenario)() == (4401, 4401)
    assert not ApiToken.objects.filter(user=alice).exists()


def test_deactivating_a_member_closes_their_sockets_with_4401(queued_job, bobs_job, alice, bob):
    from accounts.services import user_deactivate

    alices_key, bobs_key = token_for(alice), token_for(bob)

    async def scenario():
        alices = await _open(_with_token(queued_job.pk, alices_key))
        bobs = await _open(_with_token(bobs_job.pk, bobs_key))
        await database_sync_to_async(user_deactivate)(user=alice)
        code = await _closed_with(alices)
        kept = await _still_open(bobs)
        await alices.disconnect()
        await bobs.disconnect()
        return code, kept

    assert async_to_sync(scenario)() == (4401, True)


def test_a_socket_that_missed_its_close_gets_no_final_event(queued_job, alice, monkeypatch):
    """Revoked without a close message (as when channels_redis drops one): the credential
    is re-read before a final event, so ``done`` is never relayed to it."""
    from accounts.models import ApiToken
    from generation.consumers import JobConsumer

    # However slow the machine, the last look is not stale yet when progress arrives.
    monkeypatch.setattr(JobConsumer, "CREDENTIALS_RECHECK_SECONDS", 3600.0)

    key = token_for(alice)

    async def scenario():
        ws = await _open(_with_token(queued_job.pk, key))
        await database_sync_to_async(ApiToken.objects.filter(user=alice).delete)()
        await database_sync_to_async(events.publish)(queued_job.pk, {"type": "progress"})
        relayed = await ws.receive_json_from(timeout=TIMEOUT)
        await database_sync_to_async(events.publish)(queued_job.pk, {"type": "done", "job": {}})
        code = await _closed_with(ws)
        await ws.disconnect()
        return relayed["type"], code

    # Progress, re-checked only once the last look is stale, still flows for a while.
    assert async_to_sync(scenario)() == ("progress", 4401)


def test_a_stale_credential_is_re_read_on_any_event(queued_job, alice, monkeypatch):
    from accounts.models import ApiToken
    from generation.consumers import JobConsumer

    monkeypatch.setattr(JobConsumer, "CREDENTIALS_RECHECK_SECONDS", 0.0)
    key = token_for(alice)

    async def scenario():
        ws = await _open(_with_token(queued_job.pk, key))
        await database_sync_to_async(ApiToken.objects.filter(user=alice).delete)()
        await database_sync_to_async(events.publish)(queued_job.pk, {"type": "progress"})
        code = await _closed_with(ws)
        await ws.disconnect()
        return code

    assert async_to_sync(scenario)() == 4401


def test_following_a_job_costs_one_trip_to_the_database_to_connect_and_one_for_done(
    queued_job, alice, monkeypatch
):
    """The web's share of a followed job (issue 13): the token's lookup, then the credential
    and the state in one trip; progress relayed without any (channels' own dispatch would
    close old connections on the database thread before every message); ``done`` re-reads
    the credential and the job in one trip."""
    from asgiref.sync import SyncToAsync
    from channels.layers import get_channel_layer

    trips = []
    handler = SyncToAsync.thread_handler

    def counted(self, loop, *args, **kwargs):
        trips.append(getattr(self.func, "__name__", repr(self.func)))
        return handler(self, loop, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "thread_handler", counted)
    group = events.job_group(queued_job.pk)
    alice_ws = communicator(queued_job.pk, alice)

    async def relay(event):
        await get_channel_layer().group_send(group, {"type": "job.event", "event": event})

    async def scenario():
        ws = await _open(alice_ws)
        connected = len(trips)
        for step in (1, 2, 3):
            await relay({"type": "progress", "step": step, "total": 3})
            assert (await ws.receive_json_from(timeout=TIMEOUT))["step"] == step
        relayed = len(trips)
        await relay({"type": "done"})
        done = await ws.receive_json_from(timeout=TIMEOUT)
        finished = len(trips)
        await ws.disconnect()
        return connected, relayed, finished, done

    connected, relayed, finished, done = async_to_sync(scenario)()
    assert done["type"] == "done" and done["job"]["id"] == str(queued_job.pk)
    assert (connected, relayed, finished) == (2, 2, 3), trips


# --- Each subscriber gets the job as they may see it ---------------------------------------------


def test_done_carries_the_job_as_each_subscriber_may_see_it(
    alice, bob, mod, tiny_model, django_capture_on_commit_callbacks
):
    """Alice remixed Bob's portrait, which Bob has since made private: the owner may no
    longer open the parent, a moderator may. Each one's ``done`` says so."""
    from portraits.services import portrait_update

    with django_capture_on_commit_callbacks(execute=False):
        original = services.job_submit(user=bob, spec={"prompt": "a cellist", "steps": 2})
    run_job.apply(args=[str(original.pk)])
    parent = original.portraits.get()
    portrait_update(portrait=parent, by=bob, data={"visibility": "public"})
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_submit_remix(user=alice, portrait=parent, changes={"steps": 2})
    portrait_update(portrait=parent, by=bob, data={"visibility": "private"})
    followers = {"alice": communicator(job.pk, alice), "mod": communicator(job.pk, mod)}

    async def scenario():
        for ws in followers.values():
            await _connect(ws)
            assert (await ws.receive_json_from(timeout=TIMEOUT))["type"] == "state"
        worker = threading.Thread(target=run_job.apply, args=([str(job.pk)],))
        worker.start()
        finals = {name: (await _events_until_final(ws))[-1] for name, ws in followers.items()}
        await database_sync_to_async(worker.join)()
        for ws in followers.values():
            await ws.disconnect()
        return finals

    finals = async_to_sync(scenario)()
    assert {final["type"] for final in finals.values()} == {"done"}
    owners, moderators = finals["alice"]["job"], finals["mod"]["job"]
    assert owners["status"] == moderators["status"] == "succeeded"
    assert owners["parent"]["available"] is False and owners["parent"]["title"] is None
    assert owners["recipe"]["parent"] is None
    assert moderators["parent"]["available"] is True
    assert moderators["parent"]["id"] == parent.public_id
    assert moderators["recipe"]["parent"] == parent.public_id
