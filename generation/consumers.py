"""WebSocket ``ws/jobs/<id>/``: follow one job live.

Only relays. Authorises in ``connect`` (the job's owner and moderators; the
user comes from the session or an API token, see accounts.websocket), joins the
job's group, sends the job's current state at once — so a late or reconnecting
client never misses where the job stands — then forwards events from
generation.events. Events say only what happened; the job itself (on connect, on
``refresh`` and with ``done``) is always read and presented for this connection's
member (``generation.presenters.job_present``), so each subscriber gets the job as they
may see it. Close codes: 4401 not signed in (also sent to an open
connection whose token is revoked, whose session logs out, whose member changes
their password or is deactivated: see accounts.connections), 4404 no such job (or
not yours: its existence is not revealed; also a job id that is not a UUID), 4503
"try again later" while the channel layer (Redis, in production) cannot be reached:
the client reconnects later, and the REST resource still answers meanwhile.

A refusal accepts the handshake and then closes with its code: closing before
accepting makes daphne answer the handshake with HTTP 403, and the client never
sees the code (a browser would keep reconnecting, not knowing it was signed out).
"""

from __future__ import annotations

import uuid

from channels.db import database_sync_to_async

from accounts.connections import CLOSE_SIGNED_OUT, CLOSE_TRY_AGAIN_LATER, MemberRelayConsumer
from config.errors import NotFound
from generation import events
from generation.presenters import job_present
from generation.selectors import job_get_for_viewer, job_is_visible

__all__ = ["CLOSE_NOT_FOUND", "CLOSE_NOT_SIGNED_IN", "CLOSE_TRY_AGAIN_LATER", "JobConsumer"]

CLOSE_NOT_SIGNED_IN = CLOSE_SIGNED_OUT
CLOSE_NOT_FOUND = 4404
FINAL_EVENTS = frozenset({"done", "failed", "cancelled"})


@database_sync_to_async
def _job_for(user, job_id) -> dict | None:
    """The job as ``user`` may see it now (``generation.presenters``); None once they may not."""
    try:
        job = job_get_for_viewer(viewer=user, job_id=job_id)
    except NotFound:
        return None
    return job_present(job, viewer=user)


def _job_id(raw: str) -> uuid.UUID | None:
    # The route takes any path segment, so a malformed id is refused like an unknown
    # job (4404) instead of failing the handshake with no route (an HTTP 500).
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


class JobConsumer(MemberRelayConsumer):
    job_id: uuid.UUID | None = None

    async def member_connect(self, user) -> None:
        self.job_id = _job_id(self.scope["url_route"]["kwargs"]["job_id"])
        if self.job_id is None or not await database_sync_to_async(job_is_visible)(
            viewer=user, job_id=self.job_id
        ):
            await self.refuse(CLOSE_NOT_FOUND)
            return
        # Join first, then read: an event published in between is sent twice
        # rather than lost, and clients treat events as idempotent state.
        self.group = events.job_group(self.job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        job = await _job_for(user, self.job_id)
        if job is None:  # deleted between the check and the read
            await self.refuse(CLOSE_NOT_FOUND)
            return
        await self.accept()
        await self.send_json({"type": "state", "job": job})

    async def receive_json(self, content, **kwargs):
        # Clients may ask for the state again (e.g. after a tab wakes up): the full
        # resource, so the credential is re-read first, as for a final event.
        if content.get("type") == "refresh" and self.job_id is not None:
            if not await self.credentials_current(final=True):
                return
            job = await _job_for(self.scope["user"], self.job_id)
            if job is not None:
                await self.send_json({"type": "state", "job": job})

    async def job_event(self, message):
        event = message["event"]
        if not await self.credentials_current(final=event.get("type") in FINAL_EVENTS):
            return
        if event.get("type") == "done":
            # The event says only what happened; the finished job is read for this
            # subscriber, as they may see it now (a moderator and the owner see different
            # parents), never one rendered for someone else.
            job = await _job_for(self.scope["user"], self.job_id)
            if job is None:  # deleted meanwhile, or no longer theirs to follow
                await self.leave_groups()
                await self.close(code=CLOSE_NOT_FOUND)
                return
            event = {"type": "done", "job": job}
        await self.send_json(event)
