"""The recipe, and what of it each viewer may read.

Pure functions, no queries: who may see what is decided in ``portraits.selectors``, which
hands the answer (``parent_visible``, what to ``withhold``, the ids a viewer may not open)
to these functions.

A recipe (on ``GenerationJob.recipe`` and, per image, ``Portrait.recipe``) is what the
remixer submitted: their own words and numbers, and whatever they kept from the parent.
Words they kept unchanged (``Portrait.changes["prompt_changed"]`` False, and the same for
the negative prompt) are not theirs but the parent author's — or, through a chain of
remixes that all kept them, the author of the step that last wrote them. Once that step
is hidden from a viewer (private to someone else, or deleted), those words are withheld
from that viewer wherever the remix is shown: ``prompt`` and ``styled_prompt`` (or the
negative pair) read ``None`` and ``prompt_withheld`` (``negative_prompt_withheld``) is
true, so a page or client can say "kept from a portrait that is no longer available". A
default title made from a withheld prompt (:func:`title_from_prompt`, never renamed)
reads "Untitled remix" (:func:`title_for_viewer`). The remix's author and moderators
still see the whole recipe: its author submitted it. A remix that changed a prompt (any
edit) shows its own words to everyone who may see it. Nor does a recipe ever carry the
parent itself to a viewer who may not open it: its public id (``recipe["parent"]``).

A signed file is the exception that cannot follow: its ``parameters`` and
``likeness:provenance`` chunks and C2PA manifest were written once, when it was painted.
The site's reading of a file leaves out what a viewer may not read (ancestors' ids,
``provenance_for_viewer``; withheld prompts, ``parameters_for_viewer`` and the provenance's
recipe); the bytes themselves, signed, cannot change, so a downloaded PNG still carries
the words it was painted from.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from config.text import UnsafeText, text_clean
from portraits.imagefiles import parse_a1111_parameters

# Keys that stay on the server: a model's source may be a local folder path.
PRIVATE_RECIPE_KEYS = frozenset({"model_source"})
# The key naming the portrait a recipe was remixed from (its public id).
PARENT_KEY = "parent"
# What a remix may keep from its parent that is someone's words, each with the recipe
# keys that hold them (the style's template applied to them too).
WITHHOLDABLE = {
    "prompt": ("prompt", "styled_prompt"),
    "negative_prompt": ("negative_prompt", "styled_negative_prompt"),
}
TITLE_FROM_PROMPT_LENGTH = 80
UNTITLED = "Untitled portrait"
# What a default title made from a withheld prompt reads instead.
UNTITLED_REMIX = "Untitled remix"


def title_from_prompt(prompt: str) -> str:
    """A readable default title: the prompt's words, cut at a word boundary.

    Cleaned as a title the author typed would be; a prompt that would be refused
    as one (it shows nothing, or piles up combining marks) gives the neutral title.
    """
    try:
        text = text_clean(prompt)
    except UnsafeText:
        text = ""
    if not text:
        return UNTITLED
    if len(text) <= TITLE_FROM_PROMPT_LENGTH:
        return text
    cut = text[: TITLE_FROM_PROMPT_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return f"{cut}…"


def title_for_viewer(title: str, recipe: Mapping[str, Any], *, withhold: Collection[str]) -> str:
    """A portrait's title as one viewer may read it.

    A title its author never changed is made from the prompt (``title_from_prompt``), so
    when the prompt is withheld (``"prompt"`` in ``withhold``) it would show the same words:
    it reads "Untitled remix" instead. A title the author typed is theirs, and shown.
    """
    if "prompt" in withhold and title == title_from_prompt(recipe.get("prompt") or ""):
        return UNTITLED_REMIX
    return title


def public_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe without server-side keys: what is written into the portrait's file.

    Still names the parent: a page, the API or a WebSocket shows a recipe only through
    :func:`recipe_for_viewer`.
    """
    return {key: value for key, value in recipe.items() if key not in PRIVATE_RECIPE_KEYS}


def recipe_for_viewer(
    recipe: Mapping[str, Any], *, parent_visible: bool, withhold: Collection[str] = ()
) -> dict[str, Any]:
    """The recipe as one viewer may read it, on every surface (page, API, WebSocket).

    ``parent_visible``: whether this viewer may open the recipe's parent now (decided by
    ``portraits.selectors``; False for a tombstone and for a parent whose row is gone).
    Otherwise ``parent`` is ``None``, as an original's. The key stays, so the shape is the
    same for every viewer.

    ``withhold``: which of ``WITHHOLDABLE`` (``"prompt"``, ``"negative_prompt"``) are words
    this remix kept from a step the viewer may not see (decided by
    ``portraits.selectors.portrait_withheld``). Their keys (the styled ones too) read
    ``None``, and ``prompt_withheld`` / ``negative_prompt_withheld`` say so; both flags are
    always there.
    """
    shown = public_recipe(recipe)
    if PARENT_KEY in shown and not parent_visible:
        shown[PARENT_KEY] = None
    for name, keys in WITHHOLDABLE.items():
        withheld = name in withhold
        if withheld:
            for key in keys:
                if key in shown:
                    shown[key] = None
        shown[f"{name}_withheld"] = withheld
    return shown


def parameters_for_viewer(text: str | None, *, withhold: Collection[str]) -> str | None:
    """A file's A1111 ``parameters`` text without the withheld prompts.

    The layout is :func:`portraits.imagefiles.a1111_parameters`': prompt lines, a
    ``Negative prompt:`` line, then one line of ``Key: value`` pairs, which stays as it is.
    """
    if not text or not withhold:
        return text
    parsed = parse_a1111_parameters(text)
    lines = []
    if parsed["prompt"] and "prompt" not in withhold:
        lines.append(parsed["prompt"])
    if parsed["negative_prompt"] and "negative_prompt" not in withhold:
        lines.append(f"Negative prompt: {parsed['negative_prompt']}")
    if parsed["params"]:
        lines.append(text.strip().split("\n")[-1])
    return "\n".join(lines)


def provenance_for_viewer(value: Any, *, hidden_ids: Collection[str]) -> Any:
    """``value`` (a Content Credentials report, a provenance chunk: any JSON) with every
    string that names one of ``hidden_ids`` replaced by ``None``.

    ``hidden_ids`` are the public ids of the chain's portraits the viewer may not open.
    A file names ancestors in several places (the provenance ``parent`` and ``lineage``,
    the recipe's ``parent``, the ``parentOf`` ingredient's title "Likeness portrait <id>",
    each manifest's page URL); replacing any string that holds such an id catches them all,
    wherever the file's layout puts them, and keeps lists in place (``lineage`` reads
    ``[original, None]``: a step that is there, not available). Public ids are 16 random
    characters, so no other text holds one by chance.
    """
    if not hidden_ids:
        return value
    if isinstance(value, str):
        return None if any(public_id in value for public_id in hidden_ids) else value
    if isinstance(value, Mapping):
        return {
            key: provenance_for_viewer(item, hidden_ids=hidden_ids) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [provenance_for_viewer(item, hidden_ids=hidden_ids) for item in value]
    return value
