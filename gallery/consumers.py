"""WebSocket ``ws/notifications/``: a member's unread count, live.

Only relays, like ``ws/jobs/<id>/`` (generation.consumers), with the same rules: the
member comes from the session or an API token (accounts.websocket); an anonymous
connection is accepted and closed with 4401; a revoked credential (token revoked,
logged out, password changed, deactivated) closes it with 4401 (accounts.connections);
4503 "try again later" while the channel layer cannot be reached.

On connect the consumer joins ``notifications.<user id>`` and sends the current count
at once, so a reconnecting browser is never behind::

    {"type": "unread", "unread_count": 3}

It relays ``gallery.notify``'s events, reading the count for its own member as it does
(the events carry none)::

    {"type": "notification", "kind": "like", "unread_count": 4}   something new
    {"type": "unread", "unread_count": 0}                         marked read (any tab)

A client may send ``{"type": "refresh"}`` to get the count again. Nothing here writes
to the database: marking read is the page's and the API's.
"""

from __future__ import annotations

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.connections import CLOSE_SIGNED_OUT, CredentialsWatchMixin
from gallery.notify import notifications_group, notifications_unread_count
from generation.consumers import CLOSE_TRY_AGAIN_LATER

CLOSE_NOT_SIGNED_IN = CLOSE_SIGNED_OUT

logger = logging.getLogger(__name__)


class NotificationConsumer(CredentialsWatchMixin, AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        try:
            await self._connect()
        except Exception:
            # Joining a group is the only step that reaches the channel layer: with it
            # down there is nothing to relay, so say "later" (as ws/jobs/ does).
            logger.warning("WebSocket refused: the channel layer is unreachable", exc_info=True)
            self.group = None
            self._credentials_group = None
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN_LATER)

    async def _connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await self.credentials_watch():
            await self.accept()
            await self.close(code=CLOSE_NOT_SIGNED_IN)
            return
        # Join first, then count: a notification made in between is counted twice (the
        # count is re-read), never missed.
        self.group = notifications_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._send_count("unread")

    async def _send_count(self, type_: str, **extra) -> None:
        count = await database_sync_to_async(notifications_unread_count)(user=self.scope["user"])
        await self.send_json({"type": type_, **extra, "unread_count": count})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        await self.credentials_unwatch()

    async def receive_json(self, content, **kwargs):
        wants_count = isinstance(content, dict) and content.get("type") == "refresh"
        if wants_count and self.group and await self.credentials_current(final=True):
            await self._send_count("unread")

    async def notifications_event(self, message):
        if not await self.credentials_current():
            return
        event = message.get("event") or {}
        if event.get("type") == "created":
            await self._send_count("notification", kind=event.get("kind"))
        else:
            await self._send_count("unread")
