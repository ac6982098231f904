"""``<username:…>`` in URLs: only what could be a username reaches a view.

The characters Django's username validator allows (letters, digits and
``@.+-_``), at most the column's 150: a NUL byte or other junk never reaches
a query, the URL just does not match (404).
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import StringConverter

from accounts.models import User

USERNAME_PATTERN = rf"[\w.@+-]{{1,{User._meta.get_field('username').max_length}}}"


class UsernameConverter(StringConverter):
    regex = USERNAME_PATTERN


# Registered once, on first import (registering a name twice is deprecated).
register_converter(UsernameConverter, "username")
