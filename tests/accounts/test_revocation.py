"""Revoked credentials end access everywhere at once.

A password change or reset, wherever it happens, revokes the member's API tokens;
revoking a token, logging out, a password change and deactivation close the open
WebSocket connections that used them (4401), here on a small consumer of our own
that watches its credential the way ws/jobs/<id>/ does.

``transaction=True`` for the WebSocket tests: channels runs database work through
``database_sync_to_async``, which cannot share the test's transaction.
"""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.connections import ConnectionCredential, CredentialsWatchMixin, credential_is_current
from accounts.models import ApiToken
from accounts.services import (
    api_token_create,
    api_token_revoke,
    credentials_revoked,
    user_deactivate,
    user_delete,
)
from accounts.websocket import TokenOrSessionAuthMiddleware
from tests.conftest import PASSWORD

STRONG = "a-long-unusual-passphrase-42"
TIMEOUT = 10


def _keys(user, n=2) -> list[str]:
    return [api_token_create(user=user, name=f"t{i}")[1] for i in range(n)]


# --- Password changes revoke API tokens ----------------------------------------------------------


@pytest.mark.django_db
def test_changing_the_password_on_the_website_revokes_every_api_token(client, alice, bob):
    _keys(alice)
    _keys(bob)
    client.force_login(alice)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": STRONG, "password2": STRONG},
    )
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=alice).exists()
    assert ApiToken.objects.filter(user=bob).count() == 2


@pytest.mark.django_db
def test_a_revoked_token_is_refused_by_the_api_after_a_password_change(client, alice):
    (key,) = _keys(alice, 1)
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me/").status_code == 200
    client.force_login(alice)
    client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": STRONG, "password2": STRONG},
    )
    assert api.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_resetting_the_password_by_e_mail_revokes_every_api_token(client, alice, mailoutbox):
    _keys(alice)
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    path = re.search(r"https?://testserver(/accounts/password/reset/key/\S+/)", mailoutbox[0].body)
    response = client.get(path.group(1), follow=True)
    client.post(response.redirect_chain[-1][0], {"password1": STRONG, "password2": STRONG})
    alice.refresh_from_db()
    assert alice.check_password(STRONG)
    assert not ApiToken.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_an_administrator_setting_a_password_revokes_every_api_token(admin_client, alice):
    _keys(alice)
    response = admin_client.post(
        f"/admin/accounts/user/{alice.pk}/password/",
        {"usable_password": "true", "password1": STRONG, "password2": STRONG},
    )
    assert response.status_code == 302, response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(STRONG)
    assert not ApiToken.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_the_settings_pages_say_a_password_change_revokes_tokens(client, alice):
    client.force_login(alice)
    for url_name in ("accounts:tokens", "account_change_password"):
        html = client.get(reverse(url_name)).content.decode()
        assert "revokes all your API tokens" in html, url_name


# --- The credential behind a connection ----------------------------------------------------------


@pytest.mark.django_db
def test_a_credential_is_current_until_revoked(alice, client):
    token, _ = api_token_create(user=alice, name="ws")
    by_token = ConnectionCredential(user_id=alice.pk, token_id=token.pk)
    client.force_login(alice)
    by_session = ConnectionCredential(user_id=alice.pk, session_key=client.session.session_key)
    assert credential_is_current(by_token) and credential_is_current(by_session)
    # Someone else's token id, or a session of someone else, is not alice's credential.
    assert not credential_is_current(ConnectionCredential(user_id=alice.pk + 1, token_id=token.pk))

    alice.set_password(STRONG)  # sessions keep a hash of the password; tokens are revoked
    alice.save()
    assert not credential_is_current(by_session)
    assert not credential_is_current(by_token)
    token, _ = api_token_create(user=alice, name="after")
    alice.is_active = False
    alice.save()
    assert not credential_is_current(ConnectionCredential(user_id=alice.pk, token_id=token.pk))


# --- Open connections ----------------------------------------------------------------------------


class Watched(CredentialsWatchMixin, AsyncJsonWebsocketConsumer):
    """Relays ``test.event`` messages sent to the group "test", as long as its credential lives."""

    async def connect(self):
        if not await self.credentials_watch():
            await self.accept()
            await self.close(code=4401)
            return
        await self.channel_layer.group_add("test", self.channel_name)
        await self.accept()
        await self.send_json({"username": self.scope["user"].username})

    async def disconnect(self, code):
        await self.channel_layer.group_discard("test", self.channel_name)
        await self.credentials_unwatch()

    async def test_event(self, message):
        if await self.credentials_current(final=message.get("final", False)):
            await self.send_json({"event": message["n"]})


def _application():
    return TokenOrSessionAuthMiddleware(Watched.as_asgi())


def _by_token(key):
    return WebsocketCommunicator(
        _application(), "/", headers=[(b"authorization", b"Token " + key.encode())]
    )


def _by_session(client):
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}".encode()
    return WebsocketCommunicator(_application(), "/", headers=[(b"cookie", cookie)])


async def _open(ws):
    connected, _ = await ws.connect(timeout=TIMEOUT)
    assert connected
    first = await ws.receive_output(timeout=TIMEOUT)
    assert first["type"] == "websocket.send", first
    return ws


async def _close_code(ws) -> int:
    message = await ws.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def _relays(ws, n: int) -> bool:
    from channels.layers import get_channel_layer

    await get_channel_layer().group_send("test", {"type": "test.event", "n": n})
    return (await ws.receive_json_from(timeout=TIMEOUT)) == {"event": n}


