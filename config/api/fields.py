"""Serializer fields that accept exactly what the schema says they accept.

DRF's ``CharField`` turns a JSON number into a string (``{"name": 5}`` becomes ``"5"``)
while the schema it produces says ``type: string``: a client that sends a number has a
bug, and the API says so rather than guess. Multipart and form bodies carry only strings,
so they pass unchanged.
"""

from __future__ import annotations

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
