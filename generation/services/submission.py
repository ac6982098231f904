"""Submitting a job: the recipe checked, the member's quota, the job saved and sent.

A submission is validated whole (every bad field at once), counted against the member's
quota under a lock on their row, stored as a queued job and handed to the broker after
commit (``job_enqueue``). The recipe's fields, checks and snapshot are
``portraits.recipe``'s; this module resolves the rows they name. Remixing a portrait and
reproducing one are submissions too (``job_submit_remix``, ``job_submit_reproduction``),
fed by what ``portraits.selectors`` lets the member see. ``job_submit_once`` makes a
submission idempotent per ``Idempotency-Key``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.suspension import is_suspended, suspension_refusal, suspension_refuse
from config.celery import app as celery_app
from config.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
)
from config.gates import TextRefused, atomic_keeping_refusals, text_gate_check
from config.logs import job_logging
from generation.models import (
    GenerationJob,
    GenerationModel,
    PromptModifier,
    StylePreset,
    SubmissionKey,
)
from generation.selectors import model_get_default
from generation.services.taste import taste_record
from portraits import recipe as recipes
from portraits.selectors import (
    portrait_can_edit,
    portrait_ensure_remixable,
    portrait_is_remixable,
    portrait_is_viewable,
    portrait_withheld,
)

logger = logging.getLogger(__name__)

# The Celery task that paints a job (generation.tasks.run_job).
RUN_JOB_TASK = "generation.tasks.run_job"


def _resolve_model(errors: recipes.FieldErrors, value: Any) -> GenerationModel | None:
    if recipes.is_blank(value):
        model = model_get_default()
        if model is None:
            recipes.add_error(
                errors,
                "model",
                "No generation model is configured. Ask an administrator to add one.",
            )
        return model
    if isinstance(value, GenerationModel):
        model = value
    else:
        model = GenerationModel.objects.filter(slug=str(value)).first()
    if model is None:
        recipes.add_error(errors, "model", f"Unknown model “{value}”.")
    elif not model.is_enabled:
        recipes.add_error(errors, "model", f"The model “{model.name}” is disabled.")
        return None
    return model


def _resolve_style(errors: recipes.FieldErrors, value: Any) -> StylePreset | None:
    if recipes.is_blank(value):
        return None
    style = (
        value
        if isinstance(value, StylePreset)
        else StylePreset.objects.filter(slug=str(value)).first()
    )
    if style is None or not style.is_enabled:
        recipes.add_error(errors, "style", f"Unknown style “{value}”.")
        return None
    return style


def _with_modifiers(errors: recipes.FieldErrors, spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec`` with its ``modifiers`` (the prompt builder's chips, by slug) added to its
    prompt, in the order given: what the member sees is what is painted and recorded."""
    slugs = spec.get("modifiers")
    rest = {name: value for name, value in spec.items() if name != "modifiers"}
    if recipes.is_blank(slugs) or slugs == []:
        return rest
    if isinstance(slugs, str):
        slugs = [slugs]
    if not isinstance(slugs, list | tuple) or not all(isinstance(s, str) for s in slugs):
        recipes.add_error(errors, "modifiers", "Give a list of modifier slugs.")
        return rest
    found = {m.slug: m for m in PromptModifier.objects.filter(slug__in=slugs, is_enabled=True)}
    for slug in slugs:
        if slug not in found:
            recipes.add_error(errors, "modifiers", f"Unknown modifier “{slug}”.")
    if set(found) != set(slugs) or recipes.is_blank(rest.get("prompt")):
        return rest
    additions = [found[slug].text for slug in slugs]
    return {**rest, "prompt": recipes.prompt_with_modifiers(str(rest["prompt"]), additions)}


