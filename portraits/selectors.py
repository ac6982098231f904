"""Who may see which portrait: the one place that decides, for every surface.

Pages, API, gallery feeds, lineage, WebSockets and media files all read
portraits through these functions. Two notions:

* *viewable* — may be opened by its id: public and unlisted portraits, one's
  own, and everything for moderators;
* *listed* — may appear in lists others browse: public only (unlisted means
  "anyone with the link", never in a list).

Deleted portraits are never viewable; they survive only as tombstones in lineage. A
portrait hidden by moderators (``hidden_at``) is viewable by its owner and moderators
only, and listed nowhere.

**Rating.** A portrait rated mature is viewable and listed, besides its owner and
moderators, only for members who opted in (``User.shows_mature``, with the age
confirmation ``mature_confirmed_at``: :func:`viewer_sees_mature`). For everyone else it
is as if it were not shared at all, on every surface: lists leave it out (no tile, no
count), lineage and trees show its place as not available, and its page says only that
it is marked mature (:func:`portrait_get_rated_out`), without its picture or title.
Anonymous visitors never see one, so the public page cache stays right for everyone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.permissions import is_moderator
from config.errors import NotFound, PermissionDenied
from portraits import credentials
from portraits.lineage import (
    Credit,
    Family,
    LineageStep,
    ParentRef,
    build_credits,
    build_family,
    build_parent,
    build_steps,
    changes_for_viewer,
)
from portraits.models import LISTED, PUBLIC_ID_PATTERN, Portrait
from portraits.recipe import (
    WITHHOLDABLE,
    parameters_for_viewer,
    provenance_for_viewer,
    recipe_for_viewer,
    title_for_viewer,
)

V = Portrait.Visibility
R = Portrait.Rating
SEARCH_COLUMNS = ("search_text", "search_vector")


def _member(viewer) -> bool:
    return viewer is not None and viewer.is_authenticated


def viewer_sees_mature(viewer) -> bool:
    """Whether ``viewer`` opted in to mature portraits, having confirmed they are 18 or
    older (``accounts.services.user_mature_set``). Anonymous visitors never do."""
    return (
        _member(viewer)
        and bool(getattr(viewer, "shows_mature", False))
        and getattr(viewer, "mature_confirmed_at", None) is not None
    )


def portrait_rating_q(*, viewer, prefix: str = "") -> Q:
    """The rows whose rating ``viewer`` may see: every rating for moderators and members
    who opted in; otherwise general ones, and their own. ``prefix``: the path to the
    portrait from the model queried (``"portrait__"`` for a notification).

    For anonymous visitors it is ``rating = 'general'`` alone: the gallery's partial
    indexes carry ``rating`` (``INCLUDE``), so their lists stay index-only scans.
    """
    if is_moderator(viewer) or viewer_sees_mature(viewer):
        return Q()
    general = Q(**{f"{prefix}rating": R.GENERAL})
    if _member(viewer):
        return general | Q(**{f"{prefix}author": viewer})
    return general


def _viewable_q(viewer) -> Q:
    if is_moderator(viewer):
        return Q()
    shared = Q(visibility__in=[V.PUBLIC, V.UNLISTED], hidden_at__isnull=True)
    if not viewer_sees_mature(viewer):
        shared &= Q(rating=R.GENERAL)
    if _member(viewer):
        return shared | Q(author=viewer)
    return shared


def portrait_queryset_viewable(*, viewer) -> QuerySet[Portrait]:
    return Portrait.objects.filter(_viewable_q(viewer), deleted_at__isnull=True).select_related(
        "author", "parent", "parent__author", "job"
    )


def portrait_is_shared(*, portrait: Portrait) -> bool:
    """Whether anyone with the link may open ``portrait``, whatever its rating: public or
    unlisted, not hidden, not deleted (what a like, public activity, may be left on)."""
    return (
        not portrait.is_deleted
        and portrait.visibility in (V.PUBLIC, V.UNLISTED)
        and portrait.hidden_at is None
    )


def portrait_is_viewable(*, portrait: Portrait, viewer) -> bool:
    if portrait.is_deleted:
        return False
    if is_moderator(viewer) or (_member(viewer) and portrait.author_id == viewer.pk):
        return True
    return portrait_is_shared(portrait=portrait) and (
        portrait.rating == R.GENERAL or viewer_sees_mature(viewer)
    )


def portrait_is_rated_out(*, portrait: Portrait, viewer) -> bool:
    """Whether ``viewer`` could open ``portrait`` but for its mature rating: they have not
    opted in (or are not signed in). Its page then says so, and shows nothing of it."""
    return (
        portrait_is_shared(portrait=portrait)
        and portrait.rating == R.MATURE
        and not portrait_is_viewable(portrait=portrait, viewer=viewer)
    )


def portrait_get_viewable(*, viewer, public_id: str) -> Portrait:
    """The portrait, or NotFound — never revealing that a private one exists."""
    # An id from a query string (?remix=) may be anything: only a well-formed one is queried.
    if not isinstance(public_id, str) or not re.fullmatch(PUBLIC_ID_PATTERN, public_id):
        raise NotFound("No such portrait.")
    portrait = portrait_queryset_viewable(viewer=viewer).filter(public_id=public_id).first()
    if portrait is None:
        raise NotFound("No such portrait.")
    return portrait


def portrait_is_remixable(*, portrait: Portrait, viewer) -> bool:
    """Whether ``viewer`` may build on ``portrait`` (remix it, vary it): it is theirs, or
    shared with them as with any member — public or unlisted, not hidden, of a rating they
    see. Not deleted either way.

    Unlike :func:`portrait_is_viewable`, no moderator override: a moderator opens anything
    to review it, but a remix would carry a private portrait's recipe and picture into a
    portrait of the moderator's own.
    """
    if portrait.is_deleted or not _member(viewer):
        return False
    if portrait.author_id == viewer.pk:
        return True
    return portrait_is_shared(portrait=portrait) and (
        portrait.rating == R.GENERAL or viewer_sees_mature(viewer)
    )


def portrait_ensure_remixable(*, portrait: Portrait, viewer) -> None:
    """Refuse unless ``viewer`` may remix ``portrait`` (:func:`portrait_is_remixable`):
    NotFound when they may not even open it (whether it exists stays secret),
    PermissionDenied when they may open it only as a moderator."""
    if portrait_is_remixable(portrait=portrait, viewer=viewer):
        return
    if portrait_is_viewable(portrait=portrait, viewer=viewer):
        raise PermissionDenied("This portrait is not shared: only its author can remix it.")
    raise NotFound("No such portrait.")


def portrait_get_remixable(*, viewer, public_id: str) -> Portrait:
    """The portrait, if ``viewer`` may remix it (:func:`portrait_ensure_remixable` says
    how it refuses): the parent of the remix form, Vary and the API's remix."""
    portrait = portrait_get_viewable(viewer=viewer, public_id=public_id)
    portrait_ensure_remixable(portrait=portrait, viewer=viewer)
    return portrait


