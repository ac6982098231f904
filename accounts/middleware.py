"""Sessions signed in before their member was suspended end at their next request.

A session is checked when it is used, not when the suspension is made: the member is
signed out (``django.contrib.auth.logout``, which also closes the WebSocket connections
the session opened) and sent to the page that says why and takes an appeal; under
``/api/`` they are answered 401 with the reason instead, in the API's error shape. From
then on the browser is simply signed out. See accounts.suspension for the other paths.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import logout
from django.utils.deprecation import MiddlewareMixin

from accounts.suspension import (
    is_suspended,
    suspension_expired_settle,
    suspension_page_redirect,
    suspension_refusal,
)
from config.views import API_PREFIX, request_refused


class SuspensionMiddleware(MiddlewareMixin):
    """After AuthenticationMiddleware and MessageMiddleware."""

    def process_request(self, request):
        # Without a session cookie nobody is signed in by one: no session read, no query.
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        user = request.user
        if not user.is_authenticated:
            return None
        if not is_suspended(user):
            suspension_expired_settle(user)
            return None
        logout(request)
        if request.path.startswith(API_PREFIX):
            refusal = suspension_refusal(user, request=request)
            response = request_refused(
                request, status=401, code=refusal.code, detail=refusal.message
            )
            response["WWW-Authenticate"] = "Token"  # as DRF answers a request without one
            return response
        return suspension_page_redirect(
            request, user, lead="You have been signed out: your account is suspended."
        )
