"""Operations: ``GET /healthz`` (config.health), what a load balancer reads, on whichever
database, cache and broker this run has (SQLite, memory and memory://; or PostgreSQL, Redis
and RabbitMQ as CI runs it; outages are in tests/test_outages.py); and the task events a
worker sends for Flower."""

from __future__ import annotations

import io
import json
import logging
import os
import threading

import pytest
from django.conf import settings
from django.db.utils import OperationalError

from config.env import celery_broker_url_for_redis
from config.logs import JobContextFilter, JsonFormatter, PlainFormatter, job_logging
from generation.models import GenerationJob
from generation.services import job_cancel, job_submit, worker_present
from generation.tasks import run_job
from tests import support
from tests.test_outages import celery_broker

pytestmark = pytest.mark.django_db


def _health(client):
    response = client.get("/healthz")
    return response, response.json()


def test_a_healthy_site_says_ok_without_a_session_or_a_cache(client):
    response, body = _health(client)
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert {name for name, check in body["checks"].items() if check.get("ok") is False} == set()
    assert set(body["checks"]) == {"database", "cache", "broker", "workers"}
    assert body["checks"]["cache"]["backend"] == ("redis" if settings.REDIS_URL else "local memory")
    transport = body["checks"]["broker"]["transport"]
    assert transport == ("redis" if settings.REDIS_URL else "memory (in this process)")
    # Never kept by a proxy, and no session or CSRF cookie made for a probe.
    assert "no-cache" in response["Cache-Control"]
    assert not response.cookies


def test_it_counts_the_workers_that_announced_themselves(client):
    worker_present(hostname="gpu0@host", queues=["gpu"])
    workers = _health(client)[1]["checks"]["workers"]
    assert workers["ok"] and workers["up"] == 1


