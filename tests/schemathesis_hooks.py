"""schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

The fuzzer authenticates with one member's API token. Revoking that token is a legitimate
request the API must honour, but it would turn every later request into a 401 and end the
run's usefulness, so the one token the run depends on is never the one it revokes: the
request is sent for token 0 (no such token: a 404) instead. And a multipart body's "wrong
type" is no wrong type once it is form text (``filter_failure``).
"""

from __future__ import annotations

import os

import schemathesis

OWN_TOKEN_ID = os.environ.get("LIKENESS_FUZZ_TOKEN_ID", "")


@schemathesis.hook
def before_call(context, case, kwargs):
    if (
        case.method.upper() == "DELETE"
        and case.path == "/api/v1/me/tokens/{id}/"
        and str((case.path_parameters or {}).get("id")) == OWN_TOKEN_ID
    ):
        case.path_parameters = {**case.path_parameters, "id": 0}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Form fields are text: a "wrong type" made up for a multipart body (``false`` where a
    string belongs) arrives as the valid text "false", so a negative multipart case the API
    accepts is no finding. (The JSON side refuses wrong types: tests/test_schema.py.)"""
    multipart = (case.media_type or "").startswith("multipart/")
    return not (multipart and failure.code == "ST201")
