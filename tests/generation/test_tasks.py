"""The worker task running the real tiny pipeline on CPU."""

from __future__ import annotations

import pytest
from PIL import Image

from generation import services
from generation.models import GenerationJob
from generation.tasks import run_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.inference]
Status = GenerationJob.Status


@pytest.fixture
def submit(alice, tiny_model, django_capture_on_commit_callbacks):
    def do(**spec):
        spec.setdefault("prompt", "a baker with flour on her hands")
        with django_capture_on_commit_callbacks(execute=False):
            return services.job_submit(user=alice, spec=spec)

    return do


def test_the_task_paints_a_batch_and_stores_every_image(submit):
    job = submit(num_images=2, width=64, height=96, steps=3, seed=1234)
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.started_at <= job.finished_at
    assert job.worker and job.attempts == 1
    assert (job.progress_step, job.progress_total) == (3, 3)
    portraits = list(job.portraits.order_by("index_in_job"))
    assert len(portraits) == 2
    for index, portrait in enumerate(portraits):
        with portrait.image.open("rb") as handle, Image.open(handle) as image:
            assert image.size == (64, 96) and image.format == "PNG"
        assert portrait.recipe["seed"] == 1234 + index


def test_a_job_delivered_twice_is_painted_once(submit):
    job = submit(steps=2)
    run_job.apply(args=[str(job.pk)])
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED and job.attempts == 1
    assert job.portraits.count() == 1


def test_a_broken_model_fails_the_job_with_a_readable_message(submit, tiny_model, tmp_path):
    job = submit(steps=2)
    GenerationJob.objects.filter(pk=job.pk).update(
        recipe={**job.recipe, "model_source": str(tmp_path / "missing-model")}
    )
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "could not be loaded" in job.error
    assert job.finished_at is not None
    assert not job.portraits.exists()


def test_a_cancelled_queued_job_is_never_painted(submit):
    job = submit()
    services.job_cancel(job=job, by=job.user)
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and job.started_at is None
    assert not job.portraits.exists()


def test_a_job_killed_by_the_hard_time_limit_fails_at_once(submit):
    """Celery's main process reports the kill through the task's on_failure hook."""
    from celery.exceptions import TimeLimitExceeded

    job = submit()
    services.job_start(job_id=job.pk, worker="gpu0@test")
    run_job.on_failure(TimeLimitExceeded(30), "task-id", [str(job.pk)], {}, None)
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.finished_at is not None
    assert "took longer than this server allows" in job.error


def test_the_hard_time_limit_hook_leaves_a_finished_job_alone(submit):
    from celery.exceptions import TimeLimitExceeded

    job = submit(steps=2)
    run_job.apply(args=[str(job.pk)])
    run_job.on_failure(TimeLimitExceeded(30), "task-id", [str(job.pk)], {}, None)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED and not job.error
