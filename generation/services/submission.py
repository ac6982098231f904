"""Submitting a job: the recipe checked, the member's quota, the job saved and sent.

A submission is validated whole (every bad field at once), counted against the member's
quota under a lock on their row, stored as a queued job and handed to the broker after
commit (``lifecycle.job_enqueue``). ``job_submit_once`` makes a submission idempotent
per ``Idempotency-Key``.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import DomainError, QuotaExceeded
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
from generation.services.lifecycle import job_enqueue

logger = logging.getLogger(__name__)

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
    if job_enqueue(job.pk) is False:
        job.enqueued_at = None  # what the row now says: the caller can tell its client


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
