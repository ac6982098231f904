"""Latency of the generation path with the tiny offline model on CPU (issue 3).

    .venv/bin/python bench/job_latency.py [--jobs N] [--steps 20] [--size 128]

Measures, in a fresh temporary data directory (nothing under ./data is touched):

a. the bare pipeline call, ``inference.generate(spec)`` with ``on_step=None``, at ``--size``
   and at ``--big-size`` (median/p90 over ``--jobs`` runs after a warm-up);
b. what the worker adds per step, in situ: ``generate`` with a no-op ``on_step`` (inference
   makes the live preview JPEG only when it is read), one that reads every preview, with
   only the heartbeat ``services.job_progress`` (SQLite), with only the progress event
   (base64 preview +
   ``events.publish`` on the in-memory layer, one subscriber) and with the worker's whole
   per-step work, interleaved; then each part alone in a quiet loop (preview, base64,
   heartbeat, the hand-off to the events loop, publish on the in-memory layer and, when ``REDIS_URL`` /
   ``--redis-url`` is set, on channels_redis); and ``services.job_run`` whole (inference +
   storing the portrait: PNG, thumbnail, C2PA signature, ``done`` event);
c. end to end: a site started like ``make run`` (migrate, c2pa_dev_certs, build_tiny_model,
   daphne on the embedded default), a REST client that submits ``--jobs`` jobs one after the
   other and follows each over its WebSocket until ``done``; optionally the same with
   channels_redis, a Redis broker and a separate ``celery worker --pool solo`` process.

``--only-e2e`` runs part c alone, to repeat the overhead figure (a minute for 40 jobs).

Prints a table and a ``RESULT {json}`` line and writes ``bench/results/job_latency-<date>.json``.
Numbers are written down, never asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import runpy
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's own code: config, generation, tests.support

from tests import support  # noqa: E402 - starting and stopping processes, as the tests do

RESULTS_DIR = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
PROMPT = "an astronomer by candlelight, oil on canvas"
SEED = 1234

# Variables that would move a site away from the embedded default (or onto someone else's data).
DEPLOYMENT_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_INPROCESS_WORKER",
    "MEDIA_ROOT",
    "AWS_STORAGE_BUCKET_NAME",
    "C2PA_SIGNING_KEY",
    "C2PA_SIGNING_CERTS",
    "LIKENESS_DATA_DIR",
    "DJANGO_SETTINGS_MODULE",
)

Stats = dict[str, float | int]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------
def summarize(samples: list[float], scale: float = 1000.0, digits: int = 3) -> Stats:
    """Median, p90, mean, min and max of `samples` (seconds), times `scale` (ms by default)."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    p90 = (
        statistics.quantiles(ordered, n=10, method="inclusive")[8]
        if len(ordered) > 1
        else ordered[0]
    )
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered) * scale, digits),
        "p90": round(p90 * scale, digits),
        "mean": round(statistics.fmean(ordered) * scale, digits),
        "min": round(ordered[0] * scale, digits),
        "max": round(ordered[-1] * scale, digits),
    }


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu_percent(pid: int, seconds: float = 5.0) -> float:
    """CPU a process burns while nothing is asked of it, in % of one core."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return round((cpu_seconds(pid) - before) / seconds * 100, 1)


def parse_time(value: str | None) -> float | None:
    """An ISO timestamp from the API as a Unix time."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------------------------------
