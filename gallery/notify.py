"""Notifications: who hears what, when they read it, and how it reads to them.

Created by receivers of what happened, inside the transaction that made it happen (so
a rolled-back publication or like leaves no notification behind), wired in
``GalleryConfig.ready``:

* ``portraits.signals.portrait_published`` (a portrait's *first* publication): a
  ``remix`` notification to every author credited up the remix chain (each distinct
  author of an ancestor, at any depth, tombstones included: a credit is never
  withdrawn), except the remixer and accounts that are gone (deleted or deactivated);
  and a ``publish`` notification to each follower of the publisher. Someone who is both
  gets the remix one only. A remix painted privately notifies nobody until published:
  the remixer's private work stays private. A portrait that is hidden by moderators
  when first published notifies nobody.
* ``gallery.signals.portrait_liked``: a ``like`` to the portrait's author, once per
  liker per portrait (unliking and liking again says nothing new), never for one's own.
* ``gallery.signals.member_followed``: a ``follow`` to the followed member, once per
  follower.

Each kind respects its recipient's ``NotificationSettings`` (no row: everything on).

Live push: after commit, one message per recipient to the channel-layer group
``notifications.<user id>`` (:func:`notifications_group`), of type
``notifications.event``, whose ``event`` says only what happened —
``{"type": "created", "kind": "like"}`` or ``{"type": "read"}`` (marked read, in
another tab maybe). It carries no count and no content: the consumer
(``gallery.consumers``) reads the unread count for its own member when it relays, so a
publication to a thousand followers costs no query per follower (only connected ones
read, once), and a count is never stale when it arrives.

Marking read is an explicit action (the page's buttons, ``POST
/api/v1/notifications/read/``): opening the notifications page is a GET and changes
nothing, so a reload, a prefetch or a link preview never marks anything read.

What a notification says is decided when it is shown, for its recipient, by
:func:`notifications_present`: the portrait's title, link and thumbnail only if the
recipient may see it now (``portraits.selectors``), otherwise "a portrait that is no
longer available".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from config.broadcast import group_send
from config.pagecache import member_pages_invalidate
from gallery.models import Follow, Like, Notification, NotificationSettings
from portraits.models import Portrait
from portraits.selectors import (
    portrait_chain,
    portrait_is_viewable,
    portrait_rating_q,
    portrait_title_for,
    portraits_withheld,
)

logger = logging.getLogger(__name__)

Kind = Notification.Kind
EVENT_MESSAGE_TYPE = "notifications.event"
# Followers notified of one publication are inserted in batches of this many rows.
BULK_BATCH_SIZE = 1000
# How many ids one "mark these read" may name (the API's limit too).
MARK_READ_MAX_IDS = 500
SETTINGS_KINDS = ("remix", "like", "follow", "publish")


def notifications_group(user_id: int) -> str:
    """The channel-layer group every open ``ws/notifications/`` of a member joins."""
    return f"notifications.{user_id}"


# --- Creating -------------------------------------------------------------------------


def _wanting(user_ids: Iterable[int], kind: str) -> list[int]:
    """Of ``user_ids``, the active members who have not turned ``kind`` off, in one query."""
    ids = set(user_ids)
    if not ids:
        return []
    return list(
        User.objects.filter(pk__in=ids, is_active=True)
        .exclude(**{f"notification_settings__{kind}": False})
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _push_on_commit(recipient_ids: Sequence[int], event: dict) -> None:
    """Tell each recipient's open connections, once the transaction commits."""
    if not recipient_ids:
        return
    ids = list(recipient_ids)
    # Their pages show the unread count: the ones kept for them go (config.pagecache).
    transaction.on_commit(lambda: member_pages_invalidate(*ids), robust=True)
    transaction.on_commit(lambda: _push(ids, event), robust=True)


def _push(recipient_ids: Sequence[int], event: dict) -> None:
    """One channel-layer message per recipient. Never raises, never waits long
    (``config.broadcast``): a dropped push loses nothing, as the count is read again on
    every (re)connect."""
    message = {"type": EVENT_MESSAGE_TYPE, "event": event}
    for user_id in recipient_ids:
        if not group_send(
            notifications_group(user_id), message, what=f"a notification for user {user_id}"
        ):
            # The layer is down or paused: every other send would be dropped too.
            return


