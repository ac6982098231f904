"""The API's JSON parser: nesting too deep is a 400 parse error, never a 500.

DRF's parser turns a syntax error into ``ParseError`` but not nesting deep enough to
exhaust Python's recursion limit: ``[`` × 100,000 is a ``RecursionError`` inside
``json.loads``, a 500 on every JSON endpoint. Nesting just under that limit parses,
and then recurses again wherever the data is walked or rendered back. No request
this API takes nests more than a few levels, so anything past ``MAX_JSON_DEPTH``
answers ``{"detail": "JSON parse error - …", "code": "parse_error", "errors": {}}``.
(NUL and unpaired surrogates in strings are refused by DRF's CharField, per field.)
"""

from __future__ import annotations

import io
import re
from typing import Any

from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 32
TOO_DEEP = f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels."


def json_depth_check(data: Any) -> None:
    """``ParseError`` if ``data`` nests lists and objects deeper than ``MAX_JSON_DEPTH``.

    Iterative, so it cannot itself run out of stack whatever it is given.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise ParseError(TOO_DEEP)
        stack.extend((item, depth + 1) for item in value)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        json_depth_check(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Django's multipart parser, refusing parts it would silently skip.

    Django drops a part without a ``Content-Disposition`` naming a field, so a malformed
    body (``--b\\r\\n[]--b--``) read as an empty form: a PATCH that changed nothing, a
    remix with the defaults, answered 200/201. Every part must name its field; the
    body is checked before Django parses it (it is bounded by ``UPLOAD_MAX_BYTES``).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        multipart_check(body, media_type or "")
        return super().parse(io.BytesIO(body), media_type, parser_context)


def multipart_check(body: bytes, media_type: str) -> None:
    """``ParseError`` unless every part of ``body`` names its field in a Content-Disposition."""
    _, params = parse_header_parameters(media_type)
    boundary = params.get("boundary", "")
    if not boundary:
        raise ParseError("Multipart form parse error - no boundary in the Content-Type.")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    # Before the first delimiter is a preamble; after the closing "--boundary--", an epilogue.
    parts = body.split(delimiter)[1:]
    for number, part in enumerate(parts, start=1):
        if part.startswith(b"--"):
            return
        head, separator, _ = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        headers = head.lower() if separator else b""
        if not re.search(rb"^content-disposition:[^\r\n]*\bname=", headers, re.MULTILINE):
            raise ParseError(
                f"Multipart form parse error - part {number} has no Content-Disposition "
                "naming its field."
            )
    if parts or body.strip():
        raise ParseError("Multipart form parse error - the closing boundary is missing.")
