"""A sweep's cells: one idea expanded along one axis. Pure: no queries, no writes.

A sweep paints one recipe (the *base*) several times, changing one thing per cell:

* ``styles``: the style preset (2–12 slugs);
* ``seeds``: the seed, "variations" (2–16 new random seeds);
* ``guidance``: the guidance scale (2–16 values);
* ``steps``: the number of steps (2–16 values);
* ``prompt``: the prompt's inline alternatives, ``a {smiling|serious} woman in {red|blue}``,
  every combination (:func:`prompt_alternatives`).

Every cell shares the base's seed unless the axis is the seed, so only the axis changes.
:func:`sweep_cells` turns an axis and its values into cells, each a job spec and the
label that says what differs from its siblings; the services validate each spec as any
job's (``generation.services.sweep_submit``).
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portraits.recipe import SEED_MAX

AXIS_STYLES = "styles"
AXIS_SEEDS = "seeds"
AXIS_GUIDANCE = "guidance"
AXIS_STEPS = "steps"
AXIS_PROMPT = "prompt"
AXES = (AXIS_STYLES, AXIS_SEEDS, AXIS_GUIDANCE, AXIS_STEPS, AXIS_PROMPT)
# The job field each axis changes.
AXIS_FIELD = {
    AXIS_STYLES: "style",
    AXIS_SEEDS: "seed",
    AXIS_GUIDANCE: "guidance_scale",
    AXIS_STEPS: "steps",
    AXIS_PROMPT: "prompt",
}
MIN_CELLS = 2
MAX_STYLES = 12
# ``{`` then alternatives separated by ``|`` then ``}``, none of them containing braces.
_GROUP = re.compile(r"\{([^{}]*)\}")


class SweepError(ValueError):
    """What is wrong with an axis or its values, by field (``axis``, ``values``, ``prompt``)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


@dataclass(frozen=True)
class Cell:
    """One painting of a sweep: the job spec (the base with the axis's value) and what
    differs from its siblings (``label``: the field and the value, as asked)."""

    spec: dict[str, Any]
    label: dict[str, Any] = field(default_factory=dict)


