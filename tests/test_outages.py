"""Outages: what the site does while Redis or the broker cannot be reached.

Each test points this process at a port where nothing listens, configured exactly as
production configures it for that URL (the settings module, loaded with REDIS_URL set to
the dead address in a child process, says what the cache, the channel layer and Celery
get). Nothing is mocked: the Redis client, kombu and channels_redis really fail to connect.
"""

from __future__ import annotations

import os
import shutil
import signal
from contextlib import contextmanager

import pytest
from django.urls import reverse
from rest_framework.throttling import ScopedRateThrottle

from config import broadcast
from generation import services
from generation.models import GenerationJob
from tests import support
from tests.conftest import PASSWORD
from tests.test_settings import _django_setup, _settings_of

# Transactions really commit: a job is sent to the broker after its commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)
JOBS = "/api/v1/jobs/"


@contextmanager
def celery_broker(url: str, transport_options: dict | None = None):
    """Point this process's Celery app (the one ``services.job_enqueue`` sends with) at ``url``.

    It is made the current app too: tasks are proxies that send with whichever app was
    made current last, and ``Celery(broker=...)`` elsewhere in a test session makes
    itself current unless told not to.
    """
    from celery import _state

    from config.celery import app

    def forget_connections() -> None:
        # kombu keeps its pools per broker address: the next send finds (or makes) the
        # pool of the address configured then.
        app._pool = None
        app.amqp._producer_pool = None

    saved = app.conf.broker_url, app.conf.broker_transport, app.conf.broker_transport_options
    previous = _state.get_current_app()
    app.set_current()
    forget_connections()
    # The transport is the URL's: the embedded default names its own memory transport
    # (config.broker), which would otherwise carry the messages whatever the URL says.
    app.conf.broker_url, app.conf.broker_transport = url, None
    if transport_options is not None:
        app.conf.broker_transport_options = transport_options
    try:
        yield app
    finally:
        forget_connections()
        app.conf.broker_url, app.conf.broker_transport, app.conf.broker_transport_options = saved
        previous.set_current()


def dead_address() -> str:
    return f"127.0.0.1:{support.free_port()}"


@pytest.fixture(scope="module")
def redis_down_settings(tmp_path_factory):
    """What production configures for a REDIS_URL where nothing listens."""
    return _settings_of(
        tmp_path_factory.mktemp("settings"),
        "CACHES",
        "CHANNEL_LAYERS",
        "CELERY_BROKER_URL",
        "CELERY_BROKER_TRANSPORT_OPTIONS",
        REDIS_URL=f"redis://{dead_address()}/0",
    )


@pytest.fixture
def redis_down(settings, redis_down_settings):
    """This process with its Redis (cache, channel layer and broker) unreachable."""
    settings.CACHES = redis_down_settings["CACHES"]
    settings.CHANNEL_LAYERS = redis_down_settings["CHANNEL_LAYERS"]
    with celery_broker(
        redis_down_settings["CELERY_BROKER_URL"],
        redis_down_settings["CELERY_BROKER_TRANSPORT_OPTIONS"],
    ):
        yield
    broadcast.resume()  # the next test's events are not this outage's business


# --- Redis down ------------------------------------------------------------------------


