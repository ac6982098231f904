"""Submission rules, quotas and the job state machine, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from config.errors import Conflict, DomainError, QuotaExceeded
from generation import services
from generation.models import GenerationJob, StylePreset

Status = GenerationJob.Status


@pytest.fixture
def submit(alice, tiny_model, django_capture_on_commit_callbacks):
    """Submit as alice without running the task (its on_commit enqueue is captured)."""

    def do(**spec):
        spec.setdefault("prompt", "a lighthouse keeper at dusk")
        with django_capture_on_commit_callbacks(execute=False):
            return services.job_submit(user=alice, spec=spec)

    return do


def field_errors(call) -> dict:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.field_errors


def test_defaults_come_from_the_model_and_the_seed_is_recorded(submit, tiny_model):
    job = submit()
    assert job.status == Status.QUEUED
    assert (job.steps, job.width, job.height) == (4, 64, 64)
    assert job.guidance_scale == tiny_model.default_guidance
    assert 0 <= job.seed < 2**32
    assert job.recipe["seed"] == job.seed
    assert job.recipe["model_source"] == tiny_model.source


def test_two_submissions_without_seed_get_different_seeds(submit):
    assert submit().seed != submit().seed


def test_style_wraps_the_prompt_in_the_recipe(submit, style_presets):
    style = StylePreset.objects.get(slug="film-noir")
    job = submit(style="film-noir", negative_prompt="blurry")
    assert job.style == style
    assert job.recipe["styled_prompt"] == style.apply("a lighthouse keeper at dusk")
    assert job.recipe["styled_negative_prompt"].startswith("blurry, ")
    assert job.recipe["prompt"] == "a lighthouse keeper at dusk"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"width": 100}, "width"),
        ({"height": 1024}, "height"),
        ({"steps": 0}, "steps"),
        ({"steps": 51}, "steps"),
        ({"steps": "many"}, "steps"),
        ({"guidance_scale": -1}, "guidance_scale"),
        ({"guidance_scale": float("nan")}, "guidance_scale"),
        ({"seed": -5}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"num_images": 5}, "num_images"),
        ({"style": "no-such-style"}, "style"),
        ({"model": "no-such-model"}, "model"),
        ({"scheduler": "MagicScheduler"}, "scheduler"),
        ({"init_strength": 0.5}, "init_strength"),
        ({"parent": 1}, "parent"),
    ],
)
def test_bad_input_is_a_field_error_and_saves_nothing(submit, spec, field):
    errors = field_errors(lambda: submit(**spec))
    assert field in errors and errors[field][0]
    assert not GenerationJob.objects.exists()


def test_every_bad_field_is_reported_at_once(submit):
    errors = field_errors(lambda: submit(prompt="", width=65, steps=0))
    assert set(errors) == {"prompt", "width", "steps"}


def test_a_disabled_model_is_refused(submit, tiny_model):
    tiny_model.is_enabled = False
    tiny_model.save()
    errors = field_errors(lambda: submit(model="tiny"))
    assert "disabled" in errors["model"][0]


def test_active_job_cap_answers_quota_exceeded(submit, settings):
    settings.GENERATION_MAX_ACTIVE_JOBS = 2
    submit()
    submit()
    with pytest.raises(QuotaExceeded) as caught:
        submit()
    assert "limit is 2" in caught.value.message
    assert GenerationJob.objects.count() == 2


def test_finished_jobs_do_not_count_against_the_cap(submit, settings):
    settings.GENERATION_MAX_ACTIVE_JOBS = 1
    first = submit()
    services.job_cancel(job=first, by=first.user)
    submit()
    assert GenerationJob.objects.count() == 2


def test_submission_rate_limit(submit, settings):
    settings.GENERATION_SUBMIT_RATE = "2/hour"
    for job in (submit(), submit()):
        GenerationJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)
    with pytest.raises(QuotaExceeded):
        submit()


def test_submit_enqueues_only_after_commit(alice, tiny_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.job_submit(user=alice, spec={"prompt": "x"})
    assert len(callbacks) == 1


# --- State machine -------------------------------------------------------------------


def test_only_a_queued_job_starts_and_a_duplicate_delivery_does_nothing(submit):
    job = submit()
    started = services.job_start(job_id=job.pk, worker="w1")
    assert started.status == Status.RUNNING and started.attempts == 1 and started.worker == "w1"
    assert services.job_start(job_id=job.pk, worker="w2") is None
    job.refresh_from_db()
    assert (job.worker, job.attempts) == ("w1", 1)


def test_a_cancelled_queued_job_never_runs(submit):
    job = submit()
    services.job_cancel(job=job, by=job.user)
    assert services.job_start(job_id=job.pk, worker="w1") is None
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and job.started_at is None


def test_a_finished_job_cannot_be_cancelled(submit):
    job = submit()
    GenerationJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)
    with pytest.raises(Conflict):
        services.job_cancel(job=job, by=job.user)


def test_a_redelivered_task_takes_over_and_fences_the_lost_attempt(submit):
    job = submit()
    first = services.job_start(job_id=job.pk, worker="w1")
    second = services.job_start(job_id=job.pk, worker="w2", redelivered=True)
    assert second.attempts == 2 and second.worker == "w2"
    # The first attempt (a zombie) can no longer write progress or finish.
    assert services.job_progress(job=first, step=1, total=4) is False
    assert services.job_fail(job=first, error="late") is False
    assert services.job_progress(job=second, step=1, total=4) is True


def test_a_job_lost_too_often_fails_instead_of_looping(submit):
    job = submit()
    services.job_start(job_id=job.pk, worker="w1")
    services.job_start(job_id=job.pk, worker="w2", redelivered=True)
    services.job_start(job_id=job.pk, worker="w3", redelivered=True)
    assert services.job_start(job_id=job.pk, worker="w4", redelivered=True) is None
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "stopped unexpectedly 3 times" in job.error


def test_progress_is_refused_once_cancelled(submit):
    job = services.job_start(job_id=submit().pk, worker="w1")
    services.job_cancel(job=job, by=job.user)
    assert services.job_progress(job=job, step=2, total=4) is False


def test_sweeper_requeues_a_silent_running_job_then_fails_it(
    submit, django_capture_on_commit_callbacks
):
    job = services.job_start(job_id=submit().pk, worker="w1")
    long_ago = timezone.now() - timedelta(hours=2)
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.jobs_sweep(stale_after=60)["requeued"] == 1
    assert len(callbacks) == 1  # enqueued again after commit
    job.refresh_from_db()
    assert job.status == Status.QUEUED

    GenerationJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, attempts=3, heartbeat_at=long_ago
    )
    assert services.jobs_sweep(stale_after=60)["failed"] == 1
    job.refresh_from_db()
    assert job.status == Status.FAILED and "stopped responding" in job.error


def test_sweeper_leaves_a_live_job_alone(submit):
    job = services.job_start(job_id=submit().pk, worker="w1")
    assert services.jobs_sweep(stale_after=60) == {
        "requeued": 0,
        "failed": 0,
        "resent": 0,
        "keys_expired": 0,
    }
    job.refresh_from_db()
    assert job.status == Status.RUNNING


def test_sweeper_resends_a_waiting_job_once_per_threshold_not_on_every_sweep(submit):
    job = submit()
    assert services.jobs_sweep(resend_queued_after=600)["resent"] == 0  # just sent
    an_hour_ago = timezone.now() - timedelta(hours=1)
    GenerationJob.objects.filter(pk=job.pk).update(created_at=an_hour_ago, enqueued_at=an_hour_ago)

    assert services.jobs_sweep(resend_queued_after=600)["resent"] == 1
    # The next sweeps (every minute) find it sent a moment ago: no pile of duplicates.
    assert services.jobs_sweep(resend_queued_after=600)["resent"] == 0
    assert services.jobs_sweep(resend_queued_after=600)["resent"] == 0
    job.refresh_from_db()
    assert job.enqueued_at > an_hour_ago and job.status == Status.QUEUED

    GenerationJob.objects.filter(pk=job.pk).update(enqueued_at=an_hour_ago)
    assert services.jobs_sweep(resend_queued_after=600)["resent"] == 1


def test_a_requeued_job_counts_as_just_sent(submit, django_capture_on_commit_callbacks):
    job = services.job_start(job_id=submit().pk, worker="w1")
    long_ago = timezone.now() - timedelta(hours=2)
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=long_ago, enqueued_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.jobs_sweep(stale_after=60, resend_queued_after=0) == {
            "requeued": 1,
            "failed": 0,
            "resent": 0,  # not sent a second time by the same sweep
            "keys_expired": 0,
        }
    assert len(callbacks) == 1


def test_a_job_the_broker_never_took_is_sent_at_the_next_sweep(submit):
    """Not after the visibility timeout: it was never sent at all (see tests/test_outages.py
    for the broker really being down)."""
    job = submit()
    GenerationJob.objects.filter(pk=job.pk).update(enqueued_at=None)
    job.refresh_from_db()
    assert job.is_delivery_deferred

    assert services.jobs_sweep()["resent"] == 1
    job.refresh_from_db()
    assert job.enqueued_at is not None and not job.is_delivery_deferred
    assert services.jobs_sweep()["resent"] == 0


def test_the_sweeper_reclaims_only_after_the_stale_window(submit):
    job = services.job_start(job_id=submit().pk, worker="w1")
    GenerationJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=45)
    )
    assert services.jobs_sweep(stale_after=60)["requeued"] == 0
    GenerationJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )
    assert services.jobs_sweep(stale_after=60)["requeued"] == 1
    job.refresh_from_db()
    assert job.status == Status.QUEUED and job.worker == "" and job.task_id == ""


def test_a_heartbeat_is_refused_once_the_job_is_not_this_attempt_s(submit):
    job = services.job_start(job_id=submit().pk, worker="w1", task_id="m1")
    assert services.job_heartbeat(job=job) is True
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    services.jobs_sweep(stale_after=60)  # requeued: the old attempt is over
    assert services.job_heartbeat(job=job) is False
    second = services.job_start(job_id=job.pk, worker="w2", task_id="m2")
    assert services.job_heartbeat(job=job) is False
    assert services.job_heartbeat(job=second) is True


def test_the_message_that_claimed_the_attempt_takes_over_when_given_back(submit):
    job = submit()
    services.job_start(job_id=job.pk, worker="w1", task_id="m1")
    second = services.job_start(job_id=job.pk, worker="w2", redelivered=True, task_id="m1")
    assert second is not None and second.attempts == 2 and second.worker == "w2"


def test_a_late_message_never_takes_over_a_newer_attempt(submit):
    """Redis gives an unacknowledged message back after its visibility timeout, whatever
    became of the job: here the sweeper requeued it and another worker paints it now."""
    job = submit()
    services.job_start(job_id=job.pk, worker="w1", task_id="m1")  # w1 then dies
    GenerationJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert services.jobs_sweep(stale_after=60)["requeued"] == 1
    live = services.job_start(job_id=job.pk, worker="w2", task_id="m2")  # the sweeper's

    assert services.job_start(job_id=job.pk, worker="w3", redelivered=True, task_id="m1") is None
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (Status.RUNNING, "w2", 2)
    assert services.job_progress(job=live, step=1, total=4) is True


def test_queue_position_counts_jobs_ahead(submit, bob, django_capture_on_commit_callbacks):
    from generation.selectors import job_queue_position

    first, second = submit(), submit()
    with django_capture_on_commit_callbacks(execute=False):
        third = services.job_submit(user=bob, spec={"prompt": "y"})
    assert [job_queue_position(job=j) for j in (first, second, third)] == [1, 2, 3]
    services.job_start(job_id=first.pk, worker="w1")
    first.refresh_from_db()
    assert job_queue_position(job=first) is None
    assert job_queue_position(job=third) == 2


def test_the_portrait_a_finished_remix_started_from_can_still_be_deleted(
    alice, tiny_model, django_capture_on_commit_callbacks
):
    from portraits.services import portrait_delete
    from tests.portraits.factories import PortraitFactory

    parent = PortraitFactory(author=alice)
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_submit(
            user=alice, spec={"prompt": "the same, at dusk", "init_strength": 0.5}, parent=parent
        )
    GenerationJob.objects.filter(pk=job.pk).update(status=Status.FAILED)

    portrait_delete(portrait=parent, by=alice)

    job.refresh_from_db()
    assert job.parent is None and job.init_strength == 0.5  # the job keeps its recipe


def test_an_active_image_to_image_job_cannot_lose_its_parent(submit):
    from django.db import IntegrityError, transaction

    job = submit()
    with pytest.raises(IntegrityError), transaction.atomic():
        GenerationJob.objects.filter(pk=job.pk).update(init_strength=0.5)


# --- Heartbeats ------------------------------------------------------------------------


@pytest.fixture
def running_job(alice, tiny_model):
    """A committed running job (transactional tests: the heartbeat thread has its own
    database connection, which must see the row)."""
    from tests.test_outages import celery_broker

    with celery_broker("memory://localhost/"):
        job = services.job_submit(user=alice, spec={"prompt": "a clockmaker"})
    return services.job_start(job_id=job.pk, worker="w1")


def heartbeat_of(job):
    return GenerationJob.objects.values_list("heartbeat_at", flat=True).get(pk=job.pk)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_goes_silent_past_the_job_s_hard_time_limit(running_job):
    """A worker still holding a job past its hard limit is hung: let the sweeper see it."""
    from tests.support import wait_until

    started = heartbeat_of(running_job)
    beat = services.JobHeartbeat(running_job, interval=0.05, until=timezone.now())
    with beat:
        wait_until(lambda: not beat.beating, timeout=30, what="the beats to stop")
    assert heartbeat_of(running_job) == started
    running_job.refresh_from_db()
    assert running_job.status == Status.RUNNING  # it stopped for the limit, not a cancel


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_beats_until_the_job_is_not_this_attempt_s(running_job):
    from tests.support import wait_until

    beat = services.JobHeartbeat(
        running_job, interval=0.05, until=timezone.now() + timedelta(hours=1)
    )
    with beat:
        wait_until(lambda: heartbeat_of(running_job) > running_job.heartbeat_at, timeout=30)
        assert beat.beating
        services.job_cancel(job=running_job, by=running_job.user)
        wait_until(lambda: not beat.beating, timeout=30, what="the beats to stop")


@pytest.mark.postgres  # SQLite's in-memory test database is never closed by Django
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_reconnects_after_its_database_connection_broke(running_job, monkeypatch):
    """A beat that failed with its connection (the database restarted, a proxy dropped it)
    must not leave the thread on that dead connection: every later beat would fail, and the
    sweeper would take the job from a worker still painting it."""
    from django.db import connection

    from tests.support import wait_until

    real_heartbeat = services.job_heartbeat
    dropped = []

    def heartbeat_after_a_drop(*, job):
        if not dropped:
            dropped.append(True)
            connection.ensure_connection()
            connection.connection.close()  # gone under Django's feet, as a server restart does
        return real_heartbeat(job=job)

    monkeypatch.setattr(services.lifecycle, "job_heartbeat", heartbeat_after_a_drop)
    before = heartbeat_of(running_job)
    beat = services.JobHeartbeat(
        running_job, interval=0.05, until=timezone.now() + timedelta(hours=1)
    )
    with beat:
        wait_until(
            lambda: dropped and heartbeat_of(running_job) > before,
            timeout=30,
            what="a beat landing after the connection broke",
        )
