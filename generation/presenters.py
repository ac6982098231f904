"""A job as every surface shows it: the REST resource, the job page and WebSocket messages.

Built for one viewer (the job's owner, or a moderator): what that viewer may see of the
job's parent and portraits is decided by ``portraits.selectors``, never here.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from generation.models import GenerationJob, Sweep
from generation.selectors import (
    job_queue_position,
    job_waits_for_a_worker,
    sweep_of_portrait,
    sweep_siblings_viewable,
)
from generation.sweeps import cell_caption
from portraits.links import portrait_url
from portraits.presenters import portrait_summary
from portraits.recipe import recipe_for_viewer
from portraits.selectors import portrait_list_for_job, portrait_parent_for

WAITING_FOR_A_WORKER = (
    "No worker is serving this model at the moment: the job waits in the queue and starts "
    "as soon as one is started."
)


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
    found = _results(job, viewer=viewer)
    portraits = [
        {**portrait_summary(portrait, viewer=viewer), **_seed(portrait)} for portrait in found
    ]
    # A reproduction (one image) says what it repainted, and, once painted, whether its
    # pixels match (portraits.presenters.portrait_reproduction says how it is decided).
    reproduces = pixels_match = None
    if job.reproduces_id is not None:
        reproduces = portrait_parent_for(parent=job.reproduces, viewer=viewer).as_dict()
    if portraits and found[0].reproduces_id is not None:
        pixels_match = found[0].pixels_match
    # A remix whose parent row is gone altogether still says it was one (the recipe
    # remembers), as a parent no longer available.
    parent = None
    if job.parent_id is not None or job.recipe.get("parent"):
        parent = portrait_parent_for(parent=job.parent, viewer=viewer)
    return {
        "id": str(job.pk),
        "status": job.status,
        "queue_position": job_queue_position(job=job),
        # Queued for a model that no running worker serves: it waits, and says so.
        "queue_note": (WAITING_FOR_A_WORKER if job_waits_for_a_worker(job=job) else None),
        # Image-to-image runs fewer steps than the recipe's (``steps_to_run``): the
        # progress counts those, from the start.
        "progress": {"step": job.progress_step, "total": job.progress_total or job.steps_to_run},
        # Never the model's server-side path, nor a parent the viewer may not open.
        "recipe": recipe_for_viewer(
            job.recipe, parent_visible=parent is not None and parent.available
        ),
        "model": {
            "slug": job.model.slug,
            "name": job.model.name,
            "demo": job.model.demo,
            "paints_noise": job.model.paints_noise,
        },
        "style": {"slug": job.style.slug, "name": job.style.name} if job.style else None,
        "parent": parent.as_dict() if parent is not None else None,
        "reproduces": reproduces,
        "pixels_match": pixels_match,
        "error": job.error,
        "worker": job.worker,
        "attempts": job.attempts,
        # The pipeline call that painted its latest attempt, shared with other members'
        # compatible jobs (their ids are not shown: only how many).
        "batch": (
            {"id": str(job.batch_id), "jobs": job.batch_jobs, "images": job.batch_images}
            if job.batch_id
            else None
        ),
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "url": job.get_absolute_url(),
        "api_url": reverse("api:job-detail", kwargs={"pk": job.pk}),
        "ws_url": job.ws_path,
        "portraits": portraits,
    }


def _results(job: GenerationJob, *, viewer) -> list:
    """The portraits a finished job painted that ``viewer`` may see, in image order."""
    if job.status != GenerationJob.Status.SUCCEEDED:
        return []
    found = getattr(job, "live_portraits", None)  # prefetched by the selectors
    if found is None:
        found = portrait_list_for_job(job=job, viewer=viewer)
    return list(found)


def _seed(portrait) -> dict[str, Any]:
    """Each picture of a batch has its own seed (the job's, plus its index): the one to
    paint it again."""
    return {"seed": (portrait.recipe or {}).get("seed")}


# The comparison of a job's pictures shows small ones at a whole multiple of their size,
# up to about this many CSS pixels wide (the demo model's 128 px three times over): at
# their real size they would be smaller than their own thumbnails.
COMPARE_WIDTH = 384


def job_compare_scale(portraits: list[dict[str, Any]]) -> int:
    """By how much (1 to 4) the job page's comparison enlarges ``portraits`` (summaries)."""
    widest = max((portrait["width"] or 0 for portrait in portraits), default=0)
    return max(1, min(4, COMPARE_WIDTH // widest)) if widest else 1


def job_list_row(job: GenerationJob, *, viewer) -> dict[str, Any]:
    """A job as the "My jobs" list shows it, on the page and in ``ws/jobs/`` messages:
    where it stands and the first picture it painted (as ``viewer`` may see it), or
    none — the list then shows its status in the picture's place."""
    first = next(iter(_results(job, viewer=viewer)), None)
    total = job.progress_total or job.steps_to_run
    return {
        "id": str(job.pk),
        "url": job.get_absolute_url(),
        "status": job.status,
        "status_label": job.get_status_display(),
        "queue_position": job_queue_position(job=job),
        "progress": {"step": job.progress_step, "total": total},
        "thumbnail": (
            {
                "url": portrait_url("portraits:thumbnail", first.public_id),
                "width": first.thumbnail_width,
                "height": first.thumbnail_height,
            }
            if first is not None
            else None
        ),
    }


def _iso(value) -> str | None:
    # Python's isoformat, as the job resource has always written it ("+00:00", not "Z").
    return value.isoformat() if value else None


def sweep_cell_present(job: GenerationJob, *, viewer) -> dict[str, Any]:
    """A sweep's cell as its tile shows it: its place, what differs from its siblings
    (``caption``), its member's choice and the job resource (``job_present``)."""
    names = {job.style.slug: job.style.name} if job.style else {}
    return {
        "position": job.sweep_position,
        "caption": cell_caption(job.sweep_label, names),
        "label": job.sweep_label,
        "choice": job.sweep_choice,
        "job": job_present(job, viewer=viewer),
    }


def sweep_present(sweep: Sweep, *, cells: list[GenerationJob], viewer) -> dict[str, Any]:
    """A sweep as its board, the API and ``ws/sweeps/<id>/`` show it, for its member.
    ``batches`` is how many pipeline calls painted its cells so far."""
    compare = None
    if sweep.compare_left_id and sweep.compare_right_id:
        place = {job.pk: job.sweep_position for job in cells}
        compare = [place.get(sweep.compare_left_id), place.get(sweep.compare_right_id)]
    return {
        "id": str(sweep.pk),
        "axis": sweep.axis,
        "axis_label": sweep.get_axis_display(),
        "prompt": sweep.prompt,
        "created_at": _iso(sweep.created_at),
        "url": sweep.get_absolute_url(),
        "api_url": reverse("api:sweep-detail", kwargs={"pk": sweep.pk}),
        "ws_url": sweep.ws_path,
        "cells": [sweep_cell_present(job, viewer=viewer) for job in cells],
        "compare": compare,
        "batches": len({job.batch_id for job in cells if job.batch_id}),
        "counts": {
            "cells": len(cells),
            "active": sum(job.is_active for job in cells),
            "painted": sum(job.status == GenerationJob.Status.SUCCEEDED for job in cells),
            "kept": sum(job.sweep_choice == "keep" for job in cells),
            "discarded": sum(job.sweep_choice == "discard" for job in cells),
        },
    }


def job_cell_caption(job: GenerationJob) -> str:
    return cell_caption(job.sweep_label, {job.style.slug: job.style.name} if job.style else {})


def sweep_origin(*, portrait, viewer) -> dict[str, Any] | None:
    """Where a sweep's portrait came from, for its page and API resource (``origin``,
    registered with ``portraits.selectors.portrait_origin_register``): the sweep's axis,
    what its cell tried (``caption``) and the sibling cells' portraits ``viewer`` may see.
    The sweep itself (its board, its size, its choices) is its member's: only they get
    its ``id`` and ``url``."""
    cell = sweep_of_portrait(portrait=portrait)
    if cell is None:
        return None
    sweep = cell.sweep
    own = viewer is not None and viewer.is_authenticated and viewer.pk == sweep.user_id
    siblings = sweep_siblings_viewable(sweep_id=sweep.pk, portrait=portrait, viewer=viewer)
    return {
        "kind": "sweep",
        "axis": sweep.axis,
        "axis_label": sweep.get_axis_display(),
        "caption": job_cell_caption(cell),
        "sweep": (
            {"id": str(sweep.pk), "url": sweep.get_absolute_url(), "choice": cell.sweep_choice}
            if own
            else None
        ),
        "siblings": [
            {**portrait_summary(sibling, viewer=viewer), "caption": job_cell_caption(sibling.job)}
            for sibling in siblings
        ],
    }
