"""Models stay hot: each model's jobs go to its own queue, workers say which queues they
serve, and a job for a model nobody serves says that it waits."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.utils import timezone
from kombu.utils.json import loads

from config.env import celery_broker_url_for_redis
from generation import services
from generation.models import WorkerPresence
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
def test_a_worker_announces_its_queues_while_it_runs_and_withdraws_when_it_stops(
    tmp_path, settings
):
    env = support.process_env(
        REDIS_URL=settings.REDIS_URL,
        CELERY_BROKER_URL=celery_broker_url_for_redis(settings.REDIS_URL),
        CELERY_INPROCESS_WORKER="false",
        GENERATION_HEARTBEAT_INTERVAL="1",
    )
    worker = support.celery_worker(env, tmp_path / "worker.log", "gpu7")
    with support.running(worker):
        present = support.wait_until(
            lambda: WorkerPresence.objects.filter(hostname__startswith="gpu7@").first(),
            timeout=60,
            what="the worker to announce itself",
        )
        assert present.queues == ",celery,gpu,"
        seen = present.seen_at
        support.wait_until(
            lambda: WorkerPresence.objects.get(pk=present.pk).seen_at > seen,
            timeout=30,
            what="the worker to announce itself again",
        )
    assert not WorkerPresence.objects.filter(hostname__startswith="gpu7@").exists(), (
        support.read_log(worker)
    )


@pytest.mark.inference
def test_a_worker_warms_up_the_models_of_its_queues(tiny_model, sdxl_model, settings):
    from generation import inference

    inference.clear_pipeline_cache()
    assert services.models_warm_up(queues=["gpu"]) == []  # auto: only when compiling

    assert inference.loaded_sources() == []

    settings.GENERATION_WARM_UP = "true"
    assert services.models_warm_up(queues=["gpu", "celery"]) == ["tiny"]
    assert inference.loaded_sources() == [tiny_model.source]
    assert services.models_warm_up(queues=["gpu-big"]) == ["big"]
    assert services.models_warm_up(queues=["celery"]) == []
    inference.clear_pipeline_cache()
