"""The web process never loads torch: only the inference module may, inside functions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
import config.asgi  # the whole web app: settings, URLconf, WebSocket routing
from django.urls import get_resolver
get_resolver().url_patterns  # import every view module too
heavy = sorted(name for name in ("torch", "diffusers", "transformers") if name in sys.modules)
print("loaded:", heavy)
sys.exit(1 if heavy else 0)
"""


def test_importing_the_asgi_app_leaves_torch_unloaded(tmp_path):
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings",
        LIKENESS_DATA_DIR=str(tmp_path),
        CELERY_INPROCESS_WORKER="false",
    )
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
