"""Writes for generation: submitting, running, finishing and cancelling jobs.

A job moves queued → running → succeeded | failed | cancelled, and only along
those arrows: every transition is a conditional UPDATE (``WHERE status = …``),
so two workers, a worker and a cancel, or a task delivered twice can never both
win. A running job belongs to one *attempt* (``attempts``); a worker that lost
its job to a redelivery finds its writes refused and stops.

Outages never turn a committed job into an error: a job whose message the broker
could not take is kept, marked for the sweeper to send (``_enqueue``), and a worker
that went silent (its heartbeat stopped) loses its job to a new attempt within about
a minute (``JobHeartbeat``, ``jobs_sweep``).
"""

from __future__ import annotations

import base64
import logging
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from config.errors import DomainError, NotFound, QuotaExceeded
from generation import events
from generation.models import (
    MAX_IMAGES_PER_JOB,
    PROMPT_MAX_LENGTH,
    SEED_MAX,
    GenerationJob,
    GenerationModel,
    StylePreset,
    SubmissionKey,
)
from generation.selectors import model_get_default

logger = logging.getLogger(__name__)

Status = GenerationJob.Status
MAX_ATTEMPTS = 3

# Scheduler class names a job may ask for (diffusers' own names).
SCHEDULERS = {
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "DDIMScheduler": "DDIM",
    "UniPCMultistepScheduler": "UniPC",
    "LMSDiscreteScheduler": "LMS",
    "HeunDiscreteScheduler": "Heun",
    "PNDMScheduler": "PNDM",
}

SPEC_FIELDS = (
    "prompt",
    "negative_prompt",
    "style",
    "model",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "num_images",
    "scheduler",
    "init_strength",
)


# --- Submission ------------------------------------------------------------------


class _Errors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _as_int(errors: _Errors, field: str, value: Any, default: int, low: int, high: int) -> int:
    if _blank(value):
        return default
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        errors.add(field, "Enter a whole number.")
        return default
    if not low <= number <= high:
        errors.add(field, f"Must be between {low} and {high}.")
    return number


def _as_float(
    errors: _Errors, field: str, value: Any, default: float | None, low: float, high: float
) -> float | None:
    if _blank(value):
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        errors.add(field, "Enter a number.")
        return default
    if not math.isfinite(number) or not low <= number <= high:
        errors.add(field, f"Must be between {low:g} and {high:g}.")
    return number


def _resolve_model(errors: _Errors, value: Any) -> GenerationModel | None:
    if _blank(value):
        model = model_get_default()
        if model is None:
            errors.add(
                "model", "No generation model is configured. Ask an administrator to add one."
            )
        return model
    if isinstance(value, GenerationModel):
        model = value
    else:
        model = GenerationModel.objects.filter(slug=str(value)).first()
    if model is None:
        errors.add("model", f"Unknown model “{value}”.")
    elif not model.is_enabled:
        errors.add("model", f"The model “{model.name}” is disabled.")
        return None
    return model


def _resolve_style(errors: _Errors, value: Any) -> StylePreset | None:
    if _blank(value):
        return None
    style = (
        value
        if isinstance(value, StylePreset)
        else StylePreset.objects.filter(slug=str(value)).first()
    )
    if style is None or not style.is_enabled:
        errors.add("style", f"Unknown style “{value}”.")
        return None
    return style


def _clean_text(errors: _Errors, field: str, value: Any, *, required: bool) -> str:
    text = "" if value is None else str(value)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).strip()
    if required and not text:
        errors.add(field, "Describe the portrait you want." if field == "prompt" else "Required.")
    if len(text) > PROMPT_MAX_LENGTH:
        errors.add(field, f"At most {PROMPT_MAX_LENGTH} characters (this has {len(text)}).")
    return text


