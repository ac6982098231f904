"""The worker task running the real tiny pipeline on CPU."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone
from PIL import Image

from config.broadcast import run_on_layer_loop
from generation import events, inference, services
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
        frozen={**job.frozen, "model_source": str(tmp_path / "missing-model")}
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


# --- Failing at once, truthfully ------------------------------------------------------


@pytest.fixture
def remix_of_a_portrait(alice, tiny_model, django_capture_on_commit_callbacks):
    """A queued image-to-image job that starts from one of alice's portraits."""
    from tests.portraits.factories import PortraitFactory

    parent = PortraitFactory(author=alice)
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_submit(
            user=alice, spec={"prompt": "the same, at dusk", "init_strength": 0.5}, parent=parent
        )
    return job, parent


def assert_failed_at_once(job, message: str) -> None:
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error == message
    assert job.finished_at is not None and job.progress_step == 0
    assert not job.portraits.exists()


def test_a_remix_whose_parent_was_deleted_fails_at_once_with_a_readable_message(
    remix_of_a_portrait, alice
):
    from portraits.services import portrait_delete

    job, parent = remix_of_a_portrait
    portrait_delete(portrait=parent, by=alice)  # a tombstone: the remix job still needs it
    run_job.apply(args=[str(job.pk)])
    assert_failed_at_once(job, "The portrait this job starts from is no longer available.")


def test_a_remix_whose_parent_file_is_gone_from_storage_fails_at_once(remix_of_a_portrait):
    job, parent = remix_of_a_portrait
    parent.image.storage.delete(parent.image.name)
    run_job.apply(args=[str(job.pk)])
    assert_failed_at_once(job, "The portrait this job starts from is no longer available.")


def test_a_job_with_an_incomplete_recipe_fails_at_once(submit):
    job = submit(steps=2)
    frozen = {k: v for k, v in job.frozen.items() if k != "styled_prompt"}
    GenerationJob.objects.filter(pk=job.pk).update(frozen=frozen)
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "recipe is incomplete" in job.error and "styled_prompt" in job.error


TIME_LIMIT_MESSAGE = (
    "The job took longer than this server allows and was stopped. "
    "Try fewer steps or a smaller size."
)


def test_a_job_past_the_soft_time_limit_stops_even_where_celery_cannot_stop_it(submit, settings):
    """The embedded default's solo pool in a thread ignores Celery's time limits
    (as `.apply()` does here); job_run's own deadline, checked each step, stops it."""
    settings.CELERY_TASK_SOFT_TIME_LIMIT = 0
    job = submit(steps=20)
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error == TIME_LIMIT_MESSAGE
    assert job.progress_step < 20
    assert not job.portraits.exists()


