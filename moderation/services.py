"""Moderation's writes: every decision a moderator takes, and appeals.

Each action, in one transaction:

* checks who acts (``accounts.permissions.is_moderator``), the rule it cites (an active
  ``Rule``) and the reason (required: the affected member reads it);
* changes its target under a row lock and records **one** ``ModerationAction`` per
  target with the exact state before and after (:data:`PORTRAIT_FIELDS` of a portrait,
  :data:`MEMBER_FIELDS` of a member);
* tells the affected member, with the rule and the reason and where to appeal
  (``gallery.notify.notification_moderation_send``: never opt-out-able, never naming the
  moderator);
* closes the case it decides, recording each report's outcome and telling each reporter
  ("action taken" / "no action", without the moderator's name or the reason, which is
  the affected member's);
* after commit, drops the cached public pages (``config.pagecache``) and rewrites the
  search documents that may depend on what it hid or showed.

A portrait hidden by moderators (``hidden_cause`` "moderation") is seen only by its owner,
with the rule and reason, and by moderators; a suspended member's public portraits are
hidden with ``hidden_cause`` "suspension" and only those come back when it is lifted (or
runs out: :func:`suspensions_expire`). Hiding is stored on the row the selectors already
filter on (``hidden_at``, part of ``portraits.models.LISTED``), so it takes effect on every
surface at once.

Reversing an action on appeal (:func:`appeal_decide`) puts back exactly its ``before`` for
each field it changed that nobody has changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from accounts.permissions import is_moderator
from accounts.services import credentials_revoked
from config.errors import Conflict, DomainError, NotFound, PermissionDenied
from config.pagecache import public_pages_invalidate
from gallery.notify import notification_moderation_send
from moderation.models import (
    APPEAL_TEXT_MAX_LENGTH,
    Appeal,
    Case,
    ModerationAction,
    Report,
    Rule,
)
from moderation.selectors import portrait_descendants, strikes_count
from portraits.community import search_documents_refresh, trending_term
from portraits.models import Portrait

__all__ = [
    "appeal_decide",
    "appeal_submit",
    "case_dismiss",
    "member_suspend",
    "member_suspension_lift",
    "member_warn",
    "portrait_hide",
    "portrait_rate",
    "portrait_restore",
    "portrait_review_clear",
    "strikes_count",
    "suspensions_expire",
]

A = ModerationAction.Kind
Cause = Portrait.HiddenCause
V = Portrait.Visibility

REASON_MAX_LENGTH = 2000
REPLY_MAX_LENGTH = 2000
DESCENDANTS_CHOICES = ("none", "hide", "flag")

# What a portrait action records before and after (and an appeal's reversal puts back).
PORTRAIT_FIELDS = (
    "visibility",
    "published_at",
    "hidden_at",
    "hidden_cause",
    "hidden_rule",
    "hidden_reason",
    "rating",
    "rating_locked",
    "held_for_review",
)
MEMBER_FIELDS = ("suspended_at", "suspended_until")
_DATETIME_FIELDS = {"published_at", "hidden_at", "suspended_at", "suspended_until"}


# --- Checks ------------------------------------------------------------------------------


def _moderator_check(moderator) -> None:
    if not is_moderator(moderator):
        raise PermissionDenied("Only moderators may take moderation actions.")


def _rule_check(rule: Rule | None, *, required: bool = True) -> Rule | None:
    if rule is None:
        if required:
            raise DomainError("Cite the rule.", field_errors={"rule": "Choose a rule."})
        return None
    if not isinstance(rule, Rule) or rule.pk is None or not rule.is_active:
        raise DomainError(
            "Cite one of the site's rules in force.",
            field_errors={"rule": "Choose one of the site's rules in force."},
        )
    return rule


def _text_check(text: str, *, field: str, max_length: int, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise DomainError(f"Give the {field}.", field_errors={field: "This field is required."})
    if len(text) > max_length:
        raise DomainError(
            f"The {field} is too long.",
            field_errors={field: f"At most {max_length} characters."},
        )
    return text


def _case_lock(case: Case | None) -> Case | None:
    """The case an action decides, locked: an open report or review case."""
    if case is None:
        return None
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status != Case.Status.OPEN:
        raise Conflict("This case is already closed.", field_errors={"case": "Already closed."})
    if locked.kind == Case.Kind.APPEAL:
        raise Conflict(
            "An appeal is decided by upholding or reversing it.",
            field_errors={"case": "Decide the appeal instead."},
        )
    return locked


# --- State as recorded --------------------------------------------------------------------


def _as_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _from_json(field: str, value: Any) -> Any:
    if field in _DATETIME_FIELDS and value is not None:
        return parse_datetime(value)
    return value


def _state(obj, fields: Iterable[str]) -> dict[str, Any]:
    return {field: _as_json(getattr(obj, field)) for field in fields}


def _portrait_lock(portrait: Portrait) -> Portrait:
    return (
        Portrait.objects.select_for_update(of=("self",))
        .select_related("author")
        .get(pk=portrait.pk)
    )


def _member_lock(user) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _copy_back(target, source, fields: Iterable[str]) -> None:
    """Let the caller's instance read what the locked row now holds."""
    for field in fields:
        setattr(target, field, getattr(source, field))