def job_validate_spec(spec: Mapping[str, Any], *, parent=None) -> dict[str, Any]:
    """Check a job's recipe and fill in the model's defaults.

    Returns the model and style rows and the asked fields (``portraits.recipe.spec_clean``),
    typed; raises DomainError with one message per bad field (all of them at once, not
    the first only: the rows' errors here with the recipe's).
    """
    errors: recipes.FieldErrors = {}
    spec = _with_modifiers(errors, spec)
    model = _resolve_model(errors, spec.get("model"))
    style = _resolve_style(errors, spec.get("style"))
    fields, field_errors = recipes.spec_clean(
        spec, model=model.limits() if model is not None else None, has_parent=parent is not None
    )
    for field, messages in field_errors.items():
        for message in messages:
            recipes.add_error(errors, field, message)
    steps, strength = fields["steps"], fields["init_strength"]
    # Image-to-image denoises only some of the steps: none at all would fail in the
    # worker, after the member waited in the queue.
    bad = {"steps", "init_strength"} & set(errors)
    if steps and strength and not bad and recipes.img2img_steps(steps, strength) < 1:
        recipes.add_error(
            errors,
            "init_strength",
            f"At strength {strength:g}, {steps} steps leave no step to paint: "
            "raise the strength or the steps.",
        )
    if errors:
        raise DomainError("Please correct the errors below.", field_errors=errors)
    return {"model": model, "style": style, **fields}


def job_spec_errors(
    spec: Mapping[str, Any], *, parent=None, checked: Collection[str] = ()
) -> recipes.FieldErrors:
    """The field errors ``job_validate_spec`` finds in ``spec``, returned, not raised.

    For a form or serializer whose own type checks refused some fields (``checked``): those
    fields are left out (the service reads them as not given) and none of their errors come
    back, so the member gets every other field's range and limit errors in the same answer,
    not in a later round once the types are fixed.
    """
    rest = {name: value for name, value in spec.items() if name not in checked}
    try:
        job_validate_spec(rest, parent=parent)
    except DomainError as exc:
        return {name: found for name, found in exc.field_errors.items() if name not in checked}
    return {}


def _parse_rate(rate: str) -> tuple[int, timedelta]:
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[:1]]
    return int(count), timedelta(seconds=seconds)


def quota_check(user, *, adding: int = 1) -> None:
    """Refuse (``QuotaExceeded``) ``adding`` more jobs for ``user``: a sweep adds one per
    cell. Call with the member's row locked (``job_submit``), so two parallel submissions
    cannot both pass."""
    active = GenerationJob.objects.filter(
        user=user, status__in=GenerationJob.ACTIVE_STATUSES
    ).count()
    limit = settings.GENERATION_MAX_ACTIVE_JOBS
    if active + adding > limit:
        if adding == 1:
            raise QuotaExceeded(
                f"You already have {active} jobs queued or running (the limit is {limit}). "
                "Wait for one to finish or cancel one."
            )
        raise QuotaExceeded(
            f"This sweep paints {adding} cells and you have {active} jobs queued or running "
            f"(the limit is {limit} at once). Wait for some to finish, or sweep fewer cells."
        )
    count, window = _parse_rate(settings.GENERATION_SUBMIT_RATE)
    recent = GenerationJob.objects.filter(
        user=user, created_at__gte=timezone.now() - window
    ).count()
    if recent + adding > count:
        raise QuotaExceeded(
            f"You have submitted {recent} jobs recently (the limit is {settings.GENERATION_SUBMIT_RATE}). "
            "Please wait a little."
        )


def job_submit(*, user, spec: Mapping[str, Any], parent=None, reproduces=None) -> GenerationJob:
    """Validate, check the user's quota, save a queued job and enqueue it after commit.

    ``parent`` is the portrait being remixed; the caller must have chosen it from
    what ``user`` can see (portraits.selectors), never from a client's claim.
    ``reproduces``: the portrait a reproduction paints again (``job_submit_reproduction``).

    A suspended member is refused (``AccountSuspended``, 403) before anything is checked,
    and again from their row as locked here: a request that began before a moderator
    suspended them (its ``user`` read then) submits nothing once the suspension committed.

    The prompts pass the prompt gate (``config.gates``) before any job exists: refused,
    nothing is stored (``TextRefused``, a field error quoting the member's own words); let
    through for review, the job runs and its portraits are held for a moderator
    (``held_for_review``). A caller inside a transaction keeps the gate's count of a
    refusal with ``config.gates.atomic_keeping_refusals``.
    """
    if is_suspended(user):
        raise suspension_refusal(user)
    fields = job_validate_spec(spec, parent=parent)
    held = text_gate_check(
        {"prompt": fields["prompt"], "negative_prompt": fields["negative_prompt"]}, user=user
    )
    with transaction.atomic():
        quota_claim(user, adding=1)
        return job_create(user=user, fields=fields, held=held, parent=parent, reproduces=reproduces)


