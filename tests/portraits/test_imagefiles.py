"""The PNG a portrait is stored as: the A1111 infotext, our provenance chunk, thumbnails."""

from __future__ import annotations

import io
import random
import struct

import pytest
from PIL import Image

from portraits.imagefiles import (
    PARAMETERS_KEY,
    PROVENANCE_KEY,
    a1111_parameters,
    encode_png,
    make_thumbnail,
    parse_a1111_parameters,
    read_png_metadata,
)


def noise(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    return Image.frombytes(
        "RGB", (width, height), random.Random(seed).randbytes(width * height * 3)
    )


def recipe(**overrides):
    base = {
        "prompt": "portrait of an old sailor, oil on canvas, by Rembrandt",
        "negative_prompt": "blurry, lowres",
        "steps": 20,
        "sampler": "Euler",
        "guidance_scale": 7,
        "seed": 123,
        "width": 512,
        "height": 768,
        "model_name": "tiny-sd",
        "model_revision": "0123456789abcdef0123456789abcdef01234567",
        "init_strength": None,
    }
    base.update(overrides)
    return base


def png_chunk_types(data: bytes) -> list[bytes]:
    types, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        types.append(data[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def test_txt2img_parameters_follow_a1111_layout():
    text = a1111_parameters(recipe(), version="0.1.0")

    assert text == (
        "portrait of an old sailor, oil on canvas, by Rembrandt\n"
        "Negative prompt: blurry, lowres\n"
        "Steps: 20, Sampler: Euler, Schedule type: Automatic, CFG scale: 7.0, Seed: 123, "
        "Size: 512x768, Model hash: 0123456789, Model: tiny-sd, Version: Likeness 0.1.0"
    )


def test_img2img_parameters_carry_denoising_strength_and_style_before_version():
    text = a1111_parameters(recipe(init_strength=0.55, style="Chiaroscuro"), version="1")

    assert text.endswith("Denoising strength: 0.55, Style: Chiaroscuro, Version: Likeness 1")


def test_empty_negative_prompt_writes_no_negative_line():
    text = a1111_parameters(recipe(negative_prompt=""))

    assert "Negative prompt" not in text
    assert parse_a1111_parameters(text)["negative_prompt"] == ""


@pytest.mark.parametrize("init_strength", [None, 0.35])
def test_parameters_round_trip_through_png(init_strength):
    prompt = "a knight, (red cloak:1.2), dramatic light\nsecond line: with a colon, and commas"
    original = recipe(
        prompt=prompt,
        negative_prompt="ugly, extra fingers\nwatermark",
        model_name="studio/model, v2: final",
        init_strength=init_strength,
    )
    png = encode_png(noise(), parameters=a1111_parameters(original), provenance={})

    parsed = parse_a1111_parameters(read_png_metadata(png)["parameters"])

    assert parsed["prompt"] == prompt
    assert parsed["negative_prompt"] == "ugly, extra fingers\nwatermark"
    params = parsed["params"]
    assert params["Steps"] == "20"
    assert params["Sampler"] == "Euler"
    assert params["CFG scale"] == "7.0"
    assert params["Seed"] == "123"
    assert params["Size"] == "512x768"
    assert params["Model"] == "studio/model, v2: final"  # quoted, then unquoted
    if init_strength is None:
        assert "Denoising strength" not in params
    else:
        assert float(params["Denoising strength"]) == init_strength


def test_non_latin1_prompt_is_stored_as_itxt_and_round_trips():
    text = a1111_parameters(recipe(prompt="肖像画、油絵 — Ölbild"))
    png = encode_png(noise(), parameters=text, provenance={})

    assert b"tEXt" not in png_chunk_types(png)
    assert png_chunk_types(png).count(b"iTXt") == 2
    assert parse_a1111_parameters(read_png_metadata(png)["parameters"])["prompt"] == (
        "肖像画、油絵 — Ölbild"
    )


def test_latin1_parameters_use_a_text_chunk_like_a1111():
    png = encode_png(noise(), parameters=a1111_parameters(recipe()), provenance={})

    with Image.open(io.BytesIO(png)) as image:
        assert image.text[PARAMETERS_KEY].startswith("portrait of an old sailor")
    assert b"tEXt" in png_chunk_types(png)


def test_provenance_json_round_trips_with_unicode():
    provenance = {
        "portrait": "aB3_x",
        "author": "Zoë Ångström 🎨",
        "parent": None,
        "chain": ["r00t", "aB3_x"],
        "model": {"name": "tiny-sd", "revision": "abc"},
    }
    png = encode_png(noise(), parameters="x", provenance=provenance)

    assert read_png_metadata(png)["provenance"] == provenance


def test_png_without_our_chunks_reads_as_none():
    buffer = io.BytesIO()
    noise().save(buffer, format="PNG")

    assert read_png_metadata(buffer.getvalue()) == {"parameters": None, "provenance": None}


def test_malformed_provenance_chunk_reads_as_none():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(PROVENANCE_KEY, "{not json")
    buffer = io.BytesIO()
    noise().save(buffer, format="PNG", pnginfo=info)

    assert read_png_metadata(buffer.getvalue())["provenance"] is None


def test_resaving_through_pillow_drops_the_chunks():
    # Why encoding (and then signing) must be the last write: a plain re-save keeps
    # the pixels and silently loses the recipe.
    png = encode_png(noise(), parameters="a prompt", provenance={"portrait": "x"})
    with Image.open(io.BytesIO(png)) as image:
        resaved = io.BytesIO()
        image.save(resaved, format="PNG")

    assert read_png_metadata(resaved.getvalue()) == {"parameters": None, "provenance": None}


def test_pixels_survive_encoding():
    image = noise(48, 32)
    png = encode_png(image, parameters="p", provenance={})

    with Image.open(io.BytesIO(png)) as decoded:
        assert decoded.size == (48, 32)
        assert decoded.tobytes() == image.tobytes()


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1024, 1024), (512, 512)), ((1024, 512), (512, 256)), ((600, 900), (341, 512))],
)
def test_thumbnail_is_webp_within_max_side_keeping_aspect(size, expected):
    data, width, height = make_thumbnail(noise(*size), max_side=512)

    assert (width, height) == expected
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.size == expected


def test_thumbnail_never_upscales():
    data, width, height = make_thumbnail(noise(200, 120), max_side=512)

    assert (width, height) == (200, 120)
    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.size == (200, 120)


def test_thumbnail_of_palette_image_is_rgb_webp():
    data, _, _ = make_thumbnail(noise().convert("P"), max_side=32)

    with Image.open(io.BytesIO(data)) as thumb:
        assert thumb.format == "WEBP"
        assert thumb.mode == "RGB"
