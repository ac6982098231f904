"""Live connections end when the credential they were opened with ends.

Revoking an API token, logging out, changing or resetting a password, deactivating,
suspending or deleting a member: HTTP requests notice at once (they check their credential
every time), but an open WebSocket was authenticated once, at its handshake. A consumer that
mixes in ``CredentialsWatchMixin`` joins the group ``auth.user.<user id>``; the
revocation publishes an ``auth.revoked`` message there (``credentials_revoked`` in
accounts.services, after commit), and every connection the message names closes with
4401, the "not signed in" code. Pushing a close costs nothing per relayed event, where
re-reading the credential for every event costs a query or two each
(bench/ws_revocation.py measures both). As channels_redis may drop a message (past a
channel's capacity or expiry), the credential is also re-read at connect, before a final
event and once ``CREDENTIALS_RECHECK_SECONDS`` have passed.

Works with the scope ``accounts.websocket.TokenOrSessionAuthMiddleware`` builds.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.utils.crypto import constant_time_compare

from accounts.models import ApiToken, User
from accounts.suspension import is_suspended, not_suspended_q
from config.broadcast import group_send

logger = logging.getLogger(__name__)

CLOSE_SIGNED_OUT = 4401
# "Try again later", like HTTP 503: RFC 6455's own 1013 cannot be sent through daphne, whose
# autobahn refuses any close code but 1000 and 3000-4999 (a 1011 crash instead).
CLOSE_TRY_AGAIN_LATER = 4503
REVOKED_MESSAGE_TYPE = "auth.revoked"


def credentials_group(user_id: int) -> str:
    """The channel-layer group every watched connection of a member joins."""
    return f"auth.user.{user_id}"


def session_fingerprint(session_key: str) -> str:
    """Names a session in messages without putting its key (a bearer secret) in Redis."""
    return hashlib.sha256(session_key.encode()).hexdigest()


@dataclass(frozen=True)
class ConnectionCredential:
    """What a connection was authenticated with: one API token, or one session."""

    user_id: int
    token_id: int | None = None
    session_key: str | None = None

    def is_named_by(self, message: dict[str, Any]) -> bool:
        """Whether an ``auth.revoked`` message ends this connection: it names this token,
        or this session, or (naming neither) every connection of the member."""
        if message.get("token_id") is not None:
            return message["token_id"] == self.token_id
        if message.get("session") is not None:
            return self.session_key is not None and constant_time_compare(
                message["session"], session_fingerprint(self.session_key)
            )
        return True


def connection_credential(scope) -> ConnectionCredential | None:
    """The credential behind ``scope["user"]`` (set by TokenOrSessionAuthMiddleware), or None."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    if scope.get("api_token_id") is not None:
        return ConnectionCredential(user_id=user.pk, token_id=scope["api_token_id"])
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    if not session_key:
        return None
    return ConnectionCredential(user_id=user.pk, session_key=session_key)


def _session_user_id(session_key: str) -> int | None:
    """The active member a stored session still signs in, or None.

    Django's own rules (``django.contrib.auth.get_user``): a known backend, an active
    user, and the session's auth hash matching the current password; and a member who is
    not suspended (accounts.suspension). Read-only: an invalid session is left for the
    next HTTP request to flush.
    """
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    try:
        user_id = User._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)
    if user is None or not user.is_active or is_suspended(user):
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash:
        return None
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(session_hash, known) for known in hashes):
        return None
    return user.pk


def credential_is_current(credential: ConnectionCredential) -> bool:
    """Whether the credential would still authenticate a new connection (one query or two)."""
    if credential.token_id is not None:
        return ApiToken.objects.filter(
            not_suspended_q("user__"),
            pk=credential.token_id,
            user_id=credential.user_id,
            user__is_active=True,
        ).exists()
    if credential.session_key:
        return _session_user_id(credential.session_key) == credential.user_id
    return False


