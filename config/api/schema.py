"""The OpenAPI schema documents every error an operation can answer, in the one error shape.

Views declare what is particular to them (their success response, a 409 where a service
can refuse a state change); the errors that follow from how an operation is built (it takes
input, it authenticates, it has an id in its path, it is throttled) are added here, once,
with the shape of ``config.api.errors``. A view that declares a status itself keeps its own.

Request schemas also say what the validators refuse beyond DRF's own mapping: text that is
blank once stripped, and fields a serializer does not know when it refuses them
(``refuses_unknown_fields = True`` on the serializer: ``additionalProperties: false``).
"""

from __future__ import annotations

from django.core import validators
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ApiErrorSerializer(serializers.Serializer):
    """The one error format of the API (see ``config.api.errors``)."""

    detail = serializers.CharField(help_text="A sentence for humans.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `invalid`.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field; `non_field_errors` for the whole request. May be empty.",
    )


def error_response(description: str) -> OpenApiResponse:
    """An error a view declares itself (a 409 its service may raise), in the one shape."""
    return OpenApiResponse(ApiErrorSerializer, description=description)


# A character that is not whitespace: what a stripped, non-blank string contains.
# DRF's CharField refuses U+0000 anywhere in a string (ProhibitNullCharactersValidator), so
# the schema says so for every request string it can: JSON Schema allows it otherwise.
NO_NUL = r"^[^\u0000]*$"
# And one that refuses a blank value too: DRF strips the value before its blank check.
NOT_BLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def _refuses_blank(field) -> bool:
    """A plain CharField that strips whitespace and refuses what is left blank."""
    return (
        isinstance(field, serializers.CharField)
        and not field.allow_blank
        and field.trim_whitespace
        # A slug, e-mail address or URL has a pattern or format of its own that says more.
        and not any(
            isinstance(v, validators.RegexValidator | validators.EmailValidator)
            for v in field.validators
        )
    )


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}

# The errors added to operations, by status, with what each means.
ERRORS = {
    400: "Invalid input: a malformed body, parameter or address; field errors in `errors`.",
    401: "No valid credentials: missing where required, or an invalid or revoked token.",
    403: "Not allowed: not the owner, or a session request without its CSRF token.",
    404: "Not found, or not visible to you (a private portrait is not found for others).",
    413: "The request body is too large.",
    415: "Unsupported media type: send one of the documented content types.",
    429: "Too many requests (a rate limit or your generation quota); see `Retry-After`.",
}


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses each operation can answer."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        declared = operation.setdefault("responses", {})
        for status in self.error_statuses(operation):
            declared.setdefault(str(status), self._error_response(status))
        operation["responses"] = dict(sorted(declared.items()))
        return operation

    def error_statuses(self, operation: dict) -> list[int]:
        """The error statuses that follow from the operation's shape (409 is the view's call)."""
        has_body = "requestBody" in operation
        in_path = any(parameter["in"] == "path" for parameter in operation.get("parameters", []))
        # `{}` in security means anonymous is allowed, but a wrong token is still refused.
        authenticates = any(requirement for requirement in operation.get("security", []))

        # Any request can be malformed: a body or parameter, or an address with a control
        # character in it (config.middleware), refused before any view runs.
        statuses = [400]
        if authenticates:
            statuses.append(401)
            if self.method in UNSAFE_METHODS:
                statuses.append(403)
        if in_path:
            statuses.append(404)
        if has_body:
            statuses += [413, 415]
        if self.view.get_throttles():
            statuses.append(429)
        return statuses

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and "format" not in schema  # an e-mail address, a URL: their format says more
        ):
            schema.setdefault("pattern", NOT_BLANK if _refuses_blank(field) else NO_NUL)
        return schema

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and getattr(serializer, "refuses_unknown_fields", False):
            schema["additionalProperties"] = False
        return schema

    def _error_response(self, status: int) -> dict:
        component = self.resolve_serializer(ApiErrorSerializer, "response")
        response = {
            "description": ERRORS[status],
            "content": {"application/json": {"schema": component.ref}},
        }
        if status == 429:
            response["headers"] = RETRY_AFTER
        return response
