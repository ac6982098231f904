"""Celery tasks: take ids, load the row, call one service.

``run_job`` is routed to the ``gpu`` queue (settings.CELERY_TASK_ROUTES); acks
late and rejection on a lost worker are set once in settings, so a killed
worker's job is delivered again and taken over (see services.job_start).
The job it claims brings compatible queued jobs of other members along, painted in
one pipeline call (services.job_claim_batch says why the database, not the broker,
gathers them).
"""

from __future__ import annotations

import logging
import os
import threading

from celery import Task, current_app, shared_task
from celery.exceptions import TimeLimitExceeded
from celery.signals import (
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings
from django.db import connections

from config.logs import job_logging
from generation import services

logger = logging.getLogger(__name__)


class PaintTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # The hard time limit kills the pool process, so the task itself cannot
        # say so; the worker's main process calls this instead (Celery ≥ 5.7, see pyproject).
        # The message is acknowledged, not redelivered: fail the job now rather
        # than leave it running until the sweeper notices.
        if isinstance(exc, TimeLimitExceeded) and args:
            services.job_fail_running(job_id=args[0], error=services.user_message_for(exc))


@shared_task(bind=True, base=PaintTask, name=services.RUN_JOB_TASK, ignore_result=True)
def run_job(self, job_id: str) -> str | None:
    delivery = self.request.delivery_info or {}
    with job_logging(job_id):
        job = services.job_start(
            job_id=job_id,
            worker=self.request.hostname or "worker",
            redelivered=bool(delivery.get("redelivered")),
            task_id=self.request.id or "",
        )
        if job is None:
            return None
        jobs = services.job_claim_batch(
            leader=job,
            max_images=settings.GENERATION_BATCH_MAX_IMAGES,
            window=settings.GENERATION_BATCH_WINDOW,
        )
    # The batch's lines name all its jobs; storing each one, its own (services.running).
    with job_logging(*(batched.pk for batched in jobs)):
        return services.jobs_run(jobs=jobs)[0]


@shared_task(name="generation.tasks.sweep_stale_jobs", ignore_result=True)
def sweep_stale_jobs() -> dict:
    return services.jobs_sweep()


@worker_ready.connect
def announce_worker(sender, **kwargs) -> None:
    """A worker started from the command line announces itself and its queues until it
    stops (the embedded default's worker thread does it in ``config.worker``)."""
    queues = [queue.name for queue in sender.task_consumer.queues]
    services.worker_presence_beat.start(hostname=sender.hostname, queues=queues)


@worker_shutdown.connect
def withdraw_worker(sender, **kwargs) -> None:
    finish_storing()
    services.worker_presence_beat.stop()


@worker_process_shutdown.connect
def finish_storing(**kwargs) -> None:
    """A worker (or a prefork pool process) going away first stores what it painted: a job
    is only over once its portraits are stored (``services.running.Finisher``). Whatever a
    killed one leaves, the sweeper takes back when its heartbeat stops."""
    if not services.finisher.wait_idle(timeout=settings.CELERY_TASK_TIME_LIMIT):
        logger.warning("Stopped before every painted job was stored; the sweeper will requeue")


def yield_the_cpu(nice: int) -> None:
    """Lower the calling thread's priority to ``nice`` (never raise it): on Linux a nice
    value is a thread's, and the threads it starts afterwards (torch's, the storing thread)
    inherit it, so the in-process worker's painting yields without slowing the web threads
    of its process."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    thread = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, thread) < nice:
            os.setpriority(os.PRIO_PROCESS, thread, nice)
    except OSError:  # not permitted here: painting at the priority it has
        logger.warning("Could not lower the painting worker's priority", exc_info=True)


@worker_init.connect
def forget_readiness(sender, **kwargs) -> None:
    """A worker starting, before its pool: it is not ready until its models are loaded,
    whatever a worker of the same name said before it."""
    try:
        services.worker_starting(hostname=sender.hostname)
    except Exception:  # the database away: the presence beat reports it
        logger.warning("Could not reset the readiness of %s", sender.hostname, exc_info=True)
    finally:
        # Closed properly now: Celery's Django fixup closes the raw socket of any connection
        # left open when the pool starts (its own ``worker_process_init`` receiver, which may
        # run after ours), behind the connection pool's back; the embedded worker's pool
        # starts in this very thread, and a pooled connection whose socket was closed
        # under it breaks whichever thread takes it next.
        connections.close_all()


@worker_process_init.connect
def warm_up_models(sender=None, **kwargs) -> None:
    """Each process that paints (the worker's own with ``--pool solo``, each pool process
    with prefork; ``sender`` is the worker's hostname) loads the models of the worker's
    queues before its first job, then says it is ready (``services.worker_warmed``)."""
    yield_the_cpu(settings.GENERATION_WORKER_NICE)
    queues = list(current_app.amqp.queues.consume_from or {})
    try:
        loaded, failed = services.models_warm_up(queues=queues)
        if sender:
            services.worker_warmed(hostname=sender, queues=queues, loaded=loaded, failed=failed)
    except Exception:  # e.g. the database away: the worker still starts, unready
        logger.exception("Could not load the models of %s", sender or "this worker")
    finally:
        connections.close_all()  # before Celery's Django fixup closes their sockets raw