class RatedOut(PermissionDenied):
    """A mature portrait, for someone who has not opted in to see mature ones: it exists
    (its page says as much), but not for them as they are."""

    code = "mature_content"


def portrait_get_rated_out(*, viewer, public_id: str) -> Portrait | None:
    """The portrait ``viewer`` could open but for its mature rating
    (:func:`portrait_is_rated_out`), or None: for a page that says it is marked mature
    where :func:`portrait_get_viewable` found nothing. One query, for a well-formed id."""
    if viewer_sees_mature(viewer) or is_moderator(viewer):
        return None
    if not isinstance(public_id, str) or not re.fullmatch(PUBLIC_ID_PATTERN, public_id):
        return None
    portrait = (
        Portrait.objects.filter(
            public_id=public_id,
            visibility__in=[V.PUBLIC, V.UNLISTED],
            hidden_at__isnull=True,
            deleted_at__isnull=True,
            rating=R.MATURE,
        )
        .defer(*SEARCH_COLUMNS)
        .first()
    )
    if portrait is None or not portrait_is_rated_out(portrait=portrait, viewer=viewer):
        return None
    return portrait


def portrait_list_public(*, viewer) -> QuerySet[Portrait]:
    """Every portrait ``viewer`` may find in a list: public, not deleted, not hidden
    (``portraits.models.LISTED``, the condition the gallery's indexes are built on), and
    of a rating they may see (:func:`portrait_rating_q`)."""
    # What search reads stays in the database: lists never show it, and it is the
    # heaviest part of a row.
    return (
        Portrait.objects.filter(LISTED)
        .filter(portrait_rating_q(viewer=viewer))
        .select_related("author")
        .defer(*SEARCH_COLUMNS)
    )


