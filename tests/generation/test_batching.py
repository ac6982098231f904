"""Cross-member batching: compatible queued jobs of different members painted in one call.

The real tiny pipeline on CPU, the real database and channel layer; a job's own progress,
cancel and failure stay its own.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

import portraits.services
from generation import inference, services
from generation.models import GenerationJob
from generation.services import running
from generation.tasks import run_job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.inference]
Status = GenerationJob.Status


@pytest.fixture
def submit(tiny_model, django_capture_on_commit_callbacks):
    """Queue a job without sending its message: each test runs the messages it means to."""

    def do(user, **spec):
        spec.setdefault("prompt", "a baker with flour on her hands")
        spec.setdefault("steps", 3)
        with django_capture_on_commit_callbacks(execute=False):
            return services.job_submit(user=user, spec=spec)

    return do


@pytest.fixture
def calls(monkeypatch):
    """The specs of every pipeline call, in order (the call itself runs for real)."""
    made: list[list[inference.GenerationSpec]] = []
    real = inference.generate_batch

    def generate_batch(specs, on_step=None):
        made.append(list(specs))
        return real(specs, on_step)

    monkeypatch.setattr(inference, "generate_batch", generate_batch)
    return made


def claim(job, *, max_images=8, window=0.03):
    """Claim ``job`` as a worker's message would, and its batch; returns (jobs, pauses)."""
    pauses: list[float] = []
    leader = services.job_start(job_id=job.pk, worker="gpu1", task_id="message-1")
    jobs = services.job_claim_batch(
        leader=leader, max_images=max_images, window=window, pause=pauses.append
    )
    return jobs, pauses