def quota_claim(user, *, adding: int) -> None:
    """Inside the submission's transaction: lock the member's row, so two parallel
    submissions cannot both pass the quota check (SQLite serialises writers anyway),
    refuse a member suspended meanwhile, and check the quota for ``adding`` more jobs."""
    locked = get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    if locked is not None:
        suspension_refuse(locked)
    quota_check(user, adding=adding)


def job_create(
    *, user, fields: Mapping[str, Any], held: bool, parent=None, reproduces=None, **extra: Any
) -> GenerationJob:
    """Save a queued job from checked ``fields`` (``job_validate_spec``) with its frozen
    snapshot, sent to the broker after commit. Inside the transaction of ``quota_claim``.
    ``extra``: more columns (a sweep's cell: its sweep, place and label)."""
    frozen = recipes.job_snapshot(
        prompt=fields["prompt"],
        negative_prompt=fields["negative_prompt"],
        model=fields["model"].limits(),
        style=fields["style"].template() if fields["style"] is not None else None,
        parent=parent.public_id if parent is not None else None,
    )
    job = GenerationJob.objects.create(
        user=user,
        parent=parent,
        reproduces=reproduces,
        frozen=frozen,
        held_for_review=held,
        **fields,
        **extra,
    )
    transaction.on_commit(lambda: job_send(job))
    return job


def job_send(job: GenerationJob) -> None:
    """Send a committed job to the broker (``job_enqueue``); a job it could not send says
    so (``enqueued_at`` null) for the caller to tell its client."""
    if job_enqueue(job.pk) is False:
        job.enqueued_at = None  # what the row now says: the caller can tell its client


def job_enqueue(job_id) -> bool:
    """Send the task for a committed job; False if the broker could not take it.

    The job then stays queued with ``enqueued_at`` null, which the sweeper sends at
    its next run (every GENERATION_SWEEP_INTERVAL). It must not raise: it runs after
    the job was committed, and a submission answered 500 after its job existed made
    clients submit it again. CELERY_BROKER_CONNECTION_TIMEOUT and
    CELERY_TASK_PUBLISH_RETRY_POLICY bound how long a down broker holds it up.
    """
    with job_logging(job_id):
        try:
            # The model's queue, so the workers started for it (and keeping it loaded)
            # take it. By name, not through the task object: tasks call services, never
            # the other way.
            queue = (
                GenerationJob.objects.filter(pk=job_id)
                .values_list("model__queue", flat=True)
                .first()
            )
            celery_app.send_task(RUN_JOB_TASK, args=[str(job_id)], queue=queue or "gpu")
        except Exception:
            logger.warning(
                "Could not send job %s to the broker; the sweeper will send it",
                job_id,
                exc_info=True,
            )
            GenerationJob.objects.filter(pk=job_id, status=GenerationJob.Status.QUEUED).update(
                enqueued_at=None
            )
            return False
        return True


# --- Remixing and reproducing a portrait ----------------------------------------------------


