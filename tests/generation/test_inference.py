"""The inference layer against the tiny random pipeline: real diffusers code paths, offline.

Plain functions, no Django. Everything runs on the CPU unless LIKENESS_DEVICE says otherwise.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="needs the inference extra")

from generation import inference
from generation.inference import (
    GenerationCancelled,
    GenerationSpec,
    InvalidSpecError,
    ModelRef,
    StepEvent,
    generate,
    generate_batch,
    load_pipeline,
)

pytestmark = pytest.mark.inference

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> ModelRef:
    # Before diffusers/huggingface_hub read it, so building and loading can only work offline.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault(inference.ENV_DEVICE, "cpu")
    from generation.tinymodel import build_tiny_model

    folder = build_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)
    yield ModelRef(source=str(folder), family="sd")
    inference.clear_pipeline_cache()


def spec_for(model: ModelRef, **overrides) -> GenerationSpec:
    values = dict(
        model=model,
        prompt="a portrait of a woman with red hair, oil painting",
        negative_prompt="blurry",
        seed=1234,
        steps=4,
        guidance_scale=7.0,
        width=64,
        height=64,
    )
    values.update(overrides)
    return GenerationSpec(**values)


def pixels(image):
    import numpy as np

    return np.asarray(image)


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- the tiny model ------------------------------------------------------------------------


def test_tiny_model_loads_offline_as_a_stable_diffusion_pipeline(tiny_model):
    pipe = load_pipeline(tiny_model)

    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert pipe.safety_checker is None
    tokenizer, text_config = pipe.tokenizer, pipe.text_encoder.config
    ids = tokenizer("a portrait of a smiling old man, watercolor")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id == text_config.bos_token_id
    assert ids[-1] == tokenizer.eos_token_id == text_config.eos_token_id
    assert tokenizer.pad_token_id == text_config.pad_token_id
    assert max(tokenizer.get_vocab().values()) < text_config.vocab_size
    # Learnt merges make common portrait words single tokens.
    assert len(tokenizer.tokenize("portrait")) == 1


def test_tiny_model_weight_files_are_readable_by_others(tiny_model):
    weights = list(Path(tiny_model.source).rglob("*.safetensors"))

    assert len(weights) == 3
    assert all(path.stat().st_mode & 0o044 == 0o044 for path in weights)


def test_tiny_model_is_deterministic_given_seed(tiny_model, tmp_path):
    from generation.tinymodel import build_tiny_model

    again = build_tiny_model(tmp_path / "again", seed=0)
    other = build_tiny_model(tmp_path / "other", seed=1)

    unet = "unet/diffusion_pytorch_model.safetensors"
    original = (Path(tiny_model.source) / unet).read_bytes()
    assert (again / unet).read_bytes() == original
    assert (other / unet).read_bytes() != original


def test_tiny_model_paints_in_a_process_that_cannot_reach_the_hub(tiny_model):
    result = run_python(
        f"""
        from generation.inference import GenerationSpec, ModelRef, generate
        model = ModelRef(source={tiny_model.source!r}, family="auto")
        spec = GenerationSpec(model=model, prompt="a face", seed=1, steps=2,
                              guidance_scale=5.0, width=64, height=64)
        print(generate(spec).images[0].size)
        """,
        # Any request would go to a closed port, and offline mode forbids requests anyway.
        HF_ENDPOINT="http://127.0.0.1:9",
        HF_HOME=str(Path(tiny_model.source).parent / "empty-hf-home"),
        LIKENESS_DEVICE="cpu",
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("(64, 64)")


# --- generating ------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(64, 64), (128, 128), (128, 64)])
def test_batch_of_two_has_requested_size_and_consecutive_seeds(tiny_model, width, height):
    result = generate(spec_for(tiny_model, width=width, height=height, num_images=2, seed=41))

    assert [image.size for image in result.images] == [(width, height)] * 2
    assert all(image.mode == "RGB" for image in result.images)
    assert result.seeds == [41, 42]
    assert result.scheduler == "EulerDiscreteScheduler"
    assert (result.device, result.dtype) == ("cpu", "float32")
    assert result.model_revision.startswith("sha256:")
    assert result.torch_version and result.diffusers_version


def test_on_step_reports_every_step_with_small_changing_previews(tiny_model):
    from PIL import Image

    events: list[StepEvent] = []

    generate(spec_for(tiny_model, steps=5, width=128, height=128), events.append)

    assert [(event.step, event.total) for event in events] == [(step, 5) for step in range(1, 6)]
    previews = [Image.open(io.BytesIO(event.preview)) for event in events]
    assert all(event.preview_mime == "image/jpeg" for event in events)
    assert all(preview.format == "JPEG" and max(preview.size) <= 128 for preview in previews)
    assert previews[0].size == (128, 128)
    assert all(a.preview != b.preview for a, b in zip(events, events[1:], strict=False))


def test_preview_of_a_large_picture_keeps_aspect_and_stays_within_128px(tiny_model):
    from PIL import Image

    events: list[StepEvent] = []

    generate(spec_for(tiny_model, steps=1, width=256, height=128), events.append)

    assert Image.open(io.BytesIO(events[0].preview)).size == (128, 64)


@pytest.mark.parametrize(
    "shape",
    [(2, 8, 8), (4, 2, 8, 8), (16,)],
    ids=["two-channels", "video-latent", "flat"],
)
def test_latents_of_an_unknown_shape_give_no_preview_and_one_warning(shape, caplog):
    import torch

    preview = inference._Previewer(None, (8, 8))
    latent = torch.randn(*shape)

    with caplog.at_level("WARNING", logger="generation.inference"):
        assert preview(latent) is None
        assert preview(latent) is None

    assert len(caplog.records) == 1 and str(shape) in caplog.records[0].getMessage()
    assert preview(torch.randn(4, 8, 8)) is not None  # an ordinary latent still previews


def test_a_preview_that_cannot_be_made_never_fails_the_painting(tiny_model, monkeypatch):
    """A model whose latent space the projection does not fit (a 3-row projection for
    the tiny model's 4 channels): every step reports without a preview, the images come."""
    entry = inference._loaded(tiny_model)
    wrong = ((0.3, 0.2, 0.3),) * 3, (0.0, 0.0, 0.0)
    monkeypatch.setattr(entry, "latent_rgb", wrong)
    events: list[StepEvent] = []

    result = generate(spec_for(tiny_model, steps=3), events.append)

    assert [(event.step, event.preview) for event in events] == [(1, None), (2, None), (3, None)]
    assert result.images[0].size == (64, 64)


def test_raising_from_on_step_cancels_at_once_and_leaves_the_pipeline_usable(tiny_model):
    spec = spec_for(tiny_model, steps=8)
    seen: list[int] = []

    def cancel_at_three(event: StepEvent) -> None:
        seen.append(event.step)
        if event.step == 3:
            raise GenerationCancelled

    with pytest.raises(GenerationCancelled):
        generate(spec, cancel_at_three)

    assert seen == [1, 2, 3]
    after = generate(spec)
    fresh = generate(spec)
    assert (pixels(after.images[0]) == pixels(fresh.images[0])).all()


def test_same_seed_paints_identical_pixels(tiny_model):
    first = generate(spec_for(tiny_model, seed=99))
    second = generate(spec_for(tiny_model, seed=99))

    assert (pixels(first.images[0]) == pixels(second.images[0])).all()


def test_different_seeds_paint_different_pixels(tiny_model):
    first = generate(spec_for(tiny_model, seed=99))
    second = generate(spec_for(tiny_model, seed=100))

    assert (pixels(first.images[0]) != pixels(second.images[0])).any()


def test_images_in_one_batch_differ(tiny_model):
    result = generate(spec_for(tiny_model, num_images=2))

    assert (pixels(result.images[0]) != pixels(result.images[1])).any()


def test_image_to_image_runs_strength_times_steps(tiny_model):
    init = generate(spec_for(tiny_model, width=128, height=128)).images[0]
    events: list[StepEvent] = []

    result = generate(
        spec_for(
            tiny_model,
            steps=10,
            width=128,
            height=128,
            init_image=png_bytes(init),
            init_strength=0.5,
        ),
        events.append,
    )

    assert [(event.step, event.total) for event in events] == [(s, 5) for s in range(1, 6)]
    assert result.images[0].size == (128, 128)
    assert (pixels(result.images[0]) != pixels(init)).any()


def test_image_to_image_fits_an_init_image_of_another_size(tiny_model):
    from PIL import Image

    init = Image.new("RGB", (300, 200), "orange")

    result = generate(
        spec_for(tiny_model, init_image=png_bytes(init), init_strength=0.75, num_images=2)
    )

    assert [image.size for image in result.images] == [(64, 64)] * 2
    assert result.seeds == [1234, 1235]


def test_text_to_image_after_image_to_image_is_unchanged(tiny_model):
    # The two pipelines share components; the image-to-image call must not leave state behind.
    before = generate(spec_for(tiny_model))
    generate(spec_for(tiny_model, init_image=png_bytes(before.images[0]), init_strength=0.5))
    after = generate(spec_for(tiny_model))

    assert (pixels(before.images[0]) == pixels(after.images[0])).all()


def test_chosen_scheduler_is_used_and_reported(tiny_model):
    result = generate(spec_for(tiny_model, scheduler="DPMSolverMultistepScheduler"))
    default = generate(spec_for(tiny_model))

    assert result.scheduler == "DPMSolverMultistepScheduler"
    assert default.scheduler == "EulerDiscreteScheduler"
    assert (pixels(result.images[0]) != pixels(default.images[0])).any()


def test_scheduler_that_does_not_fit_the_model_is_rejected(tiny_model):
    with pytest.raises(InvalidSpecError, match="FlowMatchEulerDiscreteScheduler"):
        generate(spec_for(tiny_model, scheduler="FlowMatchEulerDiscreteScheduler"))


def test_generate_batch_paints_each_spec_with_its_own_seeds(tiny_model):
    specs = [
        spec_for(tiny_model, prompt="an old man", seed=10, num_images=2),
        spec_for(tiny_model, prompt="a young girl", seed=500),
    ]
    steps: dict[int, list[int]] = {0: [], 1: []}

    results = generate_batch(specs, lambda index, event: steps[index].append(event.step))

    assert [result.seeds for result in results] == [[10, 11], [500]]
    assert [len(result.images) for result in results] == [2, 1]
    assert steps == {0: [1, 2, 3, 4], 1: [1, 2, 3, 4]}


def test_generate_batch_refuses_incompatible_specs(tiny_model):
    with pytest.raises(InvalidSpecError, match="batch_key"):
        generate_batch([spec_for(tiny_model), spec_for(tiny_model, steps=5)])


@pytest.mark.parametrize(
    "overrides",
    [
        {"width": 100},
        {"height": 0},
        {"steps": 0},
        {"num_images": 0},
        {"seed": -1},
        {"init_strength": 0.5},
        {"init_image": b"not an image", "init_strength": 0.5},
        {"init_image": b"x", "init_strength": 1.5},
        {"init_image": b"x", "init_strength": 0.1, "steps": 5},
    ],
)
def test_invalid_spec_is_rejected_with_a_clear_error(tiny_model, overrides):
    with pytest.raises(InvalidSpecError):
        generate(spec_for(tiny_model, **overrides))


def test_pipeline_cache_keeps_the_most_recent_model_only(tiny_model, monkeypatch):
    monkeypatch.setenv(inference.ENV_CACHE_SIZE, "1")
    as_auto = ModelRef(source=tiny_model.source, family="auto")
    pipe = load_pipeline(tiny_model)

    assert load_pipeline(tiny_model) is pipe
    load_pipeline(as_auto)
    assert load_pipeline(tiny_model) is not pipe


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        (inference.ENV_DEVICE, "gpu"),
        (inference.ENV_CACHE_SIZE, "0"),
        (inference.ENV_CACHE_SIZE, "many"),
    ],
)
def test_malformed_setting_fails_naming_the_variable(tiny_model, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    inference.clear_pipeline_cache()

    with pytest.raises(ValueError, match=variable):
        load_pipeline(tiny_model)


def test_missing_model_folder_is_reported_as_unavailable():
    with pytest.raises(inference.ModelUnavailableError, match="does not exist"):
        load_pipeline(ModelRef(source="/nonexistent/likeness-model"))


# --- the torch boundary and downloads --------------------------------------------------------


def test_importing_the_inference_layer_does_not_import_torch():
    result = run_python(
        """
        import sys
        import generation.inference as inference
        import generation.tinymodel
        assert inference.backend_available()
        assert inference.backend_missing_reason() == ""
        for name in ("torch", "diffusers", "transformers", "numpy"):
            assert name not in sys.modules, name
        """
    )

    assert result.returncode == 0, result.stderr[-2000:]


def test_backend_missing_reason_names_the_extra(monkeypatch):
    monkeypatch.setattr(inference.importlib.util, "find_spec", lambda name: None)

    assert not inference.backend_available()
    reason = inference.backend_missing_reason()
    assert "torch" in reason and "pip install -e '.[inference]'" in reason


def test_download_model_offline_and_uncached_fails_clearly(tmp_path):
    result = run_python(
        """
        from generation.inference import ModelUnavailableError, download_model
        try:
            download_model("stable-diffusion-v1-5/stable-diffusion-v1-5", progress=False)
        except ModelUnavailableError as exc:
            print("unavailable:", exc)
        """,
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "unavailable: cannot reach the Hugging Face hub" in result.stdout


def test_download_model_returns_a_local_folder_unchanged(tiny_model):
    assert inference.download_model(tiny_model.source) == tiny_model.source


def test_download_picks_one_copy_of_each_component_weights():
    files = [
        "model_index.json",
        "README.md",
        "v1-5-pruned.ckpt",
        "v1-5-pruned-emaonly.safetensors",
        "scheduler/scheduler_config.json",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "text_encoder/model.fp16.safetensors",
        "text_encoder/pytorch_model.bin",
        "text_encoder/flax_model.msgpack",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors.index.json",
        "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
        "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json",
        "vae/diffusion_pytorch_model.bin",
        "safety_checker/model.fp16.safetensors",
    ]

    chosen = inference._files_to_download(files)

    assert chosen == sorted(
        [
            "model_index.json",
            "scheduler/scheduler_config.json",
            "tokenizer/vocab.json",
            "tokenizer/merges.txt",
            "text_encoder/config.json",
            "text_encoder/model.safetensors",
            "unet/config.json",
            "unet/diffusion_pytorch_model.safetensors.index.json",
            "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
            "unet/diffusion_pytorch_model-00002-of-00002.safetensors",
            "vae/config.json",
            "vae/diffusion_pytorch_model.bin",
            "safety_checker/model.fp16.safetensors",
        ]
    )


def test_model_revision_of_a_local_folder_follows_its_content(tiny_model, tmp_path):
    import shutil

    copy = Path(shutil.copytree(tiny_model.source, tmp_path / "copy"))
    original = inference._local_revision(Path(tiny_model.source))

    assert inference._local_revision(copy) == original
    config = copy / "scheduler" / "scheduler_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "steps_offset": 0}))
    assert inference._local_revision(copy) != original


# --- GPU speed-ups, checked on CPU ---------------------------------------------------------


@pytest.fixture
def speedups(monkeypatch):
    """Set speed-up variables for one test; pipelines loaded meanwhile are dropped after."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        inference.clear_pipeline_cache()

    yield set_env
    inference.clear_pipeline_cache()


def _largest_difference(first, second) -> int:
    import numpy as np

    return max(
        int(np.abs(pixels(a).astype(int) - pixels(b).astype(int)).max())
        for one, other in zip(first, second, strict=True)
        for a, b in zip(one.images, other.images, strict=True)
    )


def test_the_speed_ups_are_applied_and_keep_the_picture(tiny_model, speedups):
    specs = [spec_for(tiny_model, seed=s, prompt=p) for s, p in ((1, "a sailor"), (2, "a nun"))]
    plain = generate_batch(specs)

    speedups(LIKENESS_CHANNELS_LAST="1", LIKENESS_FUSE_QKV="1", LIKENESS_VAE_SLICING="1")
    fast = generate_batch(specs)

    pipe = inference.load_pipeline(tiny_model)
    processors = {type(p).__name__ for p in pipe.unet.attn_processors.values()}
    assert processors == {"FusedAttnProcessor2_0"}
    import torch

    weight = next(w for w in pipe.unet.parameters() if w.dim() == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert pipe.vae.use_slicing
    assert _largest_difference(plain, fast) <= 2  # float rounding: measured 0–1 of 255


def test_a_call_is_padded_to_its_bucket_and_the_padding_dropped(tiny_model, speedups):
    specs = [spec_for(tiny_model, seed=s) for s in (1, 2, 3)]
    plain = generate_batch(specs)

    speedups(LIKENESS_BATCH_BUCKETS="2,4")
    padded = generate_batch(specs)
    beyond = generate_batch([spec_for(tiny_model, seed=9, num_images=4), specs[0]])

    assert [len(result.images) for result in padded] == [1, 1, 1]
    assert {result.rows for result in padded} == {4}
    assert {result.rows for result in beyond} == {5}  # above the largest bucket: as it is
    assert _largest_difference(plain, padded) <= 2
    assert inference.warm_up(tiny_model, 64, 64, steps=1) == 2  # one call per bucket


def test_the_precision_can_be_chosen(tiny_model, speedups):
    speedups(LIKENESS_DTYPE="bfloat16")
    result = generate(spec_for(tiny_model))
    assert result.dtype == "bfloat16" and pixels(result.images[0]).std() > 0

    speedups(LIKENESS_DTYPE="float8")
    with pytest.raises(ValueError, match="LIKENESS_DTYPE must be one of"):
        generate(spec_for(tiny_model))
