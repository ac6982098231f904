"""The one module that tells browsers what a job is doing.

Every event goes to the channel-layer group ``job.<job id>`` as a message of
type ``job.event`` whose ``event`` says what happened, the same for every subscriber.
The consumer (generation.consumers) relays it to each subscribed WebSocket — except
that it never relays a job rendered for someone else: an event carries no job, and the
consumer adds one, read and presented for its own member (``generation.presenters``),
where the browser expects it. Event shapes on the channel layer, and what browsers get
(JSON, see README "Live progress"):

``{"type": "queued", "position": 3}``         the job moved up the queue (relayed as-is)
``{"type": "started", "worker": "...", "total": 20}``                       (as-is)
``{"type": "progress", "step": 5, "total": 20, "eta_seconds": 1.2, "preview": "data:image/jpeg;base64,..."}``
                                              (as-is) ``preview`` is null for a step with
                                              no preview; ``eta_seconds`` counts from the
                                              first step, not from loading the model
``{"type": "done"}``                          browsers get ``{"type": "done", "job": {...}}``:
                                              the finished REST resource with its portraits,
                                              as that subscriber may see it
``{"type": "failed", "error": "..."}``        (as-is)
``{"type": "cancelled"}``                     (as-is)

The consumer itself sends ``{"type": "state", "job": {...}}`` on connect and on
``{"type": "refresh"}``: the REST resource, for that subscriber.

Progress events are "latest state": a slow client may miss some (channels_redis
drops past its capacity). ``done``/``failed``/``cancelled`` are also reflected in
the job row, which the consumer sends on (re)connect, so nothing final is lost.

The same events also go to the job owner's group ``user.<user id>.jobs`` (when the
caller names the owner, as every service does), as a message of type ``jobs.event``
with the job's id, for ``ws/jobs/`` — the "My jobs" page follows all of its member's
jobs over one socket (``generation.consumers.JobListConsumer``). There a progress event
comes without its ``preview``: a list shows thumbnails, and a preview costs kilobytes
at every step. A sweep's cell's events also go, with their previews, to
``sweep.<sweep id>`` as ``sweep.event`` messages with the job's id, for the sweep's board
(``ws/sweeps/<id>/``, ``generation.consumers.SweepConsumer``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from config.broadcast import group_send

EVENT_MESSAGE_TYPE = "job.event"
LIST_EVENT_MESSAGE_TYPE = "jobs.event"
SWEEP_EVENT_MESSAGE_TYPE = "sweep.event"


def job_group(job_id) -> str:
    return f"job.{job_id}"


def user_jobs_group(user_id) -> str:
    """Every event of every job of one member: what ``ws/jobs/`` joins."""
    return f"user.{user_id}.jobs"


def sweep_group(sweep_id) -> str:
    """Every event of every cell of one sweep: what ``ws/sweeps/<id>/`` joins."""
    return f"sweep.{sweep_id}"


def publish(job_id, event: dict[str, Any], *, user_id=None, sweep_id=None) -> None:
    """Send ``event`` to everyone following the job now, to its owner's list
    (``user_id``: the job's ``user_id``) and, for a sweep's cell, to its board
    (``sweep_id``). Never raises, never waits long (``config.broadcast``): a dropped
    progress event must not fail a generation, nor a lost ``done`` (the job row is the
    truth, sent on every connect). Call from synchronous code."""
    what = f"{event.get('type')} for job {job_id}"
    group_send(job_group(job_id), {"type": EVENT_MESSAGE_TYPE, "event": event}, what=what)
    if sweep_id is not None:
        group_send(
            sweep_group(sweep_id),
            {"type": SWEEP_EVENT_MESSAGE_TYPE, "job_id": str(job_id), "event": event},
            what=what,
        )
    if user_id is not None:
        listed = {key: value for key, value in event.items() if key != "preview"}
        group_send(
            user_jobs_group(user_id),
            {"type": LIST_EVENT_MESSAGE_TYPE, "job_id": str(job_id), "event": listed},
            what=what,
        )


def publish_on_commit(job_id, event: dict[str, Any], *, user_id=None, sweep_id=None) -> None:
    """Publish once the surrounding transaction commits (never for a rolled-back change)."""
    transaction.on_commit(
        lambda: publish(job_id, event, user_id=user_id, sweep_id=sweep_id), robust=True
    )
