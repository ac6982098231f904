"""Portraits as every surface shows them: the API, pages and WebSocket events share these.

A presenter turns a row into plain data for one viewer; what that viewer may see is
decided by ``portraits.selectors``, never here. URLs are site-relative unless the caller
passes ``absolute_url`` (an API request's ``build_absolute_uri``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.urls import get_script_prefix, reverse
from django.utils import timezone

from portraits.lineage import author_fields
from portraits.models import Portrait
from portraits.selectors import portrait_title_for

AbsoluteUrl = Callable[[str], str]


def iso_datetime(value) -> str | None:
    """A datetime as the API has always written it: ISO 8601 in the current time zone,
    UTC as ``Z`` (DRF's ``DateTimeField`` format)."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# Stands for a public id in a reversed URL (it matches the public id converter).
_PLACEHOLDER = "_public_id_"


@functools.lru_cache(maxsize=64)
def _url_pattern(name: str, script_prefix: str) -> str:
    return reverse(name, kwargs={"public_id": _PLACEHOLDER})


def _portrait_url(name: str, portrait: Portrait) -> str:
    """``reverse(name, public_id=…)``, reversed once per URL name (and script prefix):
    a list of a hundred portraits otherwise spends milliseconds in ``reverse`` alone."""
    return _url_pattern(name, get_script_prefix()).replace(_PLACEHOLDER, portrait.public_id)


def portrait_summary(
    portrait: Portrait,
    *,
    viewer,
    absolute_url: AbsoluteUrl | None = None,
    chain=None,
) -> dict[str, Any]:
    """A portrait in a list or embedded in a job: enough to show and link it.

    ``id`` is the public id. The portrait must have its ``author`` selected (the
    selectors do). ``title`` is the title as ``viewer`` may read it
    (``portraits.selectors.portrait_title_for``); for a list, decide what is withheld
    first (``portraits.selectors.portraits_withheld``): one query for all. ``chain``:
    rows already read that hold the portrait's ancestors.
    """
    absolute = absolute_url or (lambda path: path)
    name, username, profile = author_fields(portrait)
    return {
        "id": portrait.public_id,
        "title": portrait_title_for(portrait=portrait, viewer=viewer, chain=chain),
        "url": absolute(_portrait_url("portraits:detail", portrait)),
        "api_url": absolute(_portrait_url("api:portrait-detail", portrait)),
        "image_url": absolute(_portrait_url("portraits:image", portrait)),
        "thumbnail_url": absolute(_portrait_url("portraits:thumbnail", portrait)),
        "download_url": absolute(_portrait_url("portraits:download", portrait)),
        "width": portrait.width,
        "height": portrait.height,
        "thumbnail_width": portrait.thumbnail_width,
        "thumbnail_height": portrait.thumbnail_height,
        "visibility": str(portrait.visibility),
        "author": {"name": name, "username": username, "url": profile},
        "depth": portrait.depth,
        "created_at": iso_datetime(portrait.created_at),
    }