def test_with_redis_down_the_api_still_reads_and_accepts_jobs(redis_down, alice_api, tiny_model):
    models = alice_api.get("/api/v1/models/")
    assert models.status_code == 200, models.content
    assert [m["slug"] for m in models.json()] == ["tiny"]

    response = alice_api.post(JOBS, {"prompt": "a lamplighter at dawn"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    # Redis is the broker too: the job is kept and the sweeper will send it.
    assert body["status"] == "queued" and body["delivery"] == "deferred"
    job = GenerationJob.objects.get()
    assert str(job.pk) == body["id"] and job.is_delivery_deferred

    listed = alice_api.get(JOBS)
    assert listed.status_code == 200 and listed.json()["results"][0]["id"] == body["id"]


def test_with_redis_down_rate_limits_still_count_in_each_process(redis_down, api, monkeypatch):
    """Not failing open: the limits are counted in the process's memory meanwhile."""
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "anon", "3/minute")
    answers = [api.get("/api/v1/styles/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_with_redis_down_members_can_still_sign_in(redis_down, client, api, alice):
    """allauth's log-in limits use the cache too: the page and the token endpoint."""
    refused = client.post(reverse("account_login"), {"login": "alice", "password": "nope"})
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
    signed_in = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.wsgi_request.user == alice

    token = api.post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": PASSWORD, "name": "outage"},
        format="json",
    )
    assert token.status_code == 201, token.content
    assert token.json()["token"]


def test_with_redis_down_a_job_can_still_be_cancelled(redis_down, alice_api, tiny_model):
    """Cancelling publishes to the channel layer (Redis): losing those events is fine."""
    job = alice_api.post(JOBS, {"prompt": "a night watchman"}, format="json").json()
    response = alice_api.post(f"{JOBS}{job['id']}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert GenerationJob.objects.get().status == GenerationJob.Status.CANCELLED


def test_with_redis_down_revoking_access_still_works(redis_down, alice, client):
    """Revocations are published to the channel layer (Redis) to close open sockets: with it
    down, the revocation itself still happens and the request still succeeds."""
    from accounts.models import ApiToken
    from accounts.services import api_token_create

    token, key = api_token_create(user=alice, name="script")
    api = client_with_token(key)
    assert api.delete(f"/api/v1/me/tokens/{token.pk}/").status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert api.get("/api/v1/me/").status_code == 401

    client.force_login(alice)
    assert client.post(reverse("account_logout")).status_code == 302
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def client_with_token(key: str):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_with_redis_down_a_websocket_is_told_to_try_again_later(redis_down, alice, tiny_model):
    """The channel layer is Redis: following a job live cannot work, so the handshake is
    accepted and closed with 4503 ("try again later") instead of failing; the REST
    resource still answers."""
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from tests.generation.test_consumers import communicator

    job = services.job_submit(user=alice, spec={"prompt": "a violinist"})

    async def code_of_refusal(ws: WebsocketCommunicator):
        connected, _ = await ws.connect(timeout=30)
        assert connected
        message = await ws.receive_output(timeout=30)
        assert message["type"] == "websocket.close", message
        return message["code"]

    assert async_to_sync(code_of_refusal)(communicator(job.pk, alice)) == 4503


@pytest.mark.processes
def test_with_redis_down_daphne_itself_sends_the_try_again_later_code(alice, tiny_model, tmp_path):
    """Through a real daphne, not a communicator: its WebSocket library (autobahn) refuses
    to send any close code but 1000 and 3000-4999, so 1013 (as the code was) became a crash
    (1011), with an "invalid close code" traceback in the log for every attempt."""

    import websocket  # websocket-client, the one selenium uses

    from accounts.services import api_token_create
    from generation.consumers import CLOSE_TRY_AGAIN_LATER

    job = services.job_submit(user=alice, spec={"prompt": "a violinist"})
    _, key = api_token_create(user=alice, name="live")
    port = support.free_port()
    web = support.daphne(
        support.process_env(REDIS_URL=f"redis://{dead_address()}/0"), tmp_path / "daphne.log", port
    )
    with support.running(web):
        support.wait_for_port(port, web)
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/ws/jobs/{job.pk}/",
            header=[f"Authorization: Token {key}"],
            timeout=30,
        )
        try:
            opcode, data = ws.recv_data(control_frame=True)
        finally:
            ws.close()
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(data[:2], "big") == CLOSE_TRY_AGAIN_LATER
    assert "invalid close code" not in support.read_log(web)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, which it may stop and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        # CI (.ci/run) runs a Redis, so it has the program: there its absence is a failure.
        if os.environ.get("LIKENESS_REQUIRE_SERVICES") == "1":
            pytest.fail("redis-server is not on PATH, but LIKENESS_REQUIRE_SERVICES=1")
        pytest.skip("needs the redis-server program (Debian's redis-server package)")
    port = support.free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    servers = []

    def start() -> None:
        server = support.start(
            args, {"PATH": "/usr/bin:/bin"}, tmp_path / f"redis{len(servers)}.log"
        )
        servers.append(server)
        support.wait_for_port(port, server, timeout=30)

    def stop() -> None:
        servers[-1].send_signal(signal.SIGKILL)
        servers[-1].wait(10)

    start()
    yield f"redis://127.0.0.1:{port}/0", start, stop
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def test_the_cache_counts_locally_while_redis_is_down_then_uses_redis_again(
    private_redis, monkeypatch
):
    import redis

    from config import cache as resilient

    url, start, stop = private_redis
    monkeypatch.setattr(resilient, "RETRY_AFTER", 0.2)
    cache = resilient.RedisCacheWithLocalFallback(
        url, {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    )
    direct = redis.Redis.from_url(url)

    cache.set("before", 1)
    assert cache.get("before") == 1 and direct.dbsize() == 1

    stop()
    cache.set("during", 2)  # no error: the process's memory holds it meanwhile
    assert cache.get("during") == 2
    assert cache.add("lock", True) is True and cache.add("lock", True) is False

    start()
    support.wait_until(
        lambda: cache.add("after", 3) and direct.exists(cache.make_key("after")),
        timeout=30,
        what="the cache to write to Redis again",
    )
    assert cache.get("after") == 3
    assert cache.get("during") is None  # Redis's view again: the outage's counts are gone


# --- The broker down when a job is submitted -------------------------------------------


# (ids are not "redis" itself: that would read as the redis marker)
@pytest.mark.parametrize("scheme", ["amqp", "redis"], ids=["amqp-down", "redis-down"])
def test_a_job_the_broker_cannot_take_is_accepted_and_sent_by_the_next_sweep(
    scheme, alice_api, tiny_model, settings
):
    dead = (
        f"amqp://guest:guest@{dead_address()}//"
        if scheme == "amqp"
        else f"redis://{dead_address()}/0"
    )
    with celery_broker(dead):
        response = alice_api.post(JOBS, {"prompt": "a ferryman in fog"}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["delivery"] == "deferred"
        job = GenerationJob.objects.get()
        assert job.status == GenerationJob.Status.QUEUED and job.enqueued_at is None

        # Still down at the next sweep: the job stays marked.
        assert services.jobs_sweep()["resent"] == 0
        job.refresh_from_db()
        assert job.is_delivery_deferred

    # The broker is back (this process's own: memory://, or Redis where configured).
    assert services.jobs_sweep()["resent"] == 1
    job.refresh_from_db()
    assert job.enqueued_at is not None and not job.is_delivery_deferred
    assert services.jobs_sweep()["resent"] == 0  # once, not on every sweep
    assert GenerationJob.objects.count() == 1


def test_with_redis_down_the_health_check_says_degraded_not_unavailable(
    redis_down, client, settings
):
    """The site carries on without Redis (config.health says why a load balancer must not
    take every web process out for it); the check says what is down, and not where."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"]
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["broker"]["ok"] is False
    address = settings.CACHES["default"]["LOCATION"].split("//", 1)[1].split("/")[0]
    assert address not in response.content.decode()


def test_with_rabbitmq_down_the_health_check_names_the_broker(client):
    with celery_broker(f"amqp://guest:guest@{dead_address()}//"):
        body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["database"]["ok"]


# --- Settings --------------------------------------------------------------------------


def test_a_stale_window_a_live_worker_could_miss_is_refused_at_start(tmp_path):
    result = _django_setup(
        tmp_path, GENERATION_STALE_AFTER="30", GENERATION_HEARTBEAT_INTERVAL="10"
    )
    assert result.returncode != 0
    assert "GENERATION_STALE_AFTER" in result.stderr
    assert "GENERATION_HEARTBEAT_INTERVAL" in result.stderr


def test_a_dead_worker_s_job_is_reclaimed_within_about_a_minute_by_default(tmp_path):
    values = _settings_of(
        tmp_path,
        "GENERATION_STALE_AFTER",
        "GENERATION_HEARTBEAT_INTERVAL",
        "GENERATION_SWEEP_INTERVAL",
        "CELERY_BEAT_SCHEDULE",
    )
    assert values["GENERATION_STALE_AFTER"] + values["GENERATION_SWEEP_INTERVAL"] <= 90
    assert values["GENERATION_STALE_AFTER"] > 3 * values["GENERATION_HEARTBEAT_INTERVAL"]
    schedule = values["CELERY_BEAT_SCHEDULE"]["sweep-stale-jobs"]["schedule"]
    assert schedule == values["GENERATION_SWEEP_INTERVAL"]


def test_production_caches_with_the_fallback(redis_down_settings):
    backend = redis_down_settings["CACHES"]["default"]
    assert backend["BACKEND"] == "config.cache.RedisCacheWithLocalFallback"
    assert backend["OPTIONS"]["socket_timeout"] <= 2
