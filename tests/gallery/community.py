"""Portraits and members for the like, follow and profile tests (tests/gallery/test_likes.py,
test_follows.py, test_profile.py): rows made directly, as a publication leaves them."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from portraits.community import trending_term
from portraits.models import Portrait
from tests.portraits.factories import PortraitFactory

V = Portrait.Visibility


def published(author, *, ago: timedelta = timedelta(hours=1), **fields) -> Portrait:
    """A public portrait of ``author``'s, published ``ago``, with the trending score its
    publication gives it (``portraits.community.visibility_apply``)."""
    at = timezone.now() - ago
    return PortraitFactory(
        author=author, published_at=at, trending=trending_term("publish", at), **fields
    )


def unpublished(author, *, visibility=V.PRIVATE, **fields) -> Portrait:
    return PortraitFactory(author=author, visibility=visibility, published_at=None, **fields)