def test_a_soft_time_limit_while_storing_the_images_says_so(submit, monkeypatch):
    """Celery raises SoftTimeLimitExceeded wherever the task happens to be; here it is
    made to happen while the portraits are stored, which no real run can aim at."""
    from celery.exceptions import SoftTimeLimitExceeded

    import portraits.services

    def out_of_time(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(portraits.services, "portrait_create_from_job", out_of_time)
    job = submit(steps=2)
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error == TIME_LIMIT_MESSAGE
    assert not job.portraits.exists()


def test_a_time_limit_after_the_portraits_were_written_leaves_no_files_behind(
    submit, settings, tmp_path
):
    """The limit strikes once the files and rows are written, as the job is marked
    succeeded: the rows roll back, and so must the files (storage is not transactional).
    Celery's signal cannot be aimed, so the strike comes from a query wrapper on the
    UPDATE that marks the job succeeded (once: the UPDATE that fails it must run)."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db import connection

    settings.MEDIA_ROOT = tmp_path / "media"
    struck = []

    def strike_at_success(execute, sql, params, many, context):
        marks_success = sql.startswith("UPDATE") and "finished_at" in sql and "error" not in sql
        if marks_success and not struck:
            struck.append(sql)
            raise SoftTimeLimitExceeded()
        return execute(sql, params, many, context)

    job = submit(steps=2, num_images=2)
    with connection.execute_wrapper(strike_at_success):
        run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert struck, "the success UPDATE never ran"
    assert job.status == Status.FAILED and job.error == TIME_LIMIT_MESSAGE
    assert not job.portraits.exists()
    assert [path for path in (tmp_path / "media").rglob("*") if path.is_file()] == []


def test_a_failure_while_storing_names_the_cause(submit, settings, tmp_path):
    # A media folder that cannot be created (a file stands where it should be).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.MEDIA_ROOT = blocker / "media"
    job = submit(steps=2)
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert job.error.startswith("The images could not be stored:")
    assert not job.portraits.exists()


def test_a_job_whose_previews_cannot_be_made_still_succeeds(submit, tiny_model, monkeypatch):
    from generation import inference

    entry = inference._loaded(inference.ModelRef(source=tiny_model.source, family="sd"))
    # A projection for 3 latent channels: the tiny model's 4 do not fit it.
    monkeypatch.setattr(entry, "latent_rgb", (((0.3, 0.2, 0.3),) * 3, (0.0, 0.0, 0.0)))
    job = submit(steps=3)
    run_job.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED, job.error
    assert job.portraits.count() == 1


# --- Heartbeats ------------------------------------------------------------------------


def test_a_long_model_load_keeps_the_job_alive_for_the_sweeper(submit, settings, monkeypatch):
    """Loading a real model cold paints no step for minutes. The load here waits for the
    test to let it go (a stand-in: no real load can be made that slow on purpose); the
    heartbeat thread must keep the job from looking dead meanwhile."""
    from generation import inference
    from tests.support import wait_until

    settings.GENERATION_HEARTBEAT_INTERVAL = 0.1
    stale_after = 5  # seconds: room for a loaded machine between the check and the sweep
    released = threading.Event()
    real_load = inference.load_pipeline

    def slow_load(ref):
        released.wait(120)
        return real_load(ref)

    monkeypatch.setattr(inference, "load_pipeline", slow_load)
    job = submit(steps=2)

    def work() -> None:
        try:
            run_job.apply(args=[str(job.pk)])
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:

        def loading_longer_than_the_window() -> bool:
            row = GenerationJob.objects.get(pk=job.pk)
            return (
                row.status == Status.RUNNING
                and row.heartbeat_at - row.started_at > timedelta(seconds=stale_after * 1.5)
                and timezone.now() - row.heartbeat_at < timedelta(seconds=1)
            )

        wait_until(loading_longer_than_the_window, timeout=60, what="a long, beating load")
        assert services.jobs_sweep(stale_after=stale_after)["requeued"] == 0
    finally:
        released.set()
        worker.join(120)
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED and job.attempts == 1, job.error
    assert not [t for t in threading.enumerate() if t.name.startswith("likeness-heartbeat")]


def test_the_task_records_the_message_that_claimed_the_job(submit):
    job = submit(steps=1)
    result = run_job.apply(args=[str(job.pk)], task_id="message-1")
    job.refresh_from_db()
    assert result.successful() and job.task_id == "message-1"


def _reported(job, steps: list[tuple[int, float]], total: int, *, interval=0.15, also=None):
    """Feed a JobStepReporter the steps (number, clock time) of a running job; returns the
    steps it published, those whose preview was made (``also(step)`` is called then), and
    what stopped it (or None).

    Whatever it published is read back from a channel subscribed to the job's group, up to
    a marker event sent after it: nothing is waited for by time."""
    times = iter([0.0, *(at for _, at in steps)])
    reporter = services.JobStepReporter(
        job, deadline=timezone.now() + timedelta(hours=1), interval=interval, clock=times.__next__
    )
    layer = get_channel_layer()
    channel = run_on_layer_loop(layer.new_channel())
    run_on_layer_loop(layer.group_add(events.job_group(job.pk), channel))
    made, stopped = [], None
    try:
        for step, _ in steps:
            reporter(
                inference.StepEvent(
                    step=step,
                    total=total,
                    preview_source=lambda step=step: made.append(step) or also and also(step),
                )
            )
    except Exception as exc:
        stopped = exc
    events.publish(job.pk, {"type": "marker"})
    published = []
    while (event := run_on_layer_loop(layer.receive(channel))["event"])["type"] != "marker":
        published.append(event)
    run_on_layer_loop(layer.group_discard(events.job_group(job.pk), channel))
    return published, made, stopped


def test_progress_is_reported_at_most_once_an_interval_and_always_at_the_end(submit):
    job = services.job_start(job_id=submit().pk, worker="w")
    # Seven steps at these clock times (painting starts at 0); a report is due 0.15 s
    # after the start, then 0.15 s after the last report.
    steps = [(1, 0.01), (2, 0.05), (3, 0.10), (4, 0.16), (5, 0.20), (6, 0.31), (7, 0.33)]

    published, made, stopped = _reported(job, steps, total=7, also=lambda step: b"jpeg")

    assert stopped is None
    assert [e["step"] for e in published] == [4, 6, 7]
    assert all(e["preview"] == "data:image/jpeg;base64,anBlZw==" for e in published)
    assert made == [4, 6, 7]  # no preview is made for a step nobody is told about
    job.refresh_from_db()
    assert (job.progress_step, job.progress_total) == (7, 7)


def test_a_throttled_job_stops_at_its_next_report_after_a_cancel(submit, alice):
    job = services.job_start(job_id=submit().pk, worker="w")

    def cancel(step):
        services.job_cancel(job=GenerationJob.objects.get(pk=job.pk), by=alice)

    steps = [(1, 0.01), (2, 0.05), (3, 0.16), (4, 0.20), (5, 0.25), (6, 0.31), (7, 0.33)]
    published, made, stopped = _reported(job, steps, total=9, also=cancel)

    assert isinstance(stopped, inference.GenerationCancelled)
    assert sorted(e["type"] for e in published) == ["cancelled", "progress"]
    assert [e.get("step") for e in published if e["type"] == "progress"] == [3]
    assert made == [3]  # steps 4 and 5 cost nothing; step 6 finds the job cancelled
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and job.progress_step == 3
