"""WebSockets ``ws/jobs/<id>/`` (follow one job live) and ``ws/jobs/`` (all of the
signed-in member's jobs, for "My jobs": ``JobListConsumer``, documented there).

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

import datetime as dt
import uuid
from urllib.parse import parse_qs

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.connections import CLOSE_SIGNED_OUT, CLOSE_TRY_AGAIN_LATER, MemberRelayConsumer
from config.errors import NotFound
from generation import events
from generation.presenters import job_list_row, job_present, sweep_cell_present, sweep_present
from generation.selectors import (
    job_get_for_viewer,
    job_list_changed_since,
    job_list_owned,
    sweep_cell_for_display,
    sweep_cells_for_display,
    sweep_get_for_viewer,
)

__all__ = [
    "CLOSE_NOT_FOUND",
    "CLOSE_NOT_SIGNED_IN",
    "CLOSE_TRY_AGAIN_LATER",
    "JobConsumer",
    "JobListConsumer",
    "SweepConsumer",
]

CLOSE_NOT_SIGNED_IN = CLOSE_SIGNED_OUT
CLOSE_NOT_FOUND = 4404
FINAL_EVENTS = frozenset({"done", "failed", "cancelled"})


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
    GONE_CODE = CLOSE_NOT_FOUND
    job_id: uuid.UUID | None = None

    def member_group(self, user) -> str | None:
        self.job_id = _job_id(self.scope["url_route"]["kwargs"]["job_id"])
        return events.job_group(self.job_id) if self.job_id is not None else None

    def member_state(self, user) -> dict | None:
        # Not theirs, or no such job: refused alike, after the same work (the group joined
        # and left), so a stranger cannot tell the two apart.
        job = _job_for(user, self.job_id)
        return {"type": "state", "job": job} if job is not None else None

    async def receive_json(self, content, **kwargs):
        # Clients may ask for the state again (e.g. after a tab wakes up): the full
        # resource, so the credential is re-read first, as for a final event.
        if content.get("type") == "refresh" and self.group is not None:
            current, job = await self.credentials_then(
                lambda: _job_for(self.scope["user"], self.job_id)
            )
            if current and job is not None:
                await self.send_json({"type": "state", "job": job})

    async def job_event(self, message):
        if self.group is None:  # refused: an event queued before the group was left
            return
        event = message["event"]
        if event.get("type") == "done":
            # The event says only what happened; the finished job is read for this
            # subscriber, as they may see it now (a moderator and the owner see different
            # parents), never one rendered for someone else: with the credential, in one
            # trip to the database.
            current, job = await self.credentials_then(
                lambda: _job_for(self.scope["user"], self.job_id)
            )
            if not current:
                return
            if job is None:  # deleted meanwhile, or no longer theirs to follow
                await self.leave_groups()
                await self.close(code=CLOSE_NOT_FOUND)
                return
            event = {"type": "done", "job": job}
        elif not await self.credentials_current(final=event.get("type") in FINAL_EVENTS):
            return
        await self.send_json(event)


def _state(user, since) -> dict:
    """``ws/jobs/``'s state: the rows of ``user``'s jobs changed since ``since``."""
    at = timezone.now()
    rows = [
        job_list_row(job, viewer=user) for job in job_list_changed_since(user=user, since=since)
    ]
    return {"type": "state", "at": at.isoformat(), "jobs": rows}


def _row_for(user, job_id) -> dict | None:
    """One of ``user``'s own jobs as their list shows it; None once it is gone."""
    job = job_list_owned(user=user).filter(pk=job_id).first()
    return job_list_row(job, viewer=user) if job is not None else None


def _time(raw: str):
    """An ISO 8601 time from a client, or None (malformed or missing: no time at all)."""
    try:
        value = parse_datetime(raw or "")
    except ValueError:
        return None
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