# A site in a temporary data directory, set up the way `make run` sets it up
# --------------------------------------------------------------------------------------------
class Site:
    """A Likeness data directory and the processes serving it."""

    def __init__(self, root: Path, database_url: str = "") -> None:
        self.root = root
        self.data = root / "data"
        self.c2pa = root / "c2pa"
        self.processes: list[subprocess.Popen] = []
        # The embedded default's SQLite unless a (fresh) PostgreSQL database is given.
        self.database_url = database_url

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of the embedded default on this data directory, plus `extra`."""
        env = {k: v for k, v in os.environ.items() if k not in DEPLOYMENT_VARIABLES}
        env.update(
            LIKENESS_DATA_DIR=str(self.data),
            C2PA_SIGNING_KEY=str(self.c2pa / "signer.key"),
            C2PA_SIGNING_CERTS=str(self.c2pa / "chain.pem"),
            # A benchmark submits more than a person would; the default rates would throttle
            # it. Nothing else differs from `make run`.
            GENERATION_SUBMIT_RATE="100000/hour",
            API_REGISTER_RATE="100000/hour",
            PYTHONUNBUFFERED="1",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        env.update(extra)
        return env

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def prepare(self) -> None:
        """migrate, c2pa_dev_certs and build_tiny_model, as `make setup` did before it
        registered the trained demo model (the same UNet and text encoder, a narrower VAE)."""
        self.manage("migrate", "--noinput")
        self.manage("c2pa_dev_certs", "--dir", str(self.c2pa))
        self.manage("build_tiny_model")

    def daphne(self, port: int, env: dict[str, str]) -> subprocess.Popen:
        """daphne as the tests start it (`tests.support.daphne`), listening once returned."""
        process = support.daphne(env, self.root / f"daphne-{port}.log", port)
        self.processes.append(process)
        support.wait_for_port(port, process, timeout=90)
        return process

    def celery_worker(self, env: dict[str, str]) -> subprocess.Popen:
        """A `celery worker --pool solo` as the tests start it (`tests.support.celery_worker`)."""
        process = support.celery_worker(env, self.root / "celery.log", "bench")
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            support.stop(process)
        self.processes.clear()


# --------------------------------------------------------------------------------------------
# a + b: in this process, on the same data directory (before any server runs)
# --------------------------------------------------------------------------------------------
def setup_django(site: Site) -> None:
    """Set Django up in this process on the embedded default of `site` (no REDIS_URL...)."""
    for name in DEPLOYMENT_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(site.env())
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def bench_user() -> Any:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-inprocess", defaults={"email": "bench-inprocess@example.com"}
    )
    return user


def running_job(user: Any, size: int, steps: int) -> Any:
    """A job submitted and claimed as a worker would (the broker is not involved)."""
    from generation import services

    job = services.job_submit(
        user=user,
        spec={"prompt": PROMPT, "seed": SEED, "steps": steps, "width": size, "height": size},
    )
    started = services.job_start(job_id=job.pk, worker="bench@inprocess")
    assert started is not None
    return started


def spec_for(size: int, steps: int) -> Any:
    from generation import inference
    from generation.selectors import model_get_default

    model = model_get_default()
    return inference.GenerationSpec(
        model=inference.ModelRef(source=model.source, family=model.family),
        prompt=PROMPT,
        seed=SEED,
        steps=steps,
        guidance_scale=7.0,
        width=size,
        height=size,
    )


def worker_on_step(job: Any, interval: float | None = None) -> Callable[[Any], None]:
    """The worker's own per-step work (`services.JobStepReporter`, as `job_run` uses it;
    `interval` 0 reports every step)."""
    from generation import services

    reporter = services.JobStepReporter(
        job, deadline=datetime.max.replace(tzinfo=UTC), interval=interval
    )
    reporter.start_clock()
    return reporter


def heartbeat_on_step(job: Any) -> Callable[[Any], None]:
    """Only the worker's database heartbeat (`services.job_progress`)."""
    from generation import services

    def on_step(event: Any) -> None:
        services.job_progress(job=job, step=event.step, total=event.total)

    return on_step


def publish_on_step(job: Any) -> Callable[[Any], None]:
    """Only the worker's progress event: `JobStepReporter` with its heartbeat write left out
    (`running.job_progress` answers "still running" without touching the database)."""
    from generation.services import running

    reporter = worker_on_step(job)

    def on_step(event: Any) -> None:
        heartbeat, running.job_progress = running.job_progress, lambda **kw: True
        try:
            reporter(event)
        finally:
            running.job_progress = heartbeat

    return on_step