def job_validate_spec(spec: Mapping[str, Any], *, parent=None) -> dict[str, Any]:
    """Check a job's recipe and fill in the model's defaults.

    Returns the complete, typed recipe fields; raises DomainError with one
    message per bad field (all of them at once, not the first only).
    """
    errors = _Errors()
    unknown = set(spec) - set(SPEC_FIELDS)
    for field in sorted(unknown):
        errors.add(field, "Unknown field.")

    model = _resolve_model(errors, spec.get("model"))
    style = _resolve_style(errors, spec.get("style"))
    prompt = _clean_text(errors, "prompt", spec.get("prompt"), required=True)
    negative = _clean_text(errors, "negative_prompt", spec.get("negative_prompt"), required=False)
    seed_value = spec.get("seed")
    seed = (
        secrets.randbelow(SEED_MAX + 1)
        if _blank(seed_value)
        else _as_int(errors, "seed", seed_value, 0, 0, SEED_MAX)
    )
    num_images = _as_int(errors, "num_images", spec.get("num_images"), 1, 1, MAX_IMAGES_PER_JOB)
    scheduler = "" if _blank(spec.get("scheduler")) else str(spec["scheduler"]).strip()
    if scheduler and scheduler not in SCHEDULERS:
        errors.add("scheduler", f"Choose one of: {', '.join(sorted(SCHEDULERS))}.")

    steps = guidance = width = height = None
    if model is not None:
        steps = _as_int(errors, "steps", spec.get("steps"), model.default_steps, 1, model.max_steps)
        guidance = _as_float(
            errors,
            "guidance_scale",
            spec.get("guidance_scale"),
            model.default_guidance,
            0,
            model.max_guidance,
        )
        width = _as_int(
            errors, "width", spec.get("width"), model.default_width, 64, model.max_width
        )
        height = _as_int(
            errors, "height", spec.get("height"), model.default_height, 64, model.max_height
        )
        for field, value in (("width", width), ("height", height)):
            if value % 8:
                errors.add(field, f"Must be a multiple of 8 (try {value - value % 8 or 8}).")
        scheduler = scheduler or model.default_scheduler

    init_strength = _as_float(errors, "init_strength", spec.get("init_strength"), None, 0, 1)
    if init_strength is not None:
        if parent is None:
            errors.add("init_strength", "Image-to-image needs a portrait to start from: remix one.")
        elif init_strength == 0:
            errors.add(
                "init_strength", "Must be greater than 0 (0 would keep the parent unchanged)."
            )

    if errors:
        raise DomainError("Please correct the errors below.", field_errors=errors)
    return {
        "model": model,
        "style": style,
        "prompt": prompt,
        "negative_prompt": negative,
        "seed": seed,
        "steps": steps,
        "guidance_scale": guidance,
        "width": width,
        "height": height,
        "num_images": num_images,
        "scheduler": scheduler,
        "init_strength": init_strength,
    }


def _parse_rate(rate: str) -> tuple[int, timedelta]:
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[:1]]
    return int(count), timedelta(seconds=seconds)


def _check_quota(user) -> None:
    active = GenerationJob.objects.filter(
        user=user, status__in=GenerationJob.ACTIVE_STATUSES
    ).count()
    limit = settings.GENERATION_MAX_ACTIVE_JOBS
    if active >= limit:
        raise QuotaExceeded(
            f"You already have {active} jobs queued or running (the limit is {limit}). "
            "Wait for one to finish or cancel one."
        )
    count, window = _parse_rate(settings.GENERATION_SUBMIT_RATE)
    recent = GenerationJob.objects.filter(
        user=user, created_at__gte=timezone.now() - window
    ).count()
    if recent >= count:
        raise QuotaExceeded(
            f"You have submitted {recent} jobs recently (the limit is {settings.GENERATION_SUBMIT_RATE}). "
            "Please wait a little."
        )


def _recipe(fields: Mapping[str, Any], parent) -> dict[str, Any]:
    model: GenerationModel = fields["model"]
    style: StylePreset | None = fields["style"]
    prompt, negative = fields["prompt"], fields["negative_prompt"]
    styled_prompt = style.apply(prompt) if style else prompt
    styled_negative = ", ".join(
        part for part in (negative, style.negative_prompt if style else "") if part
    )
    return {
        "prompt": prompt,
        "negative_prompt": negative,
        "style": style.slug if style else None,
        "style_name": style.name if style else None,
        "styled_prompt": styled_prompt,
        "styled_negative_prompt": styled_negative,
        "model": model.slug,
        "model_name": model.name,
        "model_source": model.source,
        "model_revision": model.revision,
        "model_family": model.family,
        "seed": fields["seed"],
        "steps": fields["steps"],
        "guidance_scale": fields["guidance_scale"],
        "width": fields["width"],
        "height": fields["height"],
        "num_images": fields["num_images"],
        "scheduler": fields["scheduler"],
        "init_strength": fields["init_strength"],
        "parent": parent.public_id if parent is not None else None,
    }