def portrait_list_owned(*, user, visibility: str | None = None) -> QuerySet[Portrait]:
    qs = Portrait.objects.filter(author=user, deleted_at__isnull=True).select_related(
        "author", "parent"
    )
    if visibility:
        qs = qs.filter(visibility=visibility)
    return qs


def portrait_list_listed_for(*, viewer) -> QuerySet[Portrait]:
    """Public portraits of a rating ``viewer`` may see, plus the viewer's own (e.g. the
    remixes of a portrait)."""
    q = Q(visibility=V.PUBLIC, hidden_at__isnull=True)
    if not viewer_sees_mature(viewer):
        q &= Q(rating=R.GENERAL)
    if is_moderator(viewer):
        q = Q()
    elif _member(viewer):
        q |= Q(author=viewer)
    return Portrait.objects.filter(q, deleted_at__isnull=True).select_related("author")


def portrait_get_editable(*, viewer, public_id: str) -> Portrait:
    """The portrait, if ``viewer`` may change it (:func:`portrait_can_edit`).

    Someone who cannot see it gets NotFound (whether it exists stays secret);
    someone who can see it but does not own it gets PermissionDenied. Both before
    anything is changed.
    """
    portrait = portrait_get_viewable(viewer=viewer, public_id=public_id)
    if not portrait_can_edit(portrait=portrait, viewer=viewer):
        raise PermissionDenied("Only its author can change this portrait.")
    return portrait


def portrait_can_edit(*, portrait: Portrait, viewer) -> bool:
    """Its author changes a portrait, and administrators (superusers, who can change
    anything in the admin anyway, e.g. delete it there). Moderators act on other
    members' portraits through moderation's actions (hide, restore, rate), which cite a
    rule, tell the author and are kept in the audit trail (issue 10), never by editing."""
    if viewer is None or not viewer.is_authenticated or not viewer.is_active:
        return False
    return portrait.author_id == viewer.pk or viewer.is_superuser


def portrait_list_for_job(*, job, viewer) -> QuerySet[Portrait]:
    """The portraits a job painted, in the order of its images, that ``viewer`` may see."""
    return portrait_queryset_viewable(viewer=viewer).filter(job=job).order_by("index_in_job")


