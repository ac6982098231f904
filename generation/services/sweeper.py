"""Keeping the queue honest: no job stays running after its worker died, no queued job is forgotten."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.logs import job_logging
from generation.models import GenerationJob, WorkerPresence
from generation.services.lifecycle import MAX_ATTEMPTS, job_fail_locked
from generation.services.submission import job_enqueue, submission_keys_expire

logger = logging.getLogger(__name__)

Status = GenerationJob.Status


def jobs_sweep(*, stale_after: int | None = None, resend_queued_after: int | None = None) -> dict:
    """Make sure no job stays running forever and no queued job is forgotten.

    * running, but no heartbeat for ``stale_after`` seconds (GENERATION_STALE_AFTER,
      about a minute: a live worker beats every GENERATION_HEARTBEAT_INTERVAL, model
      loading included — see ``JobHeartbeat``): its worker died, so back to the queue
      as a new attempt, or failed after MAX_ATTEMPTS. Should the old worker be alive
      after all, its writes are refused (they name the old attempt) and it stops; and
      the broker giving its old message back later cannot take over the new attempt
      (``job_start``);
    * queued, and never handed to the broker (``enqueued_at`` null: it was down when
      the job was submitted or requeued): sent now;
    * queued, and last handed to the broker more than ``resend_queued_after``
      seconds ago (the broker may have lost the message, e.g. a restarted Redis
      without persistence): enqueued again — harmless if the original is still
      there, ``job_start`` runs it once. ``enqueued_at`` is moved on with every send,
      so a job waiting behind a long queue gets one extra message per threshold, not
      one per sweep. A send that fails ends the sweep's sending (the broker is down):
      the job is marked again, for the next sweep;
    * and Idempotency-Keys, and announcements of workers gone, older than a day are
      forgotten.

    Run by Celery beat every GENERATION_SWEEP_INTERVAL in production and by a timer
    thread in the embedded default (which also runs it with 0 at start-up: a restarted
    single process has no worker left from before). Heartbeats are written with the
    workers' clocks and compared with the sweeper's: keep them in sync (NTP).
    """
    stale_after = settings.GENERATION_STALE_AFTER if stale_after is None else stale_after
    if resend_queued_after is None:
        resend_queued_after = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(
            "visibility_timeout", 3600
        )
    now = timezone.now()
    requeued = failed = resent = 0
    stale_cutoff = now - timedelta(seconds=stale_after)
    stale = GenerationJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale_cutoff)
    sends: list[bool] = []
    for job_id in list(stale.values_list("pk", flat=True)):
        with job_logging(job_id), transaction.atomic():
            # Checked again under the lock: a heartbeat may have landed since the listing.
            job = stale.select_for_update().filter(pk=job_id).first()
            if job is None:
                continue
            if job.attempts >= MAX_ATTEMPTS:
                logger.warning("Job %s: its worker stopped responding; failed", job_id)
                job_fail_locked(job, "The worker painting this job stopped responding; giving up.")
                failed += 1
                continue
            logger.warning("Job %s: its worker stopped responding; queued again", job_id)
            job.status = Status.QUEUED
            job.worker = ""
            job.task_id = ""
            job.enqueued_at = now
            job.save(update_fields=["status", "worker", "task_id", "enqueued_at"])
            transaction.on_commit(lambda pk=job.pk: sends.append(job_enqueue(pk)))
            requeued += 1
    if all(sends):  # else the broker is down: what is marked waits for the next sweep
        cutoff = now - timedelta(seconds=resend_queued_after)
        forgotten = GenerationJob.objects.filter(status=Status.QUEUED).filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=cutoff)
        )
        for job_id in list(forgotten.order_by("created_at").values_list("pk", flat=True)):
            # A conditional UPDATE claims the send, so two sweepers never both send.
            if forgotten.filter(pk=job_id).update(enqueued_at=now):
                if not job_enqueue(job_id):
                    break
                resent += 1
    keys_expired = submission_keys_expire()
    # Workers stopped cleanly withdraw themselves; a killed one's row is forgotten a day on.
    WorkerPresence.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
    if requeued or failed or resent:
        logger.warning("Sweeper: requeued %d, failed %d, re-sent %d jobs", requeued, failed, resent)
    return {"requeued": requeued, "failed": failed, "resent": resent, "keys_expired": keys_expired}
