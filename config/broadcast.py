"""Sending to the channel layer from synchronous code, never at a request's or a job's expense.

Services publish job events (generation.events) and revocations (accounts.connections)
from synchronous code: workers, views, ``on_commit`` callbacks. Both go through
``group_send`` here, which

* runs every send on one event loop in a daemon thread: ``async_to_sync`` would start a
  fresh loop per call, and channels_redis keeps its connection pool per loop (measured:
  every progress event then opened a new Redis connection, 1.9 ms a send instead of
  0.14 ms). The loop is re-created after a fork (Celery's prefork pool);
* waits at most ``SEND_TIMEOUT`` for a send;
* after a failure (Redis down, or up but not answering: channels_redis then waits 5 s a
  send), drops every send for ``PAUSE_AFTER_FAILURE`` instead of making each one wait —
  a cancel publishes to up to 100 queued jobs, a worker to every step, a password change
  to every open connection. What is dropped is never the truth: the job row is sent on
  every (re)connect, and connections re-read their credential (accounts.connections).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0
PAUSE_AFTER_FAILURE = 5.0
_paused_until = 0.0


class _LayerLoop:
    """One event loop, in a daemon thread, that every synchronous send runs on."""

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
                    target=self._loop.run_forever, name="likeness-broadcast", daemon=True
                ).start()
            return self._loop


_layer_loop = _LayerLoop()


def run_on_layer_loop(coroutine, timeout: float = SEND_TIMEOUT):
    """Run a channel-layer coroutine from synchronous code, on the sending loop."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _layer_loop.get())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def group_send(group: str, message: dict[str, Any], *, what: str) -> bool:
    """Send ``message`` to ``group``; False if it was dropped. Never raises.

    ``what`` names the message in the log ("progress for job …", "a revocation …").
    """
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        run_on_layer_loop(layer.group_send(group, message))
    except Exception:  # the channel layer being down must fail neither a job nor a request
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        logger.warning(
            "Could not send %s; dropping channel-layer sends for %g s",
            what,
            PAUSE_AFTER_FAILURE,
            exc_info=True,
        )
        return False
    return True


def resume() -> None:
    """Send again at once (after an outage a test staged, say), not when the pause ends."""
    global _paused_until
    _paused_until = 0.0
