"""The site's error responses: the API's one error shape under /api/, friendly pages elsewhere.

Wired as ``handler400``/``handler403``/``handler404``/``handler500`` in ``config.urls``.
DRF views answer their own errors (``config.api.errors``); these catch what never
reaches a DRF view: an unknown path, a request Django refuses before any view
runs, an unexpected exception. With ``DEBUG`` on, Django shows its technical
404 and 500 pages instead, as it should for a developer. ``request_refused``
answers what ``config.middleware`` refuses (in either mode).
"""

from __future__ import annotations

import logging

from django.http import HttpResponse, HttpResponseServerError, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def _api_error(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code, "errors": {}}, status=status)


def request_refused(request, *, status: int, code: str, detail: str) -> HttpResponse:
    """A request refused before any view could serve it (a 400, a 413).

    Rendered without the request, like the 500 page: it may be refused before the
    session or the user are loaded.
    """
    if _is_api(request):
        return _api_error(detail, code, status)
    return HttpResponse(
        render_to_string("400.html", {"status": status, "detail": detail}), status=status
    )


def bad_request(request, exception):
    # Django's own message (an unknown Host, too many form fields) stays in its log.
    if _is_api(request):
        detail = "Bad request."
    else:
        detail = "The address or the form was malformed: the link may be mistyped or cut short."
    return request_refused(request, status=400, code="bad_request", detail=detail)


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
