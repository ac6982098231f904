"""allauth's adapter, where Likeness departs from allauth's defaults."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest


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
