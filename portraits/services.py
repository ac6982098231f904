"""Writes for portraits: creating them from a finished job, editing, deleting.

Every surface (pages, API, admin, the worker) calls these functions; nothing else
writes a Portrait. Files are written to Django storage (local folder or S3) under
names no public URL serves: ``portraits.views`` streams them after the visibility
check.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from PIL import Image

from config.errors import DomainError, NotFound, PermissionDenied
from config.gates import TextRefused, text_gate_check
from config.pagecache import public_pages_invalidate
from config.text import UnsafeText, text_clean
from portraits import community, credentials, imagefiles
from portraits.lineage import compute_changes
from portraits.models import DESCRIPTION_MAX_LENGTH, TITLE_MAX_LENGTH, Portrait, new_public_id
from portraits.recipe import a1111_infotext, public_recipe, title_from_prompt
from portraits.selectors import (
    portrait_can_edit,
    portrait_chain,
    portrait_has_descendants,
    portrait_is_viewable,
    portrait_original_bytes,
)
from portraits.signals import portrait_deleting, portrait_held_for_review
from portraits.signing import signing_credentials

logger = logging.getLogger(__name__)

V = Portrait.Visibility

EDITABLE_FIELDS = ("title", "description", "visibility", "rating", "tags")
PROVENANCE_SCHEMA = "likeness.provenance.v1"  # bump when the shape changes


@functools.cache
def software_version() -> str:
    """Likeness's installed version (read once: importlib.metadata parses the package's
    metadata file on every call, 1.7 ms, three times a portrait)."""
    try:
        return metadata.version("likeness")
    except metadata.PackageNotFoundError:  # a checkout that was never pip-installed
        return "dev"


# --- Creation ------------------------------------------------------------------------


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
        "recipe": public_recipe(recipe, parent_named=parent_named),
        "generator": {
            "name": "Likeness",
            "version": software_version(),
            "diffusers": recipe.get("diffusers_version"),
            "torch": recipe.get("torch_version"),
            "device": recipe.get("device"),
            "dtype": recipe.get("dtype"),
        },
    }


def portrait_create_from_job(
    *,
    author,
    job_id,
    parent: Portrait | None,
    recipes: Sequence[Mapping[str, Any]],
    images: Sequence[Image.Image],
    held_for_review: bool = False,
    reproduces: Portrait | None = None,
) -> list[Portrait]:
    """Store every image of a finished job as a private Portrait, in image order.

    ``job_id`` is the job's primary key; ``author`` and ``parent`` (the remixed portrait,
    or None) are the job's; ``recipes`` holds each image's full recipe
    (``portraits.recipe.portrait_recipes``), one per image of ``images``. The caller is
    generation's ``job_succeed``: portraits knows nothing of jobs but their id.

    ``held_for_review``: the prompt gate let the job's text through for a moderator's
    review (``GenerationJob.held_for_review``): the portraits are created held (they
    cannot be made public or unlisted until cleared) and ``portrait_held_for_review`` is
    sent in this transaction, so the moderators' queue gets them with the rows.

    ``reproduces``: the portrait a reproduction job painted again (the job's
    ``reproduces``). Each portrait records it, and whether its pixels match that
    portrait's (``pixels_match``, comparing ``pixels_sha256``: the files themselves
    always differ, in their signed metadata). Every portrait stores its own pixels' hash.

    Each portrait gets its recipe, its place in the remix chain (parent, root, depth, ancestry, changes vs the parent), a WebP
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
    existing = list(Portrait.objects.filter(job_id=job_id).order_by("index_in_job"))
    if existing:
        return existing
    if len(images) != len(recipes) or not images:
        raise ValueError("a finished job needs one recipe per image, and an image")

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
            for index, (image, recipe) in enumerate(zip(images, recipes, strict=True)):
                portrait = Portrait(
                    public_id=new_public_id(),
                    author=author,
                    author_name=author.public_name,
                    job_id=job_id,
                    index_in_job=index,
                    title=title_from_prompt(recipe.get("prompt", "")),
                    width=image.width,
                    height=image.height,
                    recipe=recipe,
                    style=recipe.get("style") or "",
                    model=recipe.get("model") or "",
                    held_for_review=held_for_review,
                )
                if parent is not None:
                    portrait.parent = parent
                    portrait.root_id = parent.root_id or parent.pk
                    portrait.depth = parent.depth + 1
                    portrait.ancestry = parent.descendant_prefix
                    portrait.changes = compute_changes(parent.recipe, recipe)
                    # A remix of a mature portrait starts mature; its owner may rate it.
                    if parent.rating == Portrait.Rating.MATURE:
                        portrait.rating = Portrait.Rating.MATURE
                png = imagefiles.encode_png(
                    image,
                    parameters=a1111_infotext(recipe, version=software_version()),
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
                portrait.pixels_sha256 = imagefiles.pixels_sha256(signed)
                if reproduces is not None:
                    portrait.reproduces = reproduces
                    original = _pixels_sha256_of(reproduces)
                    portrait.pixels_match = (
                        None if original is None else original == portrait.pixels_sha256
                    )
                thumb, thumb_width, thumb_height = imagefiles.make_thumbnail(image)
                portrait.image.save("original.png", ContentFile(signed), save=False)
                written.append(portrait.image.name)
                portrait.thumbnail.save("thumbnail.webp", ContentFile(thumb), save=False)
                written.append(portrait.thumbnail.name)
                portrait.thumbnail_width, portrait.thumbnail_height = thumb_width, thumb_height
                portrait.save()
                created.append(portrait)
                if parent is not None:
                    community.portrait_activity_record(
                        portrait_id=parent.pk, kind="remix", at=portrait.created_at, delta=1
                    )
            community.search_documents_write_new(portraits=created)
            if held_for_review:
                portrait_held_for_review.send(sender=Portrait, portraits=created)
    except BaseException:
        _delete_files(written)
        raise
    logger.info("Job %s: stored %d portrait(s)", job_id, len(created))
    return created


def _pixels_sha256_of(portrait: Portrait) -> str | None:
    """``portrait``'s pixels hash; read from its file (and kept) for one stored before
    hashes were; None once its file is gone (a tombstone)."""
    if not portrait.pixels_sha256:
        data = portrait_original_bytes(portrait=portrait, missing_ok=True)
        if data is None:
            return None
        portrait.pixels_sha256 = imagefiles.pixels_sha256(data)
        Portrait.objects.filter(pk=portrait.pk).update(pixels_sha256=portrait.pixels_sha256)
    return portrait.pixels_sha256


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
        raise PermissionDenied("Only its author can change this portrait.")


def rating_refusal(*, portrait: Portrait, rating: Any) -> str | None:
    """Why its owner may not give ``portrait`` the rating ``rating``, or None. Not one of
    ``Portrait.Rating``; or another than the one moderators set (``rating_locked``, by
    ``moderation.services.portrait_rate``): only they may change it then."""
    if rating not in Portrait.Rating.values:
        return f"Choose one of: {', '.join(Portrait.Rating.values)}."
    if portrait.rating_locked and rating != portrait.rating:
        label = Portrait.Rating(portrait.rating).label.lower()
        return (
            f"Moderators rated this portrait {label}: only they can change its rating, "
            "so it stays as it is."
        )
    return None


def portrait_update(*, portrait: Portrait, by, data: Mapping[str, Any]) -> Portrait:
    """Change a portrait's title, description, visibility, rating and/or tags (its author
    or a moderator).

    Only the keys present in ``data`` change, all or nothing: one refused value (a tag of
    punctuation only, more than ``TAGS_MAX_PER_PORTRAIT`` tags) changes none of them.
    ``tags`` is a form's comma- or space-separated text or an API's list
    (``community.tags_parse``); it replaces the portrait's tags. ``rating`` (general or
    mature) is refused while moderators hold it (``rating_locked``: :func:`rating_refusal`);
    a change of it, as of visibility, changes who may see it everywhere at once (cached
    public pages dropped, search documents of what kept its words rewritten). The file stays as it was signed: its
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
    if "visibility" in data and data["visibility"] not in V.values:
        errors["visibility"] = [f"Choose one of: {', '.join(V.values)}."]
    elif "visibility" in data and community.held_refusal(
        portrait=portrait, visibility=data["visibility"]
    ):
        errors["visibility"] = [
            community.held_refusal(portrait=portrait, visibility=data["visibility"])
        ]
    if "rating" in data:
        message = rating_refusal(portrait=portrait, rating=data["rating"])
        if message:
            errors["rating"] = [message]
        else:
            updates["rating"] = data["rating"]
    tags = None
    if "tags" in data:
        try:
            tags = community.tags_parse(data["tags"])
        except DomainError as exc:
            errors.update(exc.field_errors)
        else:
            if set(tags) == set(portrait.tags.values_list("slug", flat=True)):
                tags = None  # the same tags: nothing to write
    review = False
    try:
        review = text_gate_check(_gated_text(portrait, updates, tags), user=by)
    except TextRefused as refused:
        if not errors:
            raise
        # Refused as well as invalid: every field's errors at once, the refusal's too.
        errors = _merged(errors, refused.field_errors)
    if errors:
        raise DomainError("Please correct the errors below.", field_errors=errors)
    if review:
        # Let through for a moderator's review: held, and private until they clear it
        # (a held portrait cannot be public or unlisted: community.visibility_apply).
        updates["held_for_review"] = True
        data = {**data, "visibility": V.PRIVATE}
    fields = [name for name, value in updates.items() if getattr(portrait, name) != value]
    previous = {name: getattr(portrait, name) for name in fields}
    for name in fields:
        setattr(portrait, name, updates[name])
    if not fields and tags is None and "visibility" not in data:
        return portrait
    with transaction.atomic():
        if "rating" in fields:
            # A moderator's override may have landed since ``portrait`` was read: decided
            # under the row lock, as the moderation service writes it.
            current = (
                Portrait.objects.select_for_update()
                .filter(pk=portrait.pk)
                .values_list("rating", "rating_locked")
                .get()
            )
            if current[1] and current[0] != portrait.rating:
                for name, value in previous.items():  # as it was: nothing changed
                    setattr(portrait, name, value)
                portrait.rating, portrait.rating_locked = current
                message = rating_refusal(portrait=portrait, rating=updates["rating"])
                raise DomainError(
                    "Please correct the errors below.", field_errors={"rating": [message]}
                )
        if "visibility" in data:  # in the transaction: a first publication locks the row
            fields += community.visibility_apply(portrait=portrait, visibility=data["visibility"])
            if not fields and tags is None:
                return portrait
        if tags is not None:  # refreshes the portrait's search document too
            community.portrait_tags_set(portrait=portrait, slugs=tags)
        if not fields:
            portrait.save(update_fields=["updated_at"])
        else:
            portrait.save(update_fields=[*dict.fromkeys(fields), "updated_at"])
            if "visibility" in fields or "rating" in fields:
                community.portrait_visibility_saved(portrait=portrait)
            elif "title" in fields:
                community.search_documents_refresh(portrait_ids=[portrait.pk])
        if review:  # the moderators' queue hears of it (moderation opens a review case)
            portrait_held_for_review.send(sender=Portrait, portraits=[portrait])
    return portrait


def _gated_text(portrait: Portrait, updates: Mapping[str, Any], tags) -> dict[str, str]:
    """What of an edit the prompt gate reads: only what is new. A title, description or
    tag the portrait already had was read when it came (or cleared by a moderator since):
    an edit of something else must not refuse or hold it again."""
    texts = {
        name: updates[name]
        for name in ("title", "description")
        if name in updates and updates[name] != getattr(portrait, name)
    }
    if tags:
        had = set(portrait.tags.values_list("slug", flat=True))
        texts["tags"] = " ".join(slug for slug in tags if slug not in had)
    return texts


def _merged(errors: Mapping[str, list[str]], more: Mapping[str, list[str]]) -> dict:
    merged = {name: list(messages) for name, messages in errors.items()}
    for name, messages in more.items():
        merged.setdefault(name, []).extend(messages)
    return merged


def portrait_publish(*, portrait: Portrait, by) -> Portrait:
    """Make ``portrait`` public (its author or a moderator): it enters the gallery, and
    the first time, its ``published_at`` is recorded and its author's followers hear of
    it (``community.visibility_apply``). Publishing a public portrait changes nothing."""
    return portrait_update(portrait=portrait, by=by, data={"visibility": V.PUBLIC})


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
        portrait_deleting.send(sender=Portrait, portrait=locked, by=by)
        files = [locked.image.name, locked.thumbnail.name]
        if locked.parent_id is not None:
            # A remix no longer counts among its parent's, nor in its trending score.
            community.portrait_activity_record(
                portrait_id=locked.parent_id, kind="remix", at=locked.created_at, delta=-1
            )
        if portrait_has_descendants(portrait=locked):
            locked.deleted_at = timezone.now()
            locked.image = ""
            locked.thumbnail = ""
            locked.save(update_fields=["deleted_at", "image", "thumbnail", "updated_at"])
            # Words its remixes kept from it are nobody's to search for now.
            community.portrait_visibility_saved(portrait=locked)
            tombstone = True
        else:
            parent_id = locked.parent_id
            locked.delete()
            _prune_tombstones(parent_id)
            transaction.on_commit(public_pages_invalidate)
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
