"""A portrait as the gallery shows it, to one viewer: the API's items (and anything else
that wants the same shape) are built here, on ``portraits.presenters.portrait_summary``."""

from __future__ import annotations

from typing import Any

from portraits.models import Portrait
from portraits.presenters import AbsoluteUrl, iso_datetime, portrait_summary


def gallery_item(
    portrait: Portrait,
    *,
    viewer,
    liked: bool | None,
    absolute_url: AbsoluteUrl | None = None,
) -> dict[str, Any]:
    """The summary every list shares, plus what the gallery is about: its counts, when
    it was published, its style, model and tags, and whether ``viewer`` likes it
    (``liked`` None: anonymous). The portrait comes from ``gallery.selectors``: its
    author selected, what is withheld of its title decided, its tags prefetched."""
    return {
        **portrait_summary(portrait, viewer=viewer, absolute_url=absolute_url),
        "like_count": portrait.like_count,
        "remix_count": portrait.remix_count,
        "published_at": iso_datetime(portrait.published_at),
        "style": portrait.style,
        "model": portrait.model,
        "tags": [tag.slug for tag in portrait.tags.all()],
        "liked": liked,
    }
