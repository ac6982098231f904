"""WebSocket ``ws/notifications/``: a member's unread count, live.

Only relays, like ``ws/jobs/<id>/`` (generation.consumers), with the same rules, as
both are ``accounts.connections.MemberRelayConsumer``: the member comes from the session
or an API token (accounts.websocket); an anonymous connection is accepted and closed
with 4401; a revoked credential (token revoked, logged out, password changed,
deactivated) closes it with 4401; 4503 "try again later" while the channel layer cannot
be reached.

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

from channels.db import database_sync_to_async

from accounts.connections import MemberRelayConsumer
from gallery.notify import notifications_group, notifications_unread_count


class NotificationConsumer(MemberRelayConsumer):
    # Join first, then count: a notification made in between is counted twice (the count
    # is re-read), never missed.
    def member_group(self, user) -> str:
        return notifications_group(user.pk)

    def member_state(self, user) -> dict:
        return {"type": "unread", "unread_count": notifications_unread_count(user=user)}

    async def _send_count(self, type_: str, **extra) -> None:
        count = await database_sync_to_async(notifications_unread_count)(user=self.scope["user"])
        await self.send_json({"type": type_, **extra, "unread_count": count})

    async def receive_json(self, content, **kwargs):
        if not (isinstance(content, dict) and content.get("type") == "refresh" and self.group):
            return
        current, state = await self.credentials_then(lambda: self.member_state(self.scope["user"]))
        if current:
            await self.send_json(state)

    async def notifications_event(self, message):
        if not await self.credentials_current():
            return
        event = message.get("event") or {}
        if event.get("type") == "created":
            await self._send_count("notification", kind=event.get("kind"))
        else:
            await self._send_count("unread")