@contextlib.contextmanager
def subscriber(group: str) -> Iterator[Callable[[], None]]:
    """Put one channel in `group` (a browser following the job); yields a drain function."""
    from channels.layers import get_channel_layer

    from config.broadcast import run_on_layer_loop

    # On the loop that events.publish uses: channels_redis binds its pools to a loop.
    layer = get_channel_layer()
    channel = run_on_layer_loop(layer.new_channel())

    def drain() -> None:  # keeps the channel under its capacity between timed batches
        run_on_layer_loop(layer.flush())
        run_on_layer_loop(layer.group_add(group, channel))

    drain()
    try:
        yield drain
    finally:
        run_on_layer_loop(layer.flush())


@contextlib.contextmanager
def channel_layer(layer: Any) -> Iterator[None]:
    """Make `layer` the default channel layer for a while."""
    from channels.layers import channel_layers

    previous = channel_layers.set("default", layer)
    try:
        yield
    finally:
        channel_layers.set("default", previous)


def redis_layer(url: str) -> Any:
    """channels_redis exactly as config/settings.py configures it when REDIS_URL is `url`.

    The settings module is evaluated again (not imported: Django's settings stay the embedded
    default's) with REDIS_URL set, and its CHANNEL_LAYERS entry is built as channels builds it.
    """
    from django.utils.module_loading import import_string

    overrides = {"REDIS_URL": url, "CHANNELS_PREFIX": "likeness-bench"}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        layers = runpy.run_path(str(ROOT / "config" / "settings.py"))["CHANNEL_LAYERS"]
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    config = layers["default"]
    return import_string(config["BACKEND"])(**config.get("CONFIG", {}))


def progress_event(job: Any, preview: bytes, step: int = 10, total: int = 20) -> dict[str, Any]:
    """The progress event the worker publishes for `step` of `job`, as `JobStepReporter`
    builds it (captured from its `events.publish` call, not sent)."""
    from generation import events, inference
    from generation.services import running

    sent: list[dict[str, Any]] = []
    reporter = worker_on_step(job, interval=0)  # this very step is reported
    publish, events.publish = events.publish, lambda job_id, event, **_: sent.append(event)
    heartbeat, running.job_progress = running.job_progress, lambda **kw: True
    try:
        reporter(inference.StepEvent(step=step, total=total, preview_source=lambda: preview))
    finally:
        events.publish, running.job_progress = publish, heartbeat
    (event,) = sent
    return event


def measure_publish(job_id: Any, event: dict[str, Any], rounds: int) -> dict[str, Stats]:
    """`events.publish` of `event` with no subscriber and with one, on the current layer."""
    from generation import events

    group = events.job_group(job_id)
    samples: dict[str, list[float]] = {"no_subscriber": [], "one_subscriber": []}
    for _ in range(5):  # warm-up: first connection, imports
        events.publish(job_id, event)
    for _ in range(rounds):
        samples["no_subscriber"].append(timed(lambda: events.publish(job_id, event)))
    with subscriber(group) as drain:
        for index in range(rounds):
            samples["one_subscriber"].append(timed(lambda: events.publish(job_id, event)))
            if index % 50 == 49:
                drain()
    return {name: summarize(values) for name, values in samples.items()}