def job_submit_remix(*, user, portrait, changes: Mapping[str, Any]) -> GenerationJob:
    """Submit a job that remixes ``portrait``: its recipe, with ``changes`` applied.

    ``changes`` takes any job field (prompt, seed, steps, ..., ``init_strength`` for
    image-to-image from the portrait's original); what it leaves out is inherited,
    ``num_images`` defaults to 1. The parent is always ``portrait``, which the caller
    got from ``portrait_get_remixable(viewer=user, ...)``: checked again here, so no
    path can attach a remix to something its author could not see, nor a moderator
    build on a private portrait they may only review. ``parent`` is not
    a field ``changes`` may carry (``job_submit`` rejects unknown fields).

    A prompt ``user`` may not read (kept by ``portrait`` from a step hidden from them,
    see ``portraits.recipe``) is never inherited: without a ``prompt`` of their own the
    remix is refused (a field error, nothing submitted); a withheld negative prompt is
    left out (none) unless they give one.
    """
    spec, found = _remix_spec(user=user, portrait=portrait, changes=changes)
    if found:  # with every other field's errors, all at once
        raise DomainError(
            "Please correct the errors below.",
            field_errors={**found, **job_spec_errors(spec, parent=portrait, checked=found)},
        )
    with transaction.atomic():
        job = job_submit(user=user, spec=spec, parent=portrait)
        # Building on a portrait says something of the member's taste: what they asked
        # for, which holds no words of the parent's hidden from them.
        taste_record(user=user, kind="remix", recipe=job.recipe, job=job)
    return job


def job_remix_errors(
    *, user, portrait, changes: Mapping[str, Any], checked: Collection[str] = ()
) -> recipes.FieldErrors:
    """``job_spec_errors`` for a remix: the errors of ``portrait``'s recipe with
    ``changes`` applied, as ``job_submit_remix`` would find them, leaving out the fields a
    form or serializer already refused (``checked``)."""
    spec, found = _remix_spec(user=user, portrait=portrait, changes=changes)
    found = {name: messages for name, messages in found.items() if name not in checked}
    return {**found, **job_spec_errors(spec, parent=portrait, checked={*checked, *found})}


def _remix_spec(
    *, user, portrait, changes: Mapping[str, Any]
) -> tuple[dict[str, Any], recipes.FieldErrors]:
    portrait_ensure_remixable(portrait=portrait, viewer=user)
    withheld = portrait_withheld(portrait=portrait, viewer=user)
    found: recipes.FieldErrors = {}
    if "prompt" in withheld and "prompt" not in changes:
        found["prompt"] = [
            "This portrait's prompt was kept from a portrait that is no longer "
            "available: write your own."
        ]
    spec = {**recipes.remix_spec(portrait.recipe, withhold=withheld), "num_images": 1, **changes}
    return spec, found


def job_submit_reproduction(*, user, portrait) -> GenerationJob:
    """Submit the identical recipe again: same seed, one image, same parent.

    Only the author (or a moderator) may: the new portrait takes the same place in
    the chain, so anyone else would be claiming the author's step as their own
    (they can Remix it instead — a remix without changes of a text-to-image portrait
    paints the same pixels and credits the author). For image-to-image the parent's
    original must still be readable by ``user``; a text-to-image step keeps its
    parent link whatever its visibility now (nothing of the parent is used, and the
    credits stay right).

    The job names its model and style by slug, which resolve to what they are *now*.
    So the job is submitted inside a transaction and what it would paint is compared
    with the recipe: if the style now writes a different prompt, or the model loads
    from another source, revision or family, or its default scheduler changed (or
    either is gone), the job is rolled back (nothing is queued) and a Conflict names
    what changed, rather than a "reproduction" silently painting something else.

    Identical pixels need the same model weights (``model_revision``), device class,
    dtype and torch thread count; a portrait that was image ``i > 0`` of a batch may
    differ in the last bits when repainted alone.
    """
    if portrait.is_deleted or not portrait_is_viewable(portrait=portrait, viewer=user):
        raise NotFound("No such portrait.")
    if not portrait_can_edit(portrait=portrait, viewer=user):
        raise PermissionDenied("Only its author can change this portrait.")
    recipe = portrait.recipe
    spec = {**recipes.remix_spec(recipe), "num_images": 1}
    parent = portrait.parent
    if portrait.is_img2img:
        if parent is None or not portrait_is_viewable(portrait=parent, viewer=user):
            raise Conflict(
                "The portrait this one was painted from is no longer available, "
                "so it cannot be repainted."
            )
        spec["init_strength"] = recipe["init_strength"]
    try:
        # The prompt gate refuses before the job exists: its count of that stays.
        with atomic_keeping_refusals():
            job = job_submit(user=user, spec=spec, parent=parent, reproduces=portrait)
            drift = recipes.recipe_drift(recipe, job.recipe)
            if drift:
                raise Conflict(_not_reproducible(drift))
    except (Conflict, TextRefused):  # a refused prompt is refused as it is, not "drift"
        raise
    except DomainError as exc:
        if not exc.field_errors:  # a quota, say: nothing to do with the recipe
            raise
        # The model or style is gone or disabled, or the model's limits no longer
        # admit the recipe: the same refusal, not a form error on a form nobody filled.
        raise Conflict(
            _not_reproducible(
                f"{name}: {' '.join(messages).rstrip('.')}"
                for name, messages in exc.field_errors.items()
            )
        ) from exc
    return job


