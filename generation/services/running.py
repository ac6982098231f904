"""Running a claimed job: the pipeline, the step reporter, and what a failure tells its owner."""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.errors import DomainError, NotFound
from config.logs import job_logging
from generation import events, inference
from generation.models import GenerationJob
from generation.services.lifecycle import JobHeartbeat, job_fail, job_progress, job_succeed
from portraits import recipe as recipes

logger = logging.getLogger(__name__)

Status = GenerationJob.Status


class JobDeadlinePassed(Exception):
    """Raised from the step callback when a job has run past the soft time limit.

    Celery enforces its time limits only in prefork pools; the embedded default's
    solo pool in a thread (and ``--pool solo|threads`` workers) ignores them, so
    ``job_run`` also keeps this cooperative deadline, checked at every step.
    """


# Celery's two limits (the soft one raised in the task, the hard one reported to
# ``on_failure`` once the pool process is killed) and the cooperative deadline.
_TIME_LIMITS = (SoftTimeLimitExceeded, TimeLimitExceeded, JobDeadlinePassed)


def _is_time_limit(exc: BaseException) -> bool:
    return isinstance(exc, _TIME_LIMITS)


def user_message_for(exc: BaseException) -> str:
    """A sentence a user can act on, for an exception raised while painting.

    Matched by class: the inference module turns torch's and the hub's failures into its
    own (``OutOfMemory``, ``ModelUnavailableError``) where they happen, so nothing here
    needs torch.
    """
    lines = str(exc).strip().splitlines()
    text = lines[0][:300] if lines else ""
    if _is_time_limit(exc):
        return (
            "The job took longer than this server allows and was stopped. "
            "Try fewer steps or a smaller size."
        )
    if isinstance(exc, DomainError):  # already written for the user
        return exc.message
    if isinstance(exc, inference.OutOfMemory):
        return "The GPU ran out of memory. Try a smaller size or fewer images."
    if isinstance(exc, inference.InvalidSpecError):
        return f"This recipe cannot be painted with this model: {text}."
    if isinstance(exc, inference.ModelUnavailableError):
        return (
            f"The model could not be loaded ({text or type(exc).__name__}). "
            "An administrator should check it."
        )
    return f"Generation failed: {text or type(exc).__name__}."


class JobStepReporter:
    """The worker's work at the denoising steps of a job (``inference.generate``'s on_step).

    At every step it enforces the cooperative deadline. At most once per
    ``settings.GENERATION_PROGRESS_INTERVAL``, counted from when painting started, and
    always at the last step, it records the step (which stops the job if that write finds
    it cancelled or taken over) and publishes a ``progress`` event with the ETA and the live
    preview; the steps between cost nothing, not even the preview, which inference makes
    only when it is read. The first steps are not reported at once: ``started`` has just
    said the job is painting, and their preview is noise. ``start_clock()`` marks the end
    of pipeline loading: the ETA is about denoising steps only. ``clock`` is
    ``time.monotonic`` (tests pass their own).
    """

    def __init__(
        self, job: GenerationJob, *, deadline, interval: float | None = None, clock=time.monotonic
    ) -> None:
        self.job = job
        self.deadline = deadline
        self.interval = settings.GENERATION_PROGRESS_INTERVAL if interval is None else interval
        self.clock = clock
        self.painting_since = self.reported_at = clock()

    def start_clock(self) -> None:
        self.painting_since = self.reported_at = self.clock()

    def __call__(self, event) -> None:
        if timezone.now() >= self.deadline:
            raise JobDeadlinePassed(f"past {settings.CELERY_TASK_SOFT_TIME_LIMIT} s")
        now = self.clock()
        due = event.step >= event.total or now - self.reported_at >= self.interval
        if not due:
            return
        self.reported_at = now
        if not job_progress(job=self.job, step=event.step, total=event.total):
            raise inference.GenerationCancelled
        elapsed = now - self.painting_since
        preview = None
        if event.preview is not None:
            encoded = base64.b64encode(event.preview).decode("ascii")
            preview = f"data:{event.preview_mime};base64,{encoded}"
        events.publish(
            self.job.pk,
            {
                "type": "progress",
                "step": event.step,
                "total": event.total,
                "eta_seconds": round(elapsed / event.step * (event.total - event.step), 2),
                "preview": preview,
            },
            user_id=self.job.user_id,
            sweep_id=self.job.sweep_id,
        )


