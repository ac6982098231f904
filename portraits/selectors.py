"""Who may see which portrait: the one place that decides, for every surface.

Pages, API, gallery feeds, lineage, WebSockets and media files all read
portraits through these functions. Two notions:

* *viewable* — may be opened by its id: public and unlisted portraits, one's
  own, and everything for moderators;
* *listed* — may appear in lists others browse: public only (unlisted means
  "anyone with the link", never in a list).

Deleted portraits are never viewable; they survive only as tombstones in lineage.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.permissions import is_moderator
from config.errors import DomainError, NotFound
from generation.models import GenerationJob
from portraits.lineage import (
    Credit,
    LineageStep,
    ParentRef,
    build_credits,
    build_parent,
    build_steps,
)
from portraits.models import PUBLIC_ID_PATTERN, Portrait
from portraits.recipe import provenance_for_viewer, recipe_for_viewer

V = Portrait.Visibility


def _viewable_q(viewer) -> Q:
    if is_moderator(viewer):
        return Q()
    shared = Q(visibility__in=[V.PUBLIC, V.UNLISTED])
    if viewer is not None and viewer.is_authenticated:
        return shared | Q(author=viewer)
    return shared


def portrait_queryset_viewable(*, viewer) -> QuerySet[Portrait]:
    return Portrait.objects.filter(_viewable_q(viewer), deleted_at__isnull=True).select_related(
        "author", "parent", "parent__author", "job"
    )


def portrait_is_viewable(*, portrait: Portrait, viewer) -> bool:
    if portrait.is_deleted:
        return False
    if portrait.visibility in (V.PUBLIC, V.UNLISTED) or is_moderator(viewer):
        return True
    return viewer is not None and viewer.is_authenticated and portrait.author_id == viewer.pk


def portrait_get_viewable(*, viewer, public_id: str) -> Portrait:
    """The portrait, or NotFound — never revealing that a private one exists."""
    # An id from a query string (?remix=) may be anything: only a well-formed one is queried.
    if not isinstance(public_id, str) or not re.fullmatch(PUBLIC_ID_PATTERN, public_id):
        raise NotFound("No such portrait.")
    portrait = portrait_queryset_viewable(viewer=viewer).filter(public_id=public_id).first()
    if portrait is None:
        raise NotFound("No such portrait.")
    return portrait


def portrait_list_public() -> QuerySet[Portrait]:
    return Portrait.objects.filter(visibility=V.PUBLIC, deleted_at__isnull=True).select_related(
        "author"
    )


def portrait_list_owned(*, user, visibility: str | None = None) -> QuerySet[Portrait]:
    qs = Portrait.objects.filter(author=user, deleted_at__isnull=True).select_related(
        "author", "parent"
    )
    if visibility:
        qs = qs.filter(visibility=visibility)
    return qs


def portrait_list_listed_for(*, viewer) -> QuerySet[Portrait]:
    """Public portraits plus the viewer's own (e.g. the remixes of a portrait)."""
    q = Q(visibility=V.PUBLIC)
    if is_moderator(viewer):
        q = Q()
    elif viewer is not None and viewer.is_authenticated:
        q |= Q(author=viewer)
    return Portrait.objects.filter(q, deleted_at__isnull=True).select_related("author")


def portrait_get_editable(*, viewer, public_id: str) -> Portrait:
    """The portrait, if ``viewer`` may change it (its owner, or a moderator).

    Someone who cannot see it gets NotFound (404: whether it exists stays secret);
    someone who can see it but does not own it gets a 403. Both before anything
    is changed.
    """
    portrait = portrait_get_viewable(viewer=viewer, public_id=public_id)
    if not portrait_can_edit(portrait=portrait, viewer=viewer):
        raise DomainError(
            "Only its author can change this portrait.", status=403, code="permission_denied"
        )
    return portrait


def portrait_can_edit(*, portrait: Portrait, viewer) -> bool:
    if viewer is None or not viewer.is_authenticated:
        return False
    return portrait.author_id == viewer.pk or is_moderator(viewer)


def portrait_list_for_job(*, job, viewer) -> QuerySet[Portrait]:
    """The portraits a job painted, in the order of its images, that ``viewer`` may see."""
    return portrait_queryset_viewable(viewer=viewer).filter(job=job).order_by("index_in_job")


def portrait_chain(*, portrait: Portrait) -> list[Portrait]:
    """``portrait``'s ancestors from the original, then itself: one query at any depth.

    Reads the stored ``ancestry`` path, so tombstones and private steps are included;
    what a viewer may see of each is decided by :func:`portrait_lineage`.
    """
    ids = portrait.ancestor_ids
    ancestors = (
        sorted(
            Portrait.objects.filter(id__in=ids).select_related("author"),
            key=lambda row: row.depth,
        )
        if ids
        else []
    )
    return [*ancestors, portrait]


