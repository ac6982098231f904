"""Writes for portraits: creating them from a finished job, editing, deleting, remixing.

Every surface (pages, API, admin, the worker) calls these functions; nothing else
writes a Portrait. Files are written to Django storage (local folder or S3) under
names no public URL serves: ``portraits.views`` streams them after the visibility
check.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from config.errors import Conflict, DomainError, NotFound
from config.text import UnsafeText, text_clean
from portraits import credentials, imagefiles
from portraits.lineage import compute_changes
from portraits.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, Portrait, new_public_id
from portraits.recipe import public_recipe, title_from_prompt
from portraits.selectors import (
    portrait_can_edit,
    portrait_chain,
    portrait_has_descendants,
    portrait_is_viewable,
    portrait_original_bytes,
    portrait_withheld,
)
from portraits.signing import signing_credentials

if TYPE_CHECKING:
    from generation.models import GenerationJob

logger = logging.getLogger(__name__)

V = Portrait.Visibility

# The recipe keys a remix starts from (the rest of a portrait's recipe is frozen
# context: versions, device, the resolved scheduler and weights).
REMIX_INHERITED = (
    "prompt",
    "negative_prompt",
    "style",
    "model",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "scheduler",
)
EDITABLE_FIELDS = ("title", "description", "visibility")
PROVENANCE_SCHEMA = "likeness.provenance.v1"  # bump when the shape changes


def software_version() -> str:
    try:
        return metadata.version("likeness")
    except metadata.PackageNotFoundError:  # a checkout that was never pip-installed
        return "dev"


# --- Creation ------------------------------------------------------------------------


def _portrait_recipe(job: GenerationJob, result: Any, index: int) -> dict[str, Any]:
    recipe = {key: value for key, value in job.recipe.items() if key != "num_images"}
    recipe.update(
        seed=int(result.seeds[index]),
        # What actually painted it (the model's own scheduler when none was asked for,
        # the resolved weights revision), next to what the job asked for, which is what
        # a remix or a reproduction asks for again.
        scheduler=result.scheduler,
        requested_scheduler=job.recipe.get("scheduler", ""),
        model_revision=result.model_revision,
        requested_model_revision=job.recipe.get("model_revision", ""),
        device=result.device,
        dtype=result.dtype,
        diffusers_version=result.diffusers_version,
        torch_version=result.torch_version,
        batch_size=len(result.images),
        batch_index=index,
    )
    return recipe


def _site_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _nameable_in_file(step: Portrait, *, author) -> bool:
    """Whether a new portrait's file may name ``step``, an ancestor: anyone may see it now
    (public or unlisted, not deleted), or it is the new portrait's author's own."""
    return not step.is_deleted and (
        step.visibility != Portrait.Visibility.PRIVATE or step.author_id == author.pk
    )


def _provenance(
    portrait: Portrait,
    *,
    lineage_ids: list[str | None],
    recipe: Mapping[str, Any],
    parent_named: bool = True,
) -> dict[str, Any]:
    author = portrait.author
    parent = portrait.parent
    return {
        "schema": PROVENANCE_SCHEMA,
        "portrait": {"id": portrait.public_id, "url": _site_url(portrait.get_absolute_url())},
        "author": {
            "name": portrait.author_name,
            "username": author.username if author else None,
            "url": _site_url(author.get_absolute_url()) if author else None,
        },
        "parent": (
            None
            if parent is None
            else {"id": parent.public_id, "url": _site_url(parent.get_absolute_url())}
            if parent_named
            else {"id": None, "url": None}  # a remix, of a portrait it may not name
        ),
        # Public ids from the original to the parent; null for a step the file may not
        # name (``_nameable_in_file``), so the chain keeps its length and its order.
        "lineage": lineage_ids,
        "recipe": {**public_recipe(recipe), **({} if parent_named else {"parent": None})},
        "generator": {
            "name": "Likeness",
            "version": software_version(),
            "diffusers": recipe.get("diffusers_version"),
            "torch": recipe.get("torch_version"),
            "device": recipe.get("device"),
            "dtype": recipe.get("dtype"),
        },
    }


def _a1111_parameters(recipe: Mapping[str, Any]) -> str:
    # A1111 writes the prompt the model actually received, i.e. with the style applied.
    return imagefiles.a1111_parameters(
        {
            **recipe,
            "prompt": recipe.get("styled_prompt") or recipe.get("prompt", ""),
            "negative_prompt": recipe.get("styled_negative_prompt")
            or recipe.get("negative_prompt", ""),
            "style": recipe.get("style_name"),
        },
        version=software_version(),
    )


def portrait_create_from_job(*, job: GenerationJob, result: Any) -> list[Portrait]:
    """Store every image of a finished job as a private Portrait, in image order.

    ``result`` is a ``generation.inference.GenerationResult`` (images, seeds and the
    versions that painted them). Each portrait gets its full recipe, its place in the
    remix chain (parent, root, depth, ancestry, changes vs the parent), a WebP
    thumbnail, and an original PNG carrying the A1111 ``parameters`` chunk and the
    provenance JSON, signed with C2PA as the very last write (for a remix, the signed
    parent original is its ``parentOf`` ingredient; a parent deleted while the job was
    queued is still named, without its file). The manifest carries a neutral title,
    never the prompt-derived one: descendants' files keep a copy of it for good.

    Idempotent: a job whose portraits exist already gets them back, so a task
    delivered twice never stores its images twice (a unique constraint backs this).
    Call inside the worker's transaction that marks the job succeeded. Files are
    written before the rows; if this function fails they are removed again, but a
    rollback of the caller's transaction after it returned leaves unreferenced files
    behind (never served: nothing points at them).
    """
    existing = list(Portrait.objects.filter(job=job).order_by("index_in_job"))
    if existing:
        return existing
    if len(result.images) != len(result.seeds) or not result.images:
        raise ValueError("a generation result needs one seed per image, and an image")

    author = job.user
    parent: Portrait | None = job.parent
    lineage_ids: list[str | None] = []
    parent_named = True
    parent_ingredient: credentials.ParentIngredient | None = None
    if parent is not None:
        # The file is written once and may be shown to anyone its portrait is shown to:
        # it names only the ancestors anyone may see now, or the author's own (see
        # _nameable_in_file). A parent deleted while the job was queued has no file left;
        # a parent, or any ancestor, that may not be named keeps the parent's file (whose
        # manifest and chunks name its own ancestors) out of this one. Either way the
        # remix still says it is one, never an original.
        chain = portrait_chain(portrait=parent)
        nameable = [_nameable_in_file(step, author=author) for step in chain]
        lineage_ids = [
            step.public_id if ok else None for step, ok in zip(chain, nameable, strict=True)
        ]
        parent_named = nameable[-1]
        parent_ingredient = credentials.ParentIngredient(
            title=credentials.manifest_title(parent.public_id if parent_named else None),
            data=(
                portrait_original_bytes(portrait=parent, missing_ok=True) if all(nameable) else None
            ),
        )
    key_pem, chain_pem = signing_credentials()

    created: list[Portrait] = []
    written: list[str] = []
    try:
        with transaction.atomic():
            for index, image in enumerate(result.images):
                recipe = _portrait_recipe(job, result, index)
                portrait = Portrait(
                    public_id=new_public_id(),
                    author=author,
                    author_name=author.public_name,
                    job=job,
                    index_in_job=index,
                    title=title_from_prompt(recipe.get("prompt", "")),
                    width=image.width,
                    height=image.height,
                    recipe=recipe,
                )
                if parent is not None:
                    portrait.parent = parent
                    portrait.root_id = parent.root_id or parent.pk
                    portrait.depth = parent.depth + 1
                    portrait.ancestry = parent.descendant_prefix
                    portrait.changes = compute_changes(parent.recipe, recipe)
                png = imagefiles.encode_png(
                    image,
                    parameters=_a1111_parameters(recipe),
                    provenance=_provenance(
                        portrait,
                        lineage_ids=lineage_ids,
                        recipe=recipe,
                        parent_named=parent_named,
                    ),
                )
                signed = credentials.sign_png(
                    png,
                    # Never the portrait's title: it defaults to the prompt, and every
                    # remix's file carries this manifest, whatever becomes private later.
                    title=credentials.manifest_title(portrait.public_id),
                    author=portrait.author_name,
                    claim_generator=f"Likeness/{software_version()}",
                    portrait_url=_site_url(portrait.get_absolute_url()),
                    parent=parent_ingredient,
                    key_pem=key_pem,
                    cert_chain_pem=chain_pem,
                    tsa_url=settings.C2PA_TSA_URL,
                )
                thumb, thumb_width, thumb_height = imagefiles.make_thumbnail(image)
                portrait.image.save("original.png", ContentFile(signed), save=False)
                written.append(portrait.image.name)
                portrait.thumbnail.save("thumbnail.webp", ContentFile(thumb), save=False)
                written.append(portrait.thumbnail.name)
                portrait.thumbnail_width, portrait.thumbnail_height = thumb_width, thumb_height
                portrait.save()
                created.append(portrait)
    except BaseException:
        _delete_files(written)
        raise
    logger.info("Job %s: stored %d portrait(s)", job.pk, len(created))
    return created


def portrait_files_discard(*, portraits: Iterable[Portrait]) -> None:
    """Delete the stored files of portraits whose rows never committed.

    For a caller whose transaction around ``portrait_create_from_job`` rolled back
    (files are written before the rows, and storage is not transactional). A
    portrait whose row does exist keeps its files, so calling this after an error
    that struck once the commit was done is harmless.
    """
    portraits = [p for p in portraits if p.pk is not None]
    if not portraits:
        return
    committed = set(
        Portrait.objects.filter(pk__in=[p.pk for p in portraits]).values_list("pk", flat=True)
    )
    _delete_files(
        name
        for portrait in portraits
        if portrait.pk not in committed
        for name in (portrait.image.name, portrait.thumbnail.name)
    )


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:  # a file left behind is harmless; a failed request is not
            logger.exception("Could not delete %s from storage", name)


# --- Owner controls ---------------------------------------------------------------------


def _ensure_can_edit(portrait: Portrait, by) -> None:
    if portrait.is_deleted or not portrait_is_viewable(portrait=portrait, viewer=by):
        raise NotFound("No such portrait.")
    if not portrait_can_edit(portrait=portrait, viewer=by):
        raise DomainError(
            "Only its author can change this portrait.", status=403, code="permission_denied"
        )


def portrait_update(*, portrait: Portrait, by, data: Mapping[str, Any]) -> Portrait:
    """Change a portrait's title, description and/or visibility (its author or a moderator).

    Only the keys present in ``data`` change. The file stays as it was signed: its
    Content Credentials name the portrait by its id (``credentials.manifest_title``),
    not by a title, so a rename leaves nothing stale in it.
    """
    _ensure_can_edit(portrait, by)
    errors: dict[str, list[str]] = {}
    updates: dict[str, Any] = {}
    for name in sorted(set(data) - set(EDITABLE_FIELDS)):
        errors[name] = ["This field cannot be changed."]
    if "title" in data:
        try:
            title = text_clean(data["title"])
        except UnsafeText as exc:
            errors["title"] = [str(exc)]
        else:
            if not title:
                errors["title"] = ["A portrait needs a title."]
            elif len(title) > TITLE_MAX_LENGTH:
                errors["title"] = [f"At most {TITLE_MAX_LENGTH} characters."]
            updates["title"] = title
    if "description" in data:
        try:
            description = text_clean(data["description"], multiline=True)
        except UnsafeText as exc:
            errors["description"] = [str(exc)]
        else:
            if len(description) > DESCRIPTION_MAX_LENGTH:
                errors["description"] = [f"At most {DESCRIPTION_MAX_LENGTH} characters."]
            updates["description"] = description
    if "visibility" in data:
        if data["visibility"] not in V.values:
            errors["visibility"] = [f"Choose one of: {', '.join(V.values)}."]
        updates["visibility"] = data["visibility"]
    if errors:
        raise DomainError("Please correct the errors below.", field_errors=errors)
    if not updates:
        return portrait
    for name, value in updates.items():
        setattr(portrait, name, value)
    portrait.save(update_fields=[*updates, "updated_at"])
    return portrait


def portrait_delete(*, portrait: Portrait, by) -> bool:
    """Delete a portrait (its author or a moderator). Returns True if a tombstone remains.

    With descendants (a remix, even private or deleted, or a remix job still queued or
    running) the row stays as a tombstone: ``deleted_at`` set, files removed, hidden
    from everything but lineage, where its author's credit and its changes remain.
    Without, the row goes too, and so does any tombstone above it left with nothing
    to hold together. Files are deleted after commit, so a rollback keeps them.
    """
    _ensure_can_edit(portrait, by)
    with transaction.atomic():
        locked = Portrait.objects.select_for_update().get(pk=portrait.pk)
        if locked.is_deleted:
            raise NotFound("No such portrait.")
        files = [locked.image.name, locked.thumbnail.name]
        if portrait_has_descendants(portrait=locked):
            locked.deleted_at = timezone.now()
            locked.image = ""
            locked.thumbnail = ""
            locked.save(update_fields=["deleted_at", "image", "thumbnail", "updated_at"])
            tombstone = True
        else:
            parent_id = locked.parent_id
            locked.delete()
            _prune_tombstones(parent_id)
            tombstone = False
        transaction.on_commit(lambda: _delete_files(files))
    portrait.deleted_at = timezone.now()
    return tombstone


def _prune_tombstones(portrait_id: int | None) -> None:
    """Remove tombstones that no longer hold a chain together, walking up."""
    while portrait_id is not None:
        row = Portrait.objects.select_for_update().filter(pk=portrait_id).first()
        if row is None or not row.is_deleted or portrait_has_descendants(portrait=row):
            return
        portrait_id = row.parent_id
        row.delete()


# --- Remix and reproduce --------------------------------------------------------------


def remix_spec(portrait: Portrait, *, withhold: Iterable[str] = ()) -> dict[str, Any]:
    """The job fields a remix of ``portrait`` starts from (the create form's prefill too).

    The scheduler is the one its author asked for (empty: the model's default), not
    the one that ran, which a portrait's recipe records separately. ``withhold``: the
    prompts the remixer may not read (``portraits.selectors.portrait_withheld``), which
    they do not inherit: they read ``""`` (none).
    """
    recipe = portrait.recipe
    spec = {key: recipe.get(key) for key in REMIX_INHERITED}
    spec["scheduler"] = recipe.get("requested_scheduler", recipe.get("scheduler")) or ""
    for name in withhold:
        spec[name] = ""
    return spec


def portrait_remix(*, portrait: Portrait, user, changes: Mapping[str, Any]) -> GenerationJob:
    """Submit a job that remixes ``portrait``: its recipe, with ``changes`` applied.

    ``changes`` takes any job field (prompt, seed, steps, ..., ``init_strength`` for
    image-to-image from the portrait's original); what it leaves out is inherited,
    ``num_images`` defaults to 1. The parent is always ``portrait``, which the caller
    got from ``portrait_get_viewable(viewer=user, ...)``: checked again here, so no
    path can attach a remix to something its author could not see. ``parent`` is not
    a field ``changes`` may carry (``job_submit`` rejects unknown fields).

    A prompt ``user`` may not read (kept by ``portrait`` from a step hidden from them,
    see ``portraits.recipe``) is never inherited: without a ``prompt`` of their own the
    remix is refused (a field error, nothing submitted); a withheld negative prompt is
    left out (none) unless they give one.
    """
    from generation.services import job_submit

    if not portrait_is_viewable(portrait=portrait, viewer=user):
        raise NotFound("No such portrait.")
    withheld = portrait_withheld(portrait=portrait, viewer=user)
    if "prompt" in withheld and "prompt" not in changes:
        raise DomainError(
            "Please correct the errors below.",
            field_errors={
                "prompt": [
                    "This portrait's prompt was kept from a portrait that is no longer "
                    "available: write your own."
                ]
            },
        )
    spec = {**remix_spec(portrait, withhold=withheld), "num_images": 1, **changes}
    return job_submit(user=user, spec=spec, parent=portrait)


def portrait_reproduce(*, portrait: Portrait, user) -> GenerationJob:
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
    from generation.services import job_submit

    _ensure_can_edit(portrait, user)
    recipe = portrait.recipe
    spec = {**remix_spec(portrait), "num_images": 1}
    parent = portrait.parent
    if portrait.is_img2img:
        if parent is None or not portrait_is_viewable(portrait=parent, viewer=user):
            raise Conflict(
                "The portrait this one was painted from is no longer available, "
                "so it cannot be repainted."
            )
        spec["init_strength"] = recipe["init_strength"]
    try:
        with transaction.atomic():
            job = job_submit(user=user, spec=spec, parent=parent)
            drift = _recipe_drift(recipe, job.recipe)
            if drift:
                raise Conflict(_not_reproducible(drift))
    except Conflict:
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


def _recipe_drift(recipe: Mapping[str, Any], again: Mapping[str, Any]) -> list[str]:
    """What would paint differently if ``again`` (a new job's recipe) ran instead of
    ``recipe`` (a portrait's), in words that reveal no server path."""
    model = recipe.get("model_name") or recipe.get("model")
    drift: list[str] = []
    styled = (recipe.get("styled_prompt"), recipe.get("styled_negative_prompt"))
    if styled != (again.get("styled_prompt"), again.get("styled_negative_prompt")):
        style = recipe.get("style_name") or recipe.get("style")
        drift.append(
            f"the style “{style}” now writes a different prompt"
            if style
            else "the prompt the model receives is different"
        )
    if again.get("model_source") != recipe.get("model_source"):
        drift.append(f"the model “{model}” now loads from a different source")
    requested_revision = recipe.get("requested_model_revision", recipe.get("model_revision"))
    if (again.get("model_revision") or "") != (requested_revision or ""):
        drift.append(
            f"the model “{model}” now asks for revision "
            f"{_revision_label(again.get('model_revision'))} "
            f"(it was {_revision_label(requested_revision)})"
        )
    if again.get("model_family") != recipe.get("model_family"):
        drift.append(f"the model “{model}” is now loaded as another family of pipeline")
    requested_scheduler = recipe.get("requested_scheduler", recipe.get("scheduler")) or ""
    if (again.get("scheduler") or "") != requested_scheduler:
        drift.append(
            f"the scheduler would now be {again.get('scheduler') or 'the model default'} "
            f"(it was {requested_scheduler or 'the model default'})"
        )
    return drift


def _revision_label(revision: Any) -> str:
    return f"“{revision}”" if revision else "none in particular"


def _not_reproducible(reasons: Iterable[str]) -> str:
    return (
        "This portrait cannot be reproduced exactly: "
        + "; ".join(reasons)
        + ". Remix it instead to paint it with what is there now."
    )