def portrait_queryset_for_jobs(*, viewer) -> QuerySet[Portrait]:
    """For prefetching the portraits of many jobs at once, in image order, as ``viewer``
    may see them (``portrait_list_for_job`` for one job)."""
    return portrait_queryset_viewable(viewer=viewer).order_by("index_in_job")


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
    A step that kept words from a hidden one shows neither them nor a title made from
    them, nor does the next step's diff (:func:`portrait_withheld`).
    Pass ``chain`` (from :func:`portrait_chain`) to reuse rows already read.
    """
    chain = chain if chain is not None else portrait_chain(portrait=portrait)
    visible = [portrait_is_viewable(portrait=step, viewer=viewer) for step in chain]
    withheld = [
        portrait_withheld(portrait=step, viewer=viewer, chain=chain) if is_visible else frozenset()
        for step, is_visible in zip(chain, visible, strict=True)
    ]
    return build_steps(chain, visible=visible, withheld=withheld, current_id=portrait.pk)


def portrait_parent_for(
    *, parent: Portrait | None, viewer, chain: Sequence[Portrait] | None = None
) -> ParentRef:
    """A remix's ``parent`` (a portrait's, or a job's) as ``viewer`` may see it.

    The only way any surface shows a parent: a private parent of someone else or a
    tombstone reads as "no longer available", with its author's credit and nothing else
    (``portraits.lineage.ParentRef``); a visible one by its title as ``viewer`` may read
    it (:func:`portrait_title_for`). ``parent`` None: a job's parent whose row is gone.
    ``chain``: rows already read that hold the parent's ancestors (a child's chain).
    """
    visible = parent is not None and portrait_is_viewable(portrait=parent, viewer=viewer)
    title = (
        portrait_title_for(portrait=parent, viewer=viewer, chain=chain)
        if parent is not None and visible
        else None
    )
    return build_parent(parent, visible=visible, title=title)


def portrait_recipe_for(
    *, portrait: Portrait, viewer, chain: Sequence[Portrait] | None = None
) -> dict[str, Any]:
    """``portrait``'s recipe as ``viewer`` may read it: without server-side keys, naming
    the parent only if ``viewer`` may open it, and without the words it kept from a step
    hidden from ``viewer`` (:func:`portrait_withheld`, ``portraits.recipe``)."""
    parent_visible = portrait.parent is not None and portrait_is_viewable(
        portrait=portrait.parent, viewer=viewer
    )
    return recipe_for_viewer(
        portrait.recipe,
        parent_visible=parent_visible,
        withhold=portrait_withheld(portrait=portrait, viewer=viewer, chain=chain),
    )


def portrait_changes_for(
    *, portrait: Portrait, viewer, chain: Sequence[Portrait] | None = None
) -> dict[str, Any]:
    """What ``portrait`` changed from its parent, as ``viewer`` may read it: the diffs only
    where the parent is visible, and no diff of words withheld from ``viewer`` in the
    parent (they would show as the words the remix replaced)."""
    parent = portrait.parent
    parent_visible = parent is None or portrait_is_viewable(portrait=parent, viewer=viewer)
    parent_withheld = (
        portrait_withheld(portrait=parent, viewer=viewer, chain=chain)
        if parent is not None and parent_visible
        else frozenset()
    )
    return changes_for_viewer(
        portrait.changes,
        step_visible=True,
        parent_visible=parent_visible,
        parent_withheld=parent_withheld,
    )


def portrait_title_for(
    *, portrait: Portrait, viewer, chain: Sequence[Portrait] | None = None
) -> str:
    """``portrait``'s title as ``viewer`` may read it, on every page, endpoint and list.

    A title its author never changed was made from the prompt; when that prompt is
    withheld from ``viewer`` (:func:`portrait_withheld`) it reads "Untitled remix". For a
    list, call :func:`portraits_withheld` on it first: then this runs no query.
    """
    withheld = portrait_withheld(portrait=portrait, viewer=viewer, chain=chain)
    return title_for_viewer(portrait.title, portrait.recipe, withhold=withheld)


# --- Words a remix kept from a step the viewer may not see ------------------------------

# Where portrait_withheld keeps its answer on a Portrait, per viewer (as a prefetch would:
# for the life of the instance, i.e. one request).
_WITHHELD_ATTR = "_withheld_for_viewer"


def _viewer_key(viewer) -> int | None:
    return viewer.pk if viewer is not None and viewer.is_authenticated else None


def _kept_words(portrait: Portrait, viewer) -> tuple[str, ...]:
    """Which of ``WITHHOLDABLE`` ``portrait`` kept unchanged from its parent and could be
    withheld from ``viewer``: none for an original, an empty text, the remix's own author
    (they submitted those words) or a moderator."""
    if portrait.parent_id is None:
        return ()
    if viewer is not None and viewer.is_authenticated and portrait.author_id == viewer.pk:
        return ()
    changes = portrait.changes or {}
    kept = tuple(
        name
        for name in WITHHOLDABLE
        if not changes.get(f"{name}_changed") and (portrait.recipe or {}).get(name)
    )
    if kept and is_moderator(viewer):
        return ()
    return kept


def _withheld_among(
    portrait: Portrait, viewer, kept: Iterable[str], rows: Mapping[int, Portrait]
) -> frozenset[str]:
    """Of ``kept``, the words whose writer ``viewer`` may not see. ``rows``: ``portrait``'s
    ancestors by id. The writer is the nearest ancestor that changed those words, or the
    original; a row that is not there counts as not visible."""
    return _writers_hidden(rows.get(portrait.parent_id), viewer, kept, rows)


def _writers_hidden(
    start: Portrait | None, viewer, kept: Iterable[str], rows: Mapping[int, Portrait]
) -> frozenset[str]:
    """Of ``kept`` (words taken unchanged from ``start``), those whose writer ``viewer``
    may not see: ``start`` itself if it changed them or is an original, else the nearest of
    its ancestors (in ``rows``) that did. A row that is not there counts as not visible."""
    withheld = set()
    for name in kept:
        step = start
        while (
            step is not None
            and step.parent_id is not None
            and not (step.changes or {}).get(f"{name}_changed")
        ):
            step = rows.get(step.parent_id)
        if step is None or not portrait_is_viewable(portrait=step, viewer=viewer):
            withheld.add(name)
    return frozenset(withheld)


def portrait_withheld(
    *, portrait: Portrait, viewer, chain: Sequence[Portrait] | None = None
) -> frozenset[str]:
    """Which of a remix's words ``viewer`` may not read: ``{"prompt", "negative_prompt"}``
    or fewer (``portraits.recipe`` says why).

    Words a remix kept unchanged (its ``changes`` say ``prompt_changed`` False; likewise
    for the negative prompt) were written by the nearest ancestor that changed them, or
    by the original. They are withheld from ``viewer`` when that step is hidden from
    them (private to someone else, or a tombstone) — on the remix, and on any remix of it
    that kept them too — except from the remix's own author and moderators.

    No query for an original, a remix that changed both prompts, its author or a
    moderator, or with ``chain`` (rows that hold ``portrait``'s ancestors, e.g. from
    :func:`portrait_chain`); otherwise one, for its ancestors. The answer is kept on the
    instance for this viewer, so a list decided by :func:`portraits_withheld` costs
    nothing more.
    """
    answers = portrait.__dict__.setdefault(_WITHHELD_ATTR, {})
    key = _viewer_key(viewer)
    if key not in answers:
        kept = _kept_words(portrait, viewer)
        if not kept:
            answers[key] = frozenset()
        else:
            rows = chain if chain is not None else portrait_chain(portrait=portrait)
            answers[key] = _withheld_among(portrait, viewer, kept, {row.pk: row for row in rows})
    return answers[key]


def portrait_remix_withheld(
    *, parent: Portrait | None, viewer, kept: Collection[str]
) -> frozenset[str]:
    """Of ``kept`` — words a remix of ``parent`` by ``viewer`` took unchanged from it —
    those ``viewer`` may not take up again: for a remix that painted nothing, hence has no
    portrait whose ``changes`` :func:`portrait_withheld` could read (a cancelled or failed
    remix job, whose recipe "Edit and resubmit" fills the form with).

    While ``viewer`` may open ``parent``, the words ``parent`` withholds from them. Once it
    is gone or hidden from them, each word whose writer (``parent``, or the nearest
    ancestor that changed it) they may not see: otherwise a form filled in from the job
    would hand its hidden writer's words back as the member's own, without the credit a
    remix keeps. ``parent`` None (its row is gone): all of ``kept``, as nothing says who
    wrote them.
    """
    kept = frozenset(kept)
    if not kept or parent is None:
        return kept
    if portrait_is_viewable(portrait=parent, viewer=viewer):
        return kept & portrait_withheld(portrait=parent, viewer=viewer)
    rows = {row.pk: row for row in portrait_chain(portrait=parent)}
    return _writers_hidden(parent, viewer, kept, rows)


def portraits_withheld(*, portraits: Iterable[Portrait], viewer) -> None:
    """:func:`portrait_withheld` for every portrait of a list, in at most one query (the
    ancestors of those that kept words), so that showing each one (its title, its
    recipe) runs none."""
    key = _viewer_key(viewer)
    pending = []
    for portrait in portraits:
        answers = portrait.__dict__.setdefault(_WITHHELD_ATTR, {})
        if key in answers:
            continue
        kept = _kept_words(portrait, viewer)
        if kept:
            pending.append((portrait, kept, answers))
        else:
            answers[key] = frozenset()
    if not pending:
        return
    ids = {pk for portrait, _, _ in pending for pk in portrait.ancestor_ids}
    rows = {
        row.pk: row
        for row in Portrait.objects.filter(pk__in=ids).only(
            "id", "parent", "author", "visibility", "deleted_at", "hidden_at", "rating", "changes"
        )
    }
    for portrait, kept, answers in pending:
        answers[key] = _withheld_among(portrait, viewer, kept, rows)


def portrait_credits(*, portrait: Portrait, chain: list[Portrait] | None = None) -> list[Credit]:
    """Everyone who shaped ``portrait``, original author first. The same for every viewer:
    a credit is never withdrawn because a step became private or was deleted."""
    chain = chain if chain is not None else portrait_chain(portrait=portrait)
    return build_credits(chain)


def portrait_remixes(*, portrait: Portrait, viewer) -> QuerySet[Portrait]:
    """The direct remixes of ``portrait`` that may be listed to ``viewer``."""
    return portrait_list_listed_for(viewer=viewer).filter(parent=portrait)


# --- The family of an idea: a remix tree ----------------------------------------------


def portrait_family_size(*, portrait: Portrait) -> int:
    """How many portraits ``portrait``'s remix tree holds, its original included, whatever
    their visibility (each keeps its place in the tree): one query, on the tree index."""
    return 1 + Portrait.objects.filter(root_id=portrait.family_root_id).count()


def _family_withheld(rows: Sequence[Portrait], viewer) -> list[frozenset[str]]:
    """:func:`portrait_withheld` for every member of a tree, with no query and in one pass.

    ``rows``: the original, then descendants shallowest first (each parent before its
    children). The same rule as :func:`_withheld_among`, whose walk up to the writer of
    the words would cost a tree's depth per member: here each member's writer (the
    nearest ancestor that changed the words, or the original) is its parent's, or the
    parent itself, decided once per member. A parent not among ``rows`` counts as not
    visible, as there.
    """
    by_id = {row.pk: row for row in rows}
    writers: dict[int, dict[str, Portrait | None]] = {}
    answers = []
    for row in rows:
        parent = by_id.get(row.parent_id) if row.parent_id is not None else None
        writers[row.pk] = {
            name: (
                parent
                if parent is None
                or parent.parent_id is None
                or (parent.changes or {}).get(f"{name}_changed")
                else writers[parent.pk][name]
            )
            for name in WITHHOLDABLE
        }
        cache = row.__dict__.setdefault(_WITHHELD_ATTR, {})
        key = _viewer_key(viewer)
        if key not in cache:
            cache[key] = frozenset(
                name
                for name in _kept_words(row, viewer)
                if writers[row.pk][name] is None
                or not portrait_is_viewable(portrait=writers[row.pk][name], viewer=viewer)
            )
        answers.append(cache[key])
    return answers


def _family_visible(rows: Sequence[Portrait], viewer, *, current: Portrait) -> list[bool]:
    """Which members of a tree ``viewer`` may see as themselves (title, picture, link).

    What they may open (:func:`portrait_is_viewable`), except an unlisted portrait of
    someone else's: unlisted means "anyone with the link, in no list", and a tree lists.
    It is shown only where a page ``viewer`` may open names it anyway, in its lineage: on
    the way from the original to ``current`` (whose link they have), or above a member
    they may see. Everything else reads "not available" and keeps its place and credit.
    """
    viewable = [portrait_is_viewable(portrait=row, viewer=viewer) for row in rows]
    moderator = is_moderator(viewer)
    mine = _viewer_key(viewer)
    on_path = {*current.ancestor_ids, current.pk}
    visible = [
        is_viewable
        and (
            row.visibility != V.UNLISTED
            or moderator
            or (mine is not None and row.author_id == mine)
            or row.pk in on_path
        )
        for row, is_viewable in zip(rows, viewable, strict=True)
    ]
    index = {row.pk: position for position, row in enumerate(rows)}
    for position in range(len(rows) - 1, 0, -1):  # children before parents
        parent = index.get(rows[position].parent_id)
        if visible[position] and parent is not None and viewable[parent]:
            visible[parent] = True
    return visible


# The columns portrait_family reads of each member and its author.
FAMILY_COLUMNS = (
    "public_id",
    "author_name",
    "title",
    "visibility",
    "rating",
    "thumbnail",
    "thumbnail_width",
    "thumbnail_height",
    "recipe",
    "parent_id",
    "root_id",
    "depth",
    "ancestry",
    "changes",
    "deleted_at",
    "hidden_at",
    "hidden_cause",
    "created_at",
    "author__username",
    "author__display_name",
    "author__is_active",
)


def portrait_family(*, portrait: Portrait, viewer, max_members: int | None = None) -> Family:
    """The whole remix tree of ``portrait``'s original, as ``viewer`` may see it.

    Every descendant of the original (their ``root``), in at most three queries whatever
    the tree's size: the original (none when ``portrait`` is it), the descendants
    shallowest first on the tree index (``root, depth, created_at``), and only for a tree
    larger than the bound, its size. Whose words are withheld is decided from those rows
    (:func:`_family_withheld`), so no member costs a query.

    A huge tree is bounded: at most ``max_members`` (``PORTRAIT_FAMILY_MAX_MEMBERS``)
    members, shallowest first, so the part shown is connected (every member's parent is
    in it); ``Family.left_out`` says how many were not. A member ``viewer`` may not see
    (private to someone else, hidden, deleted, or an unlisted one no page of theirs names:
    :func:`_family_visible`) is "not available": no title, picture or id, but its place,
    its author's credit and the names of what it changed (``portraits.lineage``).
    """
    limit = max(1, max_members or settings.PORTRAIT_FAMILY_MAX_MEMBERS)
    root_id = portrait.family_root_id
    root = (
        portrait
        if portrait.pk == root_id
        else Portrait.objects.select_related("author").get(pk=root_id)
    )
    descendants = list(
        Portrait.objects.filter(root_id=root_id)
        .select_related("author")
        # What a tree shows and decides with, no more: a 500-member tree's rows were
        # half the cost of its page as whole model instances (bench/README.md).
        .only(*FAMILY_COLUMNS)
        .order_by("depth", "created_at", "id")[:limit]
    )
    rows = [root, *descendants[: limit - 1]]
    total = len(rows)
    if len(descendants) >= limit:  # the bound was reached: count what it left out
        total = portrait_family_size(portrait=root)
    return build_family(
        rows,
        visible=_family_visible(rows, viewer, current=portrait),
        withheld=_family_withheld(rows, viewer),
        current_id=portrait.pk,
        total=total,
        max_members=limit,
    )


# What other apps build on a portrait that is not a Portrait: each check says whether
# ``portrait`` is still in use by its app. Apps to the right register theirs in their
# ``AppConfig.ready`` (generation: a remix job still queued or running), so portraits
# never imports them.
_IN_USE_CHECKS: list[Callable[[Portrait], bool]] = []


def portrait_in_use_register(check: Callable[[Portrait], bool]) -> None:
    """Count ``check(portrait) -> bool`` among what keeps a deleted portrait's tombstone."""
    if check not in _IN_USE_CHECKS:
        _IN_USE_CHECKS.append(check)


