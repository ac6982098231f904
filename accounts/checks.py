"""Deployment checks for accounts (``manage.py check --deploy``)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def sign_up_reveals_addresses(app_configs, **kwargs) -> list[Warning]:
    """Only mandatory verification lets sign-up hide which addresses have accounts.

    With it, a taken address is answered like a free one (its owner is mailed instead);
    without it, allauth (and the API, which follows its rules) must say the address is
    taken, or a second account could share it.
    """
    if settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory":
        return []
    return [
        Warning(
            "Sign-up tells visitors whether an e-mail address already has an account "
            f"(ACCOUNT_EMAIL_VERIFICATION is {settings.ACCOUNT_EMAIL_VERIFICATION!r}).",
            hint="Set ACCOUNT_EMAIL_VERIFICATION=mandatory (the default when DEBUG is false).",
            id="accounts.W001",
        )
    ]


@register(Tags.security, deploy=True)
def proxy_without_client_addresses(app_configs, **kwargs) -> list[Warning]:
    """BEHIND_PROXY alone trusts the proxy about HTTPS but not about the client's address."""
    if not settings.SECURE_PROXY_SSL_HEADER or settings.TRUSTED_PROXY_COUNT:
        return []
    return [
        Warning(
            "BEHIND_PROXY is on but TRUSTED_PROXY_COUNT is 0: every client is seen as the "
            "proxy's address, so all of them share one rate-limit budget.",
            hint="Set TRUSTED_PROXY_COUNT to the number of proxies that append to "
            "X-Forwarded-For in front of daphne (usually 1).",
            id="accounts.W002",
        )
    ]
