"""Personal API tokens: ``Authorization: Token <key>``.

Only a SHA-256 of each key is stored, so a leaked database does not leak keys.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken

# Writing last_used_at on every request would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_for_key(key: str) -> ApiToken | None:
    """The token ``key`` opens, its active owner loaded as ``token.user``; or None.

    Used by the API and the WebSocket middleware (which remembers which token a
    connection used, so that revoking it closes the connection).
    """
    if not key or not key.startswith(ApiToken.PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def user_for_token_key(key: str):
    """The active user owning ``key``, or None."""
    token = api_token_for_key(key)
    return token.user if token is not None else None


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        user = user_for_token_key(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (user, key)