def _record(
    *,
    kind: str,
    moderator,
    rule: Rule | None,
    reason: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    portrait: Portrait | None = None,
    portrait_id: int | None = None,
    user_id: int | None = None,
    case: Case | None = None,
    reverses: ModerationAction | None = None,
) -> ModerationAction:
    """One row of the audit trail. Its target member is ``user_id``, else the portrait's
    author (so a member's history holds what was done to their work)."""
    return ModerationAction.objects.create(
        kind=kind,
        moderator=moderator,
        target_portrait_id=portrait.pk if portrait is not None else portrait_id,
        target_user_id=user_id if user_id is not None else getattr(portrait, "author_id", None),
        rule=rule,
        reason=reason,
        before=dict(before),
        after=dict(after),
        case=case,
        reverses=reverses,
    )


# --- Telling members ----------------------------------------------------------------------


def appeal_url_for(action: ModerationAction) -> str:
    """Where the affected member appeals ``action``: the appeals page, naming it."""
    try:
        base = reverse("moderation:appeals")
    except NoReverseMatch:  # the pages are not mounted (the app's pages come with its URLs)
        base = "/moderation/appeals/"
    return f"{base}?action={action.pk}"


def _tell(
    *,
    user_id: int | None,
    event: str,
    action: ModerationAction | None,
    portrait: Portrait | None = None,
    target: str,
    **extra: Any,
) -> None:
    """Notify the member ``action`` affects: the rule, the reason, and where to appeal."""
    if user_id is None:  # an account that is gone
        return
    appealable = action is not None and action.kind in ModerationAction.APPEALABLE_KINDS
    detail = {
        "event": event,
        "rule": action.rule.title if action is not None and action.rule is not None else "",
        "reason": action.reason if action is not None else "",
        "appeal_url": appeal_url_for(action) if appealable else None,
        "target": target,
        "action": action.pk if action is not None else None,
        **extra,
    }
    notification_moderation_send(recipient_id=user_id, portrait=portrait, detail=detail)


def _case_close(case: Case, *, outcome: str, rule: Rule | None) -> None:
    """Close ``case`` (locked, open) and tell each of its reporters the outcome: once per
    reporter, with the rule, never the moderator or the reason."""
    now = timezone.now()
    case.status = Case.Status.CLOSED
    case.closed_at = now
    case.save(update_fields=["status", "closed_at", "updated_at"])
    reports = list(case.reports.filter(outcome=Report.Outcome.PENDING).order_by("id"))
    if not reports:
        return
    Report.objects.filter(pk__in=[r.pk for r in reports]).update(outcome=outcome, outcome_at=now)
    told = set()
    for report in reports:
        if report.reporter_id in told:
            continue
        told.add(report.reporter_id)
        notification_moderation_send(
            recipient_id=report.reporter_id,
            portrait=case.target_portrait,
            detail={
                "event": "report_outcome",
                "outcome": outcome,
                "rule": rule.title if rule is not None else "",
                "reason": "",
                "appeal_url": None,
                "target": "portrait" if case.target_portrait_id else "member",
            },
        )


def _cases_decide(
    case: Case | None,
    *,
    portrait: Portrait | None = None,
    user=None,
    kinds: Iterable[str] = (Case.Kind.REPORT,),
    outcome: str = Report.Outcome.ACTION_TAKEN,
    rule: Rule | None,
) -> None:
    """Close ``case`` and any other open case of ``kinds`` about the same target: a
    decision on a portrait decides every report about it."""
    if case is not None:
        _case_close(case, outcome=outcome, rule=rule)
    others = Case.objects.select_for_update().filter(status=Case.Status.OPEN, kind__in=kinds)
    if portrait is not None:
        others = others.filter(target_portrait=portrait)
    elif user is not None:
        others = others.filter(target_user=user)
    else:
        return
    for other in others.order_by("id"):
        _case_close(other, outcome=outcome, rule=rule)