def notifications_for_publication(*, portrait: Portrait) -> list[Notification]:
    """Notify the credited authors up ``portrait``'s chain (``remix``) and its author's
    followers (``publish``) of its first publication. Call inside the publishing
    transaction (the ``portrait_published`` receiver does). Three queries at most,
    whatever the depth of the chain and the number of followers, plus the inserts."""
    author_id = portrait.author_id
    if author_id is None or portrait.hidden_at is not None:
        return []
    credited = {
        step.author_id
        for step in portrait_chain(portrait=portrait)[:-1]
        if step.author_id is not None and step.author_id != author_id
    }
    remix_to = _wanting(credited, Kind.REMIX)
    followers = (
        Follow.objects.filter(followed_id=author_id, follower__is_active=True)
        .exclude(follower__notification_settings__publish=False)
        .exclude(follower_id__in=credited)
        .order_by("follower_id")
        .values_list("follower_id", flat=True)
    )
    publish_to = list(followers)
    rows = [
        Notification(recipient_id=user_id, kind=Kind.REMIX, actor_id=author_id, portrait=portrait)
        for user_id in remix_to
    ] + [
        Notification(recipient_id=user_id, kind=Kind.PUBLISH, actor_id=author_id, portrait=portrait)
        for user_id in publish_to
    ]
    created = Notification.objects.bulk_create(rows, batch_size=BULK_BATCH_SIZE)
    _push_on_commit(remix_to, {"type": "created", "kind": Kind.REMIX.value})
    _push_on_commit(publish_to, {"type": "created", "kind": Kind.PUBLISH.value})
    return created


def _notify_once(*, recipient_id: int | None, actor_id: int, kind: str, portrait=None):
    """Create one notification unless it is for oneself, unwanted, or was already made
    (the same actor, kind and portrait: a like after an unlike says nothing new)."""
    if recipient_id is None or recipient_id == actor_id:
        return None
    if not _wanting([recipient_id], kind):
        return None
    same = Notification.objects.filter(recipient_id=recipient_id, kind=kind, actor_id=actor_id)
    if portrait is not None:
        same = same.filter(portrait=portrait)
    if same.exists():
        return None
    notification = Notification.objects.create(
        recipient_id=recipient_id, kind=kind, actor_id=actor_id, portrait=portrait
    )
    _push_on_commit([recipient_id], {"type": "created", "kind": str(kind)})
    return notification


def notification_for_like(*, like: Like) -> Notification | None:
    """Notify a portrait's author of a new like (once per liker and portrait). Call in
    the liking transaction (the ``portrait_liked`` receiver does)."""
    portrait = like.portrait
    return _notify_once(
        recipient_id=portrait.author_id, actor_id=like.user_id, kind=Kind.LIKE, portrait=portrait
    )


def notification_for_follow(*, follow: Follow) -> Notification | None:
    """Notify a member of a new follower (once per follower). Call in the following
    transaction (the ``member_followed`` receiver does)."""
    return _notify_once(
        recipient_id=follow.followed_id, actor_id=follow.follower_id, kind=Kind.FOLLOW
    )


# Moderation notices (issue 10).

# What a moderation notice's ``detail`` may hold: the event (below), the rule's title, the
# reason given, where to appeal (None: not appealable), what it was about, the action's id
# (what an appeal names), and for a report's outcome "action taken" / "no action"; for a
# suspension, until when (ISO, None: indefinitely).
MODERATION_DETAIL_KEYS = (
    "event",
    "rule",
    "reason",
    "appeal_url",
    "target",
    "action",
    "outcome",
    "until",
)


def notification_moderation_send(
    *, recipient_id: int, portrait: Portrait | None = None, detail: Mapping[str, Any]
) -> Notification:
    """Tell a member of a moderation decision about them or their work, or of the outcome
    of their report or appeal. Always sent: a member cannot turn these off (they are not
    in ``NotificationSettings``), and a deactivated or suspended member finds it when
    back. ``actor`` stays NULL: moderators' names never reach members. Pushed live after
    commit like every other kind. Call inside the moderation action's transaction.
    """
    unknown = set(detail) - set(MODERATION_DETAIL_KEYS)
    if unknown or not detail.get("event"):
        raise ValueError(f"a moderation notice needs an event and only known keys: {unknown}")
    notification = Notification.objects.create(
        recipient_id=recipient_id,
        kind=Kind.MODERATION,
        actor=None,
        portrait=portrait,
        detail=dict(detail),
    )
    _push_on_commit([recipient_id], {"type": "created", "kind": Kind.MODERATION.value})
    return notification


# Signal receivers (connected in GalleryConfig.ready).


def on_portrait_published(sender, *, portrait: Portrait, **kwargs) -> None:
    notifications_for_publication(portrait=portrait)


def on_portrait_liked(sender, *, like: Like, **kwargs) -> None:
    notification_for_like(like=like)


def on_member_followed(sender, *, follow: Follow, **kwargs) -> None:
    notification_for_follow(follow=follow)


# --- Reading and marking read ---------------------------------------------------------


