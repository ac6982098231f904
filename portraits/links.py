"""Site URLs of portraits and members, for lists of hundreds (a remix tree, a page of the
gallery): each URL name is reversed once (per script prefix), then filled in.

``reverse`` costs tens of microseconds a call: a 500-member tree called it 1,400 times a
request. The placeholders match the URL converters (``portraits.converters``,
``accounts.converters``), so the reversed pattern is the real one.
"""

from __future__ import annotations

import functools

from django.urls import get_script_prefix, reverse

_PUBLIC_ID = "_public_id_"
_USERNAME = "_username_"


@functools.lru_cache(maxsize=64)
def _pattern(name: str, argument: str, placeholder: str, script_prefix: str) -> str:
    return reverse(name, kwargs={argument: placeholder})


def portrait_url(name: str, public_id: str) -> str:
    """``reverse(name, kwargs={"public_id": public_id})``, e.g. ``"portraits:thumbnail"``."""
    pattern = _pattern(name, "public_id", _PUBLIC_ID, get_script_prefix())
    return pattern.replace(_PUBLIC_ID, public_id)


def member_url(username: str) -> str:
    """A member's profile (``User.get_absolute_url``)."""
    return _pattern("profile", "username", _USERNAME, get_script_prefix()).replace(
        _USERNAME, username
    )
