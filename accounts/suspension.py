"""Suspended members: every way into the site refuses them, and an expiry lets them back.

A moderator suspends a member (``moderation.services.member_suspend``) by setting
``User.suspended_at`` and, for a period, ``suspended_until``; ``User.is_suspended`` reads
the clock, so a suspension that has run out lets the member back in with no job to run.
Only those two fields decide: a member (a superuser too) is treated as suspended only when
a moderator suspended them, and nothing here can refuse anyone else.

Where it is enforced, all in accounts (moderation is to the right of everything and
nothing imports it):

- signing in: the page (``accounts.adapter.AccountAdapter.pre_login``, every allauth
  log-in path) and ``POST /api/v1/auth/token/`` (``accounts.services.api_token_obtain``);
- a session signed in before the suspension: ``accounts.middleware.SuspensionMiddleware``
  signs it out at its next request and sends the member to the suspended page;
- API tokens: ``accounts.services.user_for_token_key`` (401 saying why);
- WebSockets: refused at connect (``api_token_for_key``, ``credential_is_current``) and
  closed when suspended (``member_suspend`` calls ``credentials_revoked``);
- job submission: ``generation.services.submission.job_submit`` re-reads the member's
  row under its lock, so a request that began before the suspension is refused too.

The moderation app fills in two hooks from its ``AppConfig.ready``:
``suspension_page_register`` (the page a suspended member is sent to, reachable without
signing in, where they read why and can appeal) and ``suspension_expiry_register`` (what
to do when a member whose suspension ran out comes back: restore what it hid).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.contrib import messages
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import formats, timezone

from config.errors import PermissionDenied

logger = logging.getLogger(__name__)


class AccountSuspended(PermissionDenied):
    """The member is suspended by the moderators: no sign-in, token, submission or socket."""

    code = "account_suspended"


def is_suspended(user) -> bool:
    """Whether ``user`` (a member, or ``AnonymousUser``) is suspended now."""
    return bool(getattr(user, "is_suspended", False))


def suspension_has_expired(user) -> bool:
    """A suspension was set and has run out (what the expiry hook is for)."""
    return getattr(user, "suspended_at", None) is not None and not user.is_suspended


def not_suspended_q(prefix: str = "", *, now: datetime | None = None) -> Q:
    """``User.is_suspended`` is false, as a filter: ``not_suspended_q("user__")`` for tokens."""
    now = now or timezone.now()
    return Q(**{f"{prefix}suspended_at__isnull": True}) | Q(
        **{f"{prefix}suspended_until__lte": now}
    )


def suspension_until_text(user) -> str:
    """The end, in words: "until 3 June 2025, 14:00 UTC", or "indefinitely"."""
    if user.suspended_until is None:
        return "indefinitely"
    until = timezone.localtime(user.suspended_until)
    return f"until {formats.date_format(until, 'j F Y, H:i T')}"


def suspension_message(user) -> str:
    """What every refusal says: the suspension and what it blocks (no moderator's name)."""
    return (
        f"This account is suspended {suspension_until_text(user)}: it cannot sign in, "
        "use API tokens, submit jobs or keep live connections open until then."
    )


def suspension_refusal(user, *, request=None) -> AccountSuspended:
    """The ``AccountSuspended`` error for ``user``, naming the suspended page (absolute
    when ``request`` is given) where they can read the rule and reason and appeal."""
    url = suspension_page_url(user)
    if request is not None:
        url = request.build_absolute_uri(url)
    return AccountSuspended(f"{suspension_message(user)} Why, and how to appeal: {url}")


def suspension_refuse(user) -> None:
    """Raise ``AccountSuspended`` when ``user`` is suspended now; let an expired
    suspension settle (see ``suspension_expired_settle``)."""
    if is_suspended(user):
        raise suspension_refusal(user)
    suspension_expired_settle(user)


# --- Hooks the moderation app registers ------------------------------------------------------

SuspensionPage = Callable[[object], str]
SuspensionExpiry = Callable[..., object]

_page_url: SuspensionPage | None = None
_expiry: SuspensionExpiry | None = None


def suspension_page_register(page_url: SuspensionPage | None) -> None:
    """Set the function giving a suspended member's page (a path reachable without signing
    in, e.g. one with a signed token). ``None`` unregisters (tests)."""
    global _page_url
    _page_url = page_url


def _registered_page_url(user) -> str | None:
    if _page_url is None:
        return None
    try:
        return _page_url(user)
    except Exception:
        # A failing page must not turn a refusal into a 500: the sign-in page says it instead.
        logger.exception("The suspension page function failed for user %s", user.pk)
        return None


def suspension_page_url(user) -> str:
    """Where a suspended member is sent: the registered page, else the sign-in page."""
    return _registered_page_url(user) or reverse("account_login")


def suspension_page_redirect(request, user, *, lead: str) -> HttpResponseRedirect:
    """Send suspended ``user`` to their page, with ``lead`` (what just happened: "You cannot
    sign in.") as a message; the page says the rest (until when, rule, reason, appeal).
    Without a page, to the sign-in page, the message then saying the whole of it."""
    url = _registered_page_url(user)
    if url is None:
        messages.error(request, f"{lead} {suspension_message(user)}")
        url = reverse("account_login")
    else:
        messages.error(request, lead)
    return HttpResponseRedirect(url)


def suspension_expiry_register(handler: SuspensionExpiry | None) -> None:
    """Set what runs when a member whose suspension has run out comes back (signs in, or
    uses a session or token): called as ``handler(user=user)`` inside its own savepoint."""
    global _expiry
    _expiry = handler


def suspension_expired_settle(user) -> None:
    """If ``user``'s suspension has run out, let the registered handler restore what it hid
    (and clear the fields, so this runs once). Cheap otherwise: reads two attributes.

    Never raises: the member is let back in either way (``is_suspended`` reads the clock),
    and a periodic sweep, where there is one, settles what failed here.
    """
    if _expiry is None or not suspension_has_expired(user):
        return
    try:
        with transaction.atomic():
            _expiry(user=user)
    except Exception:
        logger.exception("Could not settle the expired suspension of user %s", user.pk)
