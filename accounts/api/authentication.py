"""Personal API tokens for the API: ``Authorization: Token <key>``.

Only a SHA-256 of each key is stored, so a leaked database does not leak keys
(``accounts.services.api_token_for_key``, shared with the WebSocket middleware).
A suspended member's token answers 401 with code ``account_suspended`` and a
``detail`` saying until when and where to read why (accounts.suspension).
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from accounts.services import user_for_token_key
from accounts.suspension import AccountSuspended
from config.pagecache import member_pages_note


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"
    _request = None

    def authenticate(self, request):
        self._request = request  # for an absolute address in a suspension's refusal
        authenticated = super().authenticate(request)
        if authenticated is not None:  # a page cache_public may keep for this member
            member_pages_note(request._request, authenticated[0].pk)
        return authenticated

    def authenticate_credentials(self, key):
        try:
            user = user_for_token_key(key, request=self._request)
        except AccountSuspended as exc:
            raise exceptions.AuthenticationFailed(exc.message, code=exc.code) from None
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return (user, key)
