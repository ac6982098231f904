"""One error format for the whole API.

Every error answers ``{"detail": "<sentence>", "code": "<code>", "errors": {field: [messages]}}``;
``errors`` is present (possibly empty) on every error so clients need one code path.
A domain error answers with its ``code`` and the status ``config.errors.HTTP_STATUS`` gives its kind.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError, QuotaExceeded, http_status_for


def _flatten(detail) -> list[str]:
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten(item)]
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    return [str(detail)]


def _field_errors(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            ("non_field_errors" if name == "__all__" else name): _flatten(value)
            for name, value in detail.items()
        }
    return {"non_field_errors": _flatten(detail)}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        response = Response(
            {"detail": exc.message, "code": exc.code, "errors": exc.field_errors},
            status=http_status_for(exc),
        )
        if isinstance(exc, QuotaExceeded):
            # An error that knows its window says so (a login lock-out); else a minute.
            response["Retry-After"] = str(exc.retry_after or 60)
        return response

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        # DRF's message quotes the client's Content-Type, however long: name it only if short.
        media_type = exc.detail.split('"')[1] if exc.detail.count('"') == 2 else ""
        shown = f' "{media_type}"' if 0 < len(media_type) <= 100 else ""
        exc = exceptions.UnsupportedMediaType(
            media_type, detail=f"Unsupported media type{shown} in request."
        )

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        non_field = errors.get("non_field_errors")
        detail = non_field[0] if non_field and len(errors) == 1 else "Invalid input."
        response.data = {"detail": detail, "code": "invalid", "errors": errors}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": str(detail), "code": code, "errors": {}}
    return response
