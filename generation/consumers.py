"""WebSocket ``ws/jobs/<id>/``: follow one job live.

Only relays. Authorises in ``connect`` (the job's owner and moderators; the
user comes from the session or an API token, see accounts.websocket), joins the
job's group, sends the job's current state at once — so a late or reconnecting
client never misses where the job stands — then forwards events from
generation.events. Close codes: 4401 not signed in, 4404 no such job (or not
yours: its existence is not revealed).

A refusal accepts the handshake and then closes with its code: closing before
accepting makes daphne answer the handshake with HTTP 403, and the client never
sees the code (a browser would keep reconnecting, not knowing it was signed out).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config.errors import NotFound
from generation import events
from generation.selectors import job_get_for_viewer, job_is_visible

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _current_state(user, job_id):
    from generation.api.serializers import job_representation

    try:
        job = job_get_for_viewer(viewer=user, job_id=job_id)
    except NotFound:
        return None
    return {"type": "state", "job": job_representation(job)}


class JobConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_NOT_SIGNED_IN)
            return
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        if not await database_sync_to_async(job_is_visible)(viewer=user, job_id=job_id):
            await self._refuse(CLOSE_NOT_FOUND)
            return
        # Join first, then read: an event published in between is sent twice
        # rather than lost, and clients treat events as idempotent state.
        self.group = events.job_group(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        state = await _current_state(user, job_id)
        if state is None:  # deleted between the check and the read
            await self._refuse(CLOSE_NOT_FOUND)
            return
        await self.accept()
        await self.send_json(state)

    async def _refuse(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # Clients may ask for the state again (e.g. after a tab wakes up).
        if content.get("type") == "refresh":
            user = self.scope["user"]
            state = await _current_state(user, self.scope["url_route"]["kwargs"]["job_id"])
            if state is not None:
                await self.send_json(state)

    async def job_event(self, message):
        await self.send_json(message["event"])
