"""Personal API tokens for the API: ``Authorization: Token <key>``.

Only a SHA-256 of each key is stored, so a leaked database does not leak keys
(``accounts.services.api_token_for_key``, shared with the WebSocket middleware).
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from accounts.services import user_for_token_key
from config.pagecache import member_pages_note


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key):
        user = user_for_token_key(key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (user, key)

    def authenticate(self, request):
        authenticated = super().authenticate(request)
        if authenticated is not None:  # a page cache_public may keep for this member
            member_pages_note(request._request, authenticated[0].pk)
        return authenticated
