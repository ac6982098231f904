"""Captions for drawn portraits, and reading attributes back out of a caption.

A caption names some of what was drawn (never something that was not), in a varied order
with synonyms, the way people write prompts. A styled portrait's caption is wrapped in
the preset's own template, exactly as the site wraps a member's prompt, or just names the
style ("…, film noir"), so the words real prompts reach the model with are the words it
was trained on.
"""

from __future__ import annotations

import random
import re

from generation.training.attributes import STYLES, PortraitAttributes, sample_attributes

# Each value's words. ``attributes_named`` reads captions with the same table, so a synonym
# added here is understood both ways.
GENDER_WORDS = {"man": ("man", "gentleman", "guy"), "woman": ("woman", "lady")}
AGE_WORDS = {"young": ("young", "youthful"), "old": ("old", "elderly", "aged")}
EXPRESSION_ADJECTIVES = {
    "smiling": ("smiling", "happy", "grinning", "cheerful"),
    "serious": ("serious", "stern", "solemn", "unsmiling"),
    "surprised": ("surprised", "astonished", "shocked", "amazed"),
}
EXPRESSION_PHRASES = {
    "smiling": ("with a smile", "with a big smile", "smiling broadly"),
    "serious": ("with a serious expression", "with a stern look", "with a straight face"),
    "surprised": ("with a surprised look", "with a shocked expression", "mouth open in surprise"),
}
HAIR_COLOUR_WORDS = {
    "black": ("black", "jet-black", "dark"),
    "brown": ("brown", "chestnut"),
    "blonde": ("blonde", "blond", "golden"),
    "red": ("red", "ginger", "auburn"),
    "grey": ("grey", "gray", "silver"),
    "blue": ("blue", "dyed blue"),
}
SKIN_WORDS = {
    "pale": ("pale", "fair"),
    "light": ("light",),
    "tan": ("tan", "tanned", "olive"),
    "brown": ("brown",),
    "dark": ("dark", "ebony"),
}
FACE_WORDS = {"round": ("round",), "oval": ("oval",), "long": ("long", "narrow")}
EYE_COLOUR_WORDS = {"blue": ("blue",), "green": ("green",), "brown": ("brown", "dark brown")}
BACKGROUND_WORDS = {
    "red": ("red",),
    "orange": ("orange",),
    "yellow": ("yellow",),
    "green": ("green",),
    "blue": ("blue",),
    "purple": ("purple", "violet"),
    "pink": ("pink",),
    "teal": ("teal", "turquoise"),
    "white": ("white",),
    "grey": ("grey", "gray"),
}
LIGHTING_PHRASES = {
    "left": ("lit from the left", "light from the left", "side light from the left"),
    "right": ("lit from the right", "light from the right", "side light from the right"),
    "front": ("lit from the front", "front lighting", "even frontal light"),
}
TIME_PHRASES = {
    "day": ("in daylight", "during the day", "by day", "on a sunny day"),
    "dusk": ("at dusk", "at sunset", "in the evening twilight"),
    "night": ("at night", "by night", "under a night sky"),
}
STYLE_NAMES = {
    "impressionist": ("impressionist", "impressionist painting"),
    "hyperreal-photograph": ("hyperreal photograph", "hyperrealistic photo"),
    "baroque-chiaroscuro": ("baroque chiaroscuro", "baroque painting"),
    "charcoal-sketch": ("charcoal sketch", "charcoal drawing"),
    "watercolour": ("watercolour", "watercolor", "watercolour painting"),
    "film-noir": ("film noir", "noir"),
    "neon-futurism": ("neon futurism", "neon cyberpunk"),
    "renaissance-tempera": ("renaissance tempera", "renaissance painting"),
    "surreal-dreamscape": ("surreal dreamscape", "surrealist"),
    "bioluminescent-fantasy": ("bioluminescent fantasy", "bioluminescent"),
    "ukiyo-e": ("ukiyo-e", "ukiyo-e woodblock print"),
    "pop-art": ("pop art", "pop-art screen print"),
}
OPENINGS = ("", "", "a portrait of ", "portrait of ", "a headshot of ", "a picture of ")
PLAIN_STYLE = ("", "", "", ", flat illustration", ", simple drawing")

