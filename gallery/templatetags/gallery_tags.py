"""Template helpers of the gallery's pages: ``{% load gallery_tags %}``."""

from __future__ import annotations

from django import template
from django.conf import settings

register = template.Library()


@register.filter
def site_url(path: str) -> str:
    """``path`` as an absolute URL on this site (``SITE_URL``): what link previews and
    feed readers, which do not know the page they came from, need."""
    return f"{settings.SITE_URL}{path}"