# --- Public surfaces ----------------------------------------------------------------------


def _public_surfaces_changed(portrait_ids: Iterable[int]) -> None:
    """What anyone may see of these portraits changed: drop the cached public pages after
    commit, and rewrite the search documents of them and of their descendants (which
    may keep words from them: ``portraits.community.search_documents_refresh``)."""
    ids = set(portrait_ids)
    if not ids:
        return
    transaction.on_commit(public_pages_invalidate)
    roots = (
        set(Portrait.objects.filter(pk__in=ids).values_list("root_id", flat=True).distinct()) | ids
    )
    roots.discard(None)
    family = Portrait.objects.filter(root_id__in=roots, deleted_at__isnull=True).values_list(
        "pk", "ancestry"
    )
    descendants = {
        pk
        for pk, ancestry in family
        if any(int(part) in ids for part in ancestry.strip("/").split("/") if part)
    }
    search_documents_refresh(portrait_ids=sorted(ids | descendants))


def _unhidden(portrait: Portrait) -> None:
    """Take a portrait out of moderation's hiding: visible again, unless its author is
    suspended and it is public (then hidden for the suspension, as suspending would)."""
    author = portrait.author
    if author is not None and author.is_suspended and portrait.visibility == V.PUBLIC:
        portrait.hidden_at = portrait.hidden_at or timezone.now()
        portrait.hidden_cause = Cause.SUSPENSION
    else:
        portrait.hidden_at = None
        portrait.hidden_cause = Cause.NONE
    portrait.hidden_rule = ""
    portrait.hidden_reason = ""


def _review_reopen(portrait: Portrait) -> None:
    """Put a portrait still held for review back in the queue once a hide of it is undone.

    Hiding it closed its review case (a hide decides it); restoring it, or reversing the
    hide on appeal, leaves it held, and without an open review case nothing would ever let
    its owner publish it."""
    if not portrait.held_for_review or portrait.is_deleted:
        return
    Case.objects.get_or_create(
        kind=Case.Kind.REVIEW,
        target_portrait=portrait,
        status=Case.Status.OPEN,
        defaults={"notes": "Still held by the prompt gate after a hide was undone."},
    )


# --- Portraits ---------------------------------------------------------------------------


def _hide_one(
    *, moderator, portrait: Portrait, rule: Rule, reason: str, case: Case | None
) -> ModerationAction:
    """Hide a locked portrait for the moderators, record it and tell its author."""
    before = _state(portrait, PORTRAIT_FIELDS)
    portrait.hidden_at = timezone.now()
    portrait.hidden_cause = Cause.MODERATION
    portrait.hidden_rule = rule.title
    portrait.hidden_reason = reason
    portrait.save(
        update_fields=["hidden_at", "hidden_cause", "hidden_rule", "hidden_reason", "updated_at"]
    )
    action = _record(
        kind=A.HIDE,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before=before,
        after=_state(portrait, PORTRAIT_FIELDS),
        portrait=portrait,
        case=case,
    )
    _tell(
        user_id=portrait.author_id,
        event="hidden",
        action=action,
        portrait=portrait,
        target="portrait",
    )
    return action


def _flag_one(
    *, moderator, portrait: Portrait, rule: Rule, reason: str, ancestor: Portrait
) -> ModerationAction | None:
    """Open a review case for a descendant of a hidden portrait (none if one is open)."""
    case, created = Case.objects.get_or_create(
        kind=Case.Kind.REVIEW,
        target_portrait=portrait,
        status=Case.Status.OPEN,
        defaults={"notes": f"Flagged: a descendant of {ancestor.public_id}, hidden."},
    )
    if not created:
        return None
    return _record(
        kind=A.FLAG,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before={"review_case": None},
        after={"review_case": case.pk},
        portrait=portrait,
        case=case,
    )