_ORIGINS: list[Callable[..., dict | None]] = []


def portrait_origin_register(describe: Callable[..., dict | None]) -> None:
    """Add ``describe(*, portrait, viewer) -> dict | None``: where a portrait was painted,
    beyond its lineage (generation's sweeps: portraits knows nothing of them), as
    ``viewer`` may see it."""
    if describe not in _ORIGINS:
        _ORIGINS.append(describe)


def portrait_origin(*, portrait: Portrait, viewer) -> dict | None:
    """What a registered app says of where ``portrait`` was painted (the first that knows),
    or None: shown on its page and in its API resource (``origin``)."""
    for describe in _ORIGINS:
        found = describe(portrait=portrait, viewer=viewer)
        if found is not None:
            return found
    return None


def portrait_has_descendants(*, portrait: Portrait) -> bool:
    """Whether anything (a remix, even private or deleted, or anything another app
    registered with :func:`portrait_in_use_register`, such as a remix job still to run)
    builds on ``portrait``: then deleting it must leave a tombstone."""
    if Portrait.objects.filter(parent=portrait).exists():
        return True
    return any(check(portrait) for check in _IN_USE_CHECKS)


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


def portrait_credentials(*, portrait: Portrait, viewer) -> dict[str, Any]:
    """The portrait's own file read back: its verified manifest, and whether that
    manifest names this portrait's page (``matches_portrait``), as ``viewer`` may read it.

    The file was signed when its parent was visible to its author and names its
    ancestors by id; an ancestor ``viewer`` may not open now (private, or a tombstone)
    is left out of the report wherever the file names it (``None`` in its place, see
    ``portraits.recipe.provenance_for_viewer``). Words the portrait kept from a step
    hidden from ``viewer`` (:func:`portrait_withheld`) are left out of the ``parameters``
    text and the provenance's recipe. Validity is checked on the whole file.
    """
    report = credentials.file_report(portrait_original_bytes(portrait=portrait))
    report["matches_portrait"] = report.get("url") == (
        f"{settings.SITE_URL}{portrait.get_absolute_url()}"
    )
    chain = portrait_chain(portrait=portrait)
    hidden = {
        step.public_id
        for step in chain[:-1]
        if not portrait_is_viewable(portrait=step, viewer=viewer)
    }
    report = provenance_for_viewer(report, hidden_ids=hidden)
    withheld = portrait_withheld(portrait=portrait, viewer=viewer, chain=chain)
    if withheld:
        report = dict(report)
        report["png_parameters"] = parameters_for_viewer(
            report.get("png_parameters"), withhold=withheld
        )
        provenance = report.get("png_provenance")
        if isinstance(provenance, Mapping) and isinstance(provenance.get("recipe"), Mapping):
            # The ids in it are already left out as above: parent_visible keeps them so.
            report["png_provenance"] = {
                **provenance,
                "recipe": recipe_for_viewer(
                    provenance["recipe"], parent_visible=True, withhold=withheld
                ),
            }
    return report


def portrait_moderation_for(*, portrait: Portrait, viewer) -> dict[str, Any] | None:
    """What its owner and moderators read of moderators' hold on ``portrait``: whether it
    is hidden, by whom ("moderators", or "suspension": its author's), the rule and the
    reason given, and whether it waits for a review. None for anyone else (who cannot
    open a hidden portrait anyway) and when nothing holds it."""
    if not (portrait.hidden_cause or portrait.held_for_review):
        return None
    mine = _member(viewer) and portrait.author_id == viewer.pk
    if not (mine or is_moderator(viewer)):
        return None
    by_moderators = portrait.hidden_cause == Portrait.HiddenCause.MODERATION
    return {
        "hidden": portrait.hidden_at is not None,
        "hidden_by": {"moderation": "moderators", "suspension": "suspension"}.get(
            portrait.hidden_cause
        ),
        "rule": portrait.hidden_rule if by_moderators else "",
        "reason": portrait.hidden_reason if by_moderators else "",
        "held_for_review": portrait.held_for_review,
    }
