"""The public transparency log: what kind of action was taken, when, under which rule.

Anyone may read it (``/moderation/log/``, ``GET /api/v1/moderation/log/``), so it shows
only the date, the kind and the rule's title of each ``ModerationAction``: never the
moderator, the reason (it may quote what the member wrote or what was reported), the
fields changed or the case. Its target is named and linked only while the viewer may see
it (``portraits.selectors`` for a portrait, ``accounts.selectors`` for a member): a hidden
portrait's entry says "a portrait", with no link, until it is restored.

Some kinds never name their target (:data:`TARGET_WITHHELD_KINDS`): reports dismissed,
a descendant flagged for review, a review cleared. Nobody was told of those (the reported
member does not know they were reported; a flagged portrait's author was not told), so
the public log must not tell them, nor everyone else, either.

Both surfaces read one queryset (``moderation.selectors.log_entries_public``, narrowed by
:func:`log_entries_filtered`) and present a page of it for one viewer with
:func:`log_entries_present`, in a fixed number of queries whatever the page size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.urls import reverse

from accounts.selectors import user_list_public_among
from moderation.models import ModerationAction, Rule
from moderation.selectors import log_entries_public
from portraits.selectors import portrait_is_viewable, portrait_title_for, portraits_withheld

A = ModerationAction.Kind

# Kinds whose entry says only "a portrait" / "a member", whoever reads it: naming the
# target would reveal that it was reported, flagged or held by the prompt gate.
TARGET_WITHHELD_KINDS = frozenset({A.DISMISS, A.FLAG, A.CLEAR_REVIEW})


@dataclass(frozen=True)
class LogTarget:
    """What an action was about, as the viewer may see it now."""

    type: str  # "portrait" or "member"
    available: bool
    label: str  # the title or name while available; "a portrait" / "a member" otherwise
    url: str | None


@dataclass(frozen=True)
class LogEntry:
    id: int
    created_at: datetime
    kind: str
    kind_label: str
    rule_id: int | None
    rule_title: str | None
    target: LogTarget | None


def log_entries_filtered(*, kind: str | None = None, rule: Rule | None = None) -> QuerySet:
    """The log (``moderation.selectors.log_entries_public``: newest first), narrowed to
    one ``kind`` (a ``ModerationAction.Kind``) and one ``rule`` if given."""
    actions = log_entries_public()
    if kind:
        actions = actions.filter(kind=kind)
    if rule is not None:
        actions = actions.filter(rule=rule)
    return actions


def log_entries_present(actions: Sequence[ModerationAction], *, viewer) -> list[LogEntry]:
    """A page of the log as ``viewer`` may read it, in two queries at most whatever its
    size (what of the portraits' titles is withheld from them, the members they may see).
    Whether each portrait may be seen is ``portraits.selectors``' call, on the row the log
    loaded with its action."""
    named = [a for a in actions if a.kind not in TARGET_WITHHELD_KINDS]
    portraits = {
        a.target_portrait_id: a.target_portrait
        for a in named
        if a.target_portrait is not None
        and portrait_is_viewable(portrait=a.target_portrait, viewer=viewer)
    }
    portraits_withheld(portraits=portraits.values(), viewer=viewer)
    member_ids = {a.target_user_id for a in named if a.target_user_id and not a.target_portrait_id}
    members = {}
    if member_ids:
        members = {u.pk: u for u in user_list_public_among(ids=member_ids)}
    return [_entry(action, portraits, members, viewer) for action in actions]


def _entry(action, portraits, members, viewer) -> LogEntry:
    target = None
    withheld = action.kind in TARGET_WITHHELD_KINDS
    if action.target_portrait_id:
        portrait = None if withheld else portraits.get(action.target_portrait_id)
        if portrait is not None:
            target = LogTarget(
                type="portrait",
                available=True,
                label=portrait_title_for(portrait=portrait, viewer=viewer),
                url=reverse("portraits:detail", kwargs={"public_id": portrait.public_id}),
            )
        else:
            target = LogTarget(type="portrait", available=False, label="a portrait", url=None)
    elif action.target_user_id:
        member = None if withheld else members.get(action.target_user_id)
        if member is not None:
            target = LogTarget(
                type="member",
                available=True,
                label=member.public_name,
                url=member.get_absolute_url(),
            )
        else:
            target = LogTarget(type="member", available=False, label="a member", url=None)
    return LogEntry(
        id=action.pk,
        created_at=action.created_at,
        kind=action.kind,
        kind_label=action.get_kind_display(),
        rule_id=action.rule_id,
        rule_title=action.rule.title if action.rule_id else None,
        target=target,
    )