def job_run(*, job: GenerationJob) -> str:
    """Paint one claimed (running) job; returns its final status (``jobs_run``)."""
    return jobs_run(jobs=[job])[0]


def jobs_run(*, jobs: list[GenerationJob]) -> list[str]:
    """Paint claimed (running) jobs, compatible ones in one pipeline call
    (``job_claim_batch`` gathers them), then store each one's portraits; returns their
    statuses, in order: final, or ``running`` for a job whose storing was handed to the
    ``finisher`` (GPU workers: see ``store_in_background``).

    Each job is its own: its progress and preview, its cancel (a cancelled job's images
    are dropped, the others finish), its time limit, its failure message. A recipe that
    cannot be turned into a spec or a parent image gone fails that job alone; the pipeline
    failing fails the jobs of that call; a job whose images cannot be stored fails alone.
    Nothing is left ``running`` for the sweeper. A heartbeat thread per job keeps it alive
    through loading, painting and storing.
    """
    heartbeats = {}
    for job in jobs:
        started = job.started_at or timezone.now()
        heartbeats[job.pk] = JobHeartbeat(
            job,
            interval=settings.GENERATION_HEARTBEAT_INTERVAL,
            until=started + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
        ).__enter__()
    handed_over: set = set()
    try:
        statuses: dict = {}
        specs: dict = {}
        for job in jobs:
            try:
                if not inference.backend_available():
                    raise DomainError(inference.backend_missing_reason())
                specs[job.pk] = job_inference_spec(job)
            except Exception as exc:
                logger.exception("Job %s failed", job.pk)
                job_fail(job=job, error=user_message_for(exc))
                statuses[job.pk] = Status.FAILED
        # Specs of jobs claimed together share a call unless the model's frozen recipe
        # differs (an administrator changed its source between their submissions).
        calls: dict = {}
        for job in jobs:
            if job.pk in specs:
                calls.setdefault(inference.batch_key(specs[job.pk]), []).append(job)
        for call in calls.values():
            painted = _paint(call, [specs[job.pk] for job in call])
            for job in call:
                outcome = painted[job.pk]
                if isinstance(outcome, str):
                    statuses[job.pk] = outcome
                elif store_in_background(outcome):
                    finisher.submit(job, outcome, heartbeats[job.pk])
                    handed_over.add(job.pk)
                    statuses[job.pk] = Status.RUNNING
                else:
                    statuses[job.pk] = _store(job, outcome)
        return [statuses[job.pk] for job in jobs]
    finally:
        for job_id, heartbeat in heartbeats.items():
            if job_id not in handed_over:
                heartbeat.__exit__(None, None, None)


def store_in_background(result) -> bool:
    """Whether to store a painted job's portraits on the ``finisher``'s thread:
    GENERATION_STORE_IN_BACKGROUND, ``auto`` meaning when it was painted on an accelerator
    (there the next call paints meanwhile; on a CPU the painting and the PNG, thumbnail and
    signature would share the same cores, and storing inline keeps a job's end simple)."""
    mode = settings.GENERATION_STORE_IN_BACKGROUND
    return result.device != "cpu" if mode == "auto" else mode == "true"