def _not_reproducible(reasons: Iterable[str]) -> str:
    return (
        "This portrait cannot be reproduced exactly: "
        + "; ".join(reasons)
        + ". Remix it instead to paint it with what is there now."
    )


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
        # A prompt the gate refuses leaves nothing but its count, which stays (and no key).
        with atomic_keeping_refusals():
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
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a different request. "
            "Use a new key for a new submission."
        )
    return earlier.job


def submission_keys_expire(*, older_than: timedelta = SUBMISSION_KEY_TTL) -> int:
    """Forget Idempotency-Keys older than a day; returns how many."""
    deleted, _ = SubmissionKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


# --- Painting a job's recipe again ---------------------------------------------------------


def job_submit_again(*, user, job: GenerationJob) -> GenerationJob:
    """Submit ``job``'s recipe again as it was asked (a cancelled or failed job's "Paint
    again"): the same fields, its seed and number of images included.

    Only its owner may, and only once it ended without a picture (Conflict otherwise: a
    job still queued or running is on its way, a finished one is remixed from its
    portraits). A remix is submitted as a remix of the same parent again
    (``job_submit_remix``, which checks that ``user`` may still see it; image-to-image
    keeps its strength); a parent deleted or hidden since refuses it (Conflict), as a
    remix of nothing would drop its author's credit — "Edit and resubmit" paints the
    recipe as a new portrait instead, without the words it kept from that parent
    (``generation.selectors.job_withheld``). A reproduction is a reproduction again
    (``job_submit_reproduction``, which refuses if the recipe would now paint otherwise);
    its original deleted since refuses it (Conflict).
    """
    if job.user_id != user.pk:
        raise PermissionDenied("Only its owner can paint this job again.")
    if job.status not in (GenerationJob.Status.FAILED, GenerationJob.Status.CANCELLED):
        raise Conflict(
            "Only a cancelled or failed job can be painted again: "
            + (
                "this one is still on its way."
                if job.is_active
                else "this one has its pictures. Remix or vary them instead."
            )
        )
    reproduces = getattr(job, "reproduces", None)
    if reproduces is not None:
        if not portrait_is_viewable(portrait=reproduces, viewer=user):
            raise Conflict(
                "The portrait this job reproduced is no longer available, so it cannot be "
                "reproduced again."
            )
        return job_submit_reproduction(user=user, portrait=reproduces)
    spec = {**recipes.remix_spec(job.recipe), "num_images": job.num_images}
    if job.parent_id is None and not job.recipe.get("parent"):
        return job_submit(user=user, spec=spec)
    parent = job.parent
    if parent is None or not portrait_is_remixable(portrait=parent, viewer=user):
        raise Conflict(
            "The portrait this job remixed is no longer available, so it cannot be "
            "remixed again. Edit and resubmit to paint this recipe as a new portrait."
        )
    if job.init_strength is not None:
        spec["init_strength"] = job.init_strength
    return job_submit_remix(user=user, portrait=parent, changes=spec)
