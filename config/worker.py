"""The embedded default's worker: the same Celery task code, in a thread of the web process.

Started from the ASGI module (not ``AppConfig.ready``, or ``migrate`` and every
management command would start one too) when ``CELERY_INPROCESS_WORKER`` is on,
which it is by default with the ``memory://`` broker. ``WorkController`` is used
rather than ``app.Worker`` because the latter hijacks stdout and signals. Import it
only once Django is set up (it reaches generation's and moderation's services and models).

A second thread stands in for Celery beat: it runs what ``CELERY_BEAT_SCHEDULE`` sends
in production, each on its own interval (:func:`sweep_round`).
"""

from __future__ import annotations

import logging
import threading
import time

from celery.worker import WorkController
from django.conf import settings

from config.celery import app
from generation.services import jobs_sweep, worker_presence_beat
from moderation.tasks import expire_suspensions

logger = logging.getLogger(__name__)
_started = threading.Event()


def start_inprocess_worker() -> threading.Thread | None:
    """Start one solo-pool worker thread consuming every queue; idempotent."""
    if not settings.CELERY_INPROCESS_WORKER or _started.is_set():
        return None
    _started.set()

    queues = ["gpu", "celery"]
    hostname = "embedded@localhost"

    def run() -> None:
        worker_presence_beat.start(hostname=hostname, queues=queues)
        worker = WorkController(
            app=app,
            pool_cls="solo",
            concurrency=1,
            queues=queues,
            hostname=hostname,
            beat=False,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=logging.WARNING,
        )
        try:
            worker.start()
        except Exception:  # pragma: no cover - logged for the operator
            logger.exception("The in-process Celery worker stopped")

    thread = threading.Thread(target=run, name="likeness-worker", daemon=True)
    thread.start()
    threading.Thread(target=_sweep_forever, name="likeness-sweeper", daemon=True).start()
    logger.info("Started the in-process generation worker (embedded default)")
    return thread


def _sweep_forever() -> None:
    """The embedded default's stand-in for Celery beat.

    The first sweep treats every running job as lost and re-sends every queued
    one: with the memory broker, a restarted process has neither its worker nor
    its queue from before. Suspensions that ran out are settled at once, then every
    ``MODERATION_EXPIRY_INTERVAL``.
    """
    first = True
    expiry_due = time.monotonic()
    while True:
        expire = time.monotonic() >= expiry_due
        if expire:
            expiry_due = time.monotonic() + settings.MODERATION_EXPIRY_INTERVAL
        sweep_round(first=first, expire=expire)
        first = False
        time.sleep(settings.GENERATION_SWEEP_INTERVAL)


def sweep_round(*, first: bool = False, expire: bool = True) -> None:
    """One round of the sweeper thread: the job sweep, then (``expire``) the suspensions
    that ran out. Each is guarded on its own: one failing never stops the other, nor the
    thread (e.g. the database not migrated yet)."""
    try:
        if first:
            jobs_sweep(stale_after=0, resend_queued_after=0)
        else:
            jobs_sweep()
    except Exception:
        logger.warning("The job sweeper failed", exc_info=True)
    if not expire:
        return
    try:
        expire_suspensions()  # the task's code, run here as beat would have a worker run it
    except Exception:
        logger.warning("Settling expired suspensions failed", exc_info=True)