@transaction.atomic
def portrait_hide(
    *,
    moderator,
    portrait: Portrait,
    rule: Rule,
    reason: str,
    case: Case | None = None,
    descendants: str = "none",
) -> ModerationAction:
    """Hide ``portrait`` from everyone but its owner and moderators, citing ``rule``.

    It leaves every public surface and API list at once (the selectors filter on
    ``hidden_at``); its owner still sees it, marked "hidden by moderators" with the rule
    and the reason. A portrait hidden for its author's suspension becomes a moderators'
    hide (lifting the suspension will not bring it back).

    ``descendants``: "none"; "hide" hides every descendant too (one action each, each
    author told); "flag" opens a review case for each descendant not already hidden by
    moderators (one ``flag`` action each; their authors are not told, as nothing changed
    for them yet). Closes ``case`` and every other open report case about ``portrait``.
    Returns the action on ``portrait``.
    """
    _moderator_check(moderator)
    rule = _rule_check(rule)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH)
    if descendants not in DESCENDANTS_CHOICES:
        raise DomainError(
            "Choose what happens to its descendants.",
            field_errors={"descendants": f"Choose one of: {', '.join(DESCENDANTS_CHOICES)}."},
        )
    case = _case_lock(case)
    row = _portrait_lock(portrait)
    if row.is_deleted:
        raise NotFound("This portrait is deleted.")
    if row.hidden_cause == Cause.MODERATION:
        raise Conflict("This portrait is already hidden by moderators.")
    action = _hide_one(moderator=moderator, portrait=row, rule=rule, reason=reason, case=case)
    changed = [row.pk]
    if descendants != "none":
        below = list(portrait_descendants(portrait=row).select_for_update(of=("self",)))
        for descendant in below:
            if descendant.hidden_cause == Cause.MODERATION:
                continue
            if descendants == "hide":
                _hide_one(
                    moderator=moderator, portrait=descendant, rule=rule, reason=reason, case=case
                )
                changed.append(descendant.pk)
            else:
                _flag_one(
                    moderator=moderator,
                    portrait=descendant,
                    rule=rule,
                    reason=reason,
                    ancestor=row,
                )
    _cases_decide(case, portrait=row, kinds=(Case.Kind.REPORT, Case.Kind.REVIEW), rule=rule)
    _public_surfaces_changed(changed)
    _copy_back(portrait, row, PORTRAIT_FIELDS)
    return action


@transaction.atomic
def portrait_restore(
    *, moderator, portrait: Portrait, rule: Rule, reason: str, case: Case | None = None
) -> ModerationAction:
    """Undo a moderators' hide of ``portrait``: it is back wherever its visibility puts it
    (still hidden for a suspension if its author is suspended and it is public). Tells
    its author; closes ``case``."""
    _moderator_check(moderator)
    rule = _rule_check(rule)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH)
    case = _case_lock(case)
    row = _portrait_lock(portrait)
    if row.hidden_cause != Cause.MODERATION:
        raise Conflict("This portrait is not hidden by moderators.")
    before = _state(row, PORTRAIT_FIELDS)
    _unhidden(row)
    row.save(
        update_fields=["hidden_at", "hidden_cause", "hidden_rule", "hidden_reason", "updated_at"]
    )
    action = _record(
        kind=A.RESTORE,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before=before,
        after=_state(row, PORTRAIT_FIELDS),
        portrait=row,
        case=case,
    )
    _tell(user_id=row.author_id, event="restored", action=action, portrait=row, target="portrait")
    _cases_decide(case, rule=rule)
    _review_reopen(row)
    _public_surfaces_changed([row.pk])
    _copy_back(portrait, row, PORTRAIT_FIELDS)
    return action


@transaction.atomic
def portrait_rate(
    *,
    moderator,
    portrait: Portrait,
    rating: str,
    rule: Rule,
    reason: str,
    case: Case | None = None,
) -> ModerationAction:
    """Set ``portrait``'s rating and lock it: its owner cannot change it back while it is
    locked (``rating_locked``; ``portraits.services`` refuses). Tells its owner; closes
    ``case`` and the other open report cases about it."""
    _moderator_check(moderator)
    if rating not in Portrait.Rating.values:
        raise DomainError(
            "Choose a rating.",
            field_errors={"rating": f"Choose one of: {', '.join(Portrait.Rating.values)}."},
        )
    rule = _rule_check(rule)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH)
    case = _case_lock(case)
    row = _portrait_lock(portrait)
    if row.is_deleted:
        raise NotFound("This portrait is deleted.")
    if row.rating == rating and row.rating_locked:
        raise Conflict(f"This portrait is already rated {rating} by moderators.")
    before = _state(row, PORTRAIT_FIELDS)
    row.rating = rating
    row.rating_locked = True
    row.save(update_fields=["rating", "rating_locked", "updated_at"])
    action = _record(
        kind=A.MATURE if rating == Portrait.Rating.MATURE else A.GENERAL,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before=before,
        after=_state(row, PORTRAIT_FIELDS),
        portrait=row,
        case=case,
    )
    _tell(
        user_id=row.author_id,
        event=f"rated_{rating}",
        action=action,
        portrait=row,
        target="portrait",
    )
    _cases_decide(case, portrait=row, rule=rule)
    _public_surfaces_changed([row.pk])
    _copy_back(portrait, row, PORTRAIT_FIELDS)
    return action