def revocation_publish(
    *, user_id: int, token_id: int | None = None, session_key: str | None = None
) -> None:
    """Close the member's open connections that use ``token_id``, or ``session_key``, or
    (neither given) all of them. Call from synchronous code, after commit
    (``accounts.services.credentials_revoked`` does). Never raises: the revocation
    itself is done; a connection that misses the message finds out at its next re-check.
    """
    message = {
        "type": REVOKED_MESSAGE_TYPE,
        "token_id": token_id,
        "session": session_fingerprint(session_key) if session_key else None,
    }
    # Bounded, and skipped for a while after a failure (config.broadcast): a Redis that
    # does not answer must not hold up every logout and password change.
    group_send(credentials_group(user_id), message, what=f"a revocation for user {user_id}")


class CredentialsWatchMixin:
    """For WebSocket consumers behind TokenOrSessionAuthMiddleware: close with 4401 as soon
    as the credential the connection was opened with is revoked.

    Call ``credentials_watch()`` in ``connect`` (before sending anything), and
    ``credentials_unwatch()`` in ``disconnect``. Before relaying an event, ``await
    self.credentials_current(final=...)``: False means the connection has just been
    closed and the event must be dropped.
    """

    # How stale the last look at the credential may be before an event re-reads it: bounds
    # how long a connection that missed its close message (channels_redis drops messages
    # past a channel's capacity or expiry) keeps receiving events.
    CREDENTIALS_RECHECK_SECONDS = 60.0

    credential: ConnectionCredential | None = None
    credentials_closed = False
    _credentials_group: str | None = None
    _credentials_checked_at = 0.0

    async def credentials_watch(self) -> bool:
        """Join the member's revocation group, then confirm the credential is still good.

        Joining first means a revocation racing with the handshake is either seen by the
        check or delivered as a message. False (nothing joined): refuse with 4401.
        """
        if not await self.credentials_join():
            return False
        if not await self._credential_is_current():
            await self.credentials_unwatch()
            return False
        return True

    async def credentials_join(self) -> bool:
        """The first half of ``credentials_watch``: join the member's revocation group,
        without checking the credential yet (the caller checks it next, e.g. with
        ``credentials_then`` in the same trip to the database as its own first read).
        False, nothing joined, when the connection presents no credential at all."""
        self.credential = connection_credential(self.scope)
        if self.credential is None:
            return False
        self._credentials_group = credentials_group(self.credential.user_id)
        await self.channel_layer.group_add(self._credentials_group, self.channel_name)
        return True

    async def credentials_unwatch(self) -> None:
        if self._credentials_group:
            await self.channel_layer.group_discard(self._credentials_group, self.channel_name)
            self._credentials_group = None

    async def credentials_current(self, *, final: bool = False) -> bool:
        """Whether events may still be relayed; closes the connection (4401) when not.

        Re-reads the credential before a ``final`` event (the one that matters most, and
        the last chance) and when the last look is older than the recheck interval.
        """
        if self.credentials_closed:
            return False
        stale = time.monotonic() - self._credentials_checked_at > self.CREDENTIALS_RECHECK_SECONDS
        if (final or stale) and not await self._credential_is_current():
            await self.credentials_close()
            return False
        return True

    async def credentials_then(self, read: Callable[[], Any]) -> tuple[bool, Any]:
        """Re-read the credential and, while it is still good, call ``read`` (synchronous:
        it may query) in the same trip to the database thread: ``(True, read())``, or
        ``(False, None)`` when the credential is no longer good: ``read`` is not called,
        and the connection has just been closed (4401). For what needs both, a final
        event's state or a refresh: one hop, not two."""
        if self.credentials_closed:
            return False, None
        current, result = await database_sync_to_async(self._credential_then)(read)
        if not current:
            await self.credentials_close()
        return current, result

    def _credential_then(self, read: Callable[[], Any]) -> tuple[bool, Any]:
        current = credential_is_current(self.credential)
        self._credentials_checked_at = time.monotonic()
        return (True, read()) if current else (False, None)

    async def credentials_close(self) -> None:
        """Stop relaying and close with 4401 (the client is signed out)."""
        if self.credentials_closed:
            return
        self.credentials_closed = True
        await self.credentials_unwatch()
        await self.close(code=CLOSE_SIGNED_OUT)

    async def auth_revoked(self, message) -> None:
        """Handler of ``auth.revoked`` (see ``revocation_publish``)."""
        if self.credential is not None and self.credential.is_named_by(message):
            await self.credentials_close()

    async def _credential_is_current(self) -> bool:
        current = await database_sync_to_async(credential_is_current)(self.credential)
        self._credentials_checked_at = time.monotonic()
        return current


