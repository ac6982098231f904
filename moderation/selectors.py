"""Reads for moderators and members: the queue, a portrait's descendants, a member's
appealable actions and strikes, and the public transparency log.

The queue and the audit trail are for moderators (the admin checks its permissions);
what a member may read of the trail is :func:`appealable_actions_for` (their own) and
:func:`log_entries_public` (date, kind and rule of every action, never who took it).
"""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, QuerySet

from moderation.models import Appeal, Case, ModerationAction
from portraits.models import Portrait

A = ModerationAction.Kind

# What counts as a strike against a member: a warning or a suspension not reversed on appeal.
STRIKE_KINDS = (A.WARN, A.SUSPEND)


def cases_open(*, kind: str | None = None) -> QuerySet[Case]:
    """Open cases, oldest first (the queue's order), with their targets and report counts."""
    qs = (
        Case.objects.filter(status=Case.Status.OPEN)
        .select_related("target_portrait", "target_user", "appeal", "assigned_to")
        .annotate(report_count=Count("reports"))
        .order_by("created_at", "id")
    )
    if kind is not None:
        qs = qs.filter(kind=kind)
    return qs


def cases_for_portrait(*, portrait: Portrait) -> QuerySet[Case]:
    """Every case about ``portrait``, newest first."""
    return Case.objects.filter(target_portrait=portrait).order_by("-created_at", "-id")


def case_open_for(*, kind: str, portrait: Portrait | None = None, user=None) -> Case | None:
    """The open ``kind`` case about ``portrait`` or ``user`` (at most one: a constraint)."""
    qs = Case.objects.filter(kind=kind, status=Case.Status.OPEN)
    if portrait is not None:
        return qs.filter(target_portrait=portrait).first()
    return qs.filter(target_user=user).first()


def portrait_descendants(*, portrait: Portrait) -> QuerySet[Portrait]:
    """Every portrait built on ``portrait``, at any depth, tombstones left out, shallowest
    first: what a moderator who hides it may hide or flag too. One query on the stored
    ``ancestry`` path."""
    return (
        Portrait.objects.filter(
            ancestry__startswith=portrait.descendant_prefix, deleted_at__isnull=True
        )
        .select_related("author")
        .order_by("depth", "created_at", "id")
    )


def _reversed_q():
    return Exists(
        ModerationAction.objects.filter(kind=A.APPEAL_REVERSED, reverses_id=OuterRef("pk"))
    )


def actions_for_member(*, user) -> QuerySet[ModerationAction]:
    """Every action about ``user`` or their portraits, newest first, with ``is_reversed``."""
    return (
        ModerationAction.objects.filter(target_user=user)
        .select_related("rule", "target_portrait")
        .annotate(is_reversed=_reversed_q())
        .order_by("-created_at", "-id")
    )


def strikes_count(*, user) -> int:
    """How many strikes ``user`` has: warnings and suspensions not reversed on appeal."""
    return (
        ModerationAction.objects.filter(target_user=user, kind__in=STRIKE_KINDS)
        .exclude(_reversed_q())
        .count()
    )


def appealable_actions_for(*, user) -> QuerySet[ModerationAction]:
    """The actions ``user`` may still appeal: hides of their portraits, warnings and
    suspensions of them, not yet appealed (once per action) nor reversed. Newest first."""
    return (
        ModerationAction.objects.filter(
            target_user=user, kind__in=ModerationAction.APPEALABLE_KINDS
        )
        .exclude(Exists(Appeal.objects.filter(action_id=OuterRef("pk"))))
        .exclude(_reversed_q())
        .select_related("rule", "target_portrait")
        .order_by("-created_at", "-id")
    )


def appeals_for(*, user) -> QuerySet[Appeal]:
    """``user``'s appeals, newest first, with the action each appeals."""
    return (
        Appeal.objects.filter(appellant=user)
        .select_related("action", "action__rule", "action__target_portrait")
        .order_by("-created_at", "-id")
    )


def log_entries_public() -> QuerySet[ModerationAction]:
    """The transparency log: every action, newest first, with its rule. Callers show the
    date, kind and rule title only; never ``moderator`` (nor the internal reason), and a
    target only while the viewer may open it (``portraits.selectors``)."""
    return (
        ModerationAction.objects.select_related("rule", "target_portrait")
        .defer("moderator", "reason", "before", "after")
        .order_by("-created_at", "-id")
    )