@transaction.atomic
def portrait_review_clear(
    *, moderator, portrait: Portrait, rule: Rule | None = None, reason: str = ""
) -> ModerationAction:
    """A moderator reviewed ``portrait`` (held by the prompt gate, or flagged as a
    descendant of a hidden one) and found nothing to act on: it is no longer held (its
    owner may publish it) and its open review case closes. Tells its owner when it was
    held."""
    _moderator_check(moderator)
    rule = _rule_check(rule, required=False)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH, required=False)
    row = _portrait_lock(portrait)
    case = (
        Case.objects.select_for_update()
        .filter(kind=Case.Kind.REVIEW, status=Case.Status.OPEN, target_portrait=row)
        .first()
    )
    if not row.held_for_review and case is None:
        raise Conflict("This portrait is not waiting for a review.")
    was_held = row.held_for_review
    before = _state(row, PORTRAIT_FIELDS)
    row.held_for_review = False
    row.save(update_fields=["held_for_review", "updated_at"])
    action = _record(
        kind=A.CLEAR_REVIEW,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before=before,
        after=_state(row, PORTRAIT_FIELDS),
        portrait=row,
        case=case,
    )
    if case is not None:
        _case_close(case, outcome=Report.Outcome.NO_ACTION, rule=rule)
    if was_held:
        _tell(
            user_id=row.author_id,
            event="review_cleared",
            action=action,
            portrait=row,
            target="portrait",
        )
    _copy_back(portrait, row, PORTRAIT_FIELDS)
    return action


@transaction.atomic
def case_dismiss(*, moderator, case: Case, rule: Rule, reason: str) -> ModerationAction:
    """Nothing to act on: close ``case``; its reporters hear "no action". The reported
    member is not told (they may not know they were reported). A review case dismissed
    lets its portrait go (``held_for_review`` cleared). Appeals are decided, not
    dismissed (:func:`appeal_decide`)."""
    _moderator_check(moderator)
    rule = _rule_check(rule)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH)
    case = _case_lock(case)
    before: dict[str, Any] = {"case": Case.Status.OPEN.value}
    after: dict[str, Any] = {"case": Case.Status.CLOSED.value}
    portrait = None
    if case.target_portrait_id is not None:
        portrait = _portrait_lock(case.target_portrait)
        if case.kind == Case.Kind.REVIEW and portrait.held_for_review:
            before["held_for_review"] = True
            portrait.held_for_review = False
            portrait.save(update_fields=["held_for_review", "updated_at"])
            after["held_for_review"] = False
    action = _record(
        kind=A.DISMISS,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before=before,
        after=after,
        portrait=portrait,
        user_id=case.target_user_id if portrait is None else None,
        case=case,
    )
    _case_close(case, outcome=Report.Outcome.NO_ACTION, rule=rule)
    return action


# --- Members -----------------------------------------------------------------------------


def _member_check(moderator, user) -> None:
    if user.pk == getattr(moderator, "pk", None):
        raise PermissionDenied("Moderators cannot act on their own account.")
    if user.is_superuser:
        raise PermissionDenied("An administrator's account cannot be moderated here.")


@transaction.atomic
def member_warn(*, moderator, user, rule: Rule, reason: str, case: Case | None = None):
    """Warn ``user``: a strike citing ``rule`` (:func:`strikes_count`). Tells them."""
    _moderator_check(moderator)
    rule = _rule_check(rule)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH)
    _member_check(moderator, user)
    case = _case_lock(case)
    member = _member_lock(user)
    strikes = strikes_count(user=member)
    action = _record(
        kind=A.WARN,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before={"strikes": strikes},
        after={"strikes": strikes + 1},
        user_id=member.pk,
        case=case,
    )
    _tell(user_id=member.pk, event="warned", action=action, target="account")
    _cases_decide(case, rule=rule)
    return action


