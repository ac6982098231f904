"""Fixtures for portraits: a painter that skips the pipeline, and the real one.

Two ways to a finished job:

- ``paint(job)`` claims the job and finishes it through the services the worker calls
  (``job_start``, then ``job_succeed`` with a ``GenerationResult`` of hand-made Pillow
  images), so every test of the files, lineage and pages runs the real services in
  milliseconds;
- ``run_job(job)`` runs the real Celery task eagerly with the tiny model (``tiny_model``,
  tests marked ``inference``), for what only the pipeline can show: identical pixels.
"""

from __future__ import annotations

import pytest

from tests.support import paint_job


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://likeness.test"


@pytest.fixture
def paint(painter):
    """Finish a submitted job the way the worker does, without the pipeline."""
    from generation.models import GenerationJob

    def paint(job):
        portraits = paint_job(job.pk)
        job.refresh_from_db()
        assert job.status == GenerationJob.Status.SUCCEEDED
        return portraits

    return paint


@pytest.fixture
def create_portrait(paint):
    """``create_portrait(user, prompt=..., visibility=..., **spec)`` → one stored Portrait."""
    from generation.services import job_submit
    from portraits.models import Portrait
    from portraits.services import portrait_update

    def create(user, *, visibility=Portrait.Visibility.PUBLIC, **spec):
        spec.setdefault("prompt", "a portrait of a woman with red hair, oil painting")
        spec.setdefault("seed", 1234)
        (portrait,) = paint(job_submit(user=user, spec=spec))
        if visibility != portrait.visibility:
            portrait_update(portrait=portrait, by=user, data={"visibility": visibility})
        return portrait

    return create


@pytest.fixture
def remix(paint):
    """``remix(portrait, user, visibility=..., **changes)`` → the stored remix."""
    from generation.services import job_submit_remix
    from portraits.models import Portrait
    from portraits.services import portrait_update

    def make(portrait, user, *, visibility=Portrait.Visibility.PUBLIC, **changes):
        (child,) = paint(job_submit_remix(user=user, portrait=portrait, changes=changes))
        if visibility != child.visibility:
            portrait_update(portrait=child, by=user, data={"visibility": visibility})
        return child

    return make


@pytest.fixture
def run_job(tiny_model):
    """Run a submitted job through the real Celery task, in this process."""
    from generation.models import GenerationJob
    from generation.tasks import run_job as task

    def run(job):
        task.apply(args=[str(job.pk)])
        job = GenerationJob.objects.get(pk=job.pk)
        assert job.status == GenerationJob.Status.SUCCEEDED, job.error
        return job

    return run
