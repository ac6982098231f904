"""Likes and follows: the community's writes.

Every surface (the portrait page's like button, profiles' follow button, the API, the
demo seeder) calls these functions. Each is idempotent: liking twice leaves one like and
the counter moved once, so a double click, a retry or two tabs never count double.

A like and the portrait's counters (``like_count``, ``trending``) change in one
transaction (``portraits.community.portrait_activity_record``). The database's unique
constraints decide races: of two concurrent likes by one member, one inserts the row,
the other meets the constraint and counts as "already liked", inside a savepoint so its
transaction carries on and the counter is moved only by the insert that won.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User
from config.errors import DomainError, NotFound, PermissionDenied
from gallery.models import Follow, Like
from gallery.selectors import portrait_likeable
from gallery.signals import member_followed, portrait_liked
from generation.services.taste import taste_record, taste_withdraw
from portraits.community import portrait_activity_record
from portraits.models import Portrait
from portraits.selectors import portrait_recipe_for


class NotLikeable(PermissionDenied):
    """A portrait its viewer may open, but which nobody else may: a moderator looking at
    a private or hidden portrait. Likes are public activity; only its author may like a
    portrait that is not shared."""

    code = "not_likeable"


def like_add(*, user: User, portrait: Portrait) -> bool:
    """``user`` likes ``portrait``; True if this call added the like, False if it was
    liked already. ``portrait.like_count`` and ``.trending`` are refreshed either way.

    ``portrait`` comes from ``portraits.selectors.portrait_get_viewable`` for ``user``
    (a portrait they cannot see is a NotFound before this). Beyond that, only a portrait
    anyone may open can be liked by others: a moderator who sees a private or hidden one
    gets ``NotLikeable`` (its author may like their own, even private).
    """
    if not user.is_authenticated:
        raise DomainError("Log in to like portraits.")
    if not portrait_likeable(portrait=portrait, viewer=user):
        raise NotLikeable("Only portraits that are shared with everyone can be liked.")
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a lost race must not spoil the rest
                like = Like.objects.create(user=user, portrait=portrait)
        except IntegrityError:
            created = False
        else:
            created = True
            portrait_activity_record(
                portrait_id=portrait.pk, kind="like", at=like.created_at, delta=1
            )
            portrait_liked.send(sender=Like, like=like)
            # What a member likes says something of their taste (``generation.taste``).
            # Its recipe as this member may read it: no words hidden from them.
            recipe = portrait_recipe_for(portrait=portrait, viewer=user)
            taste_record(user=user, kind="like", recipe=recipe, portrait=portrait)
        portrait.refresh_from_db(fields=["like_count", "trending"])
    return created


def like_remove(*, user: User, portrait: Portrait) -> bool:
    """``user`` no longer likes ``portrait``; True if this call removed a like.

    The like's own moment is taken back out of the trending score
    (``delta=-1`` at its ``created_at``), so the score returns exactly to what it
    would be had the like never happened. The like row is locked first: of two
    concurrent unlikes, one deletes and moves the counter, the other finds nothing.
    """
    if not user.is_authenticated:
        return False
    with transaction.atomic():
        like = Like.objects.select_for_update().filter(user=user, portrait=portrait).first()
        removed = like is not None
        if removed:
            like.delete()
            taste_withdraw(user=user, kind="like", portrait=portrait)
            portrait_activity_record(
                portrait_id=portrait.pk, kind="like", at=like.created_at, delta=-1
            )
        portrait.refresh_from_db(fields=["like_count", "trending"])
    return removed


def likes_withdraw(*, user: User) -> int:
    """Take every like of ``user`` back out of its portrait's counters (``like_count``,
    ``trending``), as ``like_remove`` does one at a time; returns how many.

    For an account being deleted: its ``Like`` rows go with it by cascade, which moves
    no counter. Connected to the user's ``pre_delete`` (``GalleryConfig.ready``), so it
    runs inside the deleting transaction. Portraits are locked in id order, as
    concurrent deletions then never wait on each other in a cycle.
    """
    likes = Like.objects.filter(user=user).order_by("portrait_id")
    taken = 0
    with transaction.atomic():
        for portrait_id, at in likes.values_list("portrait_id", "created_at"):
            portrait_activity_record(portrait_id=portrait_id, kind="like", at=at, delta=-1)
            taken += 1
    return taken


def on_user_deleting(sender, *, instance: User, **kwargs) -> None:
    likes_withdraw(user=instance)


def follow_add(*, follower: User, followed: User) -> bool:
    """``follower`` follows ``followed``; True if this call made the follow, False if
    they followed already. Following oneself is a field error on ``username`` (the
    database's check constraint stands behind it); an inactive member is NotFound, as
    ``accounts.selectors.user_get_public`` treats them everywhere."""
    if not follower.is_authenticated:
        raise DomainError("Log in to follow members.")
    if not followed.is_active:
        raise NotFound("No such member.")
    if follower.pk == followed.pk:
        raise DomainError(
            "You cannot follow yourself.",
            field_errors={"username": ["You cannot follow yourself."]},
        )
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint, as in like_add
                follow = Follow.objects.create(follower=follower, followed=followed)
        except IntegrityError:
            return False
        member_followed.send(sender=Follow, follow=follow)
    return True


def follow_remove(*, follower: User, followed: User) -> bool:
    """``follower`` stops following ``followed``; True if this call removed a follow."""
    if not follower.is_authenticated:
        return False
    deleted, _ = Follow.objects.filter(follower=follower, followed=followed).delete()
    return deleted > 0
