"""``<row_id:…>`` in URLs: a row id the database can hold, or the site's 404.

Django's ``<int:…>`` takes any number of digits, and a 30-digit id made SQLite raise
``OverflowError`` (a 500) before any lookup (tests/test_hostile_input.py). Ids are
positive 64-bit integers: at most 18 digits always fit.
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import IntConverter


class RowIdConverter(IntConverter):
    regex = "[0-9]{1,18}"


# Registered once, on first import (registering a name twice is deprecated).
register_converter(RowIdConverter, "row_id")
