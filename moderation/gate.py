"""The prompt gate against the blocklist (``BlockedTerm``): what refuses or holds members'
text, and the review cases it opens.

``text_gate`` is registered as ``config.gates``' text gate (``ModerationConfig.ready``):
generation checks prompts with it before a job exists, portraits checks titles,
descriptions and tags before an edit is saved. A ``block`` entry that matches refuses the
text (``config.gates.TextRefused``, each entry's ``refused_count`` + 1); a ``review``
entry lets it through but holds what it makes (``matched_count`` + 1): a job's portraits
are created ``held_for_review``, an edited portrait is held, and either way
``review_cases_open`` (a receiver of ``portraits.signals.portrait_held_for_review``)
opens one ``review`` case per portrait in the moderators' queue.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence

from django.db.models import F

from config.gates import TextRefused
from moderation import blocklist
from moderation.models import BlockedTerm, Case
from portraits.models import Portrait

logger = logging.getLogger(__name__)

REFUSED_MESSAGE = "Some of your text is not allowed here."


def _entries() -> tuple[blocklist.Entry, ...]:
    rows = BlockedTerm.objects.filter(is_active=True).values_list("id", "kind", "pattern", "action")
    return tuple(
        blocklist.Entry(id=pk, kind=kind, pattern=pattern, action=action)
        for pk, kind, pattern, action in rows.order_by("id")
    )


@functools.lru_cache(maxsize=4)
def _compiled(entries: tuple[blocklist.Entry, ...]) -> blocklist.Blocklist:
    # Keyed on the entries themselves: an entry added, changed or switched off is a new
    # key, so the list is never stale; one query a check, no compiling while unchanged.
    return blocklist.Blocklist(entries)


def blocklist_active() -> blocklist.Blocklist:
    """The active entries, compiled."""
    return _compiled(_entries())


def text_scan(fields: Mapping[str, str]) -> list[blocklist.Hit]:
    """What the active entries match in ``fields`` (nothing is counted)."""
    return blocklist_active().scan(fields)


def text_gate(fields: Mapping[str, str], *, user) -> bool:
    """Refuse ``fields`` if a ``block`` entry matches them; True if a ``review`` entry
    does (or a regular expression ran out of time on them). Counts each entry that
    refused, or each review entry that matched, once per check."""
    hits = text_scan(fields)
    if not hits:
        return False
    refused = [hit for hit in hits if hit.entry.action == blocklist.BLOCK]
    if refused:
        _count(refused, "refused_count")
        logger.info(
            "Prompt gate refused user %s: entries %s in %s",
            getattr(user, "pk", None),
            sorted({hit.entry.id for hit in refused}),
            sorted({hit.field for hit in refused}),
        )
        raise TextRefused(REFUSED_MESSAGE, field_errors=blocklist.refusal_messages(refused))
    _count(hits, "matched_count")
    return True


def _count(hits: Iterable[blocklist.Hit], counter: str) -> None:
    ids = {hit.entry.id for hit in hits}
    BlockedTerm.objects.filter(pk__in=ids).update(**{counter: F(counter) + 1})


# --- Review cases -------------------------------------------------------------------------


def review_notes(portrait: Portrait) -> str:
    """Internal notes for a held portrait's case: which review entries matched what."""
    recipe = portrait.recipe or {}
    fields = {
        "prompt": str(recipe.get("prompt") or ""),
        "negative prompt": str(recipe.get("negative_prompt") or ""),
        "title": portrait.title,
        "description": portrait.description,
        "tags": " ".join(portrait.tags.values_list("slug", flat=True)) if portrait.pk else "",
    }
    lines = [
        f"{hit.field}: “{hit.words}” ({hit.entry.kind} #{hit.entry.id} “{hit.entry.pattern}”)"
        if not hit.timed_out
        else f"{hit.field}: regex #{hit.entry.id} ran out of time"
        for hit in text_scan(fields)
        if hit.entry.action == blocklist.REVIEW
    ]
    head = "Held by the prompt gate (a review entry matched)."
    return "\n".join([head, *lines]) if lines else head


def review_cases_open(*, portraits: Sequence[Portrait]) -> list[Case]:
    """Open a ``review`` case for each held portrait that has none open; returns the new
    ones. Call in the transaction that held them."""
    ids = [portrait.pk for portrait in portraits]
    already = set(
        Case.objects.filter(
            kind=Case.Kind.REVIEW, status=Case.Status.OPEN, target_portrait_id__in=ids
        ).values_list("target_portrait_id", flat=True)
    )
    return [
        Case.objects.create(
            kind=Case.Kind.REVIEW, target_portrait=portrait, notes=review_notes(portrait)
        )
        for portrait in portraits
        if portrait.pk not in already
    ]


def on_portraits_held(sender, *, portraits: Sequence[Portrait], **kwargs) -> None:
    """``portraits.signals.portrait_held_for_review`` receiver."""
    review_cases_open(portraits=portraits)
