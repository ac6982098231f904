"""The model registry's management commands."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

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


def test_build_tiny_model_leaves_an_administrator_s_changes_alone(tmp_path, tiny_model):
    """`make run` runs it every time: it must not undo what was decided in the admin."""
    call_command("build_tiny_model", "--dir", str(tmp_path / "tiny"))
    built = GenerationModel.objects.get(slug="likeness-tiny")
    GenerationModel.objects.filter(pk=built.pk).update(
        is_enabled=False, max_steps=12, default_steps=6, name="Noise (retired)"
    )
    call_command("build_tiny_model", "--dir", str(tmp_path / "tiny"))
    built.refresh_from_db()
    assert not built.is_enabled
    assert (built.default_steps, built.max_steps, built.name) == (6, 12, "Noise (retired)")
    assert not built.is_default


def test_build_tiny_model_never_takes_the_default_from_another_model(tmp_path, tiny_model):
    # The default model is disabled for now: that does not make the tiny one the default.
    GenerationModel.objects.filter(pk=tiny_model.pk).update(is_enabled=False)
    call_command("build_tiny_model", "--dir", str(tmp_path / "tiny"))
    assert list(GenerationModel.objects.filter(is_default=True)) == [tiny_model]


def test_build_tiny_model_does_not_make_a_disabled_tiny_model_the_default(tmp_path, tiny_model):
    call_command("build_tiny_model", "--dir", str(tmp_path / "tiny"))
    GenerationModel.objects.filter(slug="likeness-tiny").update(is_enabled=False)
    GenerationModel.objects.filter(pk=tiny_model.pk).delete()
    call_command("build_tiny_model", "--dir", str(tmp_path / "tiny"))
    assert not GenerationModel.objects.filter(is_default=True).exists()


def test_add_model_with_a_default_above_the_usual_maximum_raises_the_maximum(
    tiny_model, tiny_model_dir
):
    call_command(
        "add_model", str(tiny_model_dir), "--slug", "slow", "--steps", "80", "--guidance", "30",
        "--size", "2048",
    )  # fmt: skip
    slow = GenerationModel.objects.get(slug="slow")
    assert (slow.default_steps, slow.max_steps) == (80, 80)
    assert (slow.default_guidance, slow.max_guidance) == (30, 30)
    assert (slow.default_width, slow.max_width) == (2048, 2048)
    # Updating it again keeps a maximum that is already high enough.
    call_command("add_model", str(tiny_model_dir), "--slug", "slow", "--steps", "60")
    slow.refresh_from_db()
    assert (slow.default_steps, slow.max_steps) == (60, 80)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps", "0"], "--steps must be at least 1"),
        (["--guidance", "-1"], "--guidance must be 0 or more"),
        (["--size", "100"], "--size must be a multiple of 8"),
        (["--size", "1024", "--max-size", "512"], "larger than --max-size"),
    ],
)
def test_add_model_refuses_impossible_limits_clearly(tiny_model_dir, options, message):
    with pytest.raises(CommandError, match=message):
        call_command("add_model", str(tiny_model_dir), "--slug", "odd", *options)
    assert not GenerationModel.objects.filter(slug="odd").exists()
