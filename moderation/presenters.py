"""What a member is shown of a moderators' decision about them, for pages and the API.

A decision (a ``ModerationAction`` the member may appeal, or has) reads as its kind, the
rule it cites, the reason given to the member, when, the portrait it was about (named and
linked only while the member may open it) and, for a suspension, until when. Never who
took it: moderators' names never reach members.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

from moderation.models import ModerationAction
from portraits.selectors import portrait_is_viewable, portrait_title_for

A = ModerationAction.Kind

HEADINGS = {
    A.HIDE: "Portrait hidden by moderators",
    A.WARN: "Warning (a strike)",
    A.SUSPEND: "Account suspended",
}


@dataclass(frozen=True)
class DecisionView:
    id: int
    kind: str
    heading: str
    rule_id: int | None
    rule: str  # its title; "" when none was cited
    reason: str
    created_at: datetime
    # The portrait it was about: ``portrait_available`` only while the member may open it.
    has_portrait: bool
    portrait_available: bool
    portrait_id: str | None
    portrait_label: str | None
    portrait_url: str | None
    until: datetime | None  # a suspension's end (None: indefinitely, or not a suspension)


def decision_present(action: ModerationAction, *, viewer) -> DecisionView:
    """``action`` as ``viewer`` (the member it affected) reads it. Expects its rule and
    target portrait selected (``moderation.selectors``' member reads do)."""
    portrait = action.target_portrait if action.target_portrait_id else None
    available = portrait is not None and portrait_is_viewable(portrait=portrait, viewer=viewer)
    label = None
    if available:
        label = portrait_title_for(portrait=portrait, viewer=viewer)
    elif action.target_portrait_id:
        label = "a portrait that is no longer available"
    until = (action.after or {}).get("suspended_until") if action.kind == A.SUSPEND else None
    return DecisionView(
        id=action.pk,
        kind=action.kind,
        heading=HEADINGS.get(action.kind, action.get_kind_display()),
        rule_id=action.rule_id,
        rule=action.rule.title if action.rule_id else "",
        reason=action.reason,
        created_at=action.created_at,
        has_portrait=action.target_portrait_id is not None,
        portrait_available=available,
        portrait_id=portrait.public_id if available else None,
        portrait_label=label,
        portrait_url=portrait.get_absolute_url() if available else None,
        until=parse_datetime(until) if isinstance(until, str) else None,
    )
