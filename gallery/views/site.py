"""Site-wide odds and ends every page relies on."""

from __future__ import annotations

from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe


@require_safe
def favicon(request):
    """/favicon.ico, which browsers and feed readers ask for whatever a page links: the SVG.

    A redirect rather than a second copy, so there is one icon to change; not permanent,
    because in production its target is a hashed name that changes with the icon.
    """
    response = HttpResponseRedirect(static("gallery/favicon.svg"))
    patch_cache_control(response, public=True, max_age=24 * 3600)
    return response
