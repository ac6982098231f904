"""Requests refused before any view runs, in the API's error shape under /api/.

``RequestScreeningMiddleware`` (Django, first after SecurityMiddleware) answers

- 400 to a path or query string holding a control character once percent-decoded
  (``/p/%00/``, ``?status=%00``). No address of this site has one, and PostgreSQL
  refuses NUL in text with an error, so one reaching a query was a 500. This is
  the last line of defence: URL converters, DRF lookup patterns and each view's
  checks of its query parameters validate ids, slugs and filters by format anyway.
- 413 to a body larger than ``UPLOAD_MAX_BYTES``, by its Content-Length, before
  anything reads it (under WSGI and the test client Django reads bodies lazily).

Under ASGI, Django's handler reads the whole body into a temporary file before
any middleware runs. ``RequestBodyLimit`` wraps the ASGI application (``config.asgi``)
so an oversized body is never read: with a Content-Length over the limit the
application is handed an empty body, and a body without one (chunked) is cut off
where it passes the limit; both are then answered 413 by the middleware. The
reverse proxy in front (nginx ``client_max_body_size``) should refuse them first,
with the same limit: daphne itself receives a whole body before the application
sees the request.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.deprecation import MiddlewareMixin

from config.views import request_refused

# C0 controls, DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Set in the ASGI scope by RequestBodyLimit when it cut a body off.
BODY_TOO_LARGE = "likeness.body_too_large"


def _has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _declared_length(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _body_too_large(request) -> bool:
    if getattr(request, "scope", {}).get(BODY_TOO_LARGE):
        return True
    length = _declared_length(request.META.get("CONTENT_LENGTH"))
    return length is not None and length > settings.UPLOAD_MAX_BYTES


class RequestScreeningMiddleware(MiddlewareMixin):
    def process_request(self, request):
        query = unquote(request.META.get("QUERY_STRING", ""), errors="replace")
        if _has_control(request.path) or _has_control(query):
            return request_refused(
                request,
                status=400,
                code="bad_request",
                detail="The address holds a control character (such as a NUL byte); "
                "no address of this site does.",
            )
        if _body_too_large(request):
            return request_refused(
                request,
                status=413,
                code="request_too_large",
                detail=f"The request is larger than {filesizeformat(settings.UPLOAD_MAX_BYTES)}, "
                "the most this site accepts.",
            )
        return None


_END_OF_BODY = {"type": "http.request", "body": b"", "more_body": False}


class RequestBodyLimit:
    """ASGI middleware: never hand Django more than ``UPLOAD_MAX_BYTES`` of a request body."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.UPLOAD_MAX_BYTES
        declared = None
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                declared = _declared_length(value)
        scope = dict(scope)
        state = {"received": 0, "ended": False}
        if declared is not None and declared > limit:
            scope[BODY_TOO_LARGE] = True

        async def receive_within_limit():
            if state["ended"]:
                # Whatever the client still sends is dropped unread; what the application
                # waits for now is the disconnect.
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return message
            if scope.get(BODY_TOO_LARGE):
                state["ended"] = True
                return _END_OF_BODY
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    scope[BODY_TOO_LARGE] = True
                    state["ended"] = True
                    return _END_OF_BODY
                state["ended"] = not message.get("more_body", False)
            return message

        return await self.app(scope, receive_within_limit, send)
