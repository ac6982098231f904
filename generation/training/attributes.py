"""What a drawn portrait can be: the attribute vocabulary, and sampling a record from it.

The styles are the presets Likeness ships, read from the migration that seeds them, so a
preset added there without a look in ``drawing.py`` fails the tests instead of being
drawn as "no style".
"""

from __future__ import annotations

import importlib
import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from portraits.recipe import StyleTemplate

# The seeding migration is the one place the shipped presets are written down; importing it
# needs only ``django.db.migrations``, not a configured project.
_SEED = importlib.import_module("generation.migrations.0003_seed_style_presets")

STYLES: dict[str, StyleTemplate] = {
    slug: StyleTemplate(slug=slug, name=name, prompt_template=template, negative_prompt=negative)
    for name, slug, template, negative in _SEED.STYLES
}

GENDERS = ("man", "woman")
AGES = ("young", "old")
FACE_SHAPES = ("round", "oval", "long")
SKIN_TONES = ("pale", "light", "tan", "brown", "dark")
HAIR_COLOURS = ("black", "brown", "blonde", "red", "grey", "blue")
HAIR_LENGTHS = ("short", "long", "bald")
EYE_COLOURS = ("blue", "green", "brown")
EYES = ("open", "closed")
EXPRESSIONS = ("smiling", "serious", "surprised")
BACKGROUNDS = (
    "red",
    "orange",
    "yellow",
    "green",
    "blue",
    "purple",
    "pink",
    "teal",
    "white",
    "grey",
)
LIGHTINGS = ("left", "right", "front")
TIMES_OF_DAY = ("day", "dusk", "night")

# Styles that decide an attribute themselves: the baroque painter's dark ground, the
# tempera's gold leaf, the neon city at night. Such attributes are left out of the record
# (None), so no caption names a background or a time the picture does not show.
STYLE_DECIDES: dict[str, frozenset[str]] = {
    "baroque-chiaroscuro": frozenset({"background", "time_of_day"}),
    # Charcoal on paper: the paper stays light whatever the hour.
    "charcoal-sketch": frozenset({"background", "eye_colour", "time_of_day"}),
    "film-noir": frozenset({"background", "eye_colour"}),
    "neon-futurism": frozenset({"background", "time_of_day"}),
    "renaissance-tempera": frozenset({"background"}),
    "surreal-dreamscape": frozenset({"background"}),
    "bioluminescent-fantasy": frozenset({"background", "time_of_day"}),
}


@dataclass(frozen=True)
class PortraitAttributes:
    """One portrait to draw. ``None`` means the attribute is not shown (a style decides it,
    or it does not apply: a beard on a woman). ``texture_seed`` seeds the brush marks."""

    gender: str
    age: str
    face_shape: str
    skin: str
    hair_colour: str | None
    hair_length: str
    eye_colour: str | None
    eyes: str
    expression: str
    glasses: bool
    hat: bool
    beard: bool
    background: str | None
    lighting: str
    time_of_day: str | None
    style: str | None
    texture_seed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def but(self, **changes: Any) -> PortraitAttributes:
        """The same portrait with some attributes changed (for A/B comparisons)."""
        return replace(self, **changes)


def sample_attributes(rng: random.Random) -> PortraitAttributes:
    """A random, coherent portrait: old people mostly grey, only men bearded or bald."""
    gender = rng.choice(GENDERS)
    age = rng.choice(AGES)
    style = rng.choice((None, *STYLES))
    if age == "old" and rng.random() < 0.7:
        hair_colour: str | None = "grey"
    else:
        hair_colour = rng.choice(
            [c for c in HAIR_COLOURS if c != "grey"] if age == "young" else HAIR_COLOURS
        )
    lengths = ("short", "long", "bald") if gender == "man" else ("short", "long")
    weights = (5, 2, 1) if gender == "man" else (1, 3)
    hair_length = rng.choices(lengths, weights)[0]
    if hair_length == "bald":
        hair_colour = None
    decided = STYLE_DECIDES.get(style or "", frozenset())
    eyes = rng.choices(EYES, (4, 1))[0]
    # Closed eyes show no iris: their colour is not drawn, so never named.
    eye_colour = rng.choice(EYE_COLOURS) if eyes == "open" else None
    background = rng.choice(BACKGROUNDS)
    time_of_day = rng.choice(TIMES_OF_DAY)
    return PortraitAttributes(
        gender=gender,
        age=age,
        face_shape=rng.choice(FACE_SHAPES),
        skin=rng.choice(SKIN_TONES),
        hair_colour=hair_colour,
        hair_length=hair_length,
        eye_colour=None if "eye_colour" in decided else eye_colour,
        eyes=eyes,
        expression=rng.choice(EXPRESSIONS),
        glasses=rng.random() < 0.3,
        hat=rng.random() < 0.25,
        beard=gender == "man" and rng.random() < 0.4,
        background=None if "background" in decided else background,
        lighting=rng.choice(LIGHTINGS),
        time_of_day=None if "time_of_day" in decided else time_of_day,
        style=style,
        texture_seed=rng.randrange(2**32),
    )