def _run(scenario):
    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_revoking_a_token_closes_only_the_connections_it_opened(alice, bob):
    token, key = api_token_create(user=alice, name="revoked")
    (alices_other,) = _keys(alice, 1)
    (bobs,) = _keys(bob, 1)

    async def scenario():
        revoked = await _open(_by_token(key))
        others = [await _open(_by_token(alices_other)), await _open(_by_token(bobs))]
        await database_sync_to_async(api_token_revoke)(user=alice, token_id=token.pk)
        code = await _close_code(revoked)
        relayed = [await _relays(ws, 1) for ws in others]
        for ws in (revoked, *others):
            await ws.disconnect()
        return code, relayed

    assert _run(scenario) == (4401, [True, True])


@pytest.mark.django_db(transaction=True)
def test_logging_out_closes_that_session_s_connections(alice, client):
    client.force_login(alice)
    other_browser = Client()
    other_browser.force_login(alice)

    async def scenario():
        ending = await _open(_by_session(client))
        other = await _open(_by_session(other_browser))
        await database_sync_to_async(client.post)(reverse("account_logout"))
        code = await _close_code(ending)
        relayed = await _relays(other, 1)
        await ending.disconnect()
        await other.disconnect()
        return code, relayed

    assert _run(scenario) == (4401, True)


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_closes_every_connection_of_the_member(alice, bob, client, mailoutbox):
    (alices_key,) = _keys(alice, 1)
    (bobs_key,) = _keys(bob, 1)
    client.force_login(alice)
    stranger = Client()

    def reset():
        stranger.post(reverse("account_reset_password"), {"email": "alice@example.com"})
        link = re.search(
            r"https?://testserver(/accounts/password/reset/key/\S+/)", mailoutbox[0].body
        )
        response = stranger.get(link.group(1), follow=True)
        stranger.post(response.redirect_chain[-1][0], {"password1": STRONG, "password2": STRONG})

    async def scenario():
        by_token = await _open(_by_token(alices_key))
        by_session = await _open(_by_session(client))
        bobs = await _open(_by_token(bobs_key))
        await database_sync_to_async(reset)()
        codes = [await _close_code(by_token), await _close_code(by_session)]
        relayed = await _relays(bobs, 1)
        for ws in (by_token, by_session, bobs):
            await ws.disconnect()
        return codes, relayed

    assert _run(scenario) == ([4401, 4401], True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["service", "admin", "delete"])
def test_deactivating_or_deleting_a_member_closes_their_connections(alice, bob, how, admin_user):
    (alices_key,) = _keys(alice, 1)
    (bobs_key,) = _keys(bob, 1)

    def deactivate():
        if how == "service":
            user_deactivate(user=alice)
        elif how == "delete":
            user_delete(user=alice)
        else:
            admin = Client()
            admin.force_login(admin_user)
            response = admin.post(
                f"/admin/accounts/user/{alice.pk}/change/",
                {"username": "alice", "email": alice.email, "display_name": alice.display_name},
            )
            assert response.status_code == 302, response.content.decode()

    async def scenario():
        alices = await _open(_by_token(alices_key))
        bobs = await _open(_by_token(bobs_key))
        await database_sync_to_async(deactivate)()
        code = await _close_code(alices)
        relayed = await _relays(bobs, 1)
        await alices.disconnect()
        await bobs.disconnect()
        return code, relayed

    assert _run(scenario) == (4401, True)


@pytest.mark.django_db(transaction=True)
def test_a_revocation_message_that_never_came_is_caught_before_a_final_event(alice, monkeypatch):
    from accounts.connections import CredentialsWatchMixin

    # However slow the machine, the last look is not stale yet when the first event arrives.
    monkeypatch.setattr(CredentialsWatchMixin, "CREDENTIALS_RECHECK_SECONDS", 3600.0)
    token, key = api_token_create(user=alice, name="ws")

    async def scenario():
        ws = await _open(_by_token(key))
        # Deleted behind the service's back: no close message is published.
        await database_sync_to_async(ApiToken.objects.filter(pk=token.pk).delete)()
        relayed = await _relays(ws, 1)
        from channels.layers import get_channel_layer

        await get_channel_layer().group_send("test", {"type": "test.event", "n": 2, "final": True})
        code = await _close_code(ws)
        await ws.disconnect()
        return relayed, code

    assert _run(scenario) == (True, 4401)


@pytest.mark.django_db(transaction=True)
def test_a_connection_opened_with_a_revoked_credential_is_refused_with_4401(alice):
    token, key = api_token_create(user=alice, name="ws")
    ApiToken.objects.filter(pk=token.pk).delete()

    async def scenario():
        ws = _by_token(key)
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert connected  # accepted, so that the client sees the code
        return await _close_code(ws)

    assert _run(scenario) == 4401


@pytest.mark.django_db(transaction=True)
def test_a_revocation_of_nothing_open_is_harmless(alice):
    credentials_revoked(user_id=alice.pk)
    credentials_revoked(user_id=alice.pk, token_id=123456)
    credentials_revoked(user_id=alice.pk, session_key="no-such-session")


@pytest.mark.django_db
def test_the_changepassword_command_revokes_api_tokens_too(alice, monkeypatch):
    """``manage.py changepassword`` sets a password outside allauth and the admin."""
    _keys(alice)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": STRONG)
    call_command("changepassword", "alice")
    assert not ApiToken.objects.filter(user=alice).exists()
