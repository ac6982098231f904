"""Curating a finished job: which of its portraits to publish, which to keep private.

A job paints up to ``MAX_IMAGES_PER_JOB`` images, all stored private; its owner then
chooses, on the job page or by API, in one request, who sees each one. The choice is
``portraits``' to apply (``portraits.community.portraits_visibility_set``: all or nothing,
``published_at`` the first time one goes public); this module only makes sure that every
portrait named is one of this job's.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.errors import DomainError
from generation.models import GenerationJob
from portraits.community import portraits_visibility_set
from portraits.models import Portrait
from portraits.selectors import portrait_list_for_job


def job_portraits_visibility_set(
    *, job: GenerationJob, by, choices: Mapping[str, str]
) -> list[Portrait]:
    """Set the visibility of several of ``job``'s portraits at once: ``{public_id:
    "private" | "unlisted" | "public"}``. ``by`` must be able to edit them (the job's
    owner, or a moderator).

    All or nothing: an id that is not one of this job's portraits (as ``by`` may see
    them), or an unknown visibility, is a field error under that id, and nothing changes.
    """
    if not choices:
        raise DomainError(
            "Choose who may see at least one portrait.",
            field_errors={"portraits": ["Name at least one portrait."]},
        )
    mine = {portrait.public_id for portrait in portrait_list_for_job(job=job, viewer=by)}
    errors = {
        public_id: ["Not a portrait of this job."] for public_id in choices if public_id not in mine
    }
    if errors:
        raise DomainError("Nothing was changed.", field_errors=errors)
    return portraits_visibility_set(by=by, choices=choices)