def _suspension_hide(member: User, *, at: datetime) -> list[str]:
    """Hide ``member``'s public portraits that nothing hides yet, for the suspension."""
    rows = list(
        Portrait.objects.select_for_update()
        .filter(author=member, visibility=V.PUBLIC, hidden_at__isnull=True, deleted_at__isnull=True)
        .order_by("id")
        .values_list("pk", "public_id")
    )
    Portrait.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        hidden_at=at, hidden_cause=Cause.SUSPENSION, updated_at=at
    )
    _public_surfaces_changed([pk for pk, _ in rows])
    return [public_id for _, public_id in rows]


def _suspension_unhide(member: User) -> list[str]:
    """Show again what ``member``'s suspension hid (nothing a moderator hid)."""
    rows = list(
        Portrait.objects.select_for_update()
        .filter(author=member, hidden_cause=Cause.SUSPENSION)
        .order_by("id")
        .values_list("pk", "public_id")
    )
    Portrait.objects.filter(pk__in=[pk for pk, _ in rows]).update(
        hidden_at=None, hidden_cause=Cause.NONE, updated_at=timezone.now()
    )
    _public_surfaces_changed([pk for pk, _ in rows])
    return [public_id for _, public_id in rows]


@transaction.atomic
def member_suspend(
    *,
    moderator,
    user,
    rule: Rule,
    reason: str,
    until: datetime | None = None,
    case: Case | None = None,
) -> ModerationAction:
    """Suspend ``user`` until ``until`` (None: indefinitely), citing ``rule``.

    They cannot sign in, use API tokens, submit jobs or keep WebSockets open (accounts
    enforces it from ``User.is_suspended``; their open connections are closed after
    commit: ``accounts.services.credentials_revoked``). Their public portraits are hidden
    with cause "suspension" (recorded in ``after["portraits_hidden"]``). A strike. Tells
    them, with where to appeal.
    """
    _moderator_check(moderator)
    rule = _rule_check(rule)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH)
    _member_check(moderator, user)
    now = timezone.now()
    if until is not None and until <= now:
        raise DomainError(
            "A suspension ends in the future.",
            field_errors={"until": "Choose a time in the future, or none for indefinitely."},
        )
    case = _case_lock(case)
    member = _member_lock(user)
    if member.is_suspended:
        raise Conflict("This member is already suspended: lift it first to change it.")
    before = _state(member, MEMBER_FIELDS)
    member.suspended_at = now
    member.suspended_until = until
    member.save(update_fields=list(MEMBER_FIELDS))
    hidden = _suspension_hide(member, at=now)
    transaction.on_commit(public_pages_invalidate)  # their profile, even with no portraits
    action = _record(
        kind=A.SUSPEND,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before=before,
        after={**_state(member, MEMBER_FIELDS), "portraits_hidden": hidden},
        user_id=member.pk,
        case=case,
    )
    credentials_revoked(user_id=member.pk)
    _tell(
        user_id=member.pk,
        event="suspended",
        action=action,
        target="account",
        until=_as_json(until),
    )
    _cases_decide(case, user=member, rule=rule)
    _copy_back(user, member, MEMBER_FIELDS)
    return action


def _suspension_end(member: User, *, moderator, rule, reason, case, kind, reverses=None):
    before = _state(member, MEMBER_FIELDS)
    member.suspended_at = None
    member.suspended_until = None
    member.save(update_fields=list(MEMBER_FIELDS))
    restored = _suspension_unhide(member)
    transaction.on_commit(public_pages_invalidate)
    return _record(
        kind=kind,
        moderator=moderator,
        rule=rule,
        reason=reason,
        before=before,
        after={**_state(member, MEMBER_FIELDS), "portraits_restored": restored},
        user_id=member.pk,
        case=case,
        reverses=reverses,
    )


