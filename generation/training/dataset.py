"""The training set: drawn portraits with their captions, reproducible from a seed."""

from __future__ import annotations

import random
from collections.abc import Iterator

from PIL import Image

from generation.training.attributes import PortraitAttributes, sample_attributes
from generation.training.captions import caption_for
from generation.training.drawing import draw_portrait


def dataset(
    n: int, seed: int = 0, size: int = 128
) -> Iterator[tuple[Image.Image, str, PortraitAttributes]]:
    """``n`` portraits as (image, caption, attributes). One random stream, drawn in order,
    decides everything, so the same ``seed`` gives byte-identical images and captions, and
    the first ``k`` items of a longer run equal a run of ``k``: a training run that resumes
    part way sees the same examples again."""
    rng = random.Random(seed)
    for _ in range(n):
        attrs = sample_attributes(rng)
        caption = caption_for(attrs, rng)
        yield draw_portrait(attrs, size), caption, attrs