def _since(scope):
    """The ``since`` of the query string: when the page was drawn."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return _time(query.get("since", [""])[0])


class JobListConsumer(MemberRelayConsumer):
    """WebSocket ``ws/jobs/``: every job of the signed-in member, live — one socket for a
    whole "My jobs" page, however many rows it shows.

    Only the member's own jobs, whoever they are (a moderator too): it joins
    ``user.<user id>.jobs`` (``generation.events.user_jobs_group``), to which the job
    events of that member's jobs are published. Refusals as ``ws/jobs/<id>/``: 4401 not
    signed in, 4503 the channel layer is unreachable.

    On connect (and on ``{"type": "refresh"}``) it sends
    ``{"type": "state", "at": "<now>", "jobs": [row, ...]}``: every queued or running job,
    and those that ended since ``?since=<ISO time>`` (the page passes when it was drawn,
    then the ``at`` of the last state, so a row that ended while it was disconnected is
    never left "running"). A row is ``generation.presenters.job_list_row``. Then, as
    they happen::

        {"type": "queued", "job_id": "...", "position": 2}
        {"type": "started", "job_id": "...", "total": 20}
        {"type": "progress", "job_id": "...", "step": 5, "total": 20, "eta_seconds": 1.2}
        {"type": "job", "job": row}      the job ended (succeeded, failed, cancelled):
                                         read for this member, with its thumbnail
    """

    def member_group(self, user) -> str:
        return events.user_jobs_group(user.pk)

    def member_state(self, user) -> dict:
        return _state(user, _since(self.scope))

    async def receive_json(self, content, **kwargs):
        if not (isinstance(content, dict) and content.get("type") == "refresh" and self.group):
            return
        since = _time(str(content.get("since") or ""))
        current, state = await self.credentials_then(lambda: _state(self.scope["user"], since))
        if current:
            await self.send_json(state)

    async def jobs_event(self, message):
        event = message.get("event") or {}
        if event.get("type") in FINAL_EVENTS:
            # As for one job: the event says what happened; the row is read for this
            # member (its thumbnail as they may see it), with the credential.
            current, row = await self.credentials_then(
                lambda: _row_for(self.scope["user"], message.get("job_id"))
            )
            if current and row is not None:
                await self.send_json({"type": "job", "job": row})
        elif await self.credentials_current():
            await self.send_json({**event, "job_id": message.get("job_id")})


def _sweep_for(user, sweep_id) -> dict | None:
    """The whole board as ``user`` may see it now; None once it is not theirs."""
    try:
        sweep = sweep_get_for_viewer(viewer=user, sweep_id=sweep_id)
    except NotFound:
        return None
    cells = sweep_cells_for_display(sweep=sweep, viewer=user)
    return {"type": "state", "sweep": sweep_present(sweep, cells=cells, viewer=user)}


def _cell_for(user, sweep_id, job_id) -> dict | None:
    job = sweep_cell_for_display(sweep_id=sweep_id, job_id=job_id, viewer=user)
    return sweep_cell_present(job, viewer=user) if job is not None else None


class SweepConsumer(MemberRelayConsumer):
    """WebSocket ``ws/sweeps/<id>/``: every cell of one sweep painting live, for the board —
    one socket however many cells. Its member only; refusals as ``ws/jobs/<id>/`` (4401,
    4404 for a sweep that is not theirs or does not exist, 4503).

    On connect (and on ``{"type": "refresh"}``): ``{"type": "state", "sweep": {...}}``, the
    sweep resource (``generation.presenters.sweep_present``). Then each cell's job events,
    as ``ws/jobs/<id>/`` relays them, with the cell's ``job_id``: ``queued``, ``started``,
    ``progress`` (with its live ``preview``), and, when a cell ends (done, failed,
    cancelled), ``{"type": "cell", "event": "done", "cell": {...}}``, the cell read for
    this member (``sweep_cell_present``), with its portrait."""

    sweep_id: uuid.UUID | None = None

    def member_group(self, user) -> str | None:
        self.sweep_id = _job_id(self.scope["url_route"]["kwargs"]["sweep_id"])
        return events.sweep_group(self.sweep_id) if self.sweep_id is not None else None

    def member_state(self, user) -> dict | None:
        return _sweep_for(user, self.sweep_id)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "refresh" and self.group:
            current, state = await self.credentials_then(
                lambda: _sweep_for(self.scope["user"], self.sweep_id)
            )
            if current and state is not None:
                await self.send_json(state)

    async def sweep_event(self, message):
        if self.group is None:
            return
        event, job_id = message.get("event") or {}, message.get("job_id")
        kind = event.get("type")
        if kind in FINAL_EVENTS:
            current, cell = await self.credentials_then(
                lambda: _cell_for(self.scope["user"], self.sweep_id, job_id)
            )
            if current and cell is not None:
                await self.send_json({"type": "cell", "event": kind, "cell": cell})
        elif await self.credentials_current():
            await self.send_json({**event, "job_id": job_id})