def in_process(args: argparse.Namespace, redis_url: str) -> dict[str, Any]:
    """Parts a and b."""
    from channels.layers import get_channel_layer
    from django.conf import settings

    from generation import events, inference, services

    # No broker here: we claim the jobs ourselves. Patched where submission looks it up.
    from generation.services import submission

    submission.job_enqueue = lambda job_id: None
    results: dict[str, Any] = {
        "load_before": load(),
        "channel_layer": type(get_channel_layer()).__name__,
        "database": settings.DATABASES["default"]["ENGINE"],
    }
    user = bench_user()

    # --- a: the bare pipeline call ----------------------------------------------------------
    spec = spec_for(args.size, args.steps)
    cold = timed(lambda: inference.generate(spec))
    results["first_call_with_pipeline_load_s"] = round(cold, 3)
    bare: dict[str, Stats] = {}
    for size in (args.size, args.big_size):
        sized = spec_for(size, args.steps)
        for _ in range(args.warmup):
            inference.generate(sized)
        bare[str(size)] = summarize(
            [timed(lambda s=sized: inference.generate(s)) for _ in range(args.jobs)]
        )
        log(f"a: bare generate {size}² {args.steps} steps: {bare[str(size)]}")
    results["a_bare_generate_ms"] = bare

    # --- b: the same call with the worker's per-step work, interleaved so drift hits all ----
    job = running_job(user, args.size, args.steps)
    group = events.job_group(job.pk)
    variants: dict[str, Callable[[], Any]] = {
        "on_step_none": lambda: inference.generate(spec),
        "on_step_noop": lambda: inference.generate(spec, on_step=lambda event: None),
        "on_step_preview": lambda: inference.generate(spec, on_step=lambda event: event.preview),
        "on_step_heartbeat": lambda: inference.generate(spec, on_step=heartbeat_on_step(job)),
        "on_step_publish": lambda: inference.generate(spec, on_step=publish_on_step(job)),
        "on_step_worker": lambda: inference.generate(spec, on_step=worker_on_step(job)),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    with subscriber(group) as drain:
        for _ in range(args.warmup):
            for call in variants.values():
                call()
                drain()
        for _ in range(args.jobs):
            for name, call in variants.items():
                samples[name].append(timed(call))
                drain()
    results["b_generate_ms"] = {name: summarize(values) for name, values in samples.items()}
    log(f"b: generate variants: {results['b_generate_ms']}")

    # --- b: the parts, one at a time ---------------------------------------------------------
    previews: list[bytes] = []
    inference.generate(spec, on_step=lambda event: previews.append(event.preview))
    preview = previews[len(previews) // 2]
    event = progress_event(job, preview)
    rounds = args.micro_rounds
    results["preview_jpeg_bytes"] = len(preview)
    results["progress_event_json_bytes"] = len(json.dumps(event))
    latents = _latents(spec)
    projection = inference.SD1_LATENT_RGB_FACTORS, inference.SD1_LATENT_RGB_BIAS
    size = inference._preview_size(spec.width, spec.height)
    results["b_parts_ms"] = {
        "latent_preview_jpeg (direct)": summarize(
            [
                timed(lambda: inference._latent_preview(latents, projection, size))
                for _ in range(rounds)
            ]
        ),
        "base64_preview": summarize(
            [timed(lambda: base64.b64encode(preview).decode("ascii")) for _ in range(rounds)]
        ),
        "job_progress_sqlite": summarize(
            [
                timed(lambda i=i: services.job_progress(job=job, step=i % 20 + 1, total=20))
                for i in range(rounds)
            ]
        ),
    }
    from config.broadcast import run_on_layer_loop

    results["b_parts_ms"]["events_loop_roundtrip_noop"] = summarize(
        [timed(lambda: run_on_layer_loop(_noop())) for _ in range(rounds)]
    )
    publish = measure_publish(job.pk, event, rounds)
    results["b_parts_ms"]["publish_inmemory_no_subscriber"] = publish["no_subscriber"]
    results["b_parts_ms"]["publish_inmemory_one_subscriber"] = publish["one_subscriber"]
    if redis_url:
        with channel_layer(redis_layer(redis_url)):
            publish = measure_publish(job.pk, event, rounds)
        results["b_parts_ms"]["publish_redis_no_subscriber"] = publish["no_subscriber"]
        results["b_parts_ms"]["publish_redis_one_subscriber"] = publish["one_subscriber"]
    log(f"b: parts: {results['b_parts_ms']}")
    # Finished, so the site's first sweep (part c) finds no running job to take over.
    services.job_cancel(job=job, by="bench")

    # --- b: job_run whole (inference + portrait: PNG, thumbnail, C2PA, done event) ---------
    results["b_job_run_ms"] = job_run_breakdown(user, args)
    log(f"b: job_run: {results['b_job_run_ms']}")
    results["load_after"] = load()
    return results


async def _noop() -> None:
    """What `events.publish` pays to hand a coroutine to its loop thread and wait for it."""


def _latents(spec: Any) -> Any:
    """A latent of the first image halfway through, as `on_step` sees it."""
    from generation import inference

    pipe = inference.load_pipeline(spec.model)
    captured: list[Any] = []

    def grab(_pipe: Any, index: int, _t: Any, tensors: dict[str, Any]) -> dict:
        if index == spec.steps // 2:
            captured.append(tensors["latents"][0].clone())
        return {}

    import torch

    pipe(
        prompt=spec.prompt,
        num_inference_steps=spec.steps,
        width=spec.width,
        height=spec.height,
        generator=torch.Generator("cpu").manual_seed(SEED),
        callback_on_step_end=grab,
        output_type="latent",
    )
    return captured[0]


def job_run_breakdown(user: Any, args: argparse.Namespace) -> dict[str, Stats]:
    """`services.job_run` timed whole and in its two parts (generate, job_succeed)."""
    from generation import inference, services
    from generation.services import running

    parts: dict[str, list[float]] = {"generate_with_worker_on_step": [], "job_succeed": []}
    # Patched where job_run looks them up: running.inference.generate, running.job_succeed.
    real_generate, real_succeed = inference.generate, running.job_succeed

    def timing(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parts[name].append(time.perf_counter() - start)

        return wrapper

    whole: list[float] = []
    inference.generate = timing("generate_with_worker_on_step", real_generate)
    running.job_succeed = timing("job_succeed", real_succeed)
    try:
        for index in range(args.warmup + args.jobs):
            job = running_job(user, args.size, args.steps)
            elapsed = timed(lambda job=job: services.job_run(job=job))
            job.refresh_from_db(fields=["status"])
            assert job.status == "succeeded", job.status
            if index >= args.warmup:
                whole.append(elapsed)
    finally:
        inference.generate, running.job_succeed = real_generate, real_succeed
    result = {"job_run": summarize(whole)}
    result.update({name: summarize(values[args.warmup :]) for name, values in parts.items()})
    return result


# --------------------------------------------------------------------------------------------
# c: end to end over HTTP and WebSocket
# --------------------------------------------------------------------------------------------
def http_json(method: str, url: str, body: dict | None = None, token: str = "") -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def register(base: str) -> str:
    name = f"bench{secrets.token_hex(3)}"
    body = {"username": name, "email": f"{name}@example.com", "password": secrets.token_urlsafe(16)}
    return http_json("POST", f"{base}/api/v1/auth/register/", body)["token"]


def follow_job(port: int, token: str, size: int, steps: int) -> dict[str, Any]:
    """Submit one job and follow it to the end; times in seconds since the submit started."""
    import websocket

    base = f"http://127.0.0.1:{port}"
    body = {"prompt": PROMPT, "seed": SEED, "steps": steps, "width": size, "height": size}
    wall0, t0 = time.time(), time.perf_counter()
    job = http_json("POST", f"{base}/api/v1/jobs/", body, token)
    marks: dict[str, float] = {"http_201": time.perf_counter() - t0}
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}{job['ws_url']}",
        header=[f"Authorization: Token {token}"],
        suppress_origin=True,
        timeout=120,
        # websocket-client checks each text frame's UTF-8 in pure Python (1.0 ms for a 6 KB
        # progress event, measured), on the cores the site paints with: a browser does it
        # natively. The text is still decoded, and checked, by bytes.decode.
        skip_utf8_validation=True,
    )
    progress = 0
    final: dict[str, Any] = {}
    try:
        while True:
            event = json.loads(ws.recv())
            kind = event["type"]
            now = time.perf_counter() - t0
            if kind == "state":
                marks.setdefault("ws_state", now)
                marks["state_status_" + event["job"]["status"]] = now
                if event["job"]["status"] in {"succeeded", "failed", "cancelled"}:
                    final = event["job"]
                    marks["done"] = now
                    break
                continue
            if kind == "progress":
                progress += 1
                marks.setdefault("first_progress", now)
                marks["last_progress"] = now
                continue
            marks.setdefault(kind, now)
            if kind in {"done", "failed", "cancelled"}:
                final = event.get("job", {})
                break
    finally:
        ws.close()
    if final.get("status") != "succeeded":
        raise RuntimeError(f"job ended {final.get('status')}: {final.get('error')}")
    created, started, finished = (
        parse_time(final.get(name)) for name in ("created_at", "started_at", "finished_at")
    )
    server = {
        "submit_to_created": created - wall0,
        "submit_to_started": started - wall0,
        "started_to_finished": finished - started,
        "finished_to_done_received": marks["done"] - (finished - wall0),
    }
    return {"marks": marks, "server": server, "progress_events": progress}


class BareCalls:
    """The bare pipeline call timed in a process of its own, started like the site's (same
    environment, same model, nothing else loaded): the reference the platform's overhead is
    measured against. In the benchmark's own process (part a) the same call runs at another
    speed, after everything parts a and b loaded; a fresh process is what daphne is."""

    def __init__(self, env: dict[str, str], args: argparse.Namespace) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--bare-calls",
                "--size",
                str(args.size),
                "--steps",
                str(args.steps),
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.call()  # loads the pipeline

    def call(self) -> float:
        """One bare call; seconds."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("paint\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def serve_bare_calls(size: int, steps: int) -> None:
    """`--bare-calls`: set Django up from the environment, then time one `generate` per line
    read, answering with its seconds (for `BareCalls`)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from generation import inference

    spec = spec_for(size, steps)
    for _ in sys.stdin:
        print(timed(lambda: inference.generate(spec)), flush=True)


def end_to_end(
    site: Site, args: argparse.Namespace, env: dict[str, str], worker: bool
) -> dict[str, Any]:
    """Part c on one deployment: daphne (with or without a separate celery worker), each
    job followed by one bare call in a fresh process, interleaved so drift hits both."""
    port = support.free_port()
    result: dict[str, Any] = {"load_before": load()}
    daphne = site.daphne(port, env)
    celery = site.celery_worker(env) if worker else None
    bare_calls = BareCalls(env, args)
    try:
        token = register(f"http://127.0.0.1:{port}")
        runs = []
        bare: list[float] = []
        first = follow_job(port, token, args.size, args.steps)  # loads the pipeline
        for _ in range(args.jobs):
            runs.append(follow_job(port, token, args.size, args.steps))
            bare.append(bare_calls.call())
        result["bare_call_fresh_process_ms"] = summarize(bare)
        # Each job against the bare call made right after it: the machine's speed drifts
        # from minute to minute, and a pair shares its minute.
        result["overhead_paired_ms"] = summarize(
            [run["marks"]["done"] - call for run, call in zip(runs, bare, strict=True)]
        )
        result["paired_within_target"] = sum(
            run["marks"]["done"] <= call * 1.05 + 0.050
            for run, call in zip(runs, bare, strict=True)
        )
        result["first_job_submit_to_done_s"] = round(first["marks"]["done"], 3)
        result["progress_events_received"] = summarize(
            [float(r["progress_events"]) for r in runs], scale=1, digits=1
        )
        client = ("http_201", "ws_state", "started", "first_progress", "last_progress", "done")
        result["client_ms"] = {
            name: summarize([r["marks"][name] for r in runs if name in r["marks"]])
            for name in client
        }
        result["server_ms"] = {
            name: summarize([r["server"][name] for r in runs]) for name in runs[0]["server"]
        }
        result["started_event_seen"] = sum("started" in r["marks"] for r in runs)
        result["idle_cpu_percent"] = {"daphne": idle_cpu_percent(daphne.pid)}
        if celery is not None:
            result["idle_cpu_percent"]["celery_worker"] = idle_cpu_percent(celery.pid)
    finally:
        bare_calls.close()
        if celery is not None:
            support.stop(celery)
        support.stop(daphne)
    result["load_after"] = load()
    return result


def purge_redis_queues(site: Site, env: dict[str, str]) -> None:
    subprocess.run(
        [str(BIN / "celery"), "-A", "config", "purge", "-f", "-Q", "gpu,celery"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------
def row(name: str, stats: Stats | dict, unit: str = "ms") -> str:
    if not stats or not stats.get("n"):
        return f"{name:<58} {'-':>10}"
    return f"{name:<58} {stats['median']:>10.2f} {stats['p90']:>10.2f} {unit:>4}  (n={stats['n']})"


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    lines = [f"{'measurement':<58} {'median':>10} {'p90':>10}", "-" * 90]
    summary = results["summary"]
    if "in_process" in results:
        lines += report_in_process(results["in_process"], summary, args)
    for deployment in ("c_embedded", "c_redis_celery"):
        c = results.get(deployment)
        if not c:
            continue
        lines.append(
            f"{deployment}: first job (loads the pipeline) {c['first_job_submit_to_done_s']} s"
        )
        for name, stats in c["client_ms"].items():
            lines.append(row(f"{deployment} client: submit→{name}", stats))
        for name, stats in c["server_ms"].items():
            lines.append(row(f"{deployment} server: {name}", stats))
        lines.append(row(f"{deployment} bare call, fresh process", c["bare_call_fresh_process_ms"]))
        lines.append(
            f"{deployment}: overhead {summary[f'{deployment}_overhead_ms']} ms over the bare "
            f"call (medians; {summary[f'{deployment}_overhead_paired_ms']} ms, median of each "
            f"job against the bare call after it); within 5 % + 50 ms: "
            f"{summary[f'{deployment}_within_target']}, jobs within it: "
            f"{summary[f'{deployment}_jobs_within_target']}"
        )
        lines.append(
            f"{deployment}: `started` event seen in {c['started_event_seen']} of {args.jobs} jobs; "
            f"progress events received per job: {c['progress_events_received'].get('median')}; "
            f"idle CPU % of a core: {c['idle_cpu_percent']}"
        )
    print("\n".join(lines))


def report_in_process(
    ip: dict[str, Any], summary: dict[str, Any], args: argparse.Namespace
) -> list[str]:
    """Parts a and b, as lines of the table."""
    lines = [f"a. pipeline load + first call: {ip['first_call_with_pipeline_load_s']} s"]
    for size, stats in ip["a_bare_generate_ms"].items():
        lines.append(row(f"a. generate(on_step=None) {size}² {args.steps} steps", stats))
    for name, stats in ip["b_generate_ms"].items():
        lines.append(row(f"b. generate {name} {args.size}²", stats))
    for name, stats in ip["b_parts_ms"].items():
        lines.append(row(f"b. per step: {name}", stats))
    for name, stats in ip["b_job_run_ms"].items():
        lines.append(row(f"b. job_run: {name}", stats))
    lines.append(
        f"b. per-step overhead: preview {summary['preview_ms_per_step']} ms, worker total "
        f"{summary['worker_overhead_ms_per_step']} ms = "
        f"{summary['worker_overhead_pct_of_step']} % of a step "
        f"({summary['step_ms']} ms = bare generate / steps)"
    )
    lines.append(f"b. in situ, ms per step over on_step=None: {summary['in_situ_ms_per_step']}")
    return lines


def summarize_results(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The few derived figures the README quotes."""
    summary: dict[str, Any] = {}
    if "in_process" in results:
        b = results["in_process"]["b_generate_ms"]
        bare = b["on_step_none"]["median"]
        step = bare / args.steps
        preview = (b["on_step_preview"]["median"] - bare) / args.steps
        worker = (b["on_step_worker"]["median"] - bare) / args.steps
        summary |= {
            "step_ms": round(step, 2),
            "preview_ms_per_step": round(preview, 3),
            "worker_overhead_ms_per_step": round(worker, 3),
            "worker_overhead_pct_of_step": round(worker / step * 100, 1),
            # Each on_step variant minus on_step=None, per step: the cost in situ, between
            # steps.
            "in_situ_ms_per_step": {
                name.removeprefix("on_step_"): round((stats["median"] - bare) / args.steps, 3)
                for name, stats in b.items()
                if name != "on_step_none"
            },
        }
    for deployment in ("c_embedded", "c_redis_celery"):
        c = results.get(deployment)
        if c:
            done = c["client_ms"]["done"]["median"]
            reference = c["bare_call_fresh_process_ms"]["median"]
            summary[f"{deployment}_done_ms"] = done
            summary[f"{deployment}_bare_call_ms"] = reference
            summary[f"{deployment}_overhead_ms"] = round(done - reference, 1)
            summary[f"{deployment}_overhead_paired_ms"] = c["overhead_paired_ms"]["median"]
            # Issue 13's target: submit → done within 5 % + 50 ms of the bare call, for the
            # median job, and how many jobs were (each against its own bare call).
            summary[f"{deployment}_within_target"] = done <= reference * 1.05 + 50
            summary[f"{deployment}_jobs_within_target"] = (
                f"{c['paired_within_target']} of {c['overhead_paired_ms']['n']}"
            )
    return summary


def machine() -> dict[str, Any]:
    import torch

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10, help="measured runs/jobs per figure")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--big-size", type=int, default=256, help="second size for (a)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--micro-rounds", type=int, default=200, help="samples per part in (b)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--skip-e2e", action="store_true", help="only parts a and b")
    parser.add_argument(
        "--only-e2e", action="store_true", help="only part c (repeated runs of the overhead)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--bare-calls", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_calls:
        serve_bare_calls(args.size, args.steps)
        return

    started = datetime.now(UTC)
    results: dict[str, Any] = {
        "benchmark": "job_latency",
        "date": started.isoformat(timespec="seconds"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "redis": bool(args.redis_url),
    }
    with tempfile.TemporaryDirectory(prefix="likeness-bench-") as tmp:
        site = Site(Path(tmp))
        try:
            log(f"setting up a site in {tmp} (migrate, c2pa_dev_certs, build_tiny_model)")
            site.prepare()
            setup_django(site)
            results["machine"] = machine()
            if not args.only_e2e:
                results["in_process"] = in_process(args, args.redis_url)
            if not args.skip_e2e:
                log("c: embedded default (daphne + in-process worker, in-memory layer)")
                results["c_embedded"] = end_to_end(site, args, site.env(), worker=False)
                log(f"c: {results['c_embedded']['client_ms']['done']}")
                if args.redis_url:
                    log("c: daphne + celery worker process on Redis (broker + channels_redis)")
                    env = site.env(REDIS_URL=args.redis_url, CHANNELS_PREFIX="likeness-bench")
                    purge_redis_queues(site, env)
                    results["c_redis_celery"] = end_to_end(site, args, env, worker=True)
                    log(f"c: {results['c_redis_celery']['client_ms']['done']}")
        finally:
            site.stop_all()
    results["summary"] = summarize_results(results, args)
    results["duration_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    report(results, args)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"job_latency-{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print("RESULT " + json.dumps(results, separators=(",", ":")))
    log(f"written {path}")


if __name__ == "__main__":
    main()