@transaction.atomic
def member_suspension_lift(
    *, moderator, user, rule: Rule, reason: str, case: Case | None = None
) -> ModerationAction:
    """End ``user``'s suspension now: they may sign in again, and the portraits it hid
    come back (not those moderators hid). Tells them."""
    _moderator_check(moderator)
    rule = _rule_check(rule)
    reason = _text_check(reason, field="reason", max_length=REASON_MAX_LENGTH)
    case = _case_lock(case)
    member = _member_lock(user)
    if member.suspended_at is None:
        raise Conflict("This member is not suspended.")
    action = _suspension_end(
        member, moderator=moderator, rule=rule, reason=reason, case=case, kind=A.LIFT
    )
    _tell(user_id=member.pk, event="suspension_lifted", action=action, target="account")
    _cases_decide(case, rule=rule)
    _copy_back(user, member, MEMBER_FIELDS)
    return action


def suspensions_expire(*, user=None, now: datetime | None = None) -> int:
    """Settle suspensions that ran out (of ``user``, or everyone's): clear them, bring
    back what they hid, record a system ``lift`` (no moderator) and tell the member.

    ``User.is_suspended`` already reads the clock, so an expired member is let in without
    this; it restores their portraits. Called when such a member comes back (accounts'
    ``suspension_expiry_register`` hook) and by a periodic sweep. Returns how many.
    """
    now = now or timezone.now()
    qs = User.objects.filter(suspended_at__isnull=False, suspended_until__lte=now)
    if user is not None:
        qs = qs.filter(pk=user.pk)
    settled = 0
    for pk in qs.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            member = (
                User.objects.select_for_update()
                .filter(pk=pk, suspended_at__isnull=False, suspended_until__lte=now)
                .first()
            )
            if member is None:  # settled meanwhile
                continue
            suspension = (
                ModerationAction.objects.filter(target_user_id=pk, kind=A.SUSPEND)
                .order_by("-created_at", "-id")
                .first()
            )
            action = _suspension_end(
                member,
                moderator=None,
                rule=suspension.rule if suspension is not None else None,
                reason="The suspension ran out.",
                case=None,
                kind=A.LIFT,
            )
            _tell(user_id=member.pk, event="suspension_expired", action=action, target="account")
            settled += 1
            if user is not None:
                _copy_back(user, member, MEMBER_FIELDS)
    return settled


# --- Appeals -----------------------------------------------------------------------------


@transaction.atomic
def appeal_submit(*, user, action: ModerationAction, text: str) -> Appeal:
    """``user`` appeals ``action``: once, only the member it affected, only a hide, a
    warning or a suspension. Opens an appeal case in the moderators' queue.

    Someone else's action reads as not found (whether it exists is not theirs to know);
    a second appeal of the same action, or one of an action already reversed, is a
    conflict.
    """
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Sign in to appeal.")
    text = _text_check(text, field="text", max_length=APPEAL_TEXT_MAX_LENGTH)
    if action is None or action.pk is None or action.target_user_id != user.pk:
        raise NotFound("No such decision about you.", field_errors={"action": "Not found."})
    if action.kind not in ModerationAction.APPEALABLE_KINDS:
        raise DomainError(
            "Only a hide, a warning or a suspension can be appealed.",
            field_errors={"action": "This decision cannot be appealed."},
        )
    if Appeal.objects.filter(action=action).exists():
        raise Conflict(
            "You already appealed this decision.",
            field_errors={"action": "Already appealed: each decision is appealed once."},
        )
    if ModerationAction.objects.filter(kind=A.APPEAL_REVERSED, reverses=action).exists():
        raise Conflict("This decision was already reversed.")
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(action=action, appellant=user, text=text)
    except IntegrityError:  # a concurrent appeal of the same action won the race
        raise Conflict(
            "You already appealed this decision.",
            field_errors={"action": "Already appealed: each decision is appealed once."},
        ) from None
    portrait_exists = (
        action.target_portrait_id is not None
        and Portrait.objects.filter(pk=action.target_portrait_id).exists()
    )
    Case.objects.create(
        kind=Case.Kind.APPEAL,
        appeal=appeal,
        target_portrait_id=action.target_portrait_id if portrait_exists else None,
        target_user_id=user.pk,
    )
    return appeal