def portrait_lineage(
    *, portrait: Portrait, viewer, chain: list[Portrait] | None = None
) -> list[LineageStep]:
    """The chain from the original to ``portrait`` as ``viewer`` may see it.

    A step the viewer cannot open (private to someone else, or deleted) is listed as
    "no longer available": author, role and the names of what changed, nothing else
    (see ``portraits.lineage.changes_for_viewer`` for why diffs next to it are hidden).
    Pass ``chain`` (from :func:`portrait_chain`) to reuse rows already read.
    """
    chain = chain if chain is not None else portrait_chain(portrait=portrait)
    visible = [portrait_is_viewable(portrait=step, viewer=viewer) for step in chain]
    return build_steps(chain, visible=visible, current_id=portrait.pk)


def portrait_parent_for(*, parent: Portrait | None, viewer) -> ParentRef:
    """A remix's ``parent`` (a portrait's, or a job's) as ``viewer`` may see it.

    The only way any surface shows a parent: a private parent of someone else or a
    tombstone reads as "no longer available", with its author's credit and nothing else
    (``portraits.lineage.ParentRef``). ``parent`` None: a job's parent whose row is gone.
    """
    visible = parent is not None and portrait_is_viewable(portrait=parent, viewer=viewer)
    return build_parent(parent, visible=visible)


def portrait_recipe_for(*, portrait: Portrait, viewer) -> dict[str, Any]:
    """``portrait``'s recipe as ``viewer`` may read it: without server-side keys, and
    naming the parent only if ``viewer`` may open it (``portraits.recipe``)."""
    parent_visible = portrait.parent is not None and portrait_is_viewable(
        portrait=portrait.parent, viewer=viewer
    )
    return recipe_for_viewer(portrait.recipe, parent_visible=parent_visible)


def portrait_credits(*, portrait: Portrait, chain: list[Portrait] | None = None) -> list[Credit]:
    """Everyone who shaped ``portrait``, original author first. The same for every viewer:
    a credit is never withdrawn because a step became private or was deleted."""
    chain = chain if chain is not None else portrait_chain(portrait=portrait)
    return build_credits(chain)


def portrait_remixes(*, portrait: Portrait, viewer) -> QuerySet[Portrait]:
    """The direct remixes of ``portrait`` that may be listed to ``viewer``."""
    return portrait_list_listed_for(viewer=viewer).filter(parent=portrait)


def portrait_has_descendants(*, portrait: Portrait) -> bool:
    """Whether anything (a remix, even private or deleted, or a remix job still to run)
    builds on ``portrait``: then deleting it must leave a tombstone."""
    if Portrait.objects.filter(parent=portrait).exists():
        return True
    return portrait.remix_jobs.filter(status__in=GenerationJob.ACTIVE_STATUSES).exists()


# --- Files and their Content Credentials ------------------------------------------------


def portrait_original_bytes(*, portrait: Portrait, missing_ok: bool = False) -> bytes | None:
    """The stored original PNG, exactly as signed.

    A tombstone has no file: NotFound, or None with ``missing_ok``. The caller has
    checked that whoever gets these bytes may see the portrait.
    """
    if portrait.is_deleted or not portrait.image:
        if missing_ok:
            return None
        raise NotFound("This portrait's file is no longer available.")
    with portrait.image.open("rb") as handle:
        return handle.read()


def credentials_report(data: bytes) -> dict[str, Any]:
    """What a file says about itself: its C2PA manifest, verified (against the built-in
    trust list and this site's own CA, see ``portraits.signing``), and, for a PNG, its
    ``parameters`` and provenance chunks."""
    from portraits import credentials, imagefiles
    from portraits.signing import site_trust_anchor

    report = credentials.read_manifest(data, trust_anchors_pem=site_trust_anchor())
    try:
        embedded = imagefiles.read_png_metadata(data)
    except (ValueError, OSError):  # not a PNG, or no image at all: no text chunks
        embedded = {"parameters": None, "provenance": None}
    report["png_parameters"] = embedded["parameters"]
    report["png_provenance"] = embedded["provenance"]
    return report


def portrait_credentials(*, portrait: Portrait, viewer) -> dict[str, Any]:
    """The portrait's own file read back: its verified manifest, and whether that
    manifest names this portrait's page (``matches_portrait``), as ``viewer`` may read it.

    The file was signed when its parent was visible to its author and names its
    ancestors by id; an ancestor ``viewer`` may not open now (private, or a tombstone)
    is left out of the report wherever the file names it (``None`` in its place, see
    ``portraits.recipe.provenance_for_viewer``). Validity is checked on the whole file.
    """
    report = credentials_report(portrait_original_bytes(portrait=portrait))
    report["matches_portrait"] = report.get("url") == (
        f"{settings.SITE_URL}{portrait.get_absolute_url()}"
    )
    hidden = {
        step.public_id
        for step in portrait_chain(portrait=portrait)[:-1]
        if not portrait_is_viewable(portrait=step, viewer=viewer)
    }
    return provenance_for_viewer(report, hidden_ids=hidden)
