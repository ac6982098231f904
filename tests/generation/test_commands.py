"""The model registry's management commands."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command

from generation.models import GenerationModel
from tests import support

pytestmark = pytest.mark.django_db


def test_add_model_registers_a_local_folder_as_the_default(tiny_model, tiny_model_dir):
    call_command(
        "add_model", str(tiny_model_dir), "--family", "sd", "--name", "Mine", "--default",
        "--steps", "8", "--size", "128",
    )  # fmt: skip
    mine = GenerationModel.objects.get(name="Mine")
    assert mine.is_default and mine.source == str(tiny_model_dir)
    assert (mine.default_steps, mine.default_width, mine.default_height) == (8, 128, 128)
    assert list(GenerationModel.objects.filter(is_default=True)) == [mine]


@pytest.mark.django_db(transaction=True)
def test_add_model_download_fails_clearly_without_the_hub():
    # A child process, so the hub client reads HF_ENDPOINT (a closed port) afresh.
    result = subprocess.run(
        [sys.executable, "manage.py", "add_model", "no-such/model", "--download"],
        cwd=support.ROOT,
        env=support.process_env(HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_OFFLINE="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Could not download no-such/model" in result.stderr
    assert not GenerationModel.objects.exists()


def test_build_tiny_model_becomes_the_default_only_when_there_is_none(tmp_path, tiny_model):
    call_command("build_tiny_model", "--dir", str(tmp_path / "tiny"))
    built = GenerationModel.objects.get(slug="likeness-tiny")
    assert built.paints_noise and (tmp_path / "tiny" / "model_index.json").exists()
    assert not built.is_default  # `tiny_model` was the default already
    GenerationModel.objects.exclude(pk=built.pk).delete()
    call_command("build_tiny_model", "--dir", str(tmp_path / "tiny"))
    built.refresh_from_db()
    assert built.is_default
