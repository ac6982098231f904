"""The offline portrait model: training it (a short run), and the weights the project ships.

The shipped weights are read through the ordinary loading path (`inference.load_pipeline`,
`from_pretrained` with local files only) and asked what a member would ask. Attribute checks
measure pixels with margins; they never time anything.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

pytest.importorskip("diffusers", reason="needs the inference extra")

from generation import inference
from generation.inference import GenerationSpec, ModelRef, generate
from generation.models import GenerationModel
from generation.training.attributes import FACE_SHAPES, sample_attributes
from generation.training.drawing import BACKGROUND, portrait_regions
from generation.training.train import (
    FEATURES_REFINEMENT,
    REFINEMENT,
    Trainer,
    TrainingConfig,
    head_weights,
)

pytestmark = pytest.mark.inference

SHIPPED = Path(settings.GENERATION_DEMO_MODEL_DIR)

# A training run in miniature: every stage, a few steps each, small pictures.
SHORT = TrainingConfig(
    images=24,
    size=64,
    tokenizer_merges=300,
    vae_steps=2,
    vae_batch=4,
    vae_crop=32,
    unet_steps=4,
    batch=4,
    warmup=1,
    checkpoint_every=2,
    face_weight=2.0,  # the weighted loss's path (the shipped recipe has an even loss)
)


@pytest.fixture(autouse=True)
def _offline():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault(inference.ENV_DEVICE, "cpu")
    yield
    inference.clear_pipeline_cache()


def shipped() -> ModelRef:
    return ModelRef(source=str(SHIPPED), family="sd")


def paint(prompt: str, seed: int = 0, **overrides):
    values = dict(
        model=shipped(),
        prompt=prompt,
        seed=seed,
        steps=20,
        guidance_scale=6.0,
        width=128,
        height=128,
    )
    values.update(overrides)
    return generate(GenerationSpec(**values)).images[0]


def train(tmp_path: Path, config: TrainingConfig = SHORT, **kwargs) -> Trainer:
    trainer = Trainer(
        config, work=tmp_path / "work", out=tmp_path / "out", progress_bars=False, **kwargs
    )
    trainer.run()
    return trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trainer:
    """One short run, shared: its work folder must not be trained into again."""
    return train(tmp_path_factory.mktemp("short-run"))


def weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    out = {}
    for part in (
        "unet/diffusion_pytorch_model",
        "text_encoder/model",
        "vae/diffusion_pytorch_model",
    ):
        out.update({f"{part}:{k}": v for k, v in load_file(folder / f"{part}.safetensors").items()})
    return out


# --- Training ----------------------------------------------------------------------------


def test_a_short_training_run_saves_a_pipeline_that_paints_through_the_ordinary_path(trained):
    out = trained.out

    image = generate(
        GenerationSpec(
            model=ModelRef(source=str(out), family="sd"),
            prompt="a smiling woman with red hair",
            seed=1,
            steps=2,
            guidance_scale=5.0,
            width=64,
            height=64,
        )
    ).images[0]

    assert image.size == (64, 64)
    record = json.loads((out / "training.json").read_text())
    assert record["config"] == json.loads(json.dumps(asdict(SHORT)))
    assert record["data"]["seed"] == SHORT.seed and record["data"]["images"] == SHORT.images
    assert record["stages"]["unet"]["steps"] == SHORT.unet_steps
    vae_config = json.loads((out / "vae" / "config.json").read_text())
    assert vae_config["scaling_factor"] == pytest.approx(record["scaling_factor"])
    assert vae_config["scaling_factor"] != pytest.approx(0.18215)


def test_the_shipped_tokenizer_keeps_the_caption_words_whole():
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(SHIPPED / "tokenizer")

    tokens = tokenizer.tokenize("a smiling woman with red hair, dramatic chiaroscuro, watercolour")

    assert tokens == [
        "a</w>",
        "smiling</w>",
        "woman</w>",
        "with</w>",
        "red</w>",
        "hair</w>",
        ",</w>",
        "dramatic</w>",
        "chiaroscuro</w>",
        ",</w>",
        "watercolour</w>",
    ]


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(
    trained, tmp_path, monkeypatch
):
    save = Trainer._save

    def crash_after_first_unet_checkpoint(self, name, state):
        save(self, name, state)
        if name == "unet.pt" and state["step"] == 2:
            raise KeyboardInterrupt  # as if the machine went down right after the save

    monkeypatch.setattr(Trainer, "_save", crash_after_first_unet_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "resumed")
    monkeypatch.setattr(Trainer, "_save", save)
    resumed = train(tmp_path / "resumed", resume=True)

    assert resumed.record["stages"]["unet"]["steps"] == SHORT.unet_steps
    a, b = weights(trained.out), weights(tmp_path / "resumed" / "out")
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resuming_refuses_checkpoints_of_another_configuration(trained):
    other = TrainingConfig(**{**asdict(SHORT), "unet_steps": 6})

    with pytest.raises(ValueError, match="another configuration"):
        Trainer(other, trained.work, trained.out, resume=True, progress_bars=False).run()


def test_a_refinement_goes_on_from_a_trained_pipeline_and_records_where_it_started(
    trained, tmp_path
):
    refined = train(
        tmp_path,
        TrainingConfig(**{**asdict(SHORT), "unet_steps": 2, "unet_lr": 1e-4, "face_weight": 3.0}),
        init_from=trained.out,
    )

    base, out = weights(trained.out), weights(refined.out)
    vae = [k for k in base if k.startswith("vae/")]
    assert all(np.array_equal(base[k], out[k]) for k in vae)  # kept, frozen
    unet = [k for k in base if k.startswith("unet/")]
    assert any(not np.array_equal(base[k], out[k]) for k in unet)  # trained further
    record = json.loads((refined.out / "training.json").read_text())
    assert record["init_from"] == json.loads((trained.out / "training.json").read_text())
    assert record["config"]["unet_steps"] == 2 and "vae" not in record["stages"]
    assert (refined.out / "tokenizer" / "tokenizer.json").read_bytes() == (
        trained.out / "tokenizer" / "tokenizer.json"
    ).read_bytes()
    vae_config = json.loads((refined.out / "vae" / "config.json").read_text())
    assert vae_config["scaling_factor"] == pytest.approx(record["init_from"]["scaling_factor"])


def test_a_refinement_needs_a_folder_the_command_saved(tmp_path):
    with pytest.raises(CommandError, match="has no training.json"):
        call_command("train_tiny_model", "--init-from", str(tmp_path), "--out", str(tmp_path / "o"))


@pytest.mark.parametrize("face_shape", FACE_SHAPES)
def test_the_loss_weighs_every_drawn_head_part_more_than_the_corners(face_shape):
    import random

    weights = head_weights(16, 2.0).numpy()
    sitter = sample_attributes(random.Random(0)).but(
        gender="man", face_shape=face_shape, beard=True, hat=True, glasses=True
    )
    regions = portrait_regions(sitter, 128)
    head = np.zeros((128, 128), bool)
    for part in ("face", "eyes", "mouth", "chin", "hair", "above_head"):
        head |= regions[part]
    # The latent cells (8 × 8 pixels each) any part of the head falls in.
    cells = head.reshape(16, 8, 16, 8).any(axis=(1, 3))

    assert weights.mean() == pytest.approx(1.0)
    assert weights[cells].min() == pytest.approx(3 * weights.min())
    assert weights[0, 0] == weights[-1, -1] == weights.min()


@pytest.mark.parametrize("face_shape", FACE_SHAPES)
def test_the_features_weight_covers_the_eyes_and_the_mouth(face_shape):
    import random

    plain, weighed = head_weights(16, 2.0).numpy(), head_weights(16, 2.0, 4.0).numpy()
    sitter = sample_attributes(random.Random(0)).but(face_shape=face_shape, glasses=True)
    regions = portrait_regions(sitter, 128)
    for part in ("eyes", "mouth"):
        # The latent cell holding most of the part.
        cells = regions[part].reshape(16, 8, 16, 8).sum(axis=(1, 3))
        row, column = np.unravel_index(cells.argmax(), cells.shape)
        assert weighed[row, column] / weighed.min() == pytest.approx(7.0)  # 1 + 2 + 4
        assert plain[row, column] / plain.min() == pytest.approx(3.0)
    assert weighed.mean() == pytest.approx(1.0)


def test_a_configuration_that_cannot_train_is_refused_with_every_reason():
    with pytest.raises(ValueError) as refused:
        TrainingConfig(size=100, images=0, vae_crop=20, face_weight=-1)

    assert "size must be a multiple of 8" in str(refused.value)
    assert "images must be at least 1" in str(refused.value)
    assert "vae_crop must be a multiple of 8" in str(refused.value)
    assert "face_weight must not be negative" in str(refused.value)


def test_the_command_reports_a_bad_configuration_as_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="size must be a multiple of 8"):
        call_command("train_tiny_model", "--size", "100", "--out", str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_the_preview_projection_is_the_one_fitted_for_the_models_vae(tmp_path):
    fitted = json.loads((SHIPPED / "latent_rgb.json").read_text())

    projection = inference._loaded(shipped()).latent_rgb

    assert [list(row) for row in projection[0]] == fitted["factors"]
    assert list(projection[1]) == fitted["bias"]


def test_the_last_live_preview_looks_like_the_finished_picture(monkeypatch):
    """With the refitted projection the preview of the last step is near the picture; with
    SD1.x's community factors (what this VAE had before the refit) it is much further off."""
    from PIL import Image

    previews = []
    spec = GenerationSpec(
        model=shipped(),
        prompt="a smiling woman with red hair, on a yellow background",
        seed=2,
        steps=20,
        guidance_scale=6.0,
        width=128,
        height=128,
    )
    final = generate(spec, on_step=lambda event: previews.append(event.preview)).images[0]
    sd1 = (inference.SD1_LATENT_RGB_FACTORS, inference.SD1_LATENT_RGB_BIAS)
    monkeypatch.setattr(inference._loaded(shipped()), "latent_rgb", sd1)
    unfitted: list[bytes] = []
    generate(spec, on_step=lambda event: unfitted.append(event.preview))

    def error(preview: bytes) -> float:
        shown = Image.open(io.BytesIO(preview)).convert("RGB")
        target = final.resize(shown.size, Image.Resampling.BOX)
        return np.abs(np.asarray(shown, np.float32) - np.asarray(target, np.float32)).mean()

    assert len(previews) == 20
    assert error(previews[-1]) < 30  # of 255, on average per channel
    assert error(previews[-1]) * 1.5 < error(unfitted[-1])


