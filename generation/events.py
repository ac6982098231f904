"""The one module that tells browsers what a job is doing.

Every event goes to the channel-layer group ``job.<job id>`` as a message of
type ``job.event`` whose ``event`` is relayed as-is by the consumer to each
subscribed WebSocket. Event shapes (JSON, see README "Live progress"):

``{"type": "state", "job": {...}}``            sent by the consumer on connect: the REST resource
``{"type": "queued", "position": 3}``         the job moved up the queue
``{"type": "started", "worker": "...", "total": 20}``
``{"type": "progress", "step": 5, "total": 20, "eta_seconds": 1.2, "preview": "data:image/jpeg;base64,..."}``
                                              ``preview`` is null for a step with no preview;
                                              ``eta_seconds`` counts from the first step,
                                              not from loading the model
``{"type": "done", "job": {...}}``            the finished REST resource, with its portraits
``{"type": "failed", "error": "..."}``
``{"type": "cancelled"}``

Progress events are "latest state": a slow client may miss some (channels_redis
drops past its capacity). ``done``/``failed``/``cancelled`` are also reflected in
the job row, which the consumer sends on (re)connect, so nothing final is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

EVENT_MESSAGE_TYPE = "job.event"


def job_group(job_id) -> str:
    return f"job.{job_id}"


class _PublisherLoop:
    """One event loop, in a daemon thread, that every synchronous publish runs on.

    ``async_to_sync`` would start a fresh loop per call, and channels_redis keeps
    its connection pool per loop: measured, every progress event then opened a new
    Redis connection (1.9 ms a send instead of 0.14 ms). Re-created after a fork
    (Celery's prefork pool), where the parent's thread does not exist.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="likeness-events", daemon=True
                ).start()
            return self._loop


_publisher = _PublisherLoop()
PUBLISH_TIMEOUT = 5.0
# After a failed publish, events are dropped for this long instead of each waiting for
# the channel layer: a Redis that does not answer costs channels_redis 5 s a send, and a
# cancel publishes to up to 100 queued jobs, a worker to every step.
PAUSE_AFTER_FAILURE = 5.0
_paused_until = 0.0


def run_on_events_loop(coroutine, timeout: float = PUBLISH_TIMEOUT):
    """Run a channel-layer coroutine from synchronous code, on the publishing loop."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _publisher.get())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def publish(job_id, event: dict[str, Any]) -> None:
    """Send ``event`` to everyone following the job now. Never raises: a dropped
    progress event must not fail a generation, nor a lost ``done`` (the job row is
    the truth, sent on every connect). Call from synchronous code."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    message = {"type": EVENT_MESSAGE_TYPE, "event": event}
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        run_on_events_loop(layer.group_send(job_group(job_id), message))
    except Exception:  # Redis being down must fail neither the job nor a request
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        logger.warning(
            "Could not publish %s for job %s; dropping events for %g s",
            event.get("type"),
            job_id,
            PAUSE_AFTER_FAILURE,
            exc_info=True,
        )


def publish_on_commit(job_id, event: dict[str, Any]) -> None:
    """Publish once the surrounding transaction commits (never for a rolled-back change)."""
    transaction.on_commit(lambda: publish(job_id, event), robust=True)
