"""Reads for accounts: who is visible as a member, and whose tokens one may list."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiToken, User
from config.errors import NotFound


def user_get_public(*, username: str) -> User:
    """An active member by username (any letter case), or NotFound.

    Profiles and avatars are public; inactive (suspended or closed) accounts are
    indistinguishable from ones that never existed.
    """
    user = User.objects.filter(is_active=True, username__iexact=username).first()
    if user is None:
        raise NotFound("No such member.")
    return user


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """The viewer's own tokens, newest first. Nobody lists anyone else's."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