def test_compatible_jobs_of_different_members_share_one_call(
    submit, alice, bob, carol, calls, alice_api, client
):
    first = submit(alice, prompt="a lighthouse keeper")
    second = submit(bob, prompt="a violinist", num_images=2, seed=7)
    other_size = submit(carol, width=96, height=96)
    other_steps = submit(carol, steps=4)

    assert run_job.apply(args=[str(first.pk)]).get() == Status.SUCCEEDED

    assert [[spec.prompt for spec in call] for call in calls] == [
        ["a lighthouse keeper", "a violinist"]
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Status.SUCCEEDED
    assert first.portraits.count() == 1 and second.portraits.count() == 2
    assert first.batch_id == second.batch_id is not None
    assert (second.batch_jobs, second.batch_images) == (2, 3)
    assert second.task_id == first.task_id and second.worker == first.worker
    for job in (other_size, other_steps):
        job.refresh_from_db()
        assert job.status == Status.QUEUED and job.batch_id is None

    # The mate's own message, arriving later, finds it painted and does nothing.
    assert run_job.apply(args=[str(second.pk)]).get() is None
    assert len(calls) == 1

    resource = alice_api.get(f"/api/v1/jobs/{first.pk}/").json()
    assert resource["batch"] == {"id": str(first.batch_id), "jobs": 2, "images": 3}
    client.force_login(alice)
    page = client.get(first.get_absolute_url()).content.decode()
    assert "Painted together with 1 other job: 3 images in one pipeline call." in page


def test_a_job_painted_in_a_batch_matches_the_same_job_painted_alone(submit, alice, bob):
    """Batching changes a picture's pixels by float rounding at most: measured at most 1 of
    255 on this CPU (README, "Many members' jobs in one pipeline call")."""
    submit(alice, prompt="a lighthouse keeper", seed=3)
    batched = submit(bob, prompt="a violinist", seed=11)
    jobs, _ = claim(GenerationJob.objects.exclude(pk=batched.pk).get())
    assert [job.pk for job in jobs][1] == batched.pk
    services.jobs_run(jobs=jobs)

    alone = inference.generate(services.job_inference_spec(batched)).images[0]
    with batched.portraits.get().image.open("rb") as handle:
        painted = np.asarray(Image.open(handle).convert("RGB"), dtype=np.int16)
    assert np.abs(painted - np.asarray(alone, dtype=np.int16)).max() <= 2


def test_a_lone_job_never_waits_for_company(submit, alice, carol):
    lone = submit(alice)
    submit(carol, steps=9)  # queued, but not compatible

    jobs, pauses = claim(lone)

    assert [job.pk for job in jobs] == [lone.pk] and pauses == []
    assert jobs[0].batch_jobs == 1 and jobs[0].batch_images == 1


def test_the_window_is_waited_once_when_a_burst_is_arriving(submit, alice, bob):
    first = submit(alice)
    submit(bob)

    jobs, pauses = claim(first, window=0.05)

    assert len(jobs) == 2 and pauses == [0.05]


def test_a_batch_holds_no_more_images_than_allowed(submit, alice, bob, carol):
    first = submit(alice)
    two = submit(bob, num_images=2)
    submit(carol, num_images=4)  # would not fit
    submit(carol, num_images=2)  # nor would this, after `two`

    jobs, _ = claim(first, max_images=4)

    assert [job.pk for job in jobs] == [first.pk, two.pk]
    assert GenerationJob.objects.filter(status=Status.QUEUED).count() == 2


def test_a_reproduction_is_painted_alone(submit, alice, bob, calls):
    original = submit(alice, seed=5)
    run_job.apply(args=[str(original.pk)])
    portrait = original.portraits.get()
    reproduction = services.job_submit_reproduction(user=alice, portrait=portrait)
    mate = submit(bob)

    jobs, _ = claim(reproduction)
    assert [job.pk for job in jobs] == [reproduction.pk]
    # Nor is it taken along by another job.
    reproduction2 = services.job_submit_reproduction(user=alice, portrait=portrait)
    jobs, _ = claim(mate)
    assert reproduction2.pk not in [job.pk for job in jobs]


def test_cancelling_one_job_of_a_batch_drops_only_its_images(
    submit, alice, bob, settings, monkeypatch
):
    settings.GENERATION_PROGRESS_INTERVAL = 0  # every step is reported
    kept = submit(alice, steps=10)
    dropped = submit(bob, steps=10)
    real = inference.generate_batch

    def generate_batch(specs, on_step):
        def step(index, event):
            if index == 1 and event.step == 3:  # bob cancels while the call paints
                services.job_cancel(job=GenerationJob.objects.get(pk=dropped.pk), by=bob)
            on_step(index, event)

        return real(specs, step)

    monkeypatch.setattr(inference, "generate_batch", generate_batch)
    run_job.apply(args=[str(kept.pk)])

    kept.refresh_from_db()
    dropped.refresh_from_db()
    assert kept.status == Status.SUCCEEDED and kept.portraits.count() == 1
    assert kept.progress_step == 10
    assert dropped.status == Status.CANCELLED and not dropped.portraits.exists()
    assert dropped.batch_id == kept.batch_id
    assert dropped.progress_step == 2  # its step 3 found it cancelled; no later one was recorded


def test_a_job_whose_images_cannot_be_stored_fails_alone(submit, alice, bob, monkeypatch):
    first = submit(alice)
    unlucky = submit(bob)
    real = portraits.services.portrait_create_from_job

    def create(**kwargs):
        if kwargs["job_id"] == unlucky.pk:
            raise OSError("No space left on device")
        return real(**kwargs)

    monkeypatch.setattr(portraits.services, "portrait_create_from_job", create)
    run_job.apply(args=[str(first.pk)])

    first.refresh_from_db()
    unlucky.refresh_from_db()
    assert first.status == Status.SUCCEEDED and first.portraits.count() == 1
    assert unlucky.status == Status.FAILED
    assert unlucky.error == "The images could not be stored: No space left on device"
    assert unlucky.batch_id == first.batch_id


def test_a_job_that_cannot_be_painted_fails_alone(submit, alice, bob):
    first = submit(alice)
    broken = submit(bob)
    GenerationJob.objects.filter(pk=broken.pk).update(frozen={})  # a recipe cut short

    run_job.apply(args=[str(first.pk)])

    first.refresh_from_db()
    broken.refresh_from_db()
    assert first.status == Status.SUCCEEDED
    assert broken.status == Status.FAILED and "recipe is incomplete" in broken.error


def test_storing_runs_off_the_painting_loop_and_a_job_succeeds_only_once_stored(
    submit, alice, settings, monkeypatch
):
    """As on a GPU worker: the finisher thread stores a painted job while the worker paints
    the next one. The first job's storing is held at a gate to look at it meanwhile."""
    from tests.support import wait_until

    settings.GENERATION_STORE_IN_BACKGROUND = "true"
    settings.GENERATION_HEARTBEAT_INTERVAL = 0.1
    storing, release = threading.Event(), threading.Event()
    real = running.job_succeed

    def job_succeed(**kwargs):
        storing.set()
        release.wait(120)  # a safety net: the test releases it below
        return real(**kwargs)

    monkeypatch.setattr(running, "job_succeed", job_succeed)
    first = submit(alice, steps=2)
    second = submit(alice, steps=3)  # another recipe: painted by its own call

    try:
        assert run_job.apply(args=[str(first.pk)]).get() == Status.RUNNING
        assert storing.wait(60)
        stored_since = GenerationJob.objects.get(pk=first.pk).heartbeat_at
        # The worker paints the next job while the first is being stored...
        assert run_job.apply(args=[str(second.pk)]).get() == Status.RUNNING
        second.refresh_from_db()
        assert second.progress_step == 3 and second.status == Status.RUNNING
        # ...and the first, not yet stored, is still running and alive for the sweeper.
        wait_until(
            lambda: GenerationJob.objects.get(pk=first.pk).heartbeat_at > stored_since,
            timeout=30,
            what="a heartbeat while storing",
        )
        assert GenerationJob.objects.get(pk=first.pk).status == Status.RUNNING
        assert not first.portraits.exists()
    finally:
        release.set()
        assert services.finisher.wait_idle(120)

    for job in (first, second):
        job.refresh_from_db()
        assert job.status == Status.SUCCEEDED and job.portraits.count() == 1
