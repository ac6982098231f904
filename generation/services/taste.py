"""Taste: recording a member's choices as signals, and their control over it.

The signals come from where the choices are made: a sweep's triage and pick
(``generation.services.sweeps``), a remix (``submission``), a publish and a deletion
(``portraits.signals``, received in ``generation.apps``), a like (``gallery.services``).
Each is recorded only while the member's studio learns (``TasteProfile.learning``), and
only after the action itself passed its own checks: a signal can only be about something
its member may see. What is learned from them is read in ``generation.selectors``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from generation import taste
from generation.models import GenerationJob, TasteProfile, TasteSignal
from generation.selectors import modifier_choices, taste_is_learning

logger = logging.getLogger(__name__)

TRIAGE_KINDS = (TasteSignal.Kind.KEEP, TasteSignal.Kind.DISCARD)


def _features(recipe: Mapping[str, Any]) -> list[str]:
    return taste.recipe_features(recipe, modifiers=modifier_choices())


def taste_record(*, user, kind: str, recipe: Mapping[str, Any], job=None, portrait=None) -> bool:
    """Record one pointwise choice (``taste.POINTWISE``) about ``recipe``; False (nothing
    written) while the member's studio does not learn."""
    if kind not in taste.POINTWISE:
        raise ValueError(f"Not a pointwise signal: {kind}")
    if not getattr(user, "is_authenticated", False) or not taste_is_learning(user=user):
        return False
    TasteSignal.objects.create(
        user=user, kind=kind, features=_features(recipe), job=job, portrait=portrait
    )
    return True


def taste_withdraw(*, user, kind: str, job=None, portrait=None) -> int:
    """Forget a choice undone (an unlike, a cell undecided): its signals about this job or
    portrait."""
    if job is None and portrait is None:
        raise ValueError("Say which job or portrait the choice undone was about.")
    found = TasteSignal.objects.filter(user=user, kind=kind)
    if job is not None:
        found = found.filter(job=job)
    if portrait is not None:
        found = found.filter(portrait=portrait)
    deleted, _ = found.delete()
    return deleted


def taste_triage(*, user, job: GenerationJob, choice: str) -> None:
    """A sweep's cell kept or discarded replaces what was said of it before; skipped or
    undecided, it says nothing."""
    with transaction.atomic():
        TasteSignal.objects.filter(user=user, job=job, kind__in=TRIAGE_KINDS).delete()
        if choice in TRIAGE_KINDS:
            taste_record(user=user, kind=choice, recipe=job.recipe, job=job)


def taste_prefer(*, user, chosen: GenerationJob, other: GenerationJob) -> bool:
    """One cell picked over another of the same sweep (a pick between the same two again
    replaces the first)."""
    if not taste_is_learning(user=user):
        return False
    with transaction.atomic():
        TasteSignal.objects.filter(
            user=user,
            kind=TasteSignal.Kind.PREFER,
            job__in=[chosen, other],
            other_job__in=[chosen, other],
        ).delete()
        TasteSignal.objects.create(
            user=user,
            kind=TasteSignal.Kind.PREFER,
            features=_features(chosen.recipe),
            against=_features(other.recipe),
            job=chosen,
            other_job=other,
        )
    return True


def taste_reset(*, user) -> int:
    """Forget everything the studio learned of this member (their signals); whether it
    learns stays as they set it. Returns how many signals were deleted."""
    with transaction.atomic():
        deleted, _ = TasteSignal.objects.filter(user=user).delete()
        TasteProfile.objects.update_or_create(user=user, defaults={"reset_at": timezone.now()})
    logger.info("Taste reset for %s: %d signals deleted", user.pk, deleted)
    return deleted


def taste_learning_set(*, user, learning: bool) -> TasteProfile:
    """Switch the studio's learning on or off for this member. Off, it records nothing
    and suggests nothing of theirs; what it learned stays until they reset it."""
    profile, _ = TasteProfile.objects.update_or_create(
        user=user, defaults={"learning": bool(learning)}
    )
    return profile


# --- What happens elsewhere, heard here -----------------------------------------------


def on_portrait_published(sender, *, portrait, **kwargs) -> None:
    taste_record(
        user=portrait.author,
        kind=TasteSignal.Kind.PUBLISH,
        recipe=portrait.recipe,
        portrait=portrait,
    )


def on_portrait_deleting(sender, *, portrait, by, **kwargs) -> None:
    """Only its author deleting it says something of their taste (a moderator's
    removal says nothing)."""
    if by is not None and portrait.author_id == by.pk:
        taste_record(user=by, kind=TasteSignal.Kind.DELETE, recipe=portrait.recipe)
