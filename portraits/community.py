"""What the community does to a portrait: publish it, tag it, like it, remix it.

Writes only; every surface (pages, API, admin, the gallery's like service, the remix
path of ``portraits.services``) calls these functions, and each keeps the portrait's
counters and its trending score exact in the caller's transaction.

**Trending.** A portrait's trending score at time *t* is its activity with exponential
decay::

    score(t) = Σ_e  w_e · 2 ** (−(t − t_e) / HALF_LIFE)

over its events *e*: being published (``w = 1``), each like (``w = 1``) and each
remix (``w = 3``) at its time *t_e*. ``HALF_LIFE`` is 12 hours: a like from yesterday
counts a quarter of one from now. Since every term decays by the same factor, the
order by ``score(t)`` is the same at every *t*, and the column stores

    trending = log2( Σ_e  w_e · 2 ** ((t_e − EPOCH) / HALF_LIFE) )

which grows by 2 a day for new activity and never needs a periodic rewrite: "trending"
is an index scan on ``-trending``. Unliking (or deleting a remix) subtracts the same
term it added, so the column stays exact (to a float's precision); a published
portrait's score never drops below its publication's own term.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.text import slugify

from config.errors import DomainError
from config.pagecache import public_pages_invalidate
from portraits.models import TAG_MAX_LENGTH, TAGS_MAX_PER_PORTRAIT, Portrait, Tag
from portraits.selectors import (
    portrait_can_edit,
    portrait_title_for,
    portrait_withheld,
    portraits_withheld,
)
from portraits.signals import portrait_published

V = Portrait.Visibility

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
HALF_LIFE = timedelta(hours=12)
WEIGHTS = {"publish": 1.0, "like": 1.0, "remix": 3.0}


# --- Trending -----------------------------------------------------------------------------


def trending_term(kind: str, at: datetime) -> float:
    """One event's term in the stored (log2) trending score."""
    return math.log2(WEIGHTS[kind]) + (at - EPOCH) / HALF_LIFE


def _log2_add(total: float | None, term: float) -> float:
    if total is None:
        return term
    high, low = max(total, term), min(total, term)
    return high + math.log2(1.0 + 2.0 ** (low - high))


def _log2_sub(total: float | None, term: float, *, floor: float | None) -> float | None:
    """``log2(2**total − 2**term)``: what is left when one event is taken out; ``floor``
    (a published portrait's own publication term) bounds it from below."""
    if total is None:
        return floor
    if term >= total:  # nothing left but float noise
        return floor
    left = total + math.log2(1.0 - 2.0 ** (term - total))
    return left if floor is None else max(left, floor)


def trending_score_now(trending: float | None, *, now: datetime | None = None) -> float:
    """The decayed score itself (for display and the benchmark), from the stored log2."""
    if trending is None:
        return 0.0
    now = now or timezone.now()
    return 2.0 ** (trending - (now - EPOCH) / HALF_LIFE)


def _publication_floor(portrait: Portrait) -> float | None:
    return trending_term("publish", portrait.published_at) if portrait.published_at else None


def portrait_activity_record(*, portrait_id: int, kind: str, at: datetime, delta: int) -> None:
    """A like (``kind="like"``) or a remix (``"remix"``) added (``delta=1``) or taken
    back (``-1``) at ``at``: the counter and the trending score move together, under a
    row lock, so concurrent likes never lose one. Call inside the transaction that
    writes the like or the remix."""
    if kind not in ("like", "remix") or delta not in (1, -1):
        raise ValueError(f"no such activity: {kind} {delta}")
    with transaction.atomic():
        row = (
            Portrait.objects.select_for_update()
            .only("id", "like_count", "remix_count", "trending", "published_at")
            .get(pk=portrait_id)
        )
        counter = f"{kind}_count"
        setattr(row, counter, max(0, getattr(row, counter) + delta))
        term = trending_term(kind, at)
        row.trending = (
            _log2_add(row.trending, term)
            if delta > 0
            else _log2_sub(row.trending, term, floor=_publication_floor(row))
        )
        row.save(update_fields=[counter, "trending"])


# --- Publishing ------------------------------------------------------------------------