class MemberRelayConsumer(CredentialsWatchMixin, AsyncJsonWebsocketConsumer):
    """A WebSocket that relays one signed-in member's events: what ``ws/jobs/<id>/``,
    ``ws/jobs/`` and ``ws/notifications/`` share, so they refuse and fail alike.

    ``connect`` refuses anyone not signed in with 4401. Then it joins the member's
    revocation group and the subclass's :meth:`member_group` (None: refused with
    ``GONE_CODE``), and only then, in one trip to the database, confirms the credential
    (no longer good: 4401) and reads :meth:`member_state`, the message sent at once
    (None: ``GONE_CODE``). Joining first, then reading, means a revocation or an event
    in between is seen twice, never missed. Any failure meanwhile is the channel layer's
    (joining a group is the only step that reaches it): with it down there is nothing to
    relay, so the client is told 4503 "try again later", not a failed handshake it can
    only read as an error.

    A refusal accepts the handshake and then closes with its code: closing before
    accepting makes daphne answer the handshake with HTTP 403, and the client never sees
    the code (a browser would keep reconnecting, not knowing it was signed out).
    """

    # The close code when there is nothing (any more) for this member to follow.
    GONE_CODE = 4404

    group: str | None = None

    async def connect(self):
        try:
            user = self.scope.get("user")
            if user is None or not user.is_authenticated or not await self.credentials_join():
                await self.refuse(CLOSE_SIGNED_OUT)
                return
            self.group = self.member_group(user)
            if self.group is None:
                await self.refuse(self.GONE_CODE)
                return
            await self.channel_layer.group_add(self.group, self.channel_name)
            current, state = await database_sync_to_async(self._credential_then)(
                lambda: self.member_state(user)
            )
            if not current or state is None:
                await self.refuse(CLOSE_SIGNED_OUT if not current else self.GONE_CODE)
                return
        except Exception:
            logger.warning(
                "WebSocket refused: the channel layer (or the database) is unreachable",
                exc_info=True,
            )
            self.group = None
            self._credentials_group = None
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return
        await self.accept()
        await self.send_json(state)

    def member_group(self, user) -> str | None:
        """The group whose events this connection relays, or None to refuse it."""
        raise NotImplementedError

    def member_state(self, user) -> dict | None:
        """The message sent on connect: where things stand now, read for ``user`` (called
        on the database thread, after the groups are joined). None to refuse."""
        raise NotImplementedError

    async def dispatch(self, message):
        """Run the message's handler, without channels' own database hop first.

        channels' ``AsyncConsumer.dispatch`` awaits ``aclose_old_connections()`` before
        every handler: a trip to the database thread for each relayed event (each
        progress step of each watcher), though a relay touches the database only now and
        then. Every read here goes through ``database_sync_to_async``, which closes old
        connections itself, before and after, on the thread that owns them; so the hop is
        left out (it was a fifth of daphne's main thread's time while a job was followed).
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def refuse(self, code: int) -> None:
        await self.leave_groups()
        await self.accept()
        await self.close(code=code)

    async def leave_groups(self) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        await self.credentials_unwatch()

    async def disconnect(self, code):
        await self.leave_groups()