def test_a_broken_projection_file_falls_back_to_the_family_factors(tmp_path, monkeypatch):
    (tmp_path / "latent_rgb.json").write_text('{"factors": [[1, 2]], "bias": [0, 0, 0]}')
    # Recorded at the call: other tests' logging configuration may disable the logger.
    warnings: list[str] = []
    monkeypatch.setattr(inference.logger, "warning", lambda msg, *a: warnings.append(msg % a))

    assert inference._fitted_projection(tmp_path / "latent_rgb.json") is None
    assert any("expected 4 rows of 3 factors" in w for w in warnings)
    assert inference._fitted_projection(tmp_path / "missing.json") is None


# --- The shipped weights -----------------------------------------------------------------


def test_the_shipped_model_paints_offline_at_its_default_size_and_reproduces_exactly():
    first = paint("portrait of a bearded old man with glasses, watercolour", seed=5)
    again = paint("portrait of a bearded old man with glasses, watercolour", seed=5)

    assert first.size == (128, 128)
    assert np.asarray(first).std() > 20  # a picture, not a flat field
    assert np.array_equal(np.asarray(first), np.asarray(again))


def test_the_shipped_recipe_is_the_training_commands_default_then_its_refinements():
    record = json.loads((SHIPPED / "training.json").read_text())

    # First the command's defaults, then --init-from that result with REFINEMENT, then
    # --init-from that one with FEATURES_REFINEMENT.
    # (A field added since, absent from the record, was at its default: what it adds did
    # not exist then.)
    second = record["init_from"]
    base = second["init_from"]
    known = set(json.loads(json.dumps(asdict(TrainingConfig()))))
    for stage in (record, second, base):
        assert set(stage["config"]) <= known
    assert TrainingConfig.from_dict(base["config"]) == TrainingConfig()
    assert "init_from" not in base and set(base["stages"]) == {"vae", "unet"}
    assert TrainingConfig.from_dict(second["config"]) == TrainingConfig(**REFINEMENT)
    third = TrainingConfig(**FEATURES_REFINEMENT)
    assert TrainingConfig.from_dict(record["config"]) == third
    data = json.loads(json.dumps(third.data_recipe()))
    assert record["data"] == second["data"] == base["data"] == data
    assert record["scaling_factor"] == second["scaling_factor"] == base["scaling_factor"]


