"""Query parameters validated like a body.

A list's filters are a serializer: it documents them (``extend_schema(parameters=[...])``
turns its fields into query parameters with their enums) and validates them, so a value
the schema does not allow is a 400 with a field error instead of being ignored or reaching
the database.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.fields import empty


class QuerySerializer(serializers.Serializer):
    @classmethod
    def validated(cls, request) -> dict:
        query = cls(data=request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data


class EnumFilter(serializers.ChoiceField):
    """An optional filter whose value must be one of ``choices`` (blank is not one)."""

    def __init__(self, choices, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(choices, **kwargs)
        self.error_messages["invalid_choice"] = f"Choose one of: {', '.join(self.choices)}."

    def get_value(self, dictionary):
        # DRF reads a blank optional form field as absent; in a query string `?status=`
        # is a value, and not one of the choices.
        return dictionary.get(self.field_name, empty)
