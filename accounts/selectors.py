"""Reads for accounts: who is visible as a member, and whose tokens one may list."""

from __future__ import annotations

from collections.abc import Iterable

from allauth.account import app_settings as allauth_settings
from allauth.account.models import EmailAddress
from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import ApiToken, User
from config.errors import NotFound


def user_get_public(*, username: str) -> User:
    """An active member by username (any letter case), or NotFound.

    Profiles and avatars are public; inactive (suspended or closed) accounts are
    indistinguishable from ones that never existed. So, where e-mail verification is
    mandatory, are members who have not confirmed an address yet: sign-up with a taken
    address creates nothing and answers like one with a free address, which a profile
    appearing under the chosen username would otherwise give away.
    """
    user = _public_members().filter(username__iexact=username).first()
    if user is None:
        raise NotFound("No such member.")
    return user


def user_list_public_among(*, ids: Iterable[int]) -> QuerySet[User]:
    """The members among ``ids`` that :func:`user_get_public` would find, in one query
    (for a list that links to members only while they are visible)."""
    return _public_members().filter(pk__in={pk for pk in ids if pk is not None})


def _public_members() -> QuerySet[User]:
    members = User.objects.filter(is_active=True)
    if allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.MANDATORY:
        members = members.filter(
            Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True))
        )
    return members


def api_token_list(*, user: User) -> QuerySet[ApiToken]:
    """The viewer's own tokens, newest first. Nobody lists anyone else's."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def api_token_get(*, user: User, token_id: int) -> ApiToken:
    """One of the viewer's own tokens; anyone else's is ``NotFound``, as a missing one is."""
    token = api_token_list(user=user).filter(pk=token_id).first()
    if token is None:
        raise NotFound("No such API token.")
    return token
