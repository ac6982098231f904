"""The ``Idempotency-Key`` request header: the client's name for one request, so a retry
of it is safe.

The convention of the IETF draft "The Idempotency-Key HTTP Header Field" (as Stripe and
others use it): a client sends a unique key (a UUID) with a request that creates
something and the same key again when it retries; the server answers a retry with what
the first request made, marked ``Idempotent-Replayed: true``. This module reads the
header and fingerprints the request; which operations honour it, and for how long keys
are kept, is the business of their service (``generation.services.job_submit_once``).
"""

from __future__ import annotations

import hashlib
import json
import re

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
_VALID_KEY = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")

PARAMETER = OpenApiParameter(
    HEADER,
    # What _VALID_KEY accepts, so the schema and the check agree (an empty value is a 400).
    {
        "type": "string",
        "minLength": 1,
        "maxLength": KEY_MAX_LENGTH,
        "pattern": "^[!-~]([ -~]*[!-~])?$",
    },
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A key of your choosing (1–255 printable ASCII characters; a UUID is best) that "
        "makes retrying this request safe for a day: a retry with the same key and body "
        "answers the job the first request made, with `Idempotent-Replayed: true`, instead "
        "of submitting another; the same key with a different request answers 422."
    ),
)


def idempotency_key(request) -> str | None:
    """The request's Idempotency-Key, None without one; a malformed one is a 400."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if len(raw) > KEY_MAX_LENGTH or not _VALID_KEY.fullmatch(raw):
        raise ValidationError(
            {
                HEADER: [
                    f"Use 1 to {KEY_MAX_LENGTH} printable ASCII characters "
                    "(a UUID makes a good key)."
                ]
            }
        )
    return raw


def request_fingerprint(request) -> str:
    """What a key stands for: a hash of the method, the path and the parsed body
    (so a retry with its JSON keys in another order is the same request)."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict: a form or multipart body
        data = dict(data.lists())
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()