def job_submit(*, user, spec: Mapping[str, Any], parent=None) -> GenerationJob:
    """Validate, check the user's quota, save a queued job and enqueue it after commit.

    ``parent`` is the portrait being remixed; the caller must have chosen it from
    what ``user`` can see (portraits.selectors), never from a client's claim.
    """
    fields = job_validate_spec(spec, parent=parent)
    with transaction.atomic():
        # Serialise one user's submissions so two parallel requests cannot both
        # pass the quota check (SQLite serialises writers anyway).
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        _check_quota(user)
        job = GenerationJob.objects.create(
            user=user, parent=parent, recipe=_recipe(fields, parent), **fields
        )
        transaction.on_commit(lambda: _send(job))
    return job


def _send(job: GenerationJob) -> None:
    if _enqueue(job.pk) is False:
        job.enqueued_at = None  # what the row now says: the caller can tell its client


def _enqueue(job_id) -> bool:
    """Send the task for a committed job; False if the broker could not take it.

    The job then stays queued with ``enqueued_at`` null, which the sweeper sends at
    its next run (every GENERATION_SWEEP_INTERVAL). It must not raise: it runs after
    the job was committed, and a submission answered 500 after its job existed made
    clients submit it again. CELERY_BROKER_CONNECTION_TIMEOUT and
    CELERY_TASK_PUBLISH_RETRY_POLICY bound how long a down broker holds it up.
    """
    from generation.tasks import run_job

    try:
        run_job.delay(str(job_id))
    except Exception:
        logger.warning(
            "Could not send job %s to the broker; the sweeper will send it", job_id, exc_info=True
        )
        GenerationJob.objects.filter(pk=job_id, status=Status.QUEUED).update(enqueued_at=None)
        return False
    return True


# --- Idempotent submission ------------------------------------------------------------

SUBMISSION_KEY_TTL = timedelta(days=1)


def job_submit_once(
    *,
    user,
    key: str | None,
    fingerprint: str,
    submit: Callable[[], GenerationJob],
) -> tuple[GenerationJob, bool]:
    """Run ``submit`` (``job_submit``, a remix, a reproduction) at most once per ``key``.

    Returns the job and whether it was made by an earlier request. A request that
    repeats one ``user`` made with ``key`` in the last day (same ``fingerprint``:
    method, path and body) gets that job back instead of a second one, so a client
    that lost an answer may simply retry; the same key with another fingerprint is
    refused (422). Without a key, ``submit`` just runs.

    The key is stored in the same transaction as its job, so only a submission that
    succeeded keeps its key (a refused one may be retried with it). The user's row is
    locked before the key is looked up (``job_submit`` takes the same lock): concurrent
    requests with one key queue up and the later ones find the first one's key. The
    unique (user, key) constraint is the backstop.
    """
    if key is None:
        return submit(), False
    try:
        with transaction.atomic():
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            earlier = _submission_key_find(user=user, key=key)
            if earlier is not None:
                return _submission_replay(earlier, fingerprint), True
            SubmissionKey.objects.filter(user=user, key=key).delete()  # expired, not yet swept
            job = submit()
            SubmissionKey.objects.create(
                user=user, key=key, request_fingerprint=fingerprint, job=job
            )
    except IntegrityError:
        earlier = _submission_key_find(user=user, key=key)
        if earlier is None:
            raise
        return _submission_replay(earlier, fingerprint), True
    return job, False


def _submission_key_find(*, user, key: str) -> SubmissionKey | None:
    return (
        SubmissionKey.objects.select_related("job")
        .filter(user=user, key=key, created_at__gte=timezone.now() - SUBMISSION_KEY_TTL)
        .first()
    )


