"""Models stay hot: each model's jobs go to its own queue, workers say which queues they
serve, and a job for a model nobody serves says that it waits."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from kombu.utils.json import loads

from config.env import celery_broker_url_for_redis
from generation import services
from generation.models import GenerationModel, WorkerPresence
from generation.presenters import WAITING_FOR_A_WORKER
from tests import support
from tests.test_outages import celery_broker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdxl_model(tiny_model):
    """A second model, served from a queue of its own."""
    tiny_model.pk = None
    tiny_model.slug, tiny_model.name, tiny_model.queue = "big", "Big", "gpu-big"
    tiny_model.is_default = False
    tiny_model.save()
    return tiny_model


@pytest.mark.redis
def test_each_job_goes_to_its_models_queue(alice, tiny_model, sdxl_model, settings):
    url = celery_broker_url_for_redis(settings.REDIS_URL)
    client = redis.Redis.from_url(url)
    client.delete("gpu", "gpu-big")
    with celery_broker(url):
        small = services.job_submit(user=alice, spec={"prompt": "a sailor"})
        big = services.job_submit(user=alice, spec={"prompt": "a sailor", "model": "big"})

    def job_ids(queue: str) -> list[str]:
        messages = [loads(raw) for raw in client.lrange(queue, 0, -1)]
        return [message["headers"]["argsrepr"].strip("[]'") for message in messages]

    assert job_ids("gpu") == [str(small.pk)]
    assert job_ids("gpu-big") == [str(big.pk)]
    client.delete("gpu", "gpu-big")


def test_a_job_for_a_model_no_worker_serves_says_it_waits(
    alice, alice_api, client, tiny_model, sdxl_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        big = services.job_submit(user=alice, spec={"prompt": "a sailor", "model": "big"})
        small = services.job_submit(user=alice, spec={"prompt": "a sailor"})
    services.worker_present(hostname="gpu0@host", queues=["gpu", "celery"])

    def note(job) -> str | None:
        return alice_api.get(f"/api/v1/jobs/{job.pk}/").json()["queue_note"]

    assert note(big) == WAITING_FOR_A_WORKER and note(small) is None
    listed = {row["id"]: row for row in alice_api.get("/api/v1/jobs/").json()["results"]}
    assert listed[str(big.pk)]["queue_note"] == WAITING_FOR_A_WORKER
    client.force_login(alice)
    assert WAITING_FOR_A_WORKER in client.get(big.get_absolute_url()).content.decode()

    services.worker_present(hostname="gpu1@host", queues=["gpu-big"])
    assert note(big) is None

    # A worker that stopped announcing itself (killed) serves nothing.
    stale = timezone.now() - timedelta(seconds=61)
    WorkerPresence.objects.filter(hostname="gpu1@host").update(seen_at=stale)
    assert note(big) == WAITING_FOR_A_WORKER

    # Started, the job leaves the queue: nothing to wait for.
    services.job_start(job_id=big.pk, worker="gpu1@host")
    assert note(big) is None


@pytest.mark.redis
@pytest.mark.processes
@pytest.mark.inference
def test_a_worker_announces_its_queues_and_readiness_while_it_runs_and_withdraws_when_it_stops(
    tiny_model, tmp_path, settings
):
    ready_file = tmp_path / "worker-ready.json"
    env = support.process_env(
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=celery_broker_url_for_redis(settings.REDIS_URL),
        CELERY_INPROCESS_WORKER="false",
        GENERATION_HEARTBEAT_INTERVAL="1",
        GENERATION_WORKER_READY_FILE=str(ready_file),
    )
    # README's shape: a prefork pool of one process, which loads the model after the fork.
    worker = support.celery_worker(env, tmp_path / "worker.log", "gpu7", pool="prefork")
    with support.running(worker):
        present = support.wait_until(
            lambda: WorkerPresence.objects.filter(
                hostname__startswith="gpu7@", ready_at__isnull=False
            ).first(),
            timeout=90,
            what="the worker to load its model and say it is ready",
        )
        assert (present.queues, present.models_loaded) == (",celery,gpu,", "tiny")
        report = json.loads(ready_file.read_text())
        assert (report["hostname"], report["models"]) == (present.hostname, ["tiny"])
        seen = present.seen_at
        support.wait_until(
            lambda: WorkerPresence.objects.get(pk=present.pk).seen_at > seen,
            timeout=30,
            what="the worker to announce itself again",
        )
        assert WorkerPresence.objects.get(pk=present.pk).ready_at == present.ready_at
    assert not WorkerPresence.objects.filter(hostname__startswith="gpu7@").exists(), (
        support.read_log(worker)
    )
    assert not ready_file.exists()


@pytest.mark.inference
def test_a_worker_loads_the_models_of_its_queues_before_its_first_job(
    tiny_model, sdxl_model, settings, monkeypatch
):
    from generation import inference

    inference.clear_pipeline_cache()
    settings.GENERATION_WARM_UP = "false"  # the first job loads its model
    assert services.models_warm_up(queues=["gpu"]) == ([], [])
    assert inference.loaded_sources() == []

    settings.GENERATION_WARM_UP = "auto"  # loaded, not painted (painted when compiling)
    assert services.models_warm_up(queues=["gpu", "celery"]) == (["tiny"], [])
    assert inference.loaded_sources() == [tiny_model.source]
    assert services.models_warm_up(queues=["gpu-big"]) == (["big"], [])
    assert services.models_warm_up(queues=["celery"]) == ([], [])

    # Two models on one queue and room for one: the default is loaded last, so it is kept.
    GenerationModel.objects.filter(slug="big").update(queue="gpu")
    inference.clear_pipeline_cache()
    assert services.models_warm_up(queues=["gpu"]) == (["tiny"], [])
    monkeypatch.setenv("LIKENESS_PIPELINE_CACHE_SIZE", "2")
    assert services.models_warm_up(queues=["gpu"]) == (["big", "tiny"], [])

    # A model that cannot be loaded is said so; its jobs fail with the reason.
    GenerationModel.objects.filter(slug="big").update(source="/nonexistent/model")
    inference.clear_pipeline_cache()
    assert services.models_warm_up(queues=["gpu"]) == (["tiny"], ["big"])
    inference.clear_pipeline_cache()


def test_a_worker_is_ready_once_its_models_are_loaded(settings, tmp_path, client):
    ready_file = tmp_path / "ready.json"
    settings.GENERATION_WORKER_READY_FILE = str(ready_file)

    def workers():
        return client.get("/healthz").json()["checks"]["workers"]

    services.worker_present(hostname="gpu1@host", queues=["gpu"])
    assert workers() | {"ms": 0} == {"ok": True, "up": 1, "ready": 0, "ms": 0}

    assert not services.worker_warmed(
        hostname="gpu1@host", queues=["gpu"], loaded=["tiny"], failed=["big"]
    )
    assert workers()["ready"] == 0 and not ready_file.exists()

    assert services.worker_warmed(hostname="gpu1@host", queues=["gpu"], loaded=["tiny"], failed=[])
    present = WorkerPresence.objects.get(hostname="gpu1@host")
    assert present.ready_at is not None and present.models_loaded == "tiny"
    assert workers()["ready"] == 1
    report = json.loads(ready_file.read_text())
    assert (report["hostname"], report["models"], report["queues"]) == (
        "gpu1@host",
        ["tiny"],
        ["gpu"],
    )

    # Its presence beat goes on without touching the readiness.
    services.worker_present(hostname="gpu1@host", queues=["gpu"])
    assert workers()["ready"] == 1

    # Started again under the same name: not ready until it has loaded its models again.
    services.worker_starting(hostname="gpu1@host")
    assert workers() | {"ms": 0} == {"ok": True, "up": 1, "ready": 0, "ms": 0}
    assert not ready_file.exists()

    services.worker_warmed(hostname="gpu1@host", queues=["gpu"], loaded=[], failed=[])
    services.worker_gone(hostname="gpu1@host")
    assert workers()["up"] == 0 and not ready_file.exists()


def test_a_painting_worker_yields_the_cpu_to_the_web_threads_of_its_process():
    from generation.tasks import yield_the_cpu

    def nice_of_this_thread() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    web_thread = nice_of_this_thread()
    seen = {}

    def painter():
        yield_the_cpu(web_thread + 7)
        seen["painter"] = nice_of_this_thread()
        helper = threading.Thread(target=lambda: seen.update(helper=nice_of_this_thread()))
        helper.start()
        helper.join()
        yield_the_cpu(web_thread + 3)  # never raised back
        seen["after"] = nice_of_this_thread()

    thread = threading.Thread(target=painter)
    thread.start()
    thread.join()
    assert seen == {"painter": web_thread + 7, "helper": web_thread + 7, "after": web_thread + 7}
    assert nice_of_this_thread() == web_thread  # the rest of the process is untouched
