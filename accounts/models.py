from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone

BIO_MAX_LENGTH = 500
DISPLAY_NAME_MAX_LENGTH = 80


def avatar_path(instance: User, filename: str) -> str:
    # A fresh name per upload: no guessable paths, no stale caches.
    return f"avatars/{uuid.uuid4().hex}.webp"


class User(AbstractUser):
    """A Likeness member. Custom from the first migration so it can grow."""

    email = models.EmailField("email address")
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH, blank=True)
    bio = models.TextField(max_length=BIO_MAX_LENGTH, blank=True)
    avatar = models.ImageField(upload_to=avatar_path, blank=True)
    # Suspended by a moderator (issue 10): from ``suspended_at`` until ``suspended_until``
    # (NULL: indefinitely). ``is_suspended`` reads the clock, so an expiry needs no job.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_until = models.DateTimeField(null=True, blank=True)
    # Content rating: whether the member sees mature portraits, and when they confirmed
    # they are 18 or older (set when they opt in).
    shows_mature = models.BooleanField(default=False)
    mature_confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with that e-mail address already exists.",
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("bio"), BIO_MAX_LENGTH),
                name="accounts_user_bio_max_length",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_suspended(self) -> bool:
        """Suspended now: since ``suspended_at``, until ``suspended_until`` if any."""
        if self.suspended_at is None:
            return False
        return self.suspended_until is None or self.suspended_until > timezone.now()

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    def get_absolute_url(self) -> str:
        return reverse("profile", kwargs={"username": self.username})

    @property
    def avatar_url(self) -> str:
        """Where the avatar is served (through a view, never the media folder); "" if none.

        The query string changes with every upload (the stored name is random), so
        the response can be cached for long.
        """
        if not self.avatar:
            return ""
        url = reverse("accounts:avatar", kwargs={"username": self.username})
        return f"{url}?v={self.avatar_version}"

    @property
    def avatar_version(self) -> str:
        # The stored name is a fresh uuid per upload: its stem identifies the version.
        return self.avatar.name.rsplit("/", 1)[-1].split(".", 1)[0][:12] if self.avatar else ""


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 of the key is stored; the key is shown once."""

    PREFIX = "lk_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=80)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=12, editable=False, help_text="First characters of the key")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def new_key(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()