def _submission_replay(earlier: SubmissionKey, fingerprint: str) -> GenerationJob:
    if earlier.request_fingerprint != fingerprint:
        raise DomainError(
            "This Idempotency-Key was used for a different request. "
            "Use a new key for a new submission.",
            status=422,
            code="idempotency_key_reused",
        )
    return earlier.job


def submission_keys_expire(*, older_than: timedelta = SUBMISSION_KEY_TTL) -> int:
    """Forget Idempotency-Keys older than a day; returns how many."""
    deleted, _ = SubmissionKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


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
        raise DomainError(
            f"This job is already {job.get_status_display().lower()}; it cannot be cancelled.",
            status=409,
            code="conflict",
        )
    logger.info("Job %s cancelled by %s", job.pk, by)
    events.publish_on_commit(job.pk, {"type": "cancelled"})
    transaction.on_commit(publish_queue_positions)
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
            _fail_locked(
                job,
                f"The worker painting this job stopped unexpectedly {job.attempts} times; giving up.",
            )
            return None
        runnable = job.status == Status.QUEUED or (job.status == Status.RUNNING and redelivered)
        if not runnable:
            return None
        job.status = Status.RUNNING
        job.worker = worker[:200]
        job.task_id = task_id[:255]
        job.attempts = F("attempts") + 1
        job.started_at = now
        job.heartbeat_at = now
        job.progress_step = 0
        job.progress_total = 0
        job.error = ""
        job.save(
            update_fields=[
                "status",
                "worker",
                "task_id",
                "attempts",
                "started_at",
                "heartbeat_at",
                "progress_step",
                "progress_total",
                "error",
            ]
        )
        job.refresh_from_db(fields=["attempts"])
        events.publish_on_commit(
            job.pk, {"type": "started", "worker": job.worker, "total": job.steps}
        )
        transaction.on_commit(publish_queue_positions)
    return job


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
    """The job row, locked, if it is still running as this attempt (else None)."""
    return (
        GenerationJob.objects.select_for_update()
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
    from portraits.services import portrait_create_from_job, portrait_files_discard

    created = []
    try:
        with transaction.atomic():
            locked = _lock_attempt(job)
            if locked is None:
                return False
            created = portrait_create_from_job(job=locked, result=result)
            locked.status = Status.SUCCEEDED
            locked.finished_at = timezone.now()
            locked.progress_step = locked.progress_total or locked.progress_step
            locked.save(update_fields=["status", "finished_at", "progress_step"])
            # robust: a failure to publish must not look like a failure to store.
            transaction.on_commit(lambda: _publish_final(locked.pk, "done"), robust=True)
    except BaseException:
        portrait_files_discard(portraits=created)
        raise
    return True


def job_fail(*, job: GenerationJob, error: str) -> bool:
    with transaction.atomic():
        locked = _lock_attempt(job)
        if locked is None:
            return False
        _fail_locked(locked, error)
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
        _fail_locked(job, error)
    return True


def _fail_locked(job: GenerationJob, error: str) -> None:
    job.status = Status.FAILED
    job.error = error[:2000]
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    events.publish_on_commit(job.pk, {"type": "failed", "error": job.error})


def _publish_final(job_id, kind: str) -> None:
    from generation.api.serializers import job_representation

    job = GenerationJob.objects.select_related("model", "style", "user", "parent").get(pk=job_id)
    events.publish(job_id, {"type": kind, "job": job_representation(job)})


def publish_queue_positions(limit: int = 100) -> None:
    """Tell the first ``limit`` queued jobs where they now stand (after one left the queue)."""
    queued = GenerationJob.objects.filter(status=Status.QUEUED).order_by("created_at")
    for position, job_id in enumerate(queued.values_list("pk", flat=True)[:limit], start=1):
        events.publish(job_id, {"type": "queued", "position": position})


class JobDeadlinePassed(Exception):
    """Raised from the step callback when a job has run past the soft time limit.

    Celery enforces its time limits only in prefork pools; the embedded default's
    solo pool in a thread (and ``--pool solo|threads`` workers) ignores them, so
    ``job_run`` also keeps this cooperative deadline, checked at every step.
    """


_TIME_LIMIT_EXCEPTIONS = {"SoftTimeLimitExceeded", "TimeLimitExceeded", "JobDeadlinePassed"}


def _is_time_limit(exc: BaseException) -> bool:
    return type(exc).__name__ in _TIME_LIMIT_EXCEPTIONS


def user_message_for(exc: BaseException) -> str:
    """A sentence a user can act on, for an exception raised while painting."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    if _is_time_limit(exc):
        return "The job took longer than this server allows and was stopped. Try fewer steps or a smaller size."
    if isinstance(exc, DomainError):  # already written for the user
        return exc.message
    if name == "OutOfMemoryError" or "out of memory" in text.lower():
        return "The GPU ran out of memory. Try a smaller size or fewer images."
    if name == "InvalidSpecError":
        return f"This recipe cannot be painted with this model: {text}."
    if name in {"ModelUnavailableError", "OSError", "FileNotFoundError", "LocalEntryNotFoundError"}:
        return f"The model could not be loaded ({text or name}). An administrator should check it."
    return f"Generation failed: {text or name}."


class JobStepReporter:
    """The worker's work at each denoising step of a job (``inference.generate``'s on_step).

    Records the step as the job's heartbeat (and stops the job if that write finds
    it cancelled or taken over), enforces the cooperative deadline, and publishes a
    ``progress`` event with the ETA and the live preview. ``start_clock()`` marks the
    end of pipeline loading: the ETA is about denoising steps only.
    """

    def __init__(self, job: GenerationJob, *, deadline) -> None:
        self.job = job
        self.deadline = deadline
        self.painting_since = time.monotonic()

    def start_clock(self) -> None:
        self.painting_since = time.monotonic()

    def __call__(self, event) -> None:
        from generation import inference

        if not job_progress(job=self.job, step=event.step, total=event.total):
            raise inference.GenerationCancelled
        if timezone.now() >= self.deadline:
            raise JobDeadlinePassed(f"past {settings.CELERY_TASK_SOFT_TIME_LIMIT} s")
        elapsed = time.monotonic() - self.painting_since
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
        )


def job_run(*, job: GenerationJob) -> str:
    """Paint a claimed (running) job: inference, then portraits, then done.

    Returns the final status. Any exception on the way — a recipe that cannot be
    turned into a spec, a parent image gone, the pipeline, the time limit — fails
    the job at once with a message the user can understand (never leaving it
    ``running`` for the sweeper); a cancel stops it at the next step without
    keeping any image.
    """
    started = job.started_at or timezone.now()
    heartbeat = JobHeartbeat(
        job,
        interval=settings.GENERATION_HEARTBEAT_INTERVAL,
        until=started + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
    )
    with heartbeat:
        return _paint(
            job, deadline=started + timedelta(seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT)
        )


def _paint(job: GenerationJob, *, deadline) -> str:
    from generation import inference

    on_step = JobStepReporter(job, deadline=deadline)

    try:
        if not inference.backend_available():
            raise DomainError(inference.backend_missing_reason())
        spec = job_inference_spec(job)
        # Load (or find in the cache) before the clock starts: the ETA is about the
        # denoising steps, and a cold load of a real model takes longer than all of them.
        inference.load_pipeline(spec.model)
        on_step.start_clock()
        result = inference.generate(spec, on_step=on_step)
    except inference.GenerationCancelled:
        job.refresh_from_db(fields=["status"])
        logger.info("Job %s stopped: %s", job.pk, job.status)
        return job.status
    except Exception as exc:
        logger.exception("Job %s failed", job.pk)
        job_fail(job=job, error=user_message_for(exc))
        return Status.FAILED
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
        job_fail(job=job, error=error)
        return Status.FAILED
    job.refresh_from_db(fields=["status"])
    return job.status


def job_inference_spec(job: GenerationJob):
    """The inference module's view of a job (no Django objects cross that boundary)."""
    from generation import inference

    recipe = job.recipe
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
        return inference.GenerationSpec(
            model=inference.ModelRef(
                source=recipe["model_source"],
                revision=recipe.get("model_revision", ""),
                family=recipe.get("model_family", "auto"),
            ),
            prompt=recipe["styled_prompt"],
            negative_prompt=recipe["styled_negative_prompt"],
            seed=job.seed,
            steps=job.steps,
            guidance_scale=job.guidance_scale,
            width=job.width,
            height=job.height,
            num_images=job.num_images,
            scheduler=job.scheduler,
            init_image=init_image,
            init_strength=job.init_strength,
        )
    except KeyError as exc:  # a recipe written by hand or by an older version
        raise DomainError(
            f"This job's recipe is incomplete (it has no {exc}). Submit it again."
        ) from exc