class Finisher:
    """Stores painted jobs' portraits — the PNG with its metadata, the thumbnail, the C2PA
    signature, the storage writes — on a thread of its own, in the order they were painted,
    while the worker's next pipeline call paints. A job stays ``running``, its heartbeat
    beating, until its files are stored and signed; only then does it succeed (or fail,
    alone, with the reason). ``wait_idle`` waits for what was handed over (a worker
    shutting down calls it, ``generation.tasks``). One per process, started afresh in a
    forked child."""

    def __init__(self) -> None:
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, job: GenerationJob, result, heartbeat: JobHeartbeat) -> None:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="likeness-store")
            self._pending += 1
            self._idle.clear()
        self._executor.submit(self._finish, job, result, heartbeat)

    def _finish(self, job: GenerationJob, result, heartbeat: JobHeartbeat) -> None:
        try:
            _store(job, result)
        except Exception:  # _store fails the job itself; this is a failure to do even that
            logger.exception("Job %s: storing its portraits failed", job.pk)
        finally:
            heartbeat.__exit__(None, None, None)
            connection.close()  # this thread's own
            with self._lock:
                self._pending -= 1
                if not self._pending:
                    self._idle.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every job handed over is stored; False if ``timeout`` ran out first."""
        return self._idle.wait(timeout)


finisher = Finisher()


class _BatchSteps:
    """Routes ``generate_batch``'s steps to each job's reporter. A job whose reporter stops
    it (cancelled, past its deadline, its row unwritable) is dropped from the reports and
    its reason kept; the call goes on for the others, and stops once every job is dropped.
    """

    def __init__(self, reporters: list[JobStepReporter]) -> None:
        self.reporters = reporters
        self.dropped: dict[int, Exception] = {}

    def start_clocks(self) -> None:
        for reporter in self.reporters:
            reporter.start_clock()

    def __call__(self, index: int, event) -> None:
        if index in self.dropped:
            return
        try:
            self.reporters[index](event)
        except Exception as exc:
            self.dropped[index] = exc
            if len(self.dropped) == len(self.reporters):
                raise inference.GenerationCancelled from exc


def _paint(jobs: list[GenerationJob], specs: list) -> dict:
    """Paint ``jobs`` in one call: each job's final status, or its result to store."""
    steps = _BatchSteps(
        [
            JobStepReporter(
                job,
                deadline=job.started_at + timedelta(seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT),
            )
            for job in jobs
        ]
    )
    try:
        # Load (or find in the cache) before the clocks start: the ETA is about the
        # denoising steps, and a cold load of a real model takes longer than all of them.
        inference.load_pipeline(specs[0].model)
        steps.start_clocks()
        results = inference.generate_batch(specs, on_step=steps)
    except inference.GenerationCancelled:
        results = None  # every job was dropped: each says why below
    except Exception as exc:
        logger.exception("Jobs %s failed", ", ".join(str(job.pk) for job in jobs))
        error = user_message_for(exc)
        return {job.pk: _failed(job, error) for job in jobs}
    statuses = {}
    for index, job in enumerate(jobs):
        stopped = steps.dropped.get(index)
        if isinstance(stopped, inference.GenerationCancelled):
            job.refresh_from_db(fields=["status"])
            logger.info("Job %s stopped: %s", job.pk, job.status)
            statuses[job.pk] = job.status
        elif stopped is not None:
            logger.error("Job %s failed", job.pk, exc_info=stopped)
            statuses[job.pk] = _failed(job, user_message_for(stopped))
        else:
            statuses[job.pk] = results[index]  # painted: the caller stores it
    return statuses


def _failed(job: GenerationJob, error: str) -> str:
    if job_fail(job=job, error=error):
        return Status.FAILED
    job.refresh_from_db(fields=["status"])  # cancelled or taken over meanwhile
    return job.status


def _store(job: GenerationJob, result) -> str:
    with job_logging(job.pk):  # on the worker's thread or the finisher's
        try:
            if job_succeed(job=job, result=result):
                return Status.SUCCEEDED
        except Exception as exc:
            logger.exception("Job %s could not be stored", job.pk)
            error = (
                user_message_for(exc)
                if _is_time_limit(exc)
                else f"The images could not be stored: {exc}"
            )
            return _failed(job, error)
        job.refresh_from_db(fields=["status"])
        return job.status


def job_inference_spec(job: GenerationJob):
    """The inference module's view of a job (no Django objects cross that boundary)."""
    init_image = None
    if job.init_strength is not None:
        gone = NotFound("The portrait this job starts from is no longer available.")
        if job.parent is None or not job.parent.image:
            raise gone
        try:
            with job.parent.image.open("rb") as handle:
                init_image = handle.read()
        except OSError as exc:  # the row still names a file the storage no longer has
            raise gone from exc
    try:
        fields = recipes.inference_fields(job.recipe)
    except KeyError as exc:  # a recipe written by hand or by an older version
        raise DomainError(
            f"This job's recipe is incomplete (it has no {exc}). Submit it again."
        ) from exc
    return inference.GenerationSpec(
        model=inference.ModelRef(**fields.pop("model")), init_image=init_image, **fields
    )