def test_it_answers_only_reads(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.redis
def test_with_redis_it_checks_the_redis_cache_and_broker(client):
    checks = _health(client)[1]["checks"]
    assert checks["cache"]["backend"] == "redis" and checks["cache"]["ok"]
    assert checks["broker"]["transport"] == "redis" and checks["broker"]["ok"]


@pytest.mark.rabbitmq
def test_with_rabbitmq_it_checks_that_broker(client):
    with celery_broker(os.environ["RABBITMQ_URL"]):
        broker = _health(client)[1]["checks"]["broker"]
    assert broker["transport"] == "amqp" and broker["ok"]


def test_without_its_database_a_web_process_is_unavailable(client, monkeypatch):
    """The database failing as its driver does when the server is gone (the one fault
    injected here: the test's own database cannot be stopped under it)."""
    from django.db import connection

    def gone(*args, **kwargs):
        raise OperationalError("could not connect to server: secret-host:5432")

    monkeypatch.setattr(connection, "cursor", gone)
    response, body = _health(client)
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {
        "ok": False,
        "error": "OperationalError",
        "ms": body["checks"]["database"]["ms"],
    }
    assert "secret-host" not in response.content.decode()


@pytest.mark.redis
@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_worker_sends_the_task_events_flower_reads(tmp_path, settings):
    """What Flower (and ``celery events``) listens to: a real worker process on Redis
    reports a task received, started and succeeded."""
    url = celery_broker_url_for_redis(settings.REDIS_URL)
    env = support.process_env(
        REDIS_URL=settings.REDIS_URL, CELERY_BROKER_URL=url, CELERY_INPROCESS_WORKER="false"
    )
    seen: list[dict] = []
    with celery_broker(url) as app, app.connection_for_read() as connection:
        receiver = app.events.Receiver(connection, handlers={"*": seen.append})
        bound = threading.Event()
        consume_ready = receiver.on_consume_ready

        def on_consume_ready(*args, **kwargs):
            bound.set()  # the event queue is bound: nothing sent from now on is missed
            return consume_ready(*args, **kwargs)

        receiver.on_consume_ready = on_consume_ready
        listening = threading.Thread(target=receiver.capture, kwargs={"wakeup": False})
        listening.start()
        assert bound.wait(30), "the event receiver never started consuming"
        # Consuming is not yet hearing: on Redis the receiver's SUBSCRIBE reaches the server
        # with its first poll, and an event published before it is gone (pub/sub keeps
        # nothing). Probe until one of ours comes back; then the task's `task-sent` cannot
        # be missed.
        with app.events.default_dispatcher() as dispatcher:

            def heard() -> bool:
                dispatcher.send("likeness-probe")
                return any(e.get("type") == "likeness-probe" for e in list(seen))

            support.wait_until(heard, timeout=30, what="the event receiver to hear an event")
        worker = support.celery_worker(env, tmp_path / "worker.log", "events")
        try:
            with support.running(worker):
                task = app.send_task("generation.tasks.sweep_stale_jobs", queue="celery")

                def kinds() -> set[str]:
                    return {e["type"] for e in list(seen) if e.get("uuid") == task.id}

                support.wait_until(
                    lambda: {"task-received", "task-started", "task-succeeded"} <= kinds(),
                    timeout=60,
                    what="the worker's task events",
                )
        finally:
            receiver.should_stop = True
            listening.join(timeout=10)
    assert "task-sent" in {e["type"] for e in seen if e.get("uuid") == task.id}


# --- Logs: every line of a job's life names the job ---------------------------------------

PROJECT_APPS = ("config", "accounts", "portraits", "generation", "gallery", "moderation")


@pytest.fixture
def json_lines():
    """The site's log handler as settings configure it for LOG_FORMAT=json (the job filter,
    the JSON formatter), on the root logger at INFO; returns the parsed lines so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(JobContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    # Whatever earlier tests in this process did to logging (a Celery worker started in
    # it configures its own), the project's loggers speak at INFO for this test.
    ours = [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.split(".")[0] in PROJECT_APPS
    ]
    saved = (
        root.level,
        logging.root.manager.disable,
        [(each.level, each.disabled) for each in ours],
    )
    logging.disable(logging.NOTSET)
    for logger in ours:
        logger.setLevel(logging.NOTSET)
        logger.disabled = False
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        logging.disable(saved[1])
        for logger, (level, disabled) in zip(ours, saved[2], strict=True):
            logger.setLevel(level)
            logger.disabled = disabled


def test_settings_send_every_line_through_the_job_filter(settings):
    console = settings.LOGGING["handlers"]["console"]
    assert console["filters"] == ["job"]
    assert settings.LOGGING["filters"]["job"]["()"] == "config.logs.JobContextFilter"
    assert console["formatter"] == settings.LOG_FORMAT == "plain"  # LOG_FORMAT=json: "json"


@pytest.mark.inference
def test_every_line_of_a_job_s_life_names_it(
    alice, tiny_model, json_lines, django_capture_on_commit_callbacks
):
    nowhere = f"redis://127.0.0.1:{support.free_port()}/0"  # nothing listens there
    with celery_broker(nowhere), django_capture_on_commit_callbacks(execute=True):
        job = job_submit(user=alice, spec={"prompt": "a lamplighter", "steps": 2})
    run_job.apply(args=[str(job.pk)])
    with django_capture_on_commit_callbacks(execute=False):
        other = job_submit(user=alice, spec={"prompt": "a bell-ringer", "steps": 2})
        job_cancel(job=other, by=alice)
    assert GenerationJob.objects.get(pk=job.pk).status == "succeeded"

    lines = [
        line for line in json_lines() if line["logger"].split(".")[0] in ("generation", "portraits")
    ]
    about = {
        line["message"].split(" ")[1].rstrip(":"): line
        for line in lines
        if line["message"].startswith("Job ")
    }
    assert {str(job.pk), str(other.pk)} <= set(about)
    messages = [line["message"] for line in lines if line.get("job") == str(job.pk)]
    assert any("could not send" in m.lower() for m in messages)  # the submission's request
    assert any(" started on " in m for m in messages)  # the worker's claim
    assert any("stored 1 portrait" in m for m in messages)  # the storing
    # Nothing about a job is logged without its id, nor with another job's.
    for line in lines:
        if line["message"].startswith("Job "):
            assert line.get("job") == line["message"].split(" ")[1].rstrip(":"), line


def test_a_json_line_says_when_what_and_which_job():
    record = logging.LogRecord(
        "generation.x", logging.WARNING, __file__, 1, "Job %s: %s", ("7", "ok"), None
    )
    record.job = "7"
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "generation.x"
    assert line["job"] == "7" and line["message"] == "Job 7: ok"
    assert line["time"].endswith("+00:00")
    with job_logging("a", "b"):
        plain = logging.LogRecord("x", logging.INFO, __file__, 1, "hi", (), None)
        JobContextFilter().filter(plain)
    assert plain.job == "a,b"
    assert "[job a,b]: hi" in PlainFormatter().format(plain)