def test_the_model_card_says_how_it_was_made_and_what_it_cannot_do():
    card = (SHIPPED / "README.md").read_text()

    assert "python manage.py train_tiny_model" in card
    assert "not a photograph model" in card
    assert "bench/prompt_adherence.py" in card


def _border(image) -> np.ndarray:
    """The mean colour of a picture's top corners, where the background shows."""
    pixels = np.asarray(image, dtype=np.float32)
    return np.concatenate([pixels[:28, :24].reshape(-1, 3), pixels[:28, -24:].reshape(-1, 3)]).mean(
        0
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [("red", "blue"), ("yellow", "purple"), ("white", "green")],
)
def test_the_background_word_moves_the_background_colour_towards_it(first, second):
    """Same seeds, one word changed: on average the corners are nearer the colour named."""
    template = "a serious man with short black hair, on a {} background"
    colour_a, colour_b = np.array(BACKGROUND[first]), np.array(BACKGROUND[second])
    toward_a, toward_b = [], []
    for seed in range(8):
        a = _border(paint(template.format(first), seed=seed))
        b = _border(paint(template.format(second), seed=seed))
        toward_a.append(np.linalg.norm(b - colour_a) - np.linalg.norm(a - colour_a))
        toward_b.append(np.linalg.norm(a - colour_b) - np.linalg.norm(b - colour_b))

    # Distances in RGB (0–255), over 8 seeds (one seed may go the other way): measured
    # 44–186 on average for these pairs with the shipped weights (66, 73; 83, 44; 186, 66),
    # 17–126 before their third stage, 15–186 before their second; random weights average
    # about 0.
    assert np.mean(toward_a) > 10 and np.mean(toward_b) > 10


