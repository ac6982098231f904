"""Serializer fields that accept exactly what the schema says they accept.

DRF's ``CharField`` turns a JSON number into a string (``{"name": 5}`` becomes ``"5"``)
while the schema it produces says ``type: string``: a client that sends a number has a
bug, and the API says so rather than guess. Multipart and form bodies carry only strings,
so they pass unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers


class _StringsOnly:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Not a valid string.", code="invalid")
        return super().to_internal_value(data)


class StrictCharField(_StringsOnly, serializers.CharField):
    pass


class StrictSlugField(_StringsOnly, serializers.SlugField):
    pass


class StrictEmailField(_StringsOnly, serializers.EmailField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true``/``false`` only: DRF's own also takes ``"yes"``, ``1``, ``"off"``…"""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError("Must be true or false.", code="invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF's own also takes ``"5"``, ``5.0`` and ``true``."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            raise serializers.ValidationError("Must be a whole number.", code="invalid")
        return super().to_internal_value(data)


class RefusesUnknownFieldsMixin:
    """A request body's fields the serializer does not know are refused, reported with
    every other error at once (not only once those pass). The schema says so
    (``refuses_unknown_fields``: ``additionalProperties: false``, ``config.api.schema``).
    A body that is no object (JSON ``1``, ``true``, ``[[]]``) has no fields: DRF's own
    error says so."""

    refuses_unknown_fields = True
    unknown_field_message = "Unknown field."

    def to_internal_value(self, data):
        unknown = set(data) - set(self.fields) if isinstance(data, Mapping) else set()
        errors = {name: [self.unknown_field_message] for name in sorted(unknown)}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            errors.update(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return value
