"""Which workers are up, and the queues they consume: so a job for a model no worker serves
can say that it waits, instead of waiting silently."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading

from django.conf import settings
from django.db import connection
from django.utils import timezone

from generation.models import WorkerPresence

logger = logging.getLogger(__name__)


def worker_present(*, hostname: str, queues: list[str]) -> None:
    """Record that ``hostname`` is up and consumes ``queues`` (now)."""
    WorkerPresence.objects.update_or_create(
        hostname=hostname[:200],
        defaults={"queues": WorkerPresence.queues_field(queues), "seen_at": timezone.now()},
    )


def worker_gone(*, hostname: str) -> None:
    WorkerPresence.objects.filter(hostname=hostname[:200]).delete()
    _ready_file_remove()


def worker_starting(*, hostname: str) -> None:
    """A worker of this name is starting (before its pool): whatever an earlier life of it
    said about its readiness no longer holds."""
    WorkerPresence.objects.filter(hostname=hostname[:200]).update(
        started_at=timezone.now(), ready_at=None, models_loaded=""
    )
    _ready_file_remove()


def worker_warmed(
    *, hostname: str, queues: list[str], loaded: list[str], failed: list[str]
) -> bool:
    """The process that paints for ``hostname`` has loaded ``loaded`` (and could not load
    ``failed``): it is ready when nothing failed. Records it (``/healthz``, the admin) and
    writes GENERATION_WORKER_READY_FILE for a container's readiness probe. Returns whether
    it is ready."""
    ready = not failed
    now = timezone.now()
    WorkerPresence.objects.update_or_create(
        hostname=hostname[:200],
        defaults={
            "queues": WorkerPresence.queues_field(queues),
            "seen_at": now,
            "ready_at": now if ready else None,
            "models_loaded": ",".join(loaded)[:1000],
        },
    )
    if ready:
        _ready_file_write({"hostname": hostname, "queues": sorted(queues), "models": loaded})
        logger.info("Worker %s is ready: %s loaded", hostname, ", ".join(loaded) or "no model")
    else:
        logger.error("Worker %s is not ready: could not load %s", hostname, ", ".join(failed))
    return ready


def _ready_file_write(report: dict) -> None:
    path = settings.GENERATION_WORKER_READY_FILE
    if not path:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump({**report, "ready_at": timezone.now().isoformat()}, out)
    os.replace(tmp, path)  # a probe never reads half a file


def _ready_file_remove() -> None:
    path = settings.GENERATION_WORKER_READY_FILE
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


class WorkerPresenceBeat:
    """Announces one worker every GENERATION_HEARTBEAT_INTERVAL from a daemon thread of its
    own (with its own database connection), from ``start`` until ``stop``; ``stop``
    removes the announcement. A worker killed without ``stop`` simply goes stale."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hostname = ""

    def start(self, *, hostname: str, queues: list[str]) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self.hostname = hostname
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(hostname, list(queues), self._stop),
            name="likeness-worker-presence",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None
        try:
            worker_gone(hostname=self.hostname)
        except Exception:  # shutting down with the database away: the row goes stale
            logger.warning("Could not remove the presence of %s", self.hostname, exc_info=True)

    def _run(self, hostname: str, queues: list[str], stop: threading.Event) -> None:
        try:
            while True:
                try:
                    worker_present(hostname=hostname, queues=queues)
                except Exception:  # the database away for a moment: the next beat may land
                    logger.warning("Could not announce worker %s", hostname, exc_info=True)
                    connection.close()
                if stop.wait(settings.GENERATION_HEARTBEAT_INTERVAL):
                    return
        finally:
            connection.close()  # this thread's own


worker_presence_beat = WorkerPresenceBeat()