def visibility_apply(*, portrait: Portrait, visibility: str) -> list[str]:
    """Set ``visibility`` on ``portrait`` (not saved) and what comes with it: the first
    time it becomes public, its ``published_at`` and its publication's trending term.
    Returns the fields that changed. Call inside the transaction that saves it;
    ``portrait_visibility_saved`` must follow the save.

    Publication is recorded once: taking a portrait private and public again keeps its
    first ``published_at``, so republishing never lifts it to the top of "newest". Its
    term is added to the score as it stands in the database, read under the row lock
    (as ``portrait_activity_record`` does), not to the copy ``portrait`` was read as: a
    like recorded since then keeps its term.

    A portrait held for a moderator's review (``held_for_review``, the prompt gate's
    review outcome) cannot be made public or unlisted: a ``DomainError`` on
    ``visibility`` (:func:`held_refusal`), and nothing is set.
    """
    if visibility not in V.values:
        raise ValueError(visibility)
    refusal = held_refusal(portrait=portrait, visibility=visibility) or _suspended_refusal(
        portrait=portrait, visibility=visibility
    )
    if refusal:
        raise DomainError("Please correct the errors below.", field_errors={"visibility": refusal})
    changed = []
    if portrait.visibility != visibility:
        portrait.visibility = visibility
        changed.append("visibility")
    if visibility == V.PUBLIC and portrait.published_at is None:
        current = (
            Portrait.objects.select_for_update()
            .filter(pk=portrait.pk)
            .values_list("trending", flat=True)
            .get()
        )
        portrait.published_at = timezone.now()
        portrait.trending = _log2_add(current, trending_term("publish", portrait.published_at))
        portrait._first_published = True
        changed += ["published_at", "trending"]
    return changed


def _suspended_refusal(*, portrait: Portrait, visibility: str) -> str:
    """Why ``portrait`` may not become public: its author is suspended; or "".

    Read under a lock of the author's row, the one a suspension takes
    (``moderation.services.member_suspend``): a publication that raced a suspension
    either commits first, and the suspension then hides it with the author's other public
    portraits, or waits for it and is refused here.
    """
    if visibility != V.PUBLIC or portrait.author_id is None:
        return ""
    author = (
        get_user_model()
        .objects.select_for_update()
        .only("suspended_at", "suspended_until")
        .get(pk=portrait.author_id)
    )
    if author.is_suspended:
        return "Your account is suspended: nothing of yours can be published until it ends."
    return ""


def held_refusal(*, portrait: Portrait, visibility: str) -> str:
    """Why ``portrait`` may not become ``visibility`` while held for review, or ""."""
    if portrait.held_for_review and visibility != V.PRIVATE and visibility != portrait.visibility:
        return (
            "This portrait is waiting for a moderator's review: it can be made public or "
            "unlisted once they have cleared it."
        )
    return ""


def portrait_visibility_saved(*, portrait: Portrait) -> None:
    """After a visibility change was saved: tell the community of a first publication
    (``portraits.signals.portrait_published``: notifications), and re-read the search
    documents of descendants that keep words from this one (whether anyone may read
    them in a search now depends on it)."""
    # Cached public lists may hold it (or no longer should): dropped once this commits.
    transaction.on_commit(public_pages_invalidate)
    if portrait.__dict__.pop("_first_published", False):
        portrait_published.send(sender=Portrait, portrait=portrait)
    descendants = Portrait.objects.filter(
        ancestry__startswith=portrait.descendant_prefix, deleted_at__isnull=True
    ).values_list("pk", flat=True)
    search_documents_refresh(portrait_ids=[portrait.pk, *descendants])


def portraits_visibility_set(*, by, choices: Mapping[str, str]) -> list[Portrait]:
    """Set several of ``by``'s portraits' visibilities at once (the job page's "publish
    these, keep those private"): ``{public_id: visibility}``. All or nothing: an id
    ``by`` may not edit, or an unknown visibility, is a field error and nothing changes.
    """
    errors: dict[str, list[str]] = {}
    for public_id, visibility in choices.items():
        if visibility not in V.values:
            errors[public_id] = [f"Choose one of: {', '.join(V.values)}."]
    rows = {
        row.public_id: row
        for row in Portrait.objects.filter(public_id__in=list(choices), deleted_at__isnull=True)
    }
    for public_id in choices:
        row = rows.get(public_id)
        if row is None or not portrait_can_edit(portrait=row, viewer=by):
            errors.setdefault(public_id, []).append("No such portrait of yours.")
        elif choices[public_id] in V.values and (
            refusal := held_refusal(portrait=row, visibility=choices[public_id])
        ):
            errors.setdefault(public_id, []).append(refusal)
    if errors:
        raise DomainError("Nothing was changed.", field_errors=errors)
    changed = []
    with transaction.atomic():
        for public_id, visibility in choices.items():
            row = rows[public_id]
            fields = visibility_apply(portrait=row, visibility=visibility)
            if fields:
                row.save(update_fields=[*fields, "updated_at"])
                changed.append(row)
        for row in changed:
            portrait_visibility_saved(portrait=row)
    return [rows[public_id] for public_id in choices]


# --- Tags ------------------------------------------------------------------------------


def tag_normalise(raw: str) -> str:
    """A tag as stored: a lower-case slug (letters of any script, digits, hyphens).
    ``ValueError`` with the reason for one that has nothing left, or is too long."""
    slug = slugify(str(raw).strip().lstrip("#"), allow_unicode=True).strip("-_")
    if not slug or not re.search(r"\w", slug.replace("_", "")):
        raise ValueError(f"“{raw}” has no letters or digits.")
    if len(slug) > TAG_MAX_LENGTH:
        raise ValueError(f"“{raw}” is longer than {TAG_MAX_LENGTH} characters.")
    return slug


