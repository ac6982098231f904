"""Domain errors: what went wrong, in the domain's words, and the one place that says
how each answers over HTTP.

Services and selectors raise ``DomainError`` or one of its subclasses, which say what
happened (``NotFound``, ``PermissionDenied``, ``Conflict``, ``QuotaExceeded``…) and
nothing about HTTP. Each has a machine ``code`` (what happened, for a client's code to
branch on); an app adds its own by subclassing (``accounts.services.InvalidCredentials``).
``HTTP_STATUS`` below is the one mapping from a kind of error to a status code: the API's
exception handler (``config.api.errors``) and the pages (``http_status_for``,
``form_add_domain_error``) both use it. A subclass answers as its nearest listed ancestor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """A refusal the user can act on: as it stands, the request is invalid.

    ``field_errors`` maps a field name to its messages (a form shows them on its fields;
    the API returns them under ``errors``). ``code``: what happened, in one word a
    client's code can branch on (the API's ``code``).
    """

    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, Sequence[str] | str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = {
            name: [errors] if isinstance(errors, str) else list(errors)
            for name, errors in (field_errors or {}).items()
        }


class NotFound(DomainError):
    """No such thing, or none the viewer may know exists (its existence stays secret)."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The viewer may see the thing but not do this to it (not its author, say)."""

    code = "permission_denied"


class Conflict(DomainError):
    """The thing's present state forbids it (a finished job cannot be cancelled)."""

    code = "conflict"


class IdempotencyKeyReused(DomainError):
    """A client's Idempotency-Key came back with a different request than its first."""

    code = "idempotency_key_reused"


class QuotaExceeded(DomainError):
    """Too much at once or too often; ``retry_after``: seconds until it is certainly
    accepted again, ``None`` when nobody can say."""

    code = "quota_exceeded"

    def __init__(
        self,
        message: str,
        *,
        retry_after: int | None = None,
        field_errors: Mapping[str, Sequence[str] | str] | None = None,
    ) -> None:
        super().__init__(message, field_errors=field_errors)
        self.retry_after = retry_after


# --- The one mapping to HTTP ----------------------------------------------------------------


# Each kind of refusal's HTTP status; a subclass answers as its nearest listed ancestor.
HTTP_STATUS: Mapping[type[DomainError], int] = {
    DomainError: 400,
    PermissionDenied: 403,
    # 404 for what the viewer may not see, too: whether it exists stays secret.
    NotFound: 404,
    Conflict: 409,
    # The IETF Idempotency-Key draft's answer to a key reused for another request.
    IdempotencyKeyReused: 422,
    QuotaExceeded: 429,
}


def http_status_for(error: DomainError) -> int:
    """The HTTP status a page or the API answers ``error`` with."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    raise TypeError(f"{type(error).__name__} is not a DomainError")


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


def domain_error_text(error: DomainError) -> str:
    """A refusal in one line, for a button that has no form to show field errors on (its
    page answers with a message): the message, then each distinct field error (a refused
    prompt names the words it refused)."""
    details = [message for messages in error.field_errors.values() for message in messages]
    return " ".join([error.message, *dict.fromkeys(details)])
