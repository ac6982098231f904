"""Members' reports of a portrait or a member: filing one, and reading one's own.

A report names what it is about (a portrait or a member the reporter can see), a
category, the rule it breaks and, optionally, what the reporter saw. It joins the
target's open report case (one row of the moderators' queue per target: ``Case``), or
opens one. A member's repeat while their report on that target is still open updates it
(collapse): the queue counts people, not clicks. When moderators decide the case, the
services fill in each report's ``outcome`` and tell its reporter, without the
moderator's name.

Nothing is revealed to a reporter who cannot see the target: that is the same
``NotFound`` as every other page and endpoint answers (``portraits.selectors``,
``accounts.selectors``), checked before anything else about the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_get_public
from config.errors import DomainError, NotFound, QuotaExceeded
from moderation.models import REPORT_TEXT_MAX_LENGTH, Case, Report, Rule
from portraits.models import Portrait
from portraits.selectors import portrait_get_viewable

_PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class ReportRate:
    count: int
    window: timedelta


def report_rate() -> ReportRate:
    """``settings.MODERATION_REPORT_RATE`` ("10/hour", as ``config.env.env_rate`` spells it)."""
    count, _, period = settings.MODERATION_REPORT_RATE.partition("/")
    return ReportRate(int(count), timedelta(seconds=_PERIOD_SECONDS[period]))


def rules_active() -> QuerySet[Rule]:
    """The site's rules in force, in their order: what ``/rules/`` shows and a report cites."""
    return Rule.objects.filter(is_active=True)


def _rule_resolve(value: Any) -> Rule | None:
    """An active rule from a ``Rule``, or its id as a number or digits; None if none such."""
    if isinstance(value, Rule):
        pk: Any = value.pk
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        pk = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        pk = int(value)
    else:
        return None
    return rules_active().filter(pk=pk).first()


def _target_check(*, reporter: User, portrait: Portrait | None, user: User | None) -> None:
    """NotFound for what the reporter may not see, a field error for themselves.

    Both are read again from the database as the selectors see them now, whatever the
    caller's objects say (a portrait hidden since the caller loaded it is not found)."""
    if (portrait is None) == (user is None):
        raise DomainError(
            "Report a portrait or a member.",
            field_errors={"non_field_errors": ["Name one portrait or one member to report."]},
        )
    if portrait is not None:
        if not isinstance(portrait, Portrait) or portrait.pk is None:
            raise NotFound("No such portrait.")
        current = portrait_get_viewable(viewer=reporter, public_id=portrait.public_id)
        if current.pk != portrait.pk:
            raise NotFound("No such portrait.")
        if current.author_id == reporter.pk:
            raise DomainError(
                "You cannot report your own portrait.",
                field_errors={"portrait": ["You cannot report your own portrait."]},
            )
        return
    # A member is visible as user_get_public finds them (active, address confirmed where
    # that is required), whatever object the caller holds.
    if not isinstance(user, User) or user_get_public(username=user.username).pk != user.pk:
        raise NotFound("No such member.")
    if user.pk == reporter.pk:
        raise DomainError(
            "You cannot report yourself.",
            field_errors={"user": ["You cannot report yourself."]},
        )


def _fields_clean(*, category: Any, rule: Any, text: Any) -> tuple[str, Rule, str]:
    """The report's own fields, every bad one at once."""
    errors: dict[str, list[str]] = {}
    if category not in Report.Category.values:
        errors["category"] = [f"Choose one of: {', '.join(Report.Category.values)}."]
    resolved = None
    if rule is None or rule == "":
        errors["rule"] = ["Choose the rule it breaks."]
    else:
        resolved = _rule_resolve(rule)
        if resolved is None:
            errors["rule"] = ["No such rule: choose one of the site's rules."]
    if text is None:
        text = ""
    if not isinstance(text, str):
        errors["text"] = ["Not a valid string."]
    else:
        text = text.strip()
        if len(text) > REPORT_TEXT_MAX_LENGTH:
            errors["text"] = [
                f"Keep it to {REPORT_TEXT_MAX_LENGTH} characters (it has {len(text)})."
            ]
        elif "\x00" in text:
            errors["text"] = ["Null characters are not allowed."]
    if errors:
        raise DomainError("Please correct the errors below.", field_errors=errors)
    assert resolved is not None
    return category, resolved, text