def _rated_for(qs: QuerySet[Notification], *, user) -> QuerySet[Notification]:
    """Leave out what is about a portrait of a rating ``user`` may not see (a mature one,
    before they opt in: ``portraits.selectors.portrait_rating_q``): they hear nothing of
    it, as no list shows it to them. Moderation notices are always told."""
    rating = portrait_rating_q(viewer=user, prefix="portrait__")
    if not rating:  # every rating
        return qs
    return qs.filter(rating | Q(portrait__isnull=True) | Q(kind=Kind.MODERATION))


def notifications_for(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    """``user``'s notifications, newest first (``gallery_inbox_idx``), with what
    :func:`notifications_present` reads joined in (one query for a page). Those about a
    portrait of a rating ``user`` may not see are left out (:func:`_rated_for`)."""
    qs = _rated_for(
        Notification.objects.filter(recipient=user).select_related(
            "actor", "portrait", "portrait__parent"
        ),
        user=user,
    )
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def notifications_unread_count(*, user) -> int:
    """How many of ``user``'s notifications are unread: one count over the partial index
    ``gallery_unread_idx``, which holds unread rows only (joined to their portraits for a
    member who has not opted in to mature ones: :func:`_rated_for`). 0 for anonymous, no
    query."""
    if user is None or not user.is_authenticated:
        return 0
    unread = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True)
    return _rated_for(unread, user=user).count()


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark ``user``'s unread notifications read: all of them, or those of ``ids``.

    Only the caller's own are touched: an id of someone else's (or of none) is ignored,
    and whether it exists stays secret. Returns how many were marked; their open
    connections hear of it after commit (the badge in another tab updates).
    """
    qs = Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True)
    if ids is not None:
        wanted = sorted({int(pk) for pk in ids})[:MARK_READ_MAX_IDS]
        if not wanted:
            return 0
        qs = qs.filter(pk__in=wanted)
    with transaction.atomic():
        marked = qs.update(read_at=timezone.now())
        if marked:
            _push_on_commit([user.pk], {"type": "read"})
    return marked


def notification_settings_for(*, user) -> NotificationSettings:
    """``user``'s settings; an unsaved all-on row when they never changed any (a GET
    writes nothing)."""
    found = NotificationSettings.objects.filter(user_id=user.pk).first()
    return found if found is not None else NotificationSettings(user_id=user.pk)


def notification_settings_update(*, user, changes: dict[str, bool]) -> NotificationSettings:
    """Turn kinds of notification on or off for ``user`` (only the kinds in ``changes``);
    creates the row on first use. Concurrent first saves meet at the unique user column
    (``update_or_create`` re-reads instead of failing)."""
    values = {kind: bool(changes[kind]) for kind in SETTINGS_KINDS if kind in changes}
    if not values:
        return notification_settings_for(user=user)
    settings, _ = NotificationSettings.objects.update_or_create(user_id=user.pk, defaults=values)
    return settings


# --- Presenting, for the recipient ----------------------------------------------------

UNAVAILABLE = "a portrait that is no longer available"


@dataclass
class PortraitMention:
    """The portrait a notification is about, as its recipient may see it now: empty but
    for ``available`` False when they may not (private, hidden, deleted)."""

    available: bool
    public_id: str | None = None
    title: str | None = None
    url: str | None = None
    thumbnail_url: str | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None


@dataclass
class ModerationNotice:
    """What a moderation notice says besides its sentence: the rule it cites, the reason
    given, and where to appeal (None when it cannot be appealed)."""

    event: str
    rule: str
    reason: str
    appeal_url: str | None
    outcome: str | None = None
    until: datetime | None = None  # a suspension's end; None: indefinitely, or not one


@dataclass
class NotificationView:
    """One notification as its recipient reads it: on the page, in the API."""

    id: int
    kind: str
    verb: str  # what the actor did: "liked", "remixed", "started following"…
    object: str  # to what, without its title: "your portrait", "you", or UNAVAILABLE
    text: str  # the whole sentence, for a reader: "Alice liked your portrait “Dusk”."
    created_at: datetime
    read_at: datetime | None
    actor_name: str
    actor_username: str | None
    actor_url: str | None
    actor_avatar_url: str
    portrait: PortraitMention | None
    moderation: ModerationNotice | None = None

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


MODERATORS_NAME = "Moderators"

# A moderation notice's event: (verb, object), as in "Moderators hid your portrait".
MODERATION_WORDING = {
    "hidden": ("hid", "your portrait"),
    "restored": ("restored", "your portrait"),
    "rated_mature": ("marked as mature", "your portrait"),
    "rated_general": ("marked as general", "your portrait"),
    "review_cleared": ("cleared after review", "your portrait"),
    "warned": ("warned", "you"),
    "suspended": ("suspended", "your account"),
    "suspension_lifted": ("lifted the suspension of", "your account"),
    "suspension_expired": ("ended the suspension of", "your account"),
    "report_outcome": ("decided on", "your report"),
    "appeal_upheld": ("upheld their decision on", "your appeal"),
    "appeal_reversed": ("reversed their decision on", "your appeal"),
}


def _actor(notification: Notification) -> tuple[str, str | None, str | None, str]:
    if notification.kind == Kind.MODERATION:
        return MODERATORS_NAME, None, None, ""
    actor = notification.actor
    if actor is None:
        return "Someone", None, None, ""
    # A deactivated member's profile is not found: name them, link nowhere.
    if not actor.is_active:
        return actor.public_name, actor.username, None, ""
    return actor.public_name, actor.username, actor.get_absolute_url(), actor.avatar_url


def _mention(portrait: Portrait | None, *, viewer) -> PortraitMention | None:
    if portrait is None:
        return None
    if not portrait_is_viewable(portrait=portrait, viewer=viewer):
        return PortraitMention(available=False)
    return PortraitMention(
        available=True,
        public_id=portrait.public_id,
        title=portrait_title_for(portrait=portrait, viewer=viewer),
        url=portrait.get_absolute_url(),
        thumbnail_url=reverse("portraits:thumbnail", kwargs={"public_id": portrait.public_id}),
        thumbnail_width=portrait.thumbnail_width,
        thumbnail_height=portrait.thumbnail_height,
    )


def _wording(notification: Notification, *, viewer) -> tuple[str, str]:
    """(verb, the object as words): "remixed" + "your portrait"…"""
    kind = notification.kind
    if kind == Kind.MODERATION:
        event = (notification.detail or {}).get("event", "")
        return MODERATION_WORDING.get(event, ("took a decision on", "your account"))
    if kind == Kind.FOLLOW:
        return "started following", "you"
    portrait = notification.portrait
    if kind == Kind.REMIX:
        parent = portrait.parent if portrait is not None else None
        if parent is not None and parent.author_id == viewer.pk:
            return "remixed", "your portrait"
        return "remixed", "a remix of your portrait"
    if kind == Kind.LIKE:
        return "liked", "your portrait"
    return "published", "a new portrait"


def notifications_present(
    notifications: Sequence[Notification], *, viewer
) -> list[NotificationView]:
    """``viewer``'s notifications (from :func:`notifications_for`) as they may read them
    now. At most one query for the whole list (the ancestors of portraits whose titles
    may be made of words withheld from ``viewer``: ``portraits_withheld``), none more
    per item."""
    portraits = [n.portrait for n in notifications if n.portrait is not None]
    portraits_withheld(
        portraits=[p for p in portraits if portrait_is_viewable(portrait=p, viewer=viewer)],
        viewer=viewer,
    )
    views = []
    for notification in notifications:
        name, username, url, avatar = _actor(notification)
        mention = _mention(notification.portrait, viewer=viewer)
        verb, what = _wording(notification, viewer=viewer)
        if mention is not None and not mention.available and notification.kind != Kind.MODERATION:
            what = UNAVAILABLE
        titled = what
        if mention is not None and mention.available:
            # A remix's title is the remix's, not the recipient's portrait's: "… as “…”".
            joiner = " as" if notification.kind == Kind.REMIX else ""
            if (notification.detail or {}).get("event") == "report_outcome":
                joiner = " about"
            titled = f"{what}{joiner} “{mention.title}”"
        moderation = None
        text = f"{name} {verb} {titled}."
        if notification.kind == Kind.MODERATION:
            moderation, text = _moderation_notice(notification.detail or {}, sentence=text)
        views.append(
            NotificationView(
                id=notification.pk,
                kind=str(notification.kind),
                verb=verb,
                object=what,
                text=text,
                created_at=notification.created_at,
                read_at=notification.read_at,
                actor_name=name,
                actor_username=username,
                actor_url=url,
                actor_avatar_url=avatar,
                portrait=mention,
                moderation=moderation,
            )
        )
    return views


def _moderation_notice(detail: Mapping[str, Any], *, sentence: str) -> tuple[ModerationNotice, str]:
    """A moderation notice's details, and its whole sentence: what was decided, then the
    outcome of a report, the rule and the reason."""
    notice = ModerationNotice(
        event=str(detail.get("event", "")),
        rule=str(detail.get("rule") or ""),
        reason=str(detail.get("reason") or ""),
        appeal_url=detail.get("appeal_url") or None,
        outcome=detail.get("outcome") or None,
        until=parse_datetime(detail["until"]) if detail.get("until") else None,
    )
    parts = [sentence]
    if notice.outcome:
        parts.append(f"Outcome: {notice.outcome}.")
    if notice.rule:
        parts.append(f"Rule: {notice.rule}.")
    if notice.reason:
        parts.append(f"Reason: {notice.reason}")
    return notice, " ".join(parts)
