"""The drawn training set: reproducible, honestly captioned, and every attribute visible.

Pictures are measured where the attribute is drawn (``portrait_regions``), against the same
portrait with only that attribute changed, with margins well clear of the measured values.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generation.training import (
    STYLES,
    PortraitAttributes,
    attributes_named,
    caption_corpus,
    caption_for,
    contact_sheet,
    dataset,
    draw_portrait,
    portrait_regions,
    sample_attributes,
)
from generation.training.captions import GENDER_WORDS, HAIR_COLOUR_WORDS
from generation.training.drawing import STYLE_LOOKS

ROOT = Path(__file__).resolve().parents[2]

BASE = PortraitAttributes(
    gender="man",
    age="young",
    face_shape="oval",
    skin="light",
    hair_colour="brown",
    hair_length="short",
    eye_colour="brown",
    eyes="open",
    expression="serious",
    glasses=False,
    hat=False,
    beard=False,
    background="grey",
    lighting="front",
    time_of_day="day",
    style=None,
    texture_seed=1234,
)


# Three sitters, so no margin holds only for one face: light, pale, and dark skin.
SITTERS = {
    "light-man": BASE,
    "pale-woman": BASE.but(
        gender="woman", skin="pale", face_shape="round", hair_length="long", texture_seed=1
    ),
    "dark-man": BASE.but(skin="dark", face_shape="long", hair_colour="black", texture_seed=2),
}


@pytest.fixture(params=list(SITTERS))
def sitter(request) -> PortraitAttributes:
    return SITTERS[request.param]


def pixels(attrs: PortraitAttributes, size: int = 128) -> np.ndarray:
    return np.asarray(draw_portrait(attrs, size), dtype=np.float64)


def mean_in(attrs: PortraitAttributes, region: str, size: int = 128) -> np.ndarray:
    """Mean RGB (0–255) of the drawn portrait inside one region."""
    return pixels(attrs, size)[portrait_regions(attrs, size)[region]].mean(axis=0)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def saturation(image: np.ndarray) -> float:
    """Mean HSV saturation, 0–1."""
    high, low = image.max(axis=2), image.min(axis=2)
    return float(np.mean(np.where(high > 0, (high - low) / np.maximum(high, 1e-9), 0)))


# --- Reproducible -------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_images_and_captions():
    first = list(dataset(6, seed=7, size=64))
    again = list(dataset(6, seed=7, size=64))
    assert [(i.tobytes(), c, a) for i, c, a in first] == [(i.tobytes(), c, a) for i, c, a in again]
    other = list(dataset(6, seed=8, size=64))
    assert [c for _, c, _ in other] != [c for _, c, _ in first]
    assert [i.tobytes() for i, _, _ in other] != [i.tobytes() for i, _, _ in first]


def test_a_longer_run_starts_with_the_shorter_run():
    short = [(i.tobytes(), c) for i, c, _ in dataset(3, seed=2, size=64)]
    long = [(i.tobytes(), c) for i, c, _ in dataset(5, seed=2, size=64)]
    assert long[:3] == short


@pytest.mark.parametrize("size", [64, 96, 128])
def test_every_size_draws_a_square_rgb_portrait_with_matching_regions(size):
    for image, _, attrs in dataset(4, seed=size, size=size):
        assert image.mode == "RGB"
        assert image.size == (size, size)
        regions = portrait_regions(attrs, size)
        assert all(mask.shape == (size, size) and mask.any() for mask in regions.values())


def test_too_small_a_size_is_refused():
    with pytest.raises(ValueError, match="at least 32"):
        draw_portrait(BASE, 16)


def test_contact_sheet_lays_images_out_in_rows():
    images = [draw_portrait(BASE.but(background=c), 64) for c in ("red", "green", "blue")]
    sheet = contact_sheet(images, cols=2, gap=2)
    assert sheet.size == (2 * 66 + 2, 2 * 66 + 2)
    assert np.asarray(sheet)[2 + 66 + 5, 2 + 66 + 5].tolist() == [255, 255, 255]  # empty cell


def test_importing_the_training_data_leaves_torch_unloaded():
    probe = "import sys, generation.training; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", probe], cwd=ROOT).returncode == 0


# --- Captions name what was drawn ---------------------------------------------------------


def sampled(n: int, seed: int = 0) -> list[tuple[PortraitAttributes, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        attrs = sample_attributes(rng)
        out.append((attrs, caption_for(attrs, rng)))
    return out


def test_every_attribute_a_caption_names_is_the_one_drawn():
    for attrs, caption in sampled(600):
        drawn = attrs.as_dict()
        named = attributes_named(caption)
        wrong = {k: (v, drawn[k]) for k, v in named.items() if drawn[k] != v}
        assert not wrong, f"{caption!r} names {wrong}"
        assert named["gender"] == attrs.gender, caption
        assert named.get("style") == attrs.style, caption


def test_captions_name_each_attribute_often_but_not_always():
    named_counts: Counter[str] = Counter()
    shown_counts: Counter[str] = Counter()
    for attrs, caption in sampled(600, seed=1):
        named = attributes_named(caption)
        for key, value in attrs.as_dict().items():
            if (
                key == "texture_seed"
                or value in (None, False)
                or (key == "eyes" and value == "open")
            ):
                continue
            shown_counts[key] += 1
            named_counts[key] += key in named
    for key, shown in shown_counts.items():
        if key in ("gender", "style"):
            assert named_counts[key] == shown, key
        else:
            assert 0.5 * shown < named_counts[key] < shown, (key, named_counts[key], shown)


def test_captions_vary_in_wording_and_order():
    captions = [c for _, c in sampled(300, seed=2)]
    assert len(set(captions)) == len(captions)
    # The same attribute in several words, and two phrases in both orders.
    assert {"smiling", "grinning", "happy"} <= {
        w for c in captions for w in c.replace(",", " ").split()
    }
    hair_first = [c for c in captions if "glasses" in c and " hair" in c]
    orders = {c.index(" hair") < c.index("glasses") for c in hair_first}
    assert orders == {True, False}


def test_styled_captions_wrap_the_words_in_the_presets_template_as_the_site_does():
    styled = [(a, c) for a, c in sampled(600, seed=3) if a.style]
    templated = 0
    for attrs, caption in styled:
        before, _, after = STYLES[attrs.style].prompt_template.partition("{prompt}")
        if caption.startswith(before) and caption.endswith(after):
            inner = caption[len(before) : len(caption) - len(after)]
            assert STYLES[attrs.style].apply(inner) == caption
            templated += 1
    assert 0.4 * len(styled) < templated < len(styled)


def test_a_site_prompt_in_a_preset_reads_back_as_what_it_asks_for():
    prompt = STYLES["film-noir"].apply("a smiling woman with red hair")
    assert attributes_named(prompt) == {
        "gender": "woman",
        "expression": "smiling",
        "hair_colour": "red",
        "style": "film-noir",
    }
    # The template's own words are no attributes: "deep forest night" is not a time of day.
    assert "time_of_day" not in attributes_named(STYLES["bioluminescent-fantasy"].apply("a man"))


def test_a_style_that_decides_the_background_never_gets_one_named():
    for attrs, caption in sampled(400, seed=4):
        if attrs.style in ("neon-futurism", "film-noir", "renaissance-tempera"):
            assert attrs.background is None
            assert "background" not in attributes_named(caption)


# --- Each attribute changes the picture where it is drawn ----------------------------------


def whites(image: np.ndarray) -> float:
    """Share of pixels that are white: bright and colourless (pale skin is bright, not grey)."""
    return float(np.mean((image.min(axis=1) > 215) & (np.ptp(image, axis=1) < 15)))


def test_hair_colour_colours_the_hair(sitter):
    red, blue = (
        mean_in(sitter.but(hair_colour="red"), "hair"),
        mean_in(sitter.but(hair_colour="blue"), "hair"),
    )
    assert red[0] - red[2] > 100
    assert blue[2] - blue[0] > 100
    blonde = luminance(mean_in(sitter.but(hair_colour="blonde"), "hair"))
    black = luminance(mean_in(sitter.but(hair_colour="black"), "hair"))
    assert blonde - black > 120


def test_skin_tone_runs_from_pale_to_dark(sitter):
    lum = [
        luminance(mean_in(sitter.but(skin=s), "face"))
        for s in ("pale", "light", "tan", "brown", "dark")
    ]
    assert all(a - b > 15 for a, b in zip(lum, lum[1:], strict=False)), lum


def test_background_colour_fills_the_background(sitter):
    for colour, channel in (("red", 0), ("green", 1), ("blue", 2)):
        mean = mean_in(sitter.but(background=colour), "background")
        others = [mean[c] for c in range(3) if c != channel]
        assert mean[channel] - max(others) > 50, (colour, mean)


def test_eye_colour_shows_in_the_eyes(sitter):
    blue = mean_in(sitter.but(eye_colour="blue"), "eyes")
    brown = mean_in(sitter.but(eye_colour="brown"), "eyes")
    green = mean_in(sitter.but(eye_colour="green"), "eyes")
    assert (blue[2] - blue[0]) - (brown[2] - brown[0]) > 15
    assert (green[1] - green[0]) - (brown[1] - brown[0]) > 10


def test_closed_eyes_show_no_whites(sitter):
    def eye_whites(attrs):
        return whites(pixels(attrs)[portrait_regions(attrs, 128)["eyes"]])

    assert eye_whites(sitter) > 0.08
    assert eye_whites(sitter.but(eyes="closed", eye_colour=None)) < 0.03


def test_expressions_differ_at_the_mouth(sitter):
    def mouth(expression):
        attrs = sitter.but(expression=expression)
        image, regions = pixels(attrs), portrait_regions(attrs, 128)
        return image[regions["mouth"]], np.median(luminance(image[regions["face"]]))

    (serious, skin), (smiling, _), (surprised, _) = (
        mouth("serious"),
        mouth("smiling"),
        mouth("surprised"),
    )
    # The smile shows teeth; surprise a dark open mouth; the serious mouth is a thin line.
    assert whites(smiling) - whites(serious) > 0.08
    assert (
        np.mean(luminance(surprised) < 0.6 * skin) - np.mean(luminance(serious) < 0.6 * skin) > 0.1
    )


def test_surprise_raises_the_brows_and_widens_the_eyes(sitter):
    plain, surprised = pixels(sitter), pixels(sitter.but(expression="surprised"))
    eyes = portrait_regions(sitter, 128)["eyes"]
    assert np.abs(plain[eyes] - surprised[eyes]).mean() > 10


def test_glasses_frame_the_eyes_in_dark(sitter):
    def dark_share(attrs):
        region = pixels(attrs)[portrait_regions(attrs, 128)["eyes"]]
        return np.mean(region.max(axis=1) < 60)

    assert dark_share(sitter.but(glasses=True)) - dark_share(sitter) > 0.1


def test_a_hat_sits_above_the_head():
    bald = BASE.but(hair_length="bald", hair_colour=None, background="white")
    without, with_hat = mean_in(bald, "above_head"), mean_in(bald.but(hat=True), "above_head")
    assert luminance(without) - luminance(with_hat) > 100


def test_a_beard_covers_the_chin_in_the_hair_colour(sitter):
    man = sitter.but(gender="man", hair_colour="black")
    assert luminance(mean_in(man.but(beard=True), "chin")) < 0.6 * luminance(mean_in(man, "chin"))
    red = mean_in(man.but(beard=True, hair_colour="red"), "chin")
    assert red[0] - red[2] > 100


def test_age_shows_young_blush_and_old_lines(sitter):
    young, old = sitter.but(age="young"), sitter.but(age="old")
    y, o = mean_in(young, "face"), mean_in(old, "face")
    assert (y[0] - y[1]) - (o[0] - o[1]) > 8  # rosy cheeks

    def lined_share(attrs):
        # Lines are the skin, darker in every channel; a pink blush is not.
        face = pixels(attrs)[portrait_regions(attrs, 128)["face"]]
        skin = np.median(face, axis=0)
        return np.mean((face < 0.8 * skin).all(axis=1))

    assert lined_share(old) - lined_share(young) > 0.04


def test_a_woman_wears_lipstick():
    man, woman = mean_in(BASE, "mouth"), mean_in(BASE.but(gender="woman"), "mouth")
    assert (woman[0] - woman[1]) - (man[0] - man[1]) > 15


def test_a_round_face_is_wider_than_a_long_one():
    def width(shape):
        attrs = BASE.but(face_shape=shape, hair_length="bald", hair_colour=None)
        return (
            portrait_regions(attrs, 128)["left_face"].sum()
            + portrait_regions(attrs, 128)["right_face"].sum()
        )

    assert width("round") > width("oval") > width("long")
    round_row = portrait_regions(BASE.but(face_shape="round"), 128)["figure"][60].sum()
    long_row = portrait_regions(BASE.but(face_shape="long"), 128)["figure"][60].sum()
    assert round_row > long_row


@pytest.mark.parametrize("lit, dim", [("left", "right"), ("right", "left")])
def test_side_light_brightens_its_half_of_the_face(sitter, lit, dim):
    attrs = sitter.but(lighting=lit)
    lum_lit = luminance(mean_in(attrs, f"{lit}_face"))
    lum_dim = luminance(mean_in(attrs, f"{dim}_face"))
    assert lum_lit > 1.1 * lum_dim
    front = sitter.but(lighting="front")
    left, right = luminance(mean_in(front, "left_face")), luminance(mean_in(front, "right_face"))
    assert abs(left - right) < 0.03 * left


def test_night_is_darker_than_dusk_and_dusk_warmer_than_day(sitter):
    day, dusk, night = (pixels(sitter.but(time_of_day=t)) for t in ("day", "dusk", "night"))
    assert luminance(day.mean(axis=(0, 1))) - luminance(night.mean(axis=(0, 1))) > 60
    assert luminance(dusk.mean(axis=(0, 1))) - luminance(night.mean(axis=(0, 1))) > 25

    def warmth(image):
        return image[..., 0].mean() - image[..., 2].mean()

    assert warmth(dusk) - warmth(day) > 20


# --- Every style its own look -------------------------------------------------------------


def test_every_shipped_preset_and_no_style_have_a_look():
    assert set(STYLE_LOOKS) == {None, *STYLES}


def test_every_style_looks_different_from_every_other():
    attrs = BASE.but(background="teal", hair_colour="red", expression="smiling")
    images = {style: pixels(attrs.but(style=style), 64) for style in STYLE_LOOKS}
    for a in images:
        for b in images:
            if a is not None and b is not None and a < b or (a is None and b is not None):
                assert np.abs(images[a] - images[b]).mean() > 12, (a, b)


@pytest.mark.parametrize("style", ["film-noir", "charcoal-sketch"])
def test_black_and_white_styles_have_no_colour(style):
    image = pixels(BASE.but(style=style, hair_colour="red", background="green"))
    assert saturation(image) < 0.1
    if style == "film-noir":
        assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()


def test_neon_glows_more_saturated_than_no_style():
    attrs = BASE.but(background=None, time_of_day=None)
    assert saturation(pixels(attrs.but(style="neon-futurism"))) - saturation(pixels(attrs)) > 0.25


def test_baroque_is_dark_with_a_lit_face():
    image = pixels(BASE.but(style="baroque-chiaroscuro", background=None, time_of_day=None))
    regions = portrait_regions(BASE, 128)
    assert luminance(image.mean(axis=(0, 1))) < 90
    assert (
        luminance(image[regions["face"]].mean(axis=0))
        - luminance(image[regions["background"]].mean(axis=0))
        > 40
    )


def test_watercolour_is_paler_than_no_style():
    attrs = BASE.but(background="blue")
    assert saturation(pixels(attrs.but(style="watercolour"))) < saturation(pixels(attrs)) - 0.1
    assert (
        luminance(pixels(attrs.but(style="watercolour")).mean(axis=(0, 1)))
        > luminance(pixels(attrs).mean(axis=(0, 1))) + 20
    )


def test_tempera_lays_gold_leaf_behind_the_sitter():
    attrs = BASE.but(style="renaissance-tempera", background=None)
    gold = mean_in(attrs, "background")
    assert gold[0] > 170 and gold[1] > 120 and gold[2] < 100


def test_the_tokenizer_corpus_holds_every_template_and_caption_word():
    corpus = caption_corpus(n=500, seed=0)
    for style in STYLES.values():
        assert style.prompt_template in corpus
    for words in (*GENDER_WORDS.values(), *HAIR_COLOUR_WORDS.values()):
        assert all(word in corpus for word in words)


def test_the_command_line_writes_a_contact_sheet_and_its_captions(tmp_path):
    out = tmp_path / "sheet.png"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "generation.training",
            str(out),
            "--n",
            "3",
            "--size",
            "64",
            "--cols",
            "3",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert Image.open(out).size == (3 * 66 + 2, 66 + 2)
    captions = out.with_suffix(".txt").read_text().splitlines()
    assert captions == [c for _, c, _ in dataset(3, seed=0, size=64)]