# --- Keeping the queue honest ------------------------------------------------------


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
    * and Idempotency-Keys older than a day are forgotten.

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
        with transaction.atomic():
            # Checked again under the lock: a heartbeat may have landed since the listing.
            job = stale.select_for_update().filter(pk=job_id).first()
            if job is None:
                continue
            if job.attempts >= MAX_ATTEMPTS:
                _fail_locked(job, "The worker painting this job stopped responding; giving up.")
                failed += 1
                continue
            job.status = Status.QUEUED
            job.worker = ""
            job.task_id = ""
            job.enqueued_at = now
            job.save(update_fields=["status", "worker", "task_id", "enqueued_at"])
            transaction.on_commit(lambda pk=job.pk: sends.append(_enqueue(pk)))
            requeued += 1
    if all(sends):  # else the broker is down: what is marked waits for the next sweep
        cutoff = now - timedelta(seconds=resend_queued_after)
        forgotten = GenerationJob.objects.filter(status=Status.QUEUED).filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=cutoff)
        )
        for job_id in list(forgotten.order_by("created_at").values_list("pk", flat=True)):
            # A conditional UPDATE claims the send, so two sweepers never both send.
            if forgotten.filter(pk=job_id).update(enqueued_at=now):
                if not _enqueue(job_id):
                    break
                resent += 1
    keys_expired = submission_keys_expire()
    if requeued or failed or resent:
        logger.warning("Sweeper: requeued %d, failed %d, re-sent %d jobs", requeued, failed, resent)
    return {"requeued": requeued, "failed": failed, "resent": resent, "keys_expired": keys_expired}


