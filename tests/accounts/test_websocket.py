"""The WebSocket auth middleware and origin validator, on a tiny consumer of our own.

``transaction=True``: channels runs the token lookup through
``database_sync_to_async``, which closes connections it finds inside a
transaction, so these tests cannot run inside the usual test transaction.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from accounts.services import api_token_create, api_token_revoke
from accounts.websocket import AllowedHostsOrTokenOriginValidator, TokenOrSessionAuthMiddleware

pytestmark = pytest.mark.django_db(transaction=True)


class WhoAmI(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        user = self.scope["user"]
        await self.send_json({"username": user.username if user.is_authenticated else None})


def _connect(application, path="/ws/whoami/", headers=()):
    """Connect; return (accepted, first message or None)."""

    async def run():
        communicator = WebsocketCommunicator(application, path, headers=list(headers))
        connected, _ = await communicator.connect()
        message = await communicator.receive_json_from() if connected else None
        await communicator.disconnect()
        return connected, message

    return async_to_sync(run)()


def _whoami(path="/ws/whoami/", headers=()):
    connected, message = _connect(TokenOrSessionAuthMiddleware(WhoAmI.as_asgi()), path, headers)
    assert connected
    return message["username"]


def _session_cookie(client) -> tuple[bytes, bytes]:
    name = django_settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


@pytest.fixture
def key(alice):
    return api_token_create(user=alice, name="ws")[1]


def test_token_in_authorization_header_authenticates(key):
    assert _whoami(headers=[(b"authorization", f"Token {key}".encode())]) == "alice"


def test_token_in_query_parameter_authenticates(key):
    assert _whoami(path=f"/ws/whoami/?token={key}") == "alice"


@pytest.mark.parametrize(
    "headers, path",
    [
        ([(b"authorization", b"Token lk_not-a-real-key")], "/ws/whoami/"),
        ([], "/ws/whoami/?token=garbage"),
        ([], "/ws/whoami/"),
    ],
    ids=["bad-header-token", "bad-query-token", "no-credentials"],
)
def test_bad_or_missing_token_is_anonymous(alice, headers, path):
    assert _whoami(path=path, headers=headers) is None


def test_revoked_token_and_inactive_owner_are_anonymous(alice):
    token, key = api_token_create(user=alice, name="ws")
    header = [(b"authorization", f"Token {key}".encode())]
    api_token_revoke(user=alice, token_id=token.pk)
    assert _whoami(headers=header) is None
    _, key = api_token_create(user=alice, name="ws2")
    alice.is_active = False
    alice.save()
    assert _whoami(headers=[(b"authorization", f"Token {key}".encode())]) is None


def test_session_cookie_authenticates_browsers(client, alice):
    client.force_login(alice)
    assert _whoami(headers=[_session_cookie(client)]) == "alice"


def test_a_bad_token_does_not_fall_back_to_the_session(client, alice):
    client.force_login(alice)
    headers = [_session_cookie(client), (b"authorization", b"Token lk_wrong")]
    assert _whoami(headers=headers) is None


# --- Origin checks ----------------------------------------------------------------------------


@pytest.fixture
def hosts(settings):
    settings.ALLOWED_HOSTS = ["likeness.example"]


def _validated(validator, path="/ws/whoami/", headers=()):
    app = validator(TokenOrSessionAuthMiddleware(WhoAmI.as_asgi()))
    return _connect(app, path, headers)[0]


def test_channels_stock_validator_refuses_clients_without_origin(hosts, key):
    # Why AllowedHostsOrTokenOriginValidator exists: REST clients send no Origin.
    auth = [(b"authorization", f"Token {key}".encode())]
    assert not _validated(AllowedHostsOriginValidator, headers=auth)


def test_missing_origin_is_allowed_with_a_token(hosts, key):
    assert _validated(
        AllowedHostsOrTokenOriginValidator, headers=[(b"authorization", f"Token {key}".encode())]
    )
    assert _validated(AllowedHostsOrTokenOriginValidator, path=f"/ws/whoami/?token={key}")


def test_missing_origin_without_a_token_is_refused(hosts, alice):
    assert not _validated(AllowedHostsOrTokenOriginValidator)


def test_a_present_origin_must_be_an_allowed_host_even_with_a_token(hosts, key):
    auth = (b"authorization", f"Token {key}".encode())
    assert not _validated(
        AllowedHostsOrTokenOriginValidator, headers=[(b"origin", b"https://evil.example"), auth]
    )
    assert _validated(
        AllowedHostsOrTokenOriginValidator,
        headers=[(b"origin", b"https://likeness.example"), auth],
    )


def test_browser_from_an_allowed_origin_connects_with_its_session(hosts, client, alice):
    client.force_login(alice)
    headers = [(b"origin", b"https://likeness.example"), _session_cookie(client)]
    app = AllowedHostsOrTokenOriginValidator(TokenOrSessionAuthMiddleware(WhoAmI.as_asgi()))
    assert _connect(app, headers=headers) == (True, {"username": "alice"})
