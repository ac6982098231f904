"""Portraits as every surface shows them: the API, pages and WebSocket events share these.

A presenter turns a row into plain data for one viewer; what that viewer may see is
decided by ``portraits.selectors``, never here. URLs are site-relative unless the caller
passes ``absolute_url`` (an API request's ``build_absolute_uri``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from portraits.lineage import author_fields
from portraits.links import portrait_url
from portraits.models import Portrait
from portraits.selectors import portrait_parent_for, portrait_title_for

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
        "url": absolute(portrait_url("portraits:detail", portrait.public_id)),
        "api_url": absolute(portrait_url("api:portrait-detail", portrait.public_id)),
        "image_url": absolute(portrait_url("portraits:image", portrait.public_id)),
        "thumbnail_url": absolute(portrait_url("portraits:thumbnail", portrait.public_id)),
        "download_url": absolute(portrait_url("portraits:download", portrait.public_id)),
        "width": portrait.width,
        "height": portrait.height,
        "thumbnail_width": portrait.thumbnail_width,
        "thumbnail_height": portrait.thumbnail_height,
        "visibility": str(portrait.visibility),
        "rating": str(portrait.rating),
        "author": {"name": name, "username": username, "url": profile},
        "depth": portrait.depth,
        "created_at": iso_datetime(portrait.created_at),
    }


# Up to this width a picture is shown scaled up by a whole number (portraits.css says why
# it is then drawn "pixelated"); wider ones fill the column smoothly.
UPSCALED_MAX_WIDTH = 320


def portrait_image_display(portrait: Portrait) -> dict[str, Any]:
    """How a portrait page shows the picture: large, and its real size in words.

    ``upscaled``: small enough (the demo model paints 128 px) that the page scales it up
    several times: by a whole factor, drawn with hard pixel edges (``portraits.css``).
    """
    return {
        "width": portrait.width,
        "height": portrait.height,
        "upscaled": portrait.width <= UPSCALED_MAX_WIDTH,
        "size_label": f"{portrait.width} × {portrait.height} px original",
    }


def portrait_reproduction(
    portrait: Portrait, *, viewer, absolute_url: AbsoluteUrl | None = None
) -> dict[str, Any]:
    """What a reproduction says of itself, the same on its page and in the API:
    ``reproduces``, the portrait it painted again as ``viewer`` may see it (the shape of a
    remix's ``parent``: ``portraits.lineage.ParentRef``; null when it is no reproduction),
    and ``pixels_match``, whether its pixels are that portrait's (null when unknown).

    A reproduction whose original's row is gone altogether (deleted without remixes)
    still says it was one: its ``pixels_match`` was decided when it was painted.
    """
    if portrait.reproduces_id is None and portrait.pixels_match is None:
        return {"reproduces": None, "pixels_match": None}
    ref = portrait_parent_for(parent=portrait.reproduces, viewer=viewer)
    return {
        "reproduces": ref.as_dict(absolute=absolute_url),
        "pixels_match": portrait.pixels_match,
    }
