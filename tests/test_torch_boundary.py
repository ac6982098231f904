"""The web process never loads torch: only the inference module may, inside functions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import threading

from celery.signals import task_postrun

# Set when the in-process worker has run a task: by then it has started, imported
# every task module and gone through the task code path once.
task_ran = threading.Event()
task_postrun.connect(lambda **kwargs: task_ran.set(), weak=False)

import config.asgi  # the whole web app: settings, URLconf, WebSocket routing
from django.conf import settings
from django.urls import get_resolver
get_resolver().url_patterns  # import every view module too

if settings.CELERY_INPROCESS_WORKER:
    from config.celery import app
    # The sweep fails on this unmigrated database: still a task the worker ran.
    app.send_task("generation.tasks.sweep_stale_jobs")
    if not task_ran.wait(60):
        sys.exit("the in-process worker ran no task within 60 s")
    workers = [t.name for t in threading.enumerate() if t.name.startswith("likeness-")]
    print("threads:", sorted(workers))
heavy = sorted(name for name in ("torch", "diffusers", "transformers") if name in sys.modules)
print("loaded:", heavy)
sys.exit(1 if heavy else 0)
"""


@pytest.mark.parametrize(
    "inprocess_worker",
    ["false", "true"],
    ids=["web-process-alone", "with-the-embedded-worker-thread"],
)
def test_importing_the_asgi_app_leaves_torch_unloaded(tmp_path, inprocess_worker):
    # Its own SQLite file: the probe (and the worker's sweep) never touch a real database.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "DATABASE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        LIKENESS_DATA_DIR=str(tmp_path),
        CELERY_INPROCESS_WORKER=inprocess_worker,
    )
    if inprocess_worker == "true":
        # The embedded default: the memory broker, the worker a thread of this process.
        env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded: []" in result.stdout
    if inprocess_worker == "true":
        assert (
            "threads: ['likeness-sweeper', 'likeness-worker', 'likeness-worker-presence']"
            in result.stdout
        )
