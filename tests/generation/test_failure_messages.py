"""What a failed job tells its owner: chosen by the exception's class, never its name.

The inference module turns torch's and the hub's failures into its own exceptions where
they happen (``OutOfMemory``, ``ModelUnavailableError``), so the services match classes
without importing torch.
"""

from __future__ import annotations

import shutil

import pytest
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from config.errors import Conflict, DomainError
from generation import inference
from generation.services import JobDeadlinePassed, user_message_for

TIME_LIMIT = (
    "The job took longer than this server allows and was stopped. "
    "Try fewer steps or a smaller size."
)
OUT_OF_MEMORY = "The GPU ran out of memory. Try a smaller size or fewer images."


# Subclasses with other names: matching by class name would miss every one of them.
class HardLimit(TimeLimitExceeded):
    pass


class CudaOutOfMemory(inference.OutOfMemory):
    pass


class SchedulerUnfit(inference.InvalidSpecError):
    pass


class HubUnreachable(inference.ModelUnavailableError):
    pass


@pytest.mark.parametrize(
    "exc",
    [
        SoftTimeLimitExceeded(),
        TimeLimitExceeded(300),
        HardLimit(),
        JobDeadlinePassed("past 240 s"),
    ],
    ids=type,
)
def test_every_time_limit_says_the_job_took_too_long(exc):
    assert user_message_for(exc) == TIME_LIMIT


@pytest.mark.parametrize("exc", [DomainError("No such style."), Conflict("No such style.")])
def test_a_domain_error_is_already_written_for_the_user(exc):
    assert user_message_for(exc) == "No such style."


@pytest.mark.parametrize(
    "exc", [inference.OutOfMemory("CUDA out of memory"), CudaOutOfMemory("")], ids=type
)
def test_out_of_memory_asks_for_less(exc):
    assert user_message_for(exc) == OUT_OF_MEMORY


def test_an_unpaintable_recipe_says_why():
    message = user_message_for(SchedulerUnfit("scheduler 'X' does not fit this model"))
    assert message == (
        "This recipe cannot be painted with this model: scheduler 'X' does not fit this model."
    )


def test_a_model_that_cannot_load_asks_for_an_administrator():
    message = user_message_for(HubUnreachable("hub.example is unreachable"))
    assert message == (
        "The model could not be loaded (hub.example is unreachable). "
        "An administrator should check it."
    )


@pytest.mark.parametrize(
    "exc",
    # Untranslated: not the inference module's word, so no guess from names or messages.
    [RuntimeError("CUDA out of memory"), FileNotFoundError("cache.json"), ValueError("boom")],
    ids=type,
)
def test_anything_else_is_a_plain_failure(exc):
    assert user_message_for(exc) == f"Generation failed: {exc}."


def test_a_failure_without_words_is_named_by_its_class():
    assert user_message_for(KeyError()) == "Generation failed: KeyError."


# --- Where the inference module translates ------------------------------------------------------


@pytest.mark.parametrize(
    "raised",
    [
        MemoryError(),
        RuntimeError("MPS backend out of memory (MPS allocated: 17 GB)\nmore detail"),
    ],
    ids=type,
)
def test_the_device_running_out_of_memory_becomes_out_of_memory(raised):
    with pytest.raises(inference.OutOfMemory) as caught, inference._out_of_memory_translated():
        raise raised
    assert caught.value.__cause__ is raised
    assert "\n" not in str(caught.value)


def test_torch_s_own_out_of_memory_error_becomes_out_of_memory():
    torch = pytest.importorskip("torch", reason="needs the inference extra")
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    translated = inference._out_of_memory_translated()
    with pytest.raises(inference.OutOfMemory, match="CUDA out of memory"), translated:
        raise oom


@pytest.mark.parametrize(
    "raised",
    [RuntimeError("shapes do not match"), inference.GenerationCancelled(), ValueError("x")],
    ids=type,
)
def test_other_failures_pass_through_untouched(raised):
    with pytest.raises(type(raised)) as caught, inference._out_of_memory_translated():
        raise raised
    assert caught.value is raised


@pytest.mark.inference
def test_a_model_folder_missing_its_weights_is_unavailable(tiny_model_dir, tmp_path, monkeypatch):
    pytest.importorskip("diffusers", reason="needs the inference extra")
    monkeypatch.setenv(inference.ENV_DEVICE, "cpu")
    broken = shutil.copytree(tiny_model_dir, tmp_path / "broken")
    for weights in (broken / "unet").glob("diffusion_pytorch_model.*"):
        weights.unlink()
    inference.clear_pipeline_cache()

    with pytest.raises(inference.ModelUnavailableError, match="cannot load the weights") as caught:
        inference.load_pipeline(inference.ModelRef(source=str(broken), family="sd"))
    assert isinstance(caught.value.__cause__, OSError)
    assert user_message_for(caught.value).startswith("The model could not be loaded (")