def _rate_check(*, reporter: User, now: datetime) -> None:
    """QuotaExceeded when the reporter has filed the rate's count of new reports within
    its window; ``retry_after`` says when the oldest of them leaves it."""
    rate = report_rate()
    recent = list(
        Report.objects.filter(reporter=reporter, created_at__gt=now - rate.window)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: rate.count]
    )
    if len(recent) >= rate.count:
        oldest = recent[-1]
        retry_after = max(1, int((oldest + rate.window - now).total_seconds()) + 1)
        raise QuotaExceeded(
            f"You have filed {len(recent)} reports recently (the limit is "
            f"{settings.MODERATION_REPORT_RATE}). Please wait a little: moderators read "
            "every one.",
            retry_after=retry_after,
        )


def _case_for(*, portrait: Portrait | None, user: User | None) -> Case:
    """The target's open report case, opened if there is none.

    Two reporters of one target may race to open it: the partial unique constraint lets
    one insert win, and the other joins the case that one opened.
    """
    target = {"target_portrait": portrait} if portrait is not None else {"target_user": user}
    open_cases = Case.objects.filter(kind=Case.Kind.REPORT, status=Case.Status.OPEN, **target)
    case = open_cases.select_for_update().first()
    if case is not None:
        case.save(update_fields=["updated_at"])  # new activity moves it in the queue
        return case
    try:
        with transaction.atomic():
            return Case.objects.create(kind=Case.Kind.REPORT, **target)
    except IntegrityError:
        return open_cases.select_for_update().get()


def report_submit(
    *,
    reporter: User,
    portrait: Portrait | None = None,
    user: User | None = None,
    category: Any,
    rule: Any,
    text: Any = "",
) -> Report:
    """File ``reporter``'s report of ``portrait`` or of ``user`` (exactly one of them).

    In this order, nothing written until all pass:

    - ``NotFound`` if the reporter may not see the target (a private or hidden portrait
      of someone else's, an inactive member): nothing about it is revealed, whatever
      else the request holds;
    - a field error (``portrait`` / ``user``) for one's own portrait or oneself;
    - field errors for an unknown ``category``, an unknown or retired ``rule`` (a
      ``Rule``, or its id) and a ``text`` over ``REPORT_TEXT_MAX_LENGTH`` characters;
    - ``QuotaExceeded`` (429) past ``MODERATION_REPORT_RATE`` new reports.

    A repeat while the reporter's report on that target is open updates that report
    (category, rule, text) instead of adding one, and is not counted against the rate;
    the returned report's ``collapsed`` attribute says which happened. A new report joins
    the target's open report case or opens one. The reporter's row is locked for the
    transaction, so one member's parallel submissions are counted and collapsed one at a
    time.
    """
    _target_check(reporter=reporter, portrait=portrait, user=user)
    category, rule_row, text = _fields_clean(category=category, rule=rule, text=text)
    target = {"target_portrait": portrait} if portrait is not None else {"target_user": user}
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=reporter.pk).first()
        report = (
            Report.objects.select_for_update()
            .filter(reporter=reporter, outcome=Report.Outcome.PENDING, **target)
            .first()
        )
        if report is not None:
            report.category, report.rule, report.text = category, rule_row, text
            report.save(update_fields=["category", "rule", "text", "updated_at"])
            report.collapsed = True
            return report
        _rate_check(reporter=reporter, now=timezone.now())
        case = _case_for(portrait=portrait, user=user)
        report = Report.objects.create(
            case=case,
            reporter=reporter,
            category=category,
            rule=rule_row,
            text=text,
            **target,
        )
        report.collapsed = False
        return report


# --- The reporter's own reports -----------------------------------------------------------


def report_get_own(*, reporter: User, report_id: Any) -> Report:
    """One of ``reporter``'s own reports, or NotFound (anyone else's too: it stays secret)."""
    if not getattr(reporter, "is_authenticated", False):
        raise NotFound("No such report.")
    try:
        pk = int(report_id)
    except (TypeError, ValueError):
        raise NotFound("No such report.") from None
    report = (
        Report.objects.filter(reporter=reporter, pk=pk)
        .select_related("rule", "target_portrait", "target_portrait__author", "target_user")
        .first()
    )
    if report is None:
        raise NotFound("No such report.")
    return report


def report_list_own(*, reporter: User) -> QuerySet[Report]:
    """``reporter``'s reports, newest first, with what the API and pages show of each."""
    return (
        Report.objects.filter(reporter=reporter)
        .select_related("rule", "target_portrait", "target_portrait__author", "target_user")
        .order_by("-created_at", "-id")
    )