def prompt_alternatives(prompt: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every prompt ``{a|b}`` groups make, in order, each with the alternatives it took.

    ``"a {smiling|serious} woman"`` gives ``[("a smiling woman", ("smiling",)),
    ("a serious woman", ("serious",))]``; two groups give every combination (the first
    group's alternative changing slowest). Spaces around an alternative are trimmed; an
    empty alternative (``{red|}``) leaves the words out. Raises ``SweepError`` for braces
    that do not pair up, nested groups, a group with one alternative, or none at all."""
    depth, problems = 0, []
    for char in prompt:
        if char == "{":
            depth += 1
            if depth > 1:
                problems.append("Alternatives cannot be nested: close each { before the next.")
                break
        elif char == "}":
            depth -= 1
            if depth < 0:
                problems.append("A } closes no {.")
                break
    else:
        if depth > 0:
            problems.append("A { is never closed with }.")
    if problems:
        raise SweepError({"prompt": problems})
    groups = [
        [choice.strip() for choice in match.group(1).split("|")]
        for match in _GROUP.finditer(prompt)
    ]
    if not groups:
        raise SweepError(
            {"prompt": ["Write the alternatives in the prompt, e.g. “a {smiling|serious} woman”."]}
        )
    if any(len(group) < 2 for group in groups):
        raise SweepError({"prompt": ["Give each {…} at least two alternatives, split by |."]})
    pieces = _GROUP.split(prompt)  # text, group, text, group, …, text
    out = []
    for chosen in itertools.product(*groups):
        words = [pieces[0]]
        for choice, text in zip(chosen, pieces[2::2], strict=True):
            words += [choice, text]
        out.append((re.sub(r"\s+", " ", "".join(words)).strip(" ,"), chosen))
    return out


def prompt_alternatives_count(prompt: str) -> int:
    """How many cells a prompt's alternatives make (0 when it has none, or is malformed):
    what the create page shows before submitting."""
    try:
        return len(prompt_alternatives(prompt))
    except SweepError:
        return 0


def sweep_cells(axis: str, values: Any, base: Mapping[str, Any], *, max_cells: int) -> list[Cell]:
    """The cells of a sweep of ``base`` (a job spec as submitted) along ``axis``.

    ``values``: the style slugs, the number of variations, the guidance or steps values;
    ignored for ``prompt`` (the prompt carries its alternatives). A blank seed in ``base``
    becomes one random seed that every cell shares (the ``seeds`` axis draws one per cell).
    Raises ``SweepError`` for an unknown axis, too few or too many cells, repeated values,
    or values of the wrong type; ranges (a guidance above the model's limit, an unknown
    style) are the job validation's, per cell."""
    if axis not in AXES:
        raise SweepError({"axis": [f"Choose one of: {', '.join(AXES)}."]})
    base = dict(base)
    base["num_images"] = 1  # one picture per cell: the board's tiles
    if base.get("seed") in (None, ""):
        base["seed"] = secrets.randbelow(SEED_MAX + 1)
    if axis == AXIS_PROMPT:
        expanded = prompt_alternatives(str(base.get("prompt") or ""))
        _check_count(len(expanded), max_cells, "prompt", "combinations")
        return [
            Cell({**base, "prompt": prompt}, {"alternatives": list(chosen)})
            for prompt, chosen in expanded
        ]
    if axis == AXIS_SEEDS:
        count = _whole_number(values)
        _check_count(count, max_cells, "values", "variations")
        seeds = _new_seeds(count)
        return [Cell({**base, "seed": seed}, {"seed": seed}) for seed in seeds]
    items = _value_list(values)
    if axis == AXIS_STYLES:
        items = [str(item).strip() for item in items]
        _check_count(len(items), min(max_cells, MAX_STYLES), "values", "styles")
    elif axis == AXIS_GUIDANCE:
        items = [_number(item, float) for item in items]
        _check_count(len(items), max_cells, "values", "guidance values")
    else:
        items = [_number(item, int) for item in items]
        _check_count(len(items), max_cells, "values", "step counts")
    if len(set(items)) != len(items):
        raise SweepError({"values": ["Each value once: a repeated one would paint the same cell."]})
    name = AXIS_FIELD[axis]
    return [Cell({**base, name: item}, {name: item}) for item in items]


def _check_count(count: int, most: int, field_name: str, what: str) -> None:
    if count < MIN_CELLS:
        raise SweepError({field_name: [f"A sweep needs at least {MIN_CELLS} {what}."]})
    if count > most:
        raise SweepError(
            {field_name: [f"At most {most} {what} in one sweep (this asks for {count})."]}
        )


def _value_list(values: Any) -> Sequence[Any]:
    if isinstance(values, str):
        values = [v for v in re.split(r"[,\s]+", values) if v]
    if not isinstance(values, list | tuple):
        raise SweepError({"values": ["Give a list of values."]})
    return list(values)


def _whole_number(value: Any) -> int:
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        raise SweepError({"values": ["Give how many variations, a whole number."]})
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SweepError({"values": ["Give how many variations, a whole number."]}) from None
    return number


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise SweepError({"values": [f"“{value}” is not a number."]})
    try:
        number = kind(str(value).strip()) if kind is int else float(value)
    except (TypeError, ValueError):
        raise SweepError(
            {"values": [f"“{value}” is not a {'whole ' if kind is int else ''}number."]}
        ) from None
    if kind is float and not (number == number and abs(number) != float("inf")):
        raise SweepError({"values": [f"“{value}” is not a number."]})
    return number


def _new_seeds(count: int) -> list[int]:
    seeds: list[int] = []
    while len(seeds) < count:
        seed = secrets.randbelow(SEED_MAX + 1)
        if seed not in seeds:
            seeds.append(seed)
    return seeds


def cell_caption(label: Mapping[str, Any], style_names: Mapping[str, str] | None = None) -> str:
    """What a board tile says: only what differs between the cells."""
    if "style" in label:
        slug = label["style"]
        return (style_names or {}).get(slug, slug) if slug else "No style"
    if "alternatives" in label:
        return " · ".join(choice or "(none)" for choice in label["alternatives"])
    if "seed" in label:
        return f"Seed {label['seed']}"
    if "guidance_scale" in label:
        return f"Guidance {label['guidance_scale']:g}"
    if "steps" in label:
        return f"{label['steps']} steps"
    return ""