def _reverse_portrait(action: ModerationAction) -> tuple[dict, dict, Portrait | None]:
    """Put back each recorded field of the action's portrait that it changed and nobody
    changed since, exactly as it was before. Returns (before, after) of the reversal."""
    try:
        row = _portrait_lock(Portrait(pk=action.target_portrait_id))
    except Portrait.DoesNotExist:
        return {}, {}, None
    now_state = _state(row, PORTRAIT_FIELDS)
    fields = [
        field
        for field in PORTRAIT_FIELDS
        if field in action.before
        and field in action.after
        and action.before[field] != action.after[field]
        and now_state[field] == action.after[field]
    ]
    for field in fields:
        setattr(row, field, _from_json(field, action.before[field]))
    # Hidden for a suspension exactly while its author is suspended and it is public.
    suspended = row.author is not None and row.author.is_suspended
    if row.hidden_cause == Cause.SUSPENSION and not suspended:
        _unhidden(row)  # the suspension it was hidden for is over
    elif row.hidden_at is None and suspended and row.visibility == V.PUBLIC:
        _unhidden(row)  # hidden again, for the suspension that began since
    if row.visibility == V.PUBLIC and row.trending is None:
        row.trending = trending_term("publish", row.published_at)
    after = _state(row, PORTRAIT_FIELDS)
    if after != now_state:
        row.save()
        _public_surfaces_changed([row.pk])
    if row.hidden_cause != Cause.MODERATION:
        _review_reopen(row)
    return now_state, after, row


def _reverse(action: ModerationAction, *, moderator, reply: str, case: Case | None):
    """Undo ``action`` (hide, warn or suspend) and record the reversal."""
    portrait = None
    if action.kind == A.SUSPEND:
        member = _member_lock(User(pk=action.target_user_id))
        current = member.suspended_at is not None and _as_json(
            member.suspended_at
        ) == action.after.get("suspended_at")
        if current:
            reversal = _suspension_end(
                member,
                moderator=moderator,
                rule=action.rule,
                reason=reply,
                case=case,
                kind=A.APPEAL_REVERSED,
                reverses=action,
            )
            return reversal, None
        before = after = _state(member, MEMBER_FIELDS)
    elif action.kind == A.WARN:
        strikes = strikes_count(user=User(pk=action.target_user_id))
        before, after = {"strikes": strikes}, {"strikes": strikes - 1}
    else:
        before, after, portrait = _reverse_portrait(action)
    reversal = _record(
        kind=A.APPEAL_REVERSED,
        moderator=moderator,
        rule=action.rule,
        reason=reply,
        before=before,
        after=after,
        portrait_id=action.target_portrait_id,
        user_id=action.target_user_id,
        case=case,
        reverses=action,
    )
    return reversal, portrait


@transaction.atomic
def appeal_decide(*, moderator, appeal: Appeal, reverse: bool, reply: str) -> ModerationAction:
    """Uphold or reverse ``appeal``'s action, with a reply its appellant reads.

    Reversing puts back exactly what the action changed (a hidden portrait's hidden
    state, and its visibility, rating and publication as they were), ends the suspension
    it began (if it is still the current one) and takes back a warning's strike
    (:func:`strikes_count` leaves out reversed actions). The appeal's case closes.
    """
    _moderator_check(moderator)
    reply = _text_check(reply, field="reply", max_length=REPLY_MAX_LENGTH)
    appeal = (
        Appeal.objects.select_for_update(of=("self",))
        .select_related("action", "action__rule")
        .get(pk=appeal.pk)
    )
    if appeal.status != Appeal.Status.OPEN:
        raise Conflict("This appeal is already decided.")
    action = appeal.action
    case = Case.objects.select_for_update().filter(appeal=appeal, status=Case.Status.OPEN).first()
    portrait = None
    if reverse:
        decision, portrait = _reverse(action, moderator=moderator, reply=reply, case=case)
    else:
        decision = _record(
            kind=A.APPEAL_UPHELD,
            moderator=moderator,
            rule=action.rule,
            reason=reply,
            before={"appeal": Appeal.Status.OPEN.value},
            after={"appeal": Appeal.Status.UPHELD.value},
            portrait_id=action.target_portrait_id,
            user_id=action.target_user_id,
            case=case,
        )
    appeal.status = Appeal.Status.REVERSED if reverse else Appeal.Status.UPHELD
    appeal.reply = reply
    appeal.decided_at = timezone.now()
    appeal.save(update_fields=["status", "reply", "decided_at"])
    if case is not None:
        _case_close(case, outcome=Report.Outcome.NO_ACTION, rule=action.rule)
    if portrait is None and action.target_portrait_id is not None:
        portrait = Portrait.objects.filter(pk=action.target_portrait_id).first()
    _tell(
        user_id=appeal.appellant_id,
        event="appeal_reversed" if reverse else "appeal_upheld",
        action=decision,
        portrait=portrait,
        target="appeal",
    )
    return decision
