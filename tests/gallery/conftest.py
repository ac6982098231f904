"""Fixtures for the gallery's tests: portraits made fast, with the community's columns as
the services leave them.

``gallery_portrait(author, ago=..., likes=..., remixes=..., tags=..., prompt=...)`` makes
a portrait row directly (``tests/portraits/factories.py``), published ``ago``, with its
publication's trending term; then likes and remixes are recorded through
``portraits.community.portrait_activity_record`` (the counters and trending score move
exactly as a real like or remix moves them), tags through ``portrait_tags_set`` and the
search documents through ``search_documents_refresh``. Fast enough for a hundred.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portraits.community import (
    portrait_activity_record,
    portrait_tags_set,
    search_documents_refresh,
    trending_term,
)
from portraits.models import Portrait
from tests.portraits.factories import PortraitFactory, recipe_for

V = Portrait.Visibility


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"


def activity(portrait: Portrait, kind: str, count: int, *, ago: timedelta = timedelta(0)) -> None:
    """``count`` likes (or remixes) of ``portrait``, made ``ago``: its counter and trending
    score move as ``count`` real ones would move them."""
    at = timezone.now() - ago
    for _ in range(count):
        portrait_activity_record(portrait_id=portrait.pk, kind=kind, at=at, delta=1)
    portrait.refresh_from_db()


@pytest.fixture
def gallery_portrait(db):
    def make(
        author,
        *,
        ago: timedelta = timedelta(hours=1),
        likes: int = 0,
        remixes: int = 0,
        activity_ago: timedelta = timedelta(0),
        tags: tuple[str, ...] = (),
        prompt: str | None = None,
        visibility: str = V.PUBLIC,
        **fields,
    ) -> Portrait:
        published_at = timezone.now() - ago if visibility == V.PUBLIC else None
        if prompt is not None:
            fields["recipe"] = recipe_for(prompt)
        portrait = PortraitFactory(
            author=author,
            visibility=visibility,
            published_at=published_at,
            trending=trending_term("publish", published_at) if published_at else 0.0,
            **fields,
        )
        activity(portrait, "like", likes, ago=activity_ago)
        activity(portrait, "remix", remixes, ago=activity_ago)
        if tags:
            portrait_tags_set(portrait=portrait, slugs=tags)
        else:
            search_documents_refresh(portrait_ids=[portrait.pk])
        portrait.refresh_from_db()
        return portrait

    return make


def ids(items) -> list[str]:
    """Public ids of portraits, or of the API's items."""
    return [item["id"] if isinstance(item, dict) else item.public_id for item in items]
