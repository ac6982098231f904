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
            "DEBUG": "true",
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
