"""A job's life: queued → running → succeeded | failed | cancelled, and only along those arrows.

Every transition is a conditional UPDATE (``WHERE status = …``), so two workers, a
worker and a cancel, or a task delivered twice can never both win. A running job
belongs to one *attempt* (``attempts``); a worker that lost its job to a redelivery
finds its writes refused and stops.

Outages never turn a committed job into an error: a job whose message the broker
could not take is kept, marked for the sweeper to send (``submission.job_enqueue``), and a worker
that went silent (its heartbeat stopped) loses its job to a new attempt within about
a minute (``JobHeartbeat``, ``jobs_sweep``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from config.errors import Conflict
from config.logs import job_logging
from generation import events
from generation.models import GenerationJob
from portraits import recipe as recipes
from portraits import services as portrait_services

logger = logging.getLogger(__name__)

Status = GenerationJob.Status

MAX_ATTEMPTS = 3


# --- Cancel ------------------------------------------------------------------------


def job_cancel(*, job: GenerationJob, by) -> GenerationJob:
    """Cancel a queued or running job.

    A queued job will never run (``job_start`` refuses it); a running job's worker
    sees the new status at its next step and stops without keeping any image.
    """
    updated = GenerationJob.objects.filter(
        pk=job.pk, status__in=GenerationJob.ACTIVE_STATUSES
    ).update(status=Status.CANCELLED, finished_at=timezone.now())
    job.refresh_from_db()
    if not updated:
        raise Conflict(
            f"This job is already {job.get_status_display().lower()}; it cannot be cancelled."
        )
    with job_logging(job.pk):
        logger.info("Job %s cancelled by %s", job.pk, by)
    events.publish_on_commit(
        job.pk, {"type": "cancelled"}, user_id=job.user_id, sweep_id=job.sweep_id
    )
    transaction.on_commit(queue_positions_publisher.request)
    return job


# --- The worker's side -------------------------------------------------------------


def job_start(
    *, job_id, worker: str, redelivered: bool = False, task_id: str = ""
) -> GenerationJob | None:
    """Claim a job for this worker; None when there is nothing to do.

    * queued → running: the normal case. ``task_id`` (the message's id) is recorded.
    * running and ``redelivered`` by the message that claimed the running attempt:
      the broker gave the task back because the worker running it was lost
      (acks_late + reject_on_worker_lost), so this worker takes over as a new
      attempt; after MAX_ATTEMPTS the job fails.
    * running and redelivered, but another message claimed the running attempt: an
      older message given back late (Redis restores an unacknowledged message after
      its visibility timeout, whatever became of the job meanwhile — e.g. the
      sweeper requeued it and another worker paints it now). Do nothing: a live
      attempt is never taken over; if its worker dies, the sweeper reclaims it.
    * running and not redelivered: a duplicate delivery while another worker
      paints it — do nothing, so a job is never generated twice.
    * finished or cancelled: nothing to do.
    """
    now = timezone.now()
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("Job %s does not exist (deleted?)", job_id)
            return None
        if (
            job.status == Status.RUNNING
            and redelivered
            and job.task_id
            and task_id
            and job.task_id != task_id
        ):
            logger.info(
                "Job %s: a late message %s left alone (attempt of %s)", job.pk, task_id, job.task_id
            )
            return None
        if job.status == Status.RUNNING and redelivered and job.attempts >= MAX_ATTEMPTS:
            job_fail_locked(
                job,
                f"The worker painting this job stopped unexpectedly {job.attempts} times; giving up.",
            )
            return None
        runnable = job.status == Status.QUEUED or (job.status == Status.RUNNING and redelivered)
        if not runnable:
            return None
        attempt = _new_attempt(worker=worker, task_id=task_id, now=now)
        # The row is locked: its count is read here, not again after the write. And it is
        # painted alone until job_claim_batch finds it company: one write, not two.
        attempt.update(
            attempts=job.attempts + 1,
            batch_id=uuid.uuid4(),
            batch_jobs=1,
            batch_images=job.num_images,
        )
        for name, value in attempt.items():
            setattr(job, name, value)
        job.save(update_fields=list(attempt))
        logger.info("Job %s started on %s, attempt %d", job.pk, job.worker, job.attempts)
        _publish_started(job)
        transaction.on_commit(queue_positions_publisher.request)
    return job


def _new_attempt(*, worker: str, task_id: str, now) -> dict:
    """The fields a claim writes: the job is running, as a new attempt, for this worker
    and this message (``job_start`` for one job, ``job_claim_batch`` for its mates)."""
    return {
        "status": Status.RUNNING,
        "worker": worker[:200],
        "task_id": task_id[:255],
        "attempts": F("attempts") + 1,
        "started_at": now,
        "heartbeat_at": now,
        "progress_step": 0,
        "progress_total": 0,
        "error": "",
    }


def _publish_started(job: GenerationJob) -> None:
    events.publish_on_commit(
        job.pk,
        {"type": "started", "worker": job.worker, "total": job.steps_to_run},
        user_id=job.user_id,
        sweep_id=job.sweep_id,
    )


def job_claim_batch(
    *, leader: GenerationJob, max_images: int, window: float, pause=time.sleep
) -> list[GenerationJob]:
    """The jobs to paint in one pipeline call with ``leader`` (claimed by ``job_start``):
    the leader first, then compatible queued jobs of any member (``batch_mates``), oldest
    first, as many as fit in ``max_images`` images, each claimed for this worker and this
    message with the same conditional UPDATE as ``job_start``, so two workers never take
    one job and a mate's own message, when it arrives, finds it running and does nothing.

    ``window`` (seconds): when the first look found mates but room is left, a burst is
    arriving (a sweep's cells, many members on the defaults), so wait this long once and
    look again. A lone job (nothing compatible queued) never waits. A reproduction is
    painted alone, never with others, so its pixels can match the original's exactly.

    Every job of the batch gets the same ``batch_id`` and the batch's size. If the worker
    dies, the leader's message is redelivered (``job_start`` takes it over) and the mates,
    whose heartbeats stop, are requeued one by one by the sweeper: none is lost, none is
    painted twice.

    Why the database gathers the batch, not the broker (``celery-batches``, say): such a
    library buffers messages in the worker and acknowledges them as a group, so it can only
    combine what one worker happens to have prefetched. It would not know which messages are
    compatible: the recipe is in the database. And it would bypass what keeps a job honest
    today: the conditional claim, the redelivery of a lost worker's message, and the
    sweeper. Here each message still claims its own job, and the queue in the database, which
    every worker sees, says what can share a call. The cost is one indexed query per call.
    """
    jobs = [leader]
    room = max_images - leader.num_images
    if leader.reproduces_id is None and room > 0:
        mates = _claim_mates(leader, room)
        room -= sum(job.num_images for job in mates)
        if mates and room > 0 and window > 0:
            pause(window)
            mates += _claim_mates(leader, room)
        jobs += mates
    if len(jobs) > 1:  # job_start wrote the leader's batch as a batch of one
        batch = {
            "batch_id": leader.batch_id or uuid.uuid4(),
            "batch_jobs": len(jobs),
            "batch_images": sum(job.num_images for job in jobs),
        }
        GenerationJob.objects.filter(pk__in=[job.pk for job in jobs]).update(**batch)
        for job in jobs:
            for name, value in batch.items():
                setattr(job, name, value)
        logger.info(
            "Job %s painted with %d other job(s), %d images in all",
            leader.pk,
            len(jobs) - 1,
            batch["batch_images"],
        )
    return jobs


def _claim_mates(leader: GenerationJob, room: int) -> list[GenerationJob]:
    attempt = _new_attempt(worker=leader.worker, task_id=leader.task_id, now=timezone.now())
    taken: list = []
    with transaction.atomic():
        # Rows another worker is claiming right now are skipped, not waited for.
        candidates = leader.batch_mates().filter(reproduces__isnull=True)
        for pk, num_images in candidates.select_for_update(skip_locked=True).values_list(
            "pk", "num_images"
        )[: room * 2]:
            if num_images > room:
                continue
            if GenerationJob.objects.filter(pk=pk, status=Status.QUEUED).update(**attempt):
                taken.append(pk)
                room -= num_images
                if room <= 0:
                    break
        claimed = sorted(
            GenerationJob.objects.filter(pk__in=taken), key=lambda job: taken.index(job.pk)
        )
        for job in claimed:
            _publish_started(job)
        if claimed:
            transaction.on_commit(queue_positions_publisher.request)
    return claimed


def job_progress(*, job: GenerationJob, step: int, total: int) -> bool:
    """Record a step (and that the worker is alive). False if the job is no longer
    this attempt's to paint (cancelled, or taken over after a redelivery)."""
    return bool(
        GenerationJob.objects.filter(
            pk=job.pk, status=Status.RUNNING, attempts=job.attempts
        ).update(progress_step=step, progress_total=total, heartbeat_at=timezone.now())
    )


def job_heartbeat(*, job: GenerationJob) -> bool:
    """Record that this attempt's worker is alive. False once the job is no longer
    this attempt's (cancelled, finished, requeued by the sweeper, taken over)."""
    return bool(
        GenerationJob.objects.filter(
            pk=job.pk, status=Status.RUNNING, attempts=job.attempts
        ).update(heartbeat_at=timezone.now())
    )


class JobHeartbeat:
    """Beats a running job's heart every ``interval`` seconds, from a thread of its own,
    while the worker holds the job (a context manager around the painting).

    Steps beat too, but loading a pipeline (minutes, for a real model loaded cold) and
    storing the images write nothing: without this thread the sweeper could not tell a
    slow worker from a dead one and had to wait out the whole time limit, so a killed
    worker's job held its owner's slot for ~16 minutes. With it, a job whose heartbeat
    is GENERATION_STALE_AFTER old (several missed beats) has a dead worker.

    The thread proves the process is alive, not that it progresses, so it stops beating
    at the job's hard time limit: a worker hung past it (where nothing enforces the
    limit, e.g. a pool child orphaned on another platform) goes silent and loses the job.
    It also stops as soon as the job is no longer this attempt's. It closes its own
    database connection.
    """

    def __init__(self, job: GenerationJob, *, interval: float, until) -> None:
        self.job = job
        self.interval = interval
        self.until = until
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"likeness-heartbeat-{job.pk}", daemon=True
        )

    def __enter__(self) -> JobHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def beating(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        with job_logging(self.job.pk):  # a new thread starts outside the job's context
            self._beat()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                if timezone.now() >= self.until:
                    logger.warning(
                        "Job %s is past its hard time limit: no more heartbeats", self.job.pk
                    )
                    return
                try:
                    if not job_heartbeat(job=self.job):
                        return
                except Exception:  # the database away for a moment: the next beat may land
                    logger.warning("Heartbeat of job %s failed", self.job.pk, exc_info=True)
                    # On a new connection: Django never reopens a broken one by itself
                    # outside a request, so every later beat would fail on it.
                    connection.close()
        finally:
            connection.close()  # this thread's own


def _lock_attempt(job: GenerationJob) -> GenerationJob | None:
    """The job row, locked, if it is still running as this attempt (else None); with its
    member, whom storing names as the author (only the job's own row is locked)."""
    return (
        GenerationJob.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=job.pk, status=Status.RUNNING, attempts=job.attempts)
        .first()
    )


def job_succeed(*, job: GenerationJob, result) -> bool:
    """Store the images as portraits and mark the job succeeded, atomically.

    Returns False (storing nothing) when the job was cancelled or taken over
    meanwhile. Call outside any transaction; the ``done`` event follows commit.
    If anything fails before the commit (Celery's soft time limit can strike
    anywhere), the files already written for the rolled-back portraits are removed.
    """
    created = []
    try:
        with transaction.atomic():
            locked = _lock_attempt(job)
            if locked is None:
                return False
            created = portrait_services.portrait_create_from_job(
                author=locked.user,
                job_id=locked.pk,
                parent=locked.parent,
                held_for_review=locked.held_for_review,
                reproduces=locked.reproduces,
                images=result.images,
                recipes=recipes.portrait_recipes(
                    locked.recipe,
                    seeds=result.seeds,
                    scheduler=result.scheduler,
                    model_revision=result.model_revision,
                    device=result.device,
                    dtype=result.dtype,
                    diffusers_version=result.diffusers_version,
                    torch_version=result.torch_version,
                ),
            )
            locked.status = Status.SUCCEEDED
            locked.finished_at = timezone.now()
            locked.progress_step = locked.progress_total or locked.progress_step
            locked.save(update_fields=["status", "finished_at", "progress_step"])
            # robust: a failure to publish must not look like a failure to store.
            # Only what happened: each subscriber's connection reads the finished job as
            # that subscriber may see it (generation.consumers).
            events.publish_on_commit(
                locked.pk, {"type": "done"}, user_id=locked.user_id, sweep_id=locked.sweep_id
            )
    except BaseException:
        portrait_services.portrait_files_discard(portraits=created)
        raise
    return True


def job_fail(*, job: GenerationJob, error: str) -> bool:
    with transaction.atomic():
        locked = _lock_attempt(job)
        if locked is None:
            return False
        job_fail_locked(locked, error)
    return True


def job_fail_running(*, job_id, error: str) -> bool:
    """Fail a running job whatever its attempt: its worker process is known to be gone
    (killed by the hard time limit), so no attempt of it is painting any more."""
    with transaction.atomic():
        job = (
            GenerationJob.objects.select_for_update()
            .filter(pk=job_id, status=Status.RUNNING)
            .first()
        )
        if job is None:
            return False
        job_fail_locked(job, error)
    return True


def job_fail_locked(job: GenerationJob, error: str) -> None:
    job.status = Status.FAILED
    job.error = error[:2000]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    events.publish_on_commit(
        job.pk, {"type": "failed", "error": job.error}, user_id=job.user_id, sweep_id=job.sweep_id
    )


def publish_queue_positions(limit: int = 100) -> None:
    """Tell the first ``limit`` queued jobs where they now stand (after one left the queue).

    Up to ``limit`` sends, each of which may wait for the channel layer
    (``config.broadcast.SEND_TIMEOUT``): call it from ``queue_positions_publisher``'s
    thread, never from a worker or a request.
    """
    queued = GenerationJob.objects.filter(status=Status.QUEUED).order_by("created_at")
    rows = queued.values_list("pk", "user_id", "sweep_id")[:limit]
    for position, (job_id, user_id, sweep_id) in enumerate(rows, start=1):
        events.publish(
            job_id, {"type": "queued", "position": position}, user_id=user_id, sweep_id=sweep_id
        )


class QueuePositionPublisher:
    """Publishes queue positions from one daemon thread per process, off the worker's path.

    A start or a cancel only asks for a pass (``request``, after its commit): it sets a
    flag and returns, so a slow or stalled channel layer (up to 100 sends of up to 5 s
    each) can neither slow nor stall painting, nor a cancel's answer. Requests coalesce:
    however many arrive while a pass runs, one more pass follows, and it reads the queue
    as it stands then. Positions are "latest state" (README, "Live progress"): a pass
    that fails is logged, never raised, and the next request makes a new one.

    The thread uses its own database connection, closed after every pass, so it holds
    none between passes. It is started on the first request in each process (again in a
    forked child, which inherits no threads).
    """

    def __init__(self, *, limit: int = 100) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._pid = 0
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        # A forked child (a prefork pool's) inherits no thread, and perhaps a lock held by
        # one that is gone: it starts afresh.
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._wanted = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = None

    def request(self) -> None:
        """Ask for a pass soon. Never blocks on the channel layer or the database."""
        with self._lock:
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._pid = os.getpid()
                self._wanted = threading.Event()
                self._thread = threading.Thread(
                    target=self._run,
                    args=(self._wanted,),
                    name="likeness-queue-positions",
                    daemon=True,
                )
                self._thread.start()
            self._idle.clear()
            self._wanted.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no pass is running or asked for; False if ``timeout`` ran out first.

        For tests and shutdown: a pass holds a database connection while it runs."""
        return self._idle.wait(timeout)

    def _run(self, wanted: threading.Event) -> None:
        while True:
            wanted.wait()
            with self._lock:
                wanted.clear()  # before the pass: a request during it makes one more
            try:
                publish_queue_positions(limit=self.limit)
            except Exception:
                logger.warning("Could not publish queue positions", exc_info=True)
            finally:
                connection.close()  # this thread's own
                with self._lock:
                    if not wanted.is_set():
                        self._idle.set()


queue_positions_publisher = QueuePositionPublisher()