# --- The model registry ----------------------------------------------------------


def model_register(
    *,
    name: str,
    slug: str,
    source: str,
    family: str = "auto",
    revision: str = "",
    description: str = "",
    paints_noise: bool = False,
    limits: Mapping[str, Any] | None = None,
    make_default: bool = False,
    make_default_if_none: bool = False,
    keep_existing: bool = False,
) -> tuple[GenerationModel, bool]:
    """Add or update a model by slug; returns it and whether it was created.

    * ``keep_existing``: a model already registered under ``slug`` is left exactly
      as an administrator left it (enabled or not, its limits, its source); only a
      missing one is created. For start-up commands that run on every ``make run``.
    * ``make_default``: make it the default (one at a time) and enable it, as the
      admin's "make default" action does.
    * ``make_default_if_none``: make it the default only if no model is the default
      at all and this one is enabled — never take the flag from another model, even
      a disabled one, and never make a disabled model the default.

    Updating never changes whether a model is enabled: that is the admin's call.
    The caller keeps ``limits`` consistent (defaults within maxima); the database's
    check constraints refuse anything else.
    """
    fields = {
        "name": name,
        "source": source,
        "family": family,
        "revision": revision,
        "description": description,
        "paints_noise": paints_noise,
        **(limits or {}),
    }
    with transaction.atomic():
        if keep_existing:
            model, created = GenerationModel.objects.get_or_create(slug=slug, defaults=fields)
        else:
            model, created = GenerationModel.objects.update_or_create(slug=slug, defaults=fields)
        if make_default:
            GenerationModel.objects.exclude(pk=model.pk).filter(is_default=True).update(
                is_default=False
            )
            GenerationModel.objects.filter(pk=model.pk).update(is_default=True, is_enabled=True)
            model.is_default = model.is_enabled = True
        elif (
            make_default_if_none
            and model.is_enabled
            and not GenerationModel.objects.filter(is_default=True).exists()
        ):
            GenerationModel.objects.filter(pk=model.pk).update(is_default=True)
            model.is_default = True
    return model, created
