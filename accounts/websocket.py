"""Who is on the other end of a WebSocket, and whether they may connect at all.

Browsers authenticate with their session cookie; scripts with a personal API
token, in an ``Authorization: Token <key>`` header or, for clients that cannot
set headers, a ``?token=<key>`` query parameter (prefer the header: query
strings end up in access logs).

Wiring (config/asgi.py)::

    AllowedHostsOrTokenOriginValidator(TokenOrSessionAuthMiddleware(URLRouter(...)))

The middleware records which token a connection used (``scope["api_token_id"]``), so
that accounts.connections can close it when that token is revoked.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from accounts.services import api_token_for_key

TOKEN_KEYWORD = b"token"
TOKEN_QUERY_PARAMETER = "token"


def token_key_from_scope(scope) -> str | None:
    """The API token a connection presents (header first, then query), or None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            keyword, _, key = value.partition(b" ")
            if keyword.lower() == TOKEN_KEYWORD and key.strip():
                return key.strip().decode("latin1")
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    keys = query.get(TOKEN_QUERY_PARAMETER)
    if keys and keys[0]:
        return keys[0]
    return None


class TokenOrSessionAuthMiddleware:
    """Sets ``scope["user"]`` from an API token if one is presented, else from the session.

    A presented but unknown, revoked or inactive token gives ``AnonymousUser``:
    it never falls back to a session, so a script learns its token is bad. The
    consumer decides what an anonymous connection may do.
    """

    def __init__(self, inner):
        self.inner = inner
        self.session_auth = AuthMiddlewareStack(inner)

    async def __call__(self, scope, receive, send):
        key = token_key_from_scope(scope)
        if key is None:
            return await self.session_auth(scope, receive, send)
        token = await database_sync_to_async(api_token_for_key)(key)
        if token is None:
            scope = dict(scope, user=AnonymousUser())
        else:  # which token, so that revoking it closes this connection
            scope = dict(scope, user=token.user, api_token_id=token.pk)
        return await self.inner(scope, receive, send)


class AllowedHostsOrTokenOriginValidator(OriginValidator):
    """channels' ``AllowedHostsOriginValidator``, letting token clients omit Origin.

    The stock validator refuses a connection without an Origin header unless
    ALLOWED_HOSTS contains "*", so non-browser clients (which send none) could
    never connect. Cross-site WebSocket hijacking needs a browser, and browsers
    always send Origin; so a missing Origin is allowed when the request presents
    an API token (whose validity the auth middleware then checks). A present
    Origin is always checked against ALLOWED_HOSTS.
    """

    def __init__(self, application):
        allowed_hosts = settings.ALLOWED_HOSTS
        if settings.DEBUG and not allowed_hosts:
            allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed_hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("You cannot use an origin validator on a non-WebSocket connection")
        has_origin = any(name == b"origin" for name, _ in scope.get("headers", ()))
        if not has_origin and token_key_from_scope(scope) is not None:
            return await self.application(scope, receive, send)
        return await super().__call__(scope, receive, send)