def tags_parse(raw: str | Sequence[str]) -> list[str]:
    """Tags from a form's comma- or space-separated text, or an API's list: normalised,
    de-duplicated in order, at most ``TAGS_MAX_PER_PORTRAIT``; ``DomainError`` on
    ``tags`` otherwise."""
    items = re.split(r"[,\s]+", raw) if isinstance(raw, str) else list(raw)
    slugs: list[str] = []
    errors: list[str] = []
    for item in items:
        if not isinstance(item, str):
            errors.append("Each tag must be text.")
            continue
        if not item.strip():
            continue
        try:
            slug = tag_normalise(item)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if slug not in slugs:
            slugs.append(slug)
    if len(slugs) > TAGS_MAX_PER_PORTRAIT:
        errors.append(f"At most {TAGS_MAX_PER_PORTRAIT} tags ({len(slugs)} given).")
    if errors:
        raise DomainError("Please correct the tags.", field_errors={"tags": errors})
    return slugs


def portrait_tags_set(*, portrait: Portrait, slugs: Iterable[str]) -> list[str]:
    """Replace ``portrait``'s tags with ``slugs`` (already ``tags_parse``d; the caller
    checked that it may edit the portrait), creating tags that are new."""
    slugs = list(dict.fromkeys(slugs))
    with transaction.atomic():
        existing = {tag.slug: tag for tag in Tag.objects.filter(slug__in=slugs)}
        missing = [Tag(slug=slug) for slug in slugs if slug not in existing]
        if missing:
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            existing = {tag.slug: tag for tag in Tag.objects.filter(slug__in=slugs)}
        portrait.tags.set([existing[slug] for slug in slugs])
        search_documents_refresh(portrait_ids=[portrait.pk])
    return slugs


def tags_suggested(*, style: str, limit: int = 5) -> list[str]:
    """Tags to offer for a portrait in ``style``: the style itself, then the tags most
    used on listed portraits of that style rated general (a tag only mature portraits use
    is not offered to members who have not opted in to see them)."""
    suggestions = [style] if style else []
    if style:
        popular = (
            # One filter() call: one join, the same listed portrait for every condition.
            Tag.objects.filter(
                portraits__style=style,
                portraits__visibility=V.PUBLIC,
                portraits__deleted_at__isnull=True,
                portraits__hidden_at__isnull=True,
                portraits__rating=Portrait.Rating.GENERAL,
            )
            .annotate(uses=Count("portraits"))
            .order_by("-uses", "slug")
            .values_list("slug", flat=True)[:limit]
        )
        suggestions += [slug for slug in popular if slug != style]
    return suggestions[:limit]


# --- Search documents ------------------------------------------------------------------

_ANONYMOUS = AnonymousUser()


def search_documents_refresh(*, portrait_ids: Iterable[int]) -> None:
    """Rewrite what search reads for these portraits: their title, prompt and tags as
    anyone may read them (words a remix kept from a step hidden from others are left
    out: a search must not reveal them either). ``search_text`` everywhere; on
    PostgreSQL, the weighted ``search_vector`` too (title A, tags B, prompt C)."""
    ids = list(portrait_ids)
    if not ids:
        return
    rows = list(Portrait.objects.filter(pk__in=ids).prefetch_related("tags"))
    _search_documents_write(
        [(row, [tag.slug for tag in row.tags.all()]) for row in rows],
    )


def search_documents_write_new(*, portraits: Sequence[Portrait]) -> None:
    """``search_documents_refresh`` for portraits just created, from the rows in hand:
    they have no tags yet, so nothing needs reading again (a job's storing)."""
    _search_documents_write([(portrait, []) for portrait in portraits])


def _search_documents_write(documents: list[tuple[Portrait, list[str]]]) -> None:
    """Write the search documents of ``(portrait, its tags' slugs)`` pairs."""
    if not documents:
        return
    rows = [row for row, _ in documents]
    portraits_withheld(portraits=rows, viewer=_ANONYMOUS)  # one query for the lot
    vectors = []
    for row, slugs in documents:
        withheld = portrait_withheld(portrait=row, viewer=_ANONYMOUS)
        title = portrait_title_for(portrait=row, viewer=_ANONYMOUS)
        prompt = "" if "prompt" in withheld else str((row.recipe or {}).get("prompt", ""))
        tags = " ".join(slug.replace("-", " ") for slug in slugs)
        row.search_text = " ".join(part for part in (title, tags, prompt) if part).lower()
        vectors.append((title, tags, prompt, row.pk))
    Portrait.objects.bulk_update(rows, ["search_text"], batch_size=500)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE portraits_portrait SET search_vector ="
                " setweight(to_tsvector('english', %s), 'A')"
                " || setweight(to_tsvector('english', %s), 'B')"
                " || setweight(to_tsvector('english', %s), 'C') WHERE id = %s",
                vectors,
            )
