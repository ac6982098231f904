"""``<public_id:…>`` in URLs: only a well-formed portrait id reaches a view.

Anything else (a NUL byte, a path segment of junk, 200 characters) is not a
portrait's address: the URL does not match and the site answers its 404.
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import StringConverter

from portraits.models import PUBLIC_ID_PATTERN


class PublicIdConverter(StringConverter):
    regex = PUBLIC_ID_PATTERN


# Registered once, on first import (registering a name twice is deprecated).
register_converter(PublicIdConverter, "public_id")
