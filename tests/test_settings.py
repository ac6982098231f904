"""Malformed environment variables stop start-up with a message naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _django_setup(tmp_path, **env):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "CELERY_BROKER_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="config.settings", LIKENESS_DATA_DIR=str(tmp_path), **env
    )
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_defaults_start(tmp_path):
    result = _django_setup(tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "nonsense"),
        ("DATABASE_URL", "postgres://host:port/db"),
        ("DEBUG", "maybe"),
        ("REDIS_URL", "nonsense"),
        ("REDIS_URL", "redis://localhost:notaport/0"),
        ("AVATAR_MAX_BYTES", "two megabytes"),
        ("ACCOUNT_EMAIL_VERIFICATION", "sometimes"),
    ],
)
def test_malformed_variable_fails_with_its_name(tmp_path, variable, value):
    result = _django_setup(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_production_without_a_secret_key_fails(tmp_path):
    result = _django_setup(tmp_path, DEBUG="false", ALLOWED_HOSTS="likeness.example")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
