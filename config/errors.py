"""The one base class for domain errors.

Services raise ``DomainError`` (or a subclass); it is mapped once to an API
response (``config.api.errors``) and once to form errors / messages on pages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """A refusal the user can act on.

    ``field_errors`` maps a field name to its messages; ``status`` is the HTTP
    status the API answers with (400 by default; 404 hides existence, 409 for a
    state conflict, 429 for quotas).
    """

    status = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, Sequence[str] | str] | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = {
            name: [errors] if isinstance(errors, str) else list(errors)
            for name, errors in (field_errors or {}).items()
        }
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class QuotaExceeded(DomainError):
    status = 429
    code = "quota_exceeded"


def form_add_domain_error(form, error: DomainError) -> None:
    """Show a service's refusal on a page's form: field errors on their fields, the rest on top.

    The HTML side of the one mapping (config.api.errors is the API side).
    """
    if not error.field_errors:
        form.add_error(None, error.message)
    for field, messages in error.field_errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, message)
