"""A job as every surface shows it: the REST resource, the job page and WebSocket messages.

Built for one viewer (the job's owner, or a moderator): what that viewer may see of the
job's parent and portraits is decided by ``portraits.selectors``, never here.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from generation.models import GenerationJob
from generation.selectors import job_queue_position
from portraits.presenters import portrait_summary
from portraits.recipe import recipe_for_viewer
from portraits.selectors import portrait_list_for_job, portrait_parent_for


def job_present(job: GenerationJob, *, viewer) -> dict[str, Any]:
    """The job as ``viewer`` may see it now (the API's job resource, documented by
    ``generation.api.serializers.JobDocSerializer``).

    The parent is shown only through ``portraits.selectors``: a parent private to
    someone ``viewer`` is not, or a deleted one, reads ``{"available": false, ...}``
    with its author's credit, and the recipe's ``parent`` is then null; a visible
    parent's title is the one ``viewer`` may read (``portrait_title_for``). The job's
    own recipe — its owner's prompt, even one kept from the parent — is shown whole: only
    its owner and moderators ever see a job. URLs are site-relative.
    """
    portraits = []
    if job.status == GenerationJob.Status.SUCCEEDED:
        found = getattr(job, "live_portraits", None)  # prefetched by the selectors
        if found is None:
            found = portrait_list_for_job(job=job, viewer=viewer)
        portraits = [portrait_summary(portrait, viewer=viewer) for portrait in found]
    # A remix whose parent row is gone altogether still says it was one (the recipe
    # remembers), as a parent no longer available.
    parent = None
    if job.parent_id is not None or job.recipe.get("parent"):
        parent = portrait_parent_for(parent=job.parent, viewer=viewer)
    return {
        "id": str(job.pk),
        "status": job.status,
        "queue_position": job_queue_position(job=job),
        "progress": {"step": job.progress_step, "total": job.progress_total or job.steps},
        # Never the model's server-side path, nor a parent the viewer may not open.
        "recipe": recipe_for_viewer(
            job.recipe, parent_visible=parent is not None and parent.available
        ),
        "model": {
            "slug": job.model.slug,
            "name": job.model.name,
            "paints_noise": job.model.paints_noise,
        },
        "style": {"slug": job.style.slug, "name": job.style.name} if job.style else None,
        "parent": parent.as_dict() if parent is not None else None,
        "error": job.error,
        "worker": job.worker,
        "attempts": job.attempts,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "url": job.get_absolute_url(),
        "api_url": reverse("api:job-detail", kwargs={"pk": job.pk}),
        "ws_url": job.ws_path,
        "portraits": portraits,
    }


def _iso(value) -> str | None:
    # Python's isoformat, as the job resource has always written it ("+00:00", not "Z").
    return value.isoformat() if value else None
