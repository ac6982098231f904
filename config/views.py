"""The site's error responses: the API's one error shape under /api/, friendly pages elsewhere.

Wired as ``handler400``/``handler403``/``handler404``/``handler500`` in ``config.urls``.
DRF views answer their own errors (``config.api.errors``); these catch what never
reaches a DRF view: an unknown path, a request Django refuses before any view
runs, an unexpected exception. With ``DEBUG`` on, Django shows its technical
404 and 500 pages instead, as it should for a developer.
"""

from __future__ import annotations

import logging

from django.http import HttpResponseServerError, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _api_error(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code, "errors": {}}, status=status)


def bad_request(request, exception):
    if _is_api(request):
        return _api_error("Bad request.", "bad_request", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if _is_api(request):
        return _api_error(
            "You do not have permission to perform this action.", "permission_denied", 403
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if _is_api(request):
        return _api_error("Not found.", "not_found", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return _api_error("A server error occurred.", "server_error", 500)
    try:
        # Without the request, like Django's own handler: whatever broke (the
        # database, a context processor) must not break the error page too.
        return HttpResponseServerError(render_to_string("500.html"))
    except Exception:
        logger.exception("Could not render 500.html")
        return HttpResponseServerError(
            "<!doctype html><title>Server error</title><h1>Something went wrong</h1>"
            "<p>Please try again in a moment.</p>"
        )
