"""allauth's adapter, where Likeness departs from allauth's defaults."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from accounts.suspension import is_suspended, suspension_expired_settle, suspension_page_redirect


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        """The client's address for rate limits, as ``TRUSTED_PROXY_COUNT`` says (see settings).

        allauth raises ``ImproperlyConfigured`` (a 500 on every log-in and sign-up) when
        ``X-Forwarded-For`` holds fewer addresses than there are proxies: a request that
        bypassed a proxy, or a header a client sent to one that appends nothing. None of
        that header can then be trusted, so the connection's own address is the client —
        at worst a proxy's, whose budget is shared, never an address a client chose.
        """
        try:
            return super().get_client_ip(request)
        except ImproperlyConfigured:
            return request.META["REMOTE_ADDR"]

    def pre_login(self, request: HttpRequest, user, **kwargs):
        """Every allauth log-in (password, e-mail confirmation, password reset) passes here
        once the member is known: a suspended member is not signed in, but sent to the
        page that says why and takes an appeal (accounts.suspension); a member whose
        suspension has run out is let in, and what it hid is restored."""
        response = super().pre_login(request, user, **kwargs)
        if response is not None:  # inactive: allauth's own page
            return response
        if is_suspended(user):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)  # as allauth does for an inactive member
            return suspension_page_redirect(
                request, user, lead="You cannot sign in while your account is suspended."
            )
        suspension_expired_settle(user)
        return None