# How often an attribute is left out of a caption: people never name everything.
OMIT = 0.25


# CLIP's 77 tokens less the start and end markers, with room to spare for long words split
# in two ("chiaroscuro").
TOKEN_BUDGET = 66


def _tokens(text: str) -> int:
    """A generous count of CLIP tokens: each word and each punctuation mark."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption_for(attrs: PortraitAttributes, rng: random.Random) -> str:
    """A caption naming part of what ``attrs`` drew, in a random order and wording. The
    gender and the style are always named; anything else may be left out."""
    pick = rng.choice

    def shown(value: object) -> bool:
        return value not in (None, False) and rng.random() >= OMIT

    adjectives: list[str] = []
    phrases: list[str] = []
    if shown(attrs.expression):
        if rng.random() < 0.5:
            adjectives.append(pick(EXPRESSION_ADJECTIVES[attrs.expression]))
        else:
            phrases.append(pick(EXPRESSION_PHRASES[attrs.expression]))
    if shown(attrs.beard):
        if rng.random() < 0.5:
            adjectives.append("bearded")
        else:
            phrases.append(pick(("with a beard", "with a full beard")))
    if attrs.hair_length == "bald":
        if shown(True):
            adjectives.append("bald")
    elif attrs.hair_colour is not None:
        colour = pick(HAIR_COLOUR_WORDS[attrs.hair_colour]) if shown(True) else ""
        length = attrs.hair_length if shown(True) else ""
        words = " ".join(w for w in (length, colour) if w)
        if words:
            phrases.append(f"with {words} hair")
    if shown(attrs.glasses):
        phrases.append(
            pick(("with glasses", "wearing glasses", "in spectacles", "with round glasses"))
        )
    if shown(attrs.hat):
        phrases.append(pick(("wearing a hat", "in a hat", "with a hat")))
    if attrs.eyes == "closed" and shown(True):
        phrases.append(pick(("with closed eyes", "eyes closed")))
    if shown(attrs.eye_colour):
        colour = pick(EYE_COLOUR_WORDS[attrs.eye_colour])
        phrases.append(pick((f"with {colour} eyes", f"{colour} eyes")))
    if shown(attrs.skin):
        phrases.append(f"{pick(SKIN_WORDS[attrs.skin])} skin")
    if shown(attrs.face_shape):
        phrases.append(
            f"with {_article(attrs.face_shape)} {pick(FACE_WORDS[attrs.face_shape])} face"
        )
    if shown(attrs.background):
        colour = pick(BACKGROUND_WORDS[attrs.background])
        phrases.append(
            pick(
                (
                    f"on {_article(colour)} {colour} background",
                    f"against {_article(colour)} {colour} backdrop",
                    f"{colour} background",
                )
            )
        )
    if shown(attrs.lighting):
        phrases.append(pick(LIGHTING_PHRASES[attrs.lighting]))
    if shown(attrs.time_of_day):
        phrases.append(pick(TIME_PHRASES[attrs.time_of_day]))

    rng.shuffle(adjectives)
    rng.shuffle(phrases)
    # The text encoder reads 77 tokens and drops the rest: a long template leaves room for
    # fewer phrases, and a phrase past the end would teach the model nothing.
    room = TOKEN_BUDGET - _tokens(STYLES[attrs.style].prompt_template if attrs.style else "")
    while phrases and _tokens(" ".join([*adjectives, *phrases])) + 6 > room:
        phrases.pop()
    if shown(attrs.age):
        adjectives.append(pick(AGE_WORDS[attrs.age]))  # "a smiling old man": age sits by the noun
    noun = pick(GENDER_WORDS[attrs.gender])
    head = " ".join([*adjectives, noun])
    subject = f"{_article(head)} {head}"
    joined = subject
    for phrase in phrases:
        joined += pick((", ", ", ", " ")) + phrase if phrase.startswith("with") else ", " + phrase

    if attrs.style is None:
        return pick(OPENINGS) + joined + pick(PLAIN_STYLE)
    if rng.random() < 0.65:
        # As the site does it: the preset's template around the member's words.
        return STYLES[attrs.style].apply(joined)
    name = pick(STYLE_NAMES[attrs.style])
    return pick(
        (
            f"{pick(OPENINGS)}{joined}, {name}",
            f"{name} portrait of {joined}",
            f"{joined}, in {name} style",
        )
    )


def _alternatives(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def _find(caption: str, table: dict[str, tuple[str, ...]], pattern: str) -> str | None:
    """The one value whose word fits ``pattern`` (``{}`` marks the word) in the caption."""
    found = {
        value
        for value, words in table.items()
        if re.search(pattern.format(_alternatives(words)), caption)
    }
    return found.pop() if len(found) == 1 else None


def attributes_named(caption: str) -> dict[str, object]:
    """What a caption says about a portrait, read back with the caption words: only the
    attributes it names (a caption that says nothing of glasses has no ``glasses`` key).
    Style templates are read by their own words, so "deep forest night" is no time of day."""
    text = caption.lower()
    named: dict[str, object] = {}
    b = r"(?<![\w-])"
    e = r"(?![\w-])"
    hair_colours = _alternatives(tuple(w for ws in HAIR_COLOUR_WORDS.values() for w in ws))
    finders = {
        "gender": (GENDER_WORDS, b + "(?:{})" + e),
        "age": (AGE_WORDS, b + "(?:{})" + r" (?:man|gentleman|guy|woman|lady)" + e),
        "expression": (
            {v: EXPRESSION_ADJECTIVES[v] + EXPRESSION_PHRASES[v] for v in EXPRESSION_ADJECTIVES},
            b + "(?:{})" + e,
        ),
        "hair_colour": (HAIR_COLOUR_WORDS, b + "(?:{})" + " hair"),
        "hair_length": (
            {"short": ("short",), "long": ("long",)},
            b + "(?:{})" + r"(?: (?:" + hair_colours + "))? hair",
        ),
        "skin": (SKIN_WORDS, b + "(?:{})" + " skin"),
        "face_shape": (FACE_WORDS, b + "(?:{})" + " face"),
        "eye_colour": (EYE_COLOUR_WORDS, b + "(?:{})" + " eyes"),
        "background": (BACKGROUND_WORDS, b + "(?:{})" + " (?:background|backdrop)"),
        "lighting": (LIGHTING_PHRASES, "(?:{})"),
        "time_of_day": (TIME_PHRASES, "(?:{})"),
    }
    for attribute, (table, pattern) in finders.items():
        value = _find(text, table, pattern)
        if value is not None:
            named[attribute] = value
    if re.search(b + "bald" + e, text):
        named["hair_length"] = "bald"
    if re.search(r"closed eyes|eyes closed", text):
        named["eyes"] = "closed"
    for attribute, pattern in (
        ("glasses", r"glasses|spectacles"),
        ("hat", b + r"hat" + e),
        ("beard", r"bearded|beard"),
    ):
        if re.search(pattern, text):
            named[attribute] = True
    styles = {
        slug
        for slug, template in STYLES.items()
        if template.prompt_template.partition("{prompt}")[0].lower() in text
        or re.search(b + "(?:" + _alternatives(STYLE_NAMES[slug]) + ")" + e, text)
    }
    if len(styles) == 1:
        named["style"] = styles.pop()
    return named


def caption_corpus(n: int = 2000, seed: int = 0) -> str:
    """Captions, one a line, and every style's template and negative words: the text to
    learn a tokenizer's merges from, so the words the model is trained and prompted with
    become few tokens each (the shipped tiny tokenizer would spell "chiaroscuro" out)."""
    rng = random.Random(seed)
    lines = [caption_for(sample_attributes(rng), rng) for _ in range(n)]
    lines += [f"{s.prompt_template}\n{s.negative_prompt}" for s in STYLES.values()]
    return "\n".join(lines) + "\n"
