"""Starting real Likeness processes (daphne, celery workers) against the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """DATABASE_URL of the test database this process is using right now."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process sharing this test's database, media and keys."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "C2PA_SIGNING_KEY": str(settings.C2PA_SIGNING_KEY),
            "C2PA_SIGNING_CERTS": str(settings.C2PA_SIGNING_CERTS),
            # The test's (fast) hasher, so the child can check passwords the test set.
            "PASSWORD_HASHERS": ",".join(settings.PASSWORD_HASHERS),
            "LIKENESS_TORCH_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            # Unset, as `make run` leaves it (a developer's DEBUG=true is not inherited):
            # the site's own error pages, the embedded default's conveniences.
            "DEBUG": None,
        }
    )
    env.update(overrides)
    return {key: value for key, value in env.items() if value is not None}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}: {read_log(process)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listened on {port} within {timeout}s: {read_log(process)}")


def read_log(process: subprocess.Popen) -> str:
    log = getattr(process, "log_path", None)
    return Path(log).read_text()[-4000:] if log and Path(log).exists() else ""


def start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    handle = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    process.log_path = log_path
    return process


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)


def daphne(env: dict[str, str], log_path: Path, port: int) -> subprocess.Popen:
    """The site as production serves it, on 127.0.0.1:``port`` (wait_for_port before use)."""
    return start(
        [
            str(Path(sys.executable).with_name("daphne")),
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        env,
        log_path,
    )


def celery_worker(
    env: dict[str, str], log_path: Path, name: str, pool: str = "solo"
) -> subprocess.Popen:
    return start(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "gpu,celery",
            "--pool",
            pool,
            "--concurrency",
            "1",
            "--hostname",
            f"{name}@%h",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        env,
        log_path,
    )


@contextmanager
def running(process: subprocess.Popen):
    try:
        yield process
    finally:
        stop(process)


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s")


# --- Finishing a job without the pipeline ----------------------------------------------------


def fake_image(seed: int, width: int, height: int):
    """A small picture that depends on the seed, like a real one would."""
    from PIL import Image

    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    tint = Image.new("RGB", (width, height), (seed * 37 % 256, seed * 91 % 256, seed * 13 % 256))
    return Image.blend(image, tint, 0.5)


def paint_job(job_id, *, worker: str = "painter@test") -> list:
    """Finish a queued job the way the worker does (``job_start``, then ``job_succeed``), with
    hand-made pictures instead of the pipeline: one per image, from the job's seeds. Returns
    its portraits in image order."""
    from generation.services import job_start

    running = job_start(job_id=job_id, worker=worker)
    assert running is not None, f"job {job_id} could not start"
    return finish_job(running)


def finish_job(running) -> list:
    """``job_succeed`` for a job a worker claimed, with hand-made pictures (``paint_job``)."""
    from generation.inference import GenerationResult
    from generation.services import job_succeed
    from portraits.models import Portrait

    seeds = [running.seed + index for index in range(running.num_images)]
    result = GenerationResult(
        images=[fake_image(seed, running.width, running.height) for seed in seeds],
        seeds=seeds,
        scheduler=running.scheduler or "PNDMScheduler",
        device="cpu",
        dtype="float32",
        diffusers_version="0.42.1",
        torch_version="2.13.0+cpu",
        model_revision="sha256:00c0ffee00c0ffee",
    )
    assert job_succeed(job=running, result=result)
    return list(Portrait.objects.filter(job_id=running.pk).order_by("index_in_job"))