def test_night_paints_darker_than_daylight():
    for seed in range(2):
        day = np.asarray(paint("a smiling woman with long brown hair, in daylight", seed=seed))
        night = np.asarray(paint("a smiling woman with long brown hair, at night", seed=seed))
        assert night.mean() + 25 < day.mean()


def test_film_noir_paints_black_and_white_and_neon_futurism_does_not():
    from generation.training.attributes import STYLES

    prompt = "a smiling woman with red hair"
    for seed in range(2):
        noir = np.asarray(paint(STYLES["film-noir"].apply(prompt), seed=seed).convert("HSV"))
        neon = np.asarray(paint(STYLES["neon-futurism"].apply(prompt), seed=seed).convert("HSV"))
        assert noir[..., 1].mean() + 40 < neon[..., 1].mean()  # saturation, 0–255


def test_a_remix_from_the_parents_picture_keeps_the_face(tmp_path):
    """Smiling → serious at strength 0.5 stays nearer the parent than the same words painted
    from noise, over three parents (measured 9 against 37 of 255, per pixel and channel, on
    average; one seed alone can paint afresh a face as near as the remix: the model follows
    these words closely)."""
    changed = "a serious old man with a grey beard, on a yellow background"

    def distance(a, b):
        return np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean()

    kept, fresh = [], []
    for seed in (3, 5, 7):
        parent = paint("a smiling old man with a grey beard, on a yellow background", seed=seed)
        buffer = io.BytesIO()
        parent.save(buffer, "PNG")
        remix = paint(changed, seed=seed + 1, init_image=buffer.getvalue(), init_strength=0.5)
        kept.append(distance(remix, parent))
        fresh.append(distance(paint(changed, seed=seed + 1), parent))

    assert np.mean(kept) * 1.5 < np.mean(fresh)


# --- Registering it --------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_demo_model_registers_the_shipped_weights_as_the_default():
    call_command("add_demo_model", stdout=io.StringIO())

    model = GenerationModel.objects.get(slug="likeness-portraits")
    assert model.is_default and model.is_enabled
    assert model.demo == GenerationModel.Demo.PORTRAITS and not model.paints_noise
    assert Path(model.source) == SHIPPED.resolve()


@pytest.mark.django_db
def test_add_demo_model_takes_over_from_the_random_model_but_not_from_a_real_one(tiny_model):
    call_command("add_demo_model", stdout=io.StringIO())
    assert GenerationModel.objects.get(is_default=True).slug == "likeness-portraits"

    GenerationModel.objects.filter(slug="likeness-portraits").delete()
    GenerationModel.objects.filter(slug="tiny").update(demo="", is_default=True)
    call_command("add_demo_model", stdout=io.StringIO())
    assert GenerationModel.objects.get(is_default=True).slug == "tiny"


@pytest.mark.django_db
def test_add_demo_model_leaves_a_registered_one_as_the_administrator_left_it():
    call_command("add_demo_model", stdout=io.StringIO())
    GenerationModel.objects.filter(slug="likeness-portraits").update(is_enabled=False, max_steps=30)
    out = io.StringIO()

    call_command("add_demo_model", stdout=out)

    model = GenerationModel.objects.get(slug="likeness-portraits")
    assert not model.is_enabled and model.max_steps == 30
    assert "left as it is" in out.getvalue()


@pytest.mark.django_db
def test_add_demo_model_without_weights_says_how_to_train_them(tmp_path):
    with pytest.raises(CommandError, match="train_tiny_model"):
        call_command("add_demo_model", "--dir", str(tmp_path))
    assert not GenerationModel.objects.exists()


@pytest.mark.django_db
def test_members_read_what_the_trained_demo_model_paints(client, alice):
    call_command("add_demo_model", stdout=io.StringIO())
    client.force_login(alice)

    html = client.get("/create/").content.decode()

    assert '<div class="notice model-notice" id="demo-model-notice">' in html
    assert (
        '<p data-demo-text="portraits">This demo model was trained by Likeness on portraits it '
        "draws itself: it paints small stylised faces (128 px), not photographs. It follows a "
        "prompt’s style, time of day, the sitter (man or woman, young or old, hair, glasses, "
        "hat, beard) and, less reliably, the expression and the background. An administrator "
        "can add a real model.</p>"
    ) in html
    assert '<p data-demo-text="noise" hidden>' in html
    assert 'data-demo="portraits"' in html
