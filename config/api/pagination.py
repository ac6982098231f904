from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class CreatedCursorPagination(CursorPagination):
    """Newest first, stable under inserts; clients may ask for up to 100 per page.

    A cursor is opaque: clients only follow the ``next`` and ``previous`` links. One
    that is not such a link (it does not decode, or it decodes to a position that is
    not a value of the ordering field: ``p=garbage``, a NUL byte, a date out of range)
    is a 400 with a ``cursor`` field error, never a query. DRF's own ``decode_cursor``
    checks only the cursor's structure (and answers 404).
    """

    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 100
    invalid_cursor_message = "Not a valid cursor: follow the next or previous link of a page."
    invalid_page_size_message = "Must be a whole number from 1 to {max}."

    def get_page_size(self, request):
        """``page_size`` as asked, or a 400: DRF silently ignores one that is not a number
        from 1 to ``max_page_size``, so a client's typo would look like a short page."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            message = self.invalid_page_size_message.format(max=self.max_page_size)
            raise ValidationError({self.page_size_query_param: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self._queryset = queryset  # decode_cursor checks the position against its model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        """``position`` as the database would compare it, or a 400 if it cannot be one."""
        field = self._queryset.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            value = field.to_python(position)
            # Positions this paginator writes are aware datetimes; a naive one was not.
            if isinstance(value, datetime) and settings.USE_TZ and timezone.is_naive(value):
                raise ValueError("naive datetime")
            # What the query would do with it (SQLite converts to UTC: year 0 overflows).
            field.get_db_prep_value(value, connections[self._queryset.db])
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise self._invalid() from None

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})


def cursor_page(request, queryset, *, page_size: int) -> tuple[list, str | None, str | None]:
    """A page of ``queryset`` for a site page (a Django request), with the API's cursors:
    ``(items, next link, previous link)``. Stable under inserts, and one query whatever
    the page size. A cursor that is not one of our links is the site's 400 page."""
    paginator = CreatedCursorPagination()
    paginator.page_size = page_size
    try:
        items = paginator.paginate_queryset(queryset, Request(request))
    except ValidationError:
        raise BadRequest("Not a valid page link.") from None
    return items, paginator.get_next_link(), paginator.get_previous_link()
