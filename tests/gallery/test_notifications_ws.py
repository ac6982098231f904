"""ws/notifications/: the unread count on connect, pushed live, the job socket's auth rules.

Through the site's real ASGI application (origin check, token/session auth, routing).
``transaction=True``: the consumer reads through ``database_sync_to_async``, and the
pushes go out after commit, so nothing may stay inside the test's transaction.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from accounts.services import api_token_create, api_token_revoke
from accounts.websocket import TokenOrSessionAuthMiddleware
from gallery.models import Notification
from gallery.notify import notifications_mark_read
from gallery.routing import websocket_urlpatterns
from gallery.services import follow_add, like_add
from tests.portraits.factories import PortraitFactory

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10
PATH = "/ws/notifications/"


@pytest.fixture
def application(settings):
    settings.CELERY_INPROCESS_WORKER = False  # importing the ASGI module would start one
    from config.asgi import application

    return application


def key_for(user) -> str:
    return api_token_create(user=user, name="ws")[1]


async def _open(ws: WebsocketCommunicator) -> dict:
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    return await ws.receive_json_from(timeout=TIMEOUT)


def test_connect_sends_the_unread_count_at_once(application, alice, bob):
    like_add(user=bob, portrait=PortraitFactory(author=alice))

    key = key_for(alice)

    async def scenario():
        ws = WebsocketCommunicator(application, f"{PATH}?token={key}")
        first = await _open(ws)
        await ws.disconnect()
        return first

    assert async_to_sync(scenario)() == {"type": "unread", "unread_count": 1}


def test_a_follow_is_pushed_live_with_the_new_count(application, alice, bob, make_user):
    like_add(user=bob, portrait=PortraitFactory(author=alice))
    carol = make_user("carol")

    key = key_for(alice)

    async def scenario():
        ws = WebsocketCommunicator(
            application, PATH, headers=[(b"authorization", f"Token {key}".encode())]
        )
        assert await _open(ws) == {"type": "unread", "unread_count": 1}
        await database_sync_to_async(follow_add)(follower=carol, followed=alice)
        pushed = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return pushed

    assert async_to_sync(scenario)() == {
        "type": "notification",
        "kind": "follow",
        "unread_count": 2,
    }


def test_marking_read_elsewhere_updates_the_count(application, alice, bob):
    follow_add(follower=bob, followed=alice)

    key = key_for(alice)

    async def scenario():
        ws = WebsocketCommunicator(application, f"{PATH}?token={key}")
        assert (await _open(ws))["unread_count"] == 1
        await database_sync_to_async(notifications_mark_read)(user=alice)
        pushed = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return pushed

    assert async_to_sync(scenario)() == {"type": "unread", "unread_count": 0}


def test_others_notifications_are_not_pushed_to_you(application, alice, bob, make_user):
    carol = make_user("carol")

    key = key_for(alice)

    async def scenario():
        ws = WebsocketCommunicator(application, f"{PATH}?token={key}")
        assert (await _open(ws))["unread_count"] == 0
        await database_sync_to_async(follow_add)(follower=carol, followed=bob)  # bob's
        await database_sync_to_async(follow_add)(follower=carol, followed=alice)  # then hers
        pushed = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return pushed

    # The first thing alice hears of is her own follow: bob's went to bob's group only.
    assert async_to_sync(scenario)()["unread_count"] == 1
    assert Notification.objects.filter(recipient__username="bob").count() == 1


async def _refusal(ws: WebsocketCommunicator, *, disconnect: bool = True) -> int:
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected, "refusals accept the handshake, so the client sees the close code"
    first = await ws.receive_output(timeout=TIMEOUT)
    assert first["type"] == "websocket.close", first  # no count before the refusal
    if disconnect:
        # As a client does: the consumer ends on the disconnect, not cancelled with the
        # loop (cancelling it in a channels_redis receive once hung the loop's shutdown).
        # Not with the layer down: there the consumer's receive loop fails, as it should.
        await ws.disconnect()
    return first["code"]


@pytest.mark.parametrize("path", [PATH, f"{PATH}?token=lk_not-a-real-key"])
def test_anonymous_is_refused_with_the_job_sockets_code(path, alice):
    # Past the origin check, which refuses a browser from elsewhere before any of this.
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    assert async_to_sync(_refusal)(WebsocketCommunicator(app, path)) == 4401


def test_a_browser_session_authenticates(client, alice, bob):
    follow_add(follower=bob, followed=alice)
    client.force_login(alice)
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}"
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))

    async def scenario():
        ws = WebsocketCommunicator(app, PATH, headers=[(b"cookie", cookie.encode())])
        first = await _open(ws)
        await ws.disconnect()
        return first

    assert async_to_sync(scenario)() == {"type": "unread", "unread_count": 1}


def test_revoking_the_token_closes_the_socket_with_4401(application, alice):
    token, key = api_token_create(user=alice, name="ws")

    async def scenario():
        ws = WebsocketCommunicator(application, f"{PATH}?token={key}")
        assert (await _open(ws))["type"] == "unread"
        await database_sync_to_async(api_token_revoke)(user=alice, token_id=token.pk)
        closed = await ws.receive_output(timeout=TIMEOUT)
        await ws.disconnect()  # the consumer ends on the client's disconnect, not cancelled
        return closed

    closed = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": 4401}


def test_an_unreachable_channel_layer_says_try_again_later(alice, settings):
    # Nothing listens on port 1: joining the group fails at once.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    key = key_for(alice)
    app = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))
    refused = WebsocketCommunicator(app, f"{PATH}?token={key}")
    assert async_to_sync(_refusal)(refused, disconnect=False) == 4503
