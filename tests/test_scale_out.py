"""Several processes, one site: two daphne processes and two Celery workers on PostgreSQL,
Redis and an S3 API server (moto's, on 127.0.0.1), with DEBUG=false, as README's
production section runs them (``tests/cluster.py``; ``make scale-out`` starts the same).

A member submits on web A and follows the job on a WebSocket connected to web B, seeing
every step and ``done``, then downloads the signed original from S3 through web B; a second
member's job runs on the other worker while the first is busy; SIGKILLing a worker mid-job
hands its job to the other (through the sweeper, driven here as beat drives it); static
files are collectstatic's hashed files, served by whitenoise.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
import websocket

from accounts.services import api_token_create
from config.env import celery_broker_url_for_redis
from generation import services
from generation.models import GenerationJob
from generation.selectors import workers_health
from portraits.credentials import read_manifest
from tests import support
from tests.cluster import Cluster, S3Server, production_env
from tests.test_outages import celery_broker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.inference,
    pytest.mark.processes,
    pytest.mark.postgres,
    pytest.mark.redis,
]

STALE_AFTER = 4  # seconds without a heartbeat before the sweeper takes a job back
FINAL = {"succeeded", "failed", "cancelled"}  # a job's final statuses


def request(url: str, token: str = "", body: dict | None = None):
    """(status, headers, body bytes) of a request a script makes; redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def submit(web: str, token: str, **spec) -> dict:
    status, _, body = request(f"{web}/api/v1/jobs/", token, spec)
    assert status == 201, body
    return json.loads(body)


def ended(event: dict) -> bool:
    if event["type"] == "state":
        return event["job"]["status"] in FINAL
    return event["type"] in {"done", "failed", "cancelled"}


def job_of(job_id) -> GenerationJob:
    return GenerationJob.objects.get(pk=job_id)


@pytest.fixture
def s3():
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def cluster(tmp_path, settings, s3, tiny_model):
    tiny_model.max_steps = 1000
    tiny_model.save()
    broker = celery_broker_url_for_redis(settings.REDIS_URL)
    env = production_env(
        support.process_env(
            REDIS_URL=settings.REDIS_URL,
            CELERY_BROKER_URL=broker,
            MEDIA_ROOT=None,
            GENERATION_PROGRESS_INTERVAL_MS="0",  # every step, so the test can count them
            GENERATION_HEARTBEAT_INTERVAL="1",
            GENERATION_STALE_AFTER=str(STALE_AFTER),
        ),
        tmp_path,
        **s3.env(),
    )
    with celery_broker(broker) as app:
        app.control.purge()  # nothing another test left for workers to take
        running = Cluster(env, tmp_path).start()
        try:
            support.wait_until(
                lambda: workers_health() == {"up": 2, "ready": 2},
                timeout=90,
                what="both workers to load their model and say they are ready",
            )
            yield running
        finally:
            running.stop()


def test_two_webs_and_two_workers_serve_one_site(cluster, s3, alice, bob, settings):
    web_a, web_b = cluster.url(0), cluster.url(1)
    alice_token = api_token_create(user=alice, name="scale-out")[1]
    bob_token = api_token_create(user=bob, name="scale-out")[1]

    # Submitted on A, followed on B: every step, then done, relayed through Redis.
    # Long enough (40 steps) that the socket, opened right after the submit, joins while it
    # paints; what the state on connect says is checked, not assumed.
    job = submit(web_a, alice_token, prompt="a harbour pilot", steps=40, width=64, height=64)
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{cluster.ports[1]}{job['ws_url']}",
        header=[f"Authorization: Token {alice_token}"],
        suppress_origin=True,
        timeout=120,
    )
    try:
        events = [json.loads(ws.recv())]
        while not ended(events[-1]):
            events.append(json.loads(ws.recv()))
    finally:
        ws.close()
    finished = job_of(job["id"])
    assert finished.status == GenerationJob.Status.SUCCEEDED, cluster.logs()
    # Every step from where the state on connect left it (an event in between may come
    # twice: the socket joins, then reads), then done.
    assert events[0]["type"] == "state" and events[-1]["type"] == "done", events
    seen_at_connect = events[0]["job"]["progress"]["step"]
    steps = [e["step"] for e in events if e["type"] == "progress"]
    assert seen_at_connect < 40, "the job ended before its socket connected: nothing to relay"
    assert set(range(seen_at_connect + 1, 41)) <= set(steps) <= set(range(1, 41)), events
    assert steps == sorted(steps)
    assert events[-1]["job"]["status"] == "succeeded"

    # The original, downloaded through B: a redirect to S3, signed, carrying its manifest.
    portrait = finished.portraits.get()
    status, headers, _ = request(
        f"{web_b}/api/v1/portraits/{portrait.public_id}/download/", alice_token
    )
    assert status == 302 and headers["Location"].startswith(s3.endpoint)
    status, _, png = request(headers["Location"])
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert read_manifest(png)["valid"]
    assert sorted([portrait.image.name, portrait.thumbnail.name]) == s3.keys()

    # A long job keeps one worker busy; a second member's job runs on the other.
    long = submit(web_a, alice_token, prompt="a long sitting", steps=400, width=128, height=128)
    support.wait_until(
        lambda: job_of(long["id"]).progress_step >= 2, timeout=90, what="the long job to paint"
    )
    busy = job_of(long["id"]).worker.split("@")[0]
    other = submit(web_b, bob_token, prompt="a ferryman", steps=4, width=64, height=64)
    support.wait_until(lambda: job_of(other["id"]).is_final, timeout=90, what="bob's job")
    assert job_of(other["id"]).status == GenerationJob.Status.SUCCEEDED
    assert not job_of(other["id"]).worker.startswith(f"{busy}@")

    # The busy worker is lost mid-job: its heartbeat stops, the sweeper (beat, driven
    # here) requeues the job, and the other worker paints it as a second attempt.
    assert job_of(long["id"]).status == GenerationJob.Status.RUNNING
    cluster.kill_worker(busy)
    with celery_broker(celery_broker_url_for_redis(settings.REDIS_URL)):
        support.wait_until(
            lambda: services.jobs_sweep(stale_after=STALE_AFTER)["requeued"],
            timeout=60,
            interval=0.5,
            what="the sweeper to take the job back",
        )
    support.wait_until(lambda: job_of(long["id"]).is_final, timeout=240, what="the long job")
    rescued = job_of(long["id"])
    assert rescued.status == GenerationJob.Status.SUCCEEDED, cluster.logs()
    assert rescued.attempts == 2 and not rescued.worker.startswith(f"{busy}@")

    # Static files as production serves them: collectstatic's hashed names, by whitenoise,
    # cached for good.
    status, _, page = request(f"{web_a}/")
    assert status == 200
    stylesheet = re.search(rb'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page)
    assert stylesheet, page[:2000]
    status, headers, _ = request(f"{web_b}{stylesheet.group(1).decode()}")
    assert status == 200 and "immutable" in headers["Cache-Control"]
