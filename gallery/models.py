"""The community around portraits: likes, follows and notifications.

The gallery sits at the right end of the apps (``config ← accounts ← portraits ←
generation ← gallery``): it reads portraits and members, and hears what happens to
them through ``portraits.signals``. Counters live on the rows they count
(``Portrait.like_count``), written by ``portraits.community`` in the same transaction
as the like.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Like(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    portrait = models.ForeignKey(
        "portraits.Portrait", on_delete=models.CASCADE, related_name="likes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "portrait"], name="gallery_one_like_per_user"),
        ]
        indexes = [
            # "Liked by you" for a page of portraits; a member's likes, newest first.
            models.Index(fields=["user", "-created_at"], name="gallery_like_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} likes {self.portrait_id}"


class Follow(models.Model):
    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_set"
    )
    followed = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_set"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followed"], name="gallery_one_follow"),
            models.CheckConstraint(
                condition=~Q(follower=F("followed")), name="gallery_no_self_follow"
            ),
        ]
        indexes = [
            models.Index(fields=["followed", "-created_at"], name="gallery_followers_idx"),
            models.Index(fields=["follower", "-created_at"], name="gallery_following_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followed_id}"


class Notification(models.Model):
    """Something that happened to a member's work or to them. What it says is decided
    when it is shown, as its recipient may see the portrait then (``gallery.notify``)."""

    class Kind(models.TextChoices):
        REMIX = "remix", "Someone remixed your portrait"
        LIKE = "like", "Someone liked your portrait"
        FOLLOW = "follow", "Someone followed you"
        PUBLISH = "publish", "Someone you follow published a portrait"
        MODERATION = "moderation", "A moderation decision"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, related_name="+"
    )
    # The portrait it is about: the remix, the liked one, the published one. Deleting a
    # portrait row deletes what was said about it.
    portrait = models.ForeignKey(
        "portraits.Portrait", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # What a ``moderation`` notice says: {"event", "rule", "reason", "appeal_url",
    # "target"} (``gallery.notify.notification_moderation_send``); empty for other kinds.
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["remix", "like", "follow", "publish", "moderation"]),
                name="gallery_notification_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="gallery_inbox_idx"),
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="gallery_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"


class NotificationSettings(models.Model):
    """Which kinds of notification a member wants (all, until they say otherwise)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    remix = models.BooleanField("when someone remixes my portraits", default=True)
    like = models.BooleanField("when someone likes my portraits", default=True)
    follow = models.BooleanField("when someone follows me", default=True)
    publish = models.BooleanField("when someone I follow publishes", default=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"notification settings of {self.user_id}"

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, kind))
