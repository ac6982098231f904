"""Daphne without Twisted's form parsing.

Twisted's ``Request`` parses every ``multipart/form-data`` and form-encoded POST body
into ``request.args`` before daphne sees the request: a body it cannot parse (an
empty or malformed multipart body) is answered with a bare ``400 Bad Request`` with
no content type, outside the API's error shape, and never reaches Django
(django/daphne#447); a body it can parse is held in memory a second time for
nothing. Daphne never reads ``request.args``: Django and DRF parse the body
themselves, and answer in the one error shape. Twisted has a switch for exactly
this (``parsePOSTFormSubmission``), which daphne does not expose.
"""

from __future__ import annotations

import sys


def daphne_skip_form_parsing() -> None:
    """Make daphne's requests skip Twisted's form parsing; nothing when daphne is not serving.

    Called when the ASGI application is imported, which daphne does after it has
    imported its server (so a process daphne does not serve never imports Twisted).
    """
    http_protocol = sys.modules.get("daphne.http_protocol")
    if http_protocol is None or getattr(http_protocol.WebRequest, "skips_form_parsing", False):
        return

    class WebRequestWithoutFormParsing(http_protocol.WebRequest):
        skips_form_parsing = True

        def __init__(self, *args, **kwargs):
            kwargs["parsePOSTFormSubmission"] = False
            super().__init__(*args, **kwargs)

    # HTTPFactory.buildProtocol installs the module's WebRequest on every connection.
    http_protocol.WebRequest = WebRequestWithoutFormParsing
