"""The recipe: its fields, and everything done with them. Pure: no queries, no writes, no torch.

A recipe is what decides a portrait: the member's words and numbers, and what the rest
of the site was when they submitted it (the model's weights, the style's template, the
parent). ``FIELDS`` lists every key once, with what it is; the functions below validate a
submission (:func:`spec_clean`), build a job's recipe (:func:`job_snapshot`,
:func:`recipe_assemble`), derive each portrait's (:func:`portrait_recipes`), redact it
for a viewer (:func:`recipe_for_viewer`), derive a remix's starting fields
(:func:`remix_spec`), compare two (:func:`recipe_drift`, and ``COMPARED`` for lineage),
and map one to the inference spec (:func:`inference_fields`) and to an A1111 infotext
(:func:`a1111_infotext`). Callers pass plain values (``ModelLimits``, ``StyleTemplate``):
resolving rows stays with the services.

**Columns or JSON.** A job stores what the member asked (``Field.kind == ASKED``) as
columns of ``GenerationJob`` and only the rest, the frozen snapshot of other rows at
submission (``FROZEN``: the styled prompts, the model's slug, name, source, revision and
family, the style's slug and name, the parent's public id), in ``GenerationJob.frozen``.
Columns are the truth for what was asked because they are typed, held in range by CHECK
constraints, and queryable (a batching worker groups jobs by model, size, steps,
scheduler and guidance in SQL); the snapshot cannot be columns without copying rows that
change (a model's revision, a style's template) or vanish (a deleted style, a parent).
Nothing is stored twice, so the two can never disagree. The whole recipe a job shows and
its portraits copy is assembled from both (:func:`recipe_assemble`, behind
``GenerationJob.recipe``). A portrait's recipe stays one JSON document (``PAINTED`` adds
what painted it): it is history, written once, and copied into the image's file.

**Who may read what.** Who may see what is decided in ``portraits.selectors``, which
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

import math
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from config.text import UnsafeText, text_clean
from portraits.imagefiles import a1111_parameters, parse_a1111_parameters

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


# --- The fields -------------------------------------------------------------------------

PROMPT_MAX_LENGTH = 1000
SEED_MAX = 2**32 - 1
MAX_IMAGES_PER_JOB = 4
MIN_SIZE = 64
SIZE_MULTIPLE = 8

# The schedulers a member may choose, each a diffusers class name with the sampler name
# AUTOMATIC1111 writes for it in its infotext (after the table in diffusers' scheduler
# docs; Karras / SDE variants are configuration of one class and not told apart). Only
# schedulers that paint with the project's dependencies: LMS needs scipy and DPM-SDE
# torchsde, which are not installed (tests/generation/test_schedulers.py paints each).
SCHEDULERS: Mapping[str, str] = {
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "DDIMScheduler": "DDIM",
    "UniPCMultistepScheduler": "UniPC",
    "HeunDiscreteScheduler": "Heun",
    "PNDMScheduler": "PLMS",
}
# A1111's names for schedulers a member cannot choose but a model may bring as its own
# default (an LCM or DDPM checkpoint): a portrait's recipe records the scheduler that
# actually painted, and its infotext names it the way A1111 would. Only writing needs
# them; nothing maps an A1111 name back to a class, so reading a file needs no table.
_MODEL_DEFAULT_SAMPLERS: Mapping[str, str] = {
    "DPMSolverSinglestepScheduler": "DPM++ SDE",
    "KDPM2DiscreteScheduler": "DPM2",
    "KDPM2AncestralDiscreteScheduler": "DPM2 a",
    "DEISMultistepScheduler": "DEIS",
    "LCMScheduler": "LCM",
    "DDPMScheduler": "DDPM",
}

ASKED = "asked"  # what the member asked for: a GenerationJob column
FROZEN = "frozen"  # other rows as they were at submission: GenerationJob.frozen
PAINTED = "painted"  # what painted one image: only in Portrait.recipe


@dataclass(frozen=True)
class Field:
    """One key of a recipe.

    ``submitted``: a client may send it in a job spec. ``inherited``: a remix starts from
    its parent's value. ``compared``: lineage shows a change of it as ``[old, new]`` (the
    prompts and the style have their own entries). ``private``: stays on the server (a
    model's source may be a local folder path). ``per_job``: a job's, not an image's.
    """

    name: str
    label: str
    kind: str
    submitted: bool = False
    inherited: bool = False
    compared: bool = False
    private: bool = False
    per_job: bool = False


# In the order a recipe lists its keys (and lineage its compared parameters).
FIELDS: tuple[Field, ...] = (
    Field("prompt", "prompt", ASKED, submitted=True, inherited=True),
    Field("negative_prompt", "negative prompt", ASKED, submitted=True, inherited=True),
    Field("style", "style", FROZEN, submitted=True, inherited=True),
    Field("style_name", "style name", FROZEN),
    Field("styled_prompt", "styled prompt", FROZEN),
    Field("styled_negative_prompt", "styled negative prompt", FROZEN),
    Field("model", "model", FROZEN, submitted=True, inherited=True, compared=True),
    Field("model_name", "model name", FROZEN),
    Field("model_source", "model source", FROZEN, private=True),
    Field("model_revision", "model revision", FROZEN, compared=True),
    Field("model_family", "model family", FROZEN),
    # "sampler": what the create form calls it (its values read as SCHEDULERS' labels).
    Field("scheduler", "sampler", ASKED, submitted=True, inherited=True, compared=True),
    Field("seed", "seed", ASKED, submitted=True, inherited=True, compared=True),
    Field("steps", "steps", ASKED, submitted=True, inherited=True, compared=True),
    Field("guidance_scale", "guidance", ASKED, submitted=True, inherited=True, compared=True),
    Field("width", "width", ASKED, submitted=True, inherited=True, compared=True),
    Field("height", "height", ASKED, submitted=True, inherited=True, compared=True),
    Field("num_images", "images", ASKED, submitted=True, per_job=True),
    Field("init_strength", "image-to-image strength", ASKED, submitted=True),
    Field("parent", "parent", FROZEN),
    Field("requested_scheduler", "requested scheduler", PAINTED),
    Field("requested_model_revision", "requested model revision", PAINTED),
    Field("device", "device", PAINTED),
    Field("dtype", "precision", PAINTED),
    Field("diffusers_version", "diffusers version", PAINTED),
    Field("torch_version", "torch version", PAINTED),
    Field("batch_size", "batch size", PAINTED),
    Field("batch_index", "index in batch", PAINTED),
)
FIELD = {f.name: f for f in FIELDS}
# What a client may send, and what a job stores as columns.
SUBMITTED = tuple(f.name for f in FIELDS if f.submitted)
ASKED_FIELDS = tuple(f.name for f in FIELDS if f.kind == ASKED)
FROZEN_FIELDS = tuple(f.name for f in FIELDS if f.kind == FROZEN)
# The keys a remix starts from (the rest of a portrait's recipe is frozen context:
# versions, device, the resolved scheduler and weights).
INHERITED = tuple(f.name for f in FIELDS if f.inherited)
# Keys lineage compares between a step and its parent, in display order.
COMPARED = tuple(f.name for f in FIELDS if f.compared)
LABELS = {f.name: f.label for f in FIELDS}
PRIVATE_RECIPE_KEYS = frozenset(f.name for f in FIELDS if f.private)


@dataclass(frozen=True)
class ModelLimits:
    """What a submission needs to know of a model: its identity, defaults and limits."""

    slug: str
    name: str
    source: str
    revision: str
    family: str
    default_steps: int
    max_steps: int
    default_guidance: float
    max_guidance: float
    default_width: int
    default_height: int
    max_width: int
    max_height: int
    default_scheduler: str = ""


@dataclass(frozen=True)
class StyleTemplate:
    """A style as a recipe uses it: a template around the prompt, and negative words."""

    slug: str
    name: str
    prompt_template: str
    negative_prompt: str = ""

    def apply(self, prompt: str) -> str:
        return self.prompt_template.replace("{prompt}", prompt)


# --- Validating a submission ---------------------------------------------------------------

FieldErrors = dict[str, list[str]]


def add_error(errors: FieldErrors, field: str, message: str) -> None:
    """Add ``message`` to ``field``'s errors (all of a submission's errors come at once)."""
    errors.setdefault(field, []).append(message)


def is_blank(value: Any) -> bool:
    """Not given: ``None`` or only whitespace, which a field reads as "the default"."""
    return value is None or (isinstance(value, str) and value.strip() == "")


def img2img_steps(steps: int, strength: float | None) -> int:
    """How many of ``steps`` denoising steps a recipe runs: all of them, or for
    image-to-image (``strength`` given) ``int(steps × strength)``, as diffusers' img2img
    pipeline counts them (it starts part way, from the parent's picture). 0: none at all,
    which a submission refuses. The one place it is computed (the create form's script
    repeats it in the browser)."""
    if strength is None:
        return steps
    return int(steps * strength)


def number_text(value: Any) -> str:
    """A recipe's number as a member reads it: a float without trailing zeros (``7``, not
    ``7.0``; ``0.5``), the create form's words and the recipe's alike."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _as_int(errors: FieldErrors, field: str, value: Any, default: int, low: int, high: int) -> int:
    if is_blank(value):
        return default
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError):
        add_error(errors, field, "Enter a whole number.")
        return default
    if not low <= number <= high:
        add_error(errors, field, f"Must be between {low} and {high}.")
    return number


def _as_float(
    errors: FieldErrors, field: str, value: Any, default: float | None, low: float, high: float
) -> float | None:
    if is_blank(value):
        return default
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        add_error(errors, field, "Enter a number.")
        return default
    if not math.isfinite(number) or not low <= number <= high:
        add_error(errors, field, f"Must be between {low:g} and {high:g}.")
    return number


def _clean_text(errors: FieldErrors, field: str, value: Any, *, required: bool) -> str:
    text = "" if value is None else str(value)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).strip()
    if required and not text:
        add_error(
            errors, field, "Describe the portrait you want." if field == "prompt" else "Required."
        )
    if len(text) > PROMPT_MAX_LENGTH:
        add_error(errors, field, f"At most {PROMPT_MAX_LENGTH} characters (this has {len(text)}).")
    return text


def prompt_with_modifiers(prompt: str, additions: Sequence[str]) -> str:
    """The prompt with the prompt builder's words added at its end, each once: one the
    prompt already says (any case) is not said twice."""
    text = (prompt or "").strip().rstrip(",").strip()
    for words in additions:
        if words and words.lower() not in text.lower():
            text = f"{text}, {words}" if text else words
    return text


def spec_clean(
    spec: Mapping[str, Any], *, model: ModelLimits | None, has_parent: bool
) -> tuple[dict[str, Any], FieldErrors]:
    """The asked fields of a submitted ``spec`` (``ASKED_FIELDS``), typed, with the model's
    defaults filled in, and every error found (field → messages), all at once.

    ``model`` is the model the spec resolved to (None when it did not: the fields that
    depend on its limits are then left ``None``, unchecked). ``model`` and ``style`` are
    resolved from their slugs by the caller, which reports their own errors. Unknown
    fields are errors. A missing seed is drawn at random.
    """
    errors: FieldErrors = {}
    for name in sorted(set(spec) - set(SUBMITTED)):
        add_error(errors, name, "Unknown field.")
    prompt = _clean_text(errors, "prompt", spec.get("prompt"), required=True)
    negative = _clean_text(errors, "negative_prompt", spec.get("negative_prompt"), required=False)
    seed_value = spec.get("seed")
    seed = (
        secrets.randbelow(SEED_MAX + 1)
        if is_blank(seed_value)
        else _as_int(errors, "seed", seed_value, 0, 0, SEED_MAX)
    )
    num_images = _as_int(errors, "num_images", spec.get("num_images"), 1, 1, MAX_IMAGES_PER_JOB)
    scheduler = "" if is_blank(spec.get("scheduler")) else str(spec["scheduler"]).strip()
    if scheduler and scheduler not in SCHEDULERS:
        add_error(errors, "scheduler", f"Choose one of: {', '.join(sorted(SCHEDULERS))}.")

    steps = guidance = width = height = None
    if model is not None:
        steps = _as_int(errors, "steps", spec.get("steps"), model.default_steps, 1, model.max_steps)
        guidance = _as_float(
            errors,
            "guidance_scale",
            spec.get("guidance_scale"),
            model.default_guidance,
            0,
            model.max_guidance,
        )
        width = _as_int(
            errors, "width", spec.get("width"), model.default_width, MIN_SIZE, model.max_width
        )
        height = _as_int(
            errors, "height", spec.get("height"), model.default_height, MIN_SIZE, model.max_height
        )
        for field, value in (("width", width), ("height", height)):
            if value % SIZE_MULTIPLE:
                add_error(
                    errors,
                    field,
                    f"Must be a multiple of {SIZE_MULTIPLE} "
                    f"(try {value - value % SIZE_MULTIPLE or SIZE_MULTIPLE}).",
                )
        scheduler = scheduler or model.default_scheduler

    init_strength = _as_float(errors, "init_strength", spec.get("init_strength"), None, 0, 1)
    if init_strength is not None:
        if not has_parent:
            add_error(
                errors,
                "init_strength",
                "Image-to-image needs a portrait to start from: remix one.",
            )
        elif init_strength == 0:
            add_error(
                errors,
                "init_strength",
                "Must be greater than 0 (0 would keep the parent unchanged).",
            )
    values = {
        "prompt": prompt,
        "negative_prompt": negative,
        "seed": seed,
        "steps": steps,
        "guidance_scale": guidance,
        "width": width,
        "height": height,
        "num_images": num_images,
        "scheduler": scheduler,
        "init_strength": init_strength,
    }
    return values, errors


# --- A job's recipe, and each portrait's -------------------------------------------------


def job_snapshot(
    *,
    prompt: str,
    negative_prompt: str,
    model: ModelLimits,
    style: StyleTemplate | None,
    parent: str | None,
) -> dict[str, Any]:
    """The ``FROZEN`` part of a job's recipe: the model, the style and the parent (its
    public id) as they are now, and the prompts as the style writes them."""
    return {
        "style": style.slug if style else None,
        "style_name": style.name if style else None,
        "styled_prompt": style.apply(prompt) if style else prompt,
        "styled_negative_prompt": ", ".join(
            part for part in (negative_prompt, style.negative_prompt if style else "") if part
        ),
        "model": model.slug,
        "model_name": model.name,
        "model_source": model.source,
        "model_revision": model.revision,
        "model_family": model.family,
        "parent": parent,
    }


def recipe_assemble(asked: Mapping[str, Any], frozen: Mapping[str, Any]) -> dict[str, Any]:
    """A job's whole recipe, in ``FIELDS`` order: the ``ASKED`` fields from ``asked`` (the
    job's columns), the ``FROZEN`` ones from ``frozen`` (its snapshot). A frozen key the
    snapshot lacks (a row written by hand) is left out, not invented."""
    recipe: dict[str, Any] = {}
    for field in FIELDS:
        if field.kind == ASKED:
            recipe[field.name] = asked[field.name]
        elif field.kind == FROZEN and field.name in frozen:
            recipe[field.name] = frozen[field.name]
    return recipe


def portrait_recipes(
    job_recipe: Mapping[str, Any],
    *,
    seeds: Sequence[int],
    scheduler: str,
    model_revision: str,
    device: str,
    dtype: str,
    diffusers_version: str,
    torch_version: str,
) -> list[dict[str, Any]]:
    """One recipe per image of a painted job: the job's, with the image's own seed and what
    actually painted it (``PAINTED``: the model's own scheduler when none was asked for,
    the resolved weights revision, the versions) next to what the job asked for, which is
    what a remix or a reproduction asks for again."""
    shared = {
        key: value for key, value in job_recipe.items() if not (key in FIELD and FIELD[key].per_job)
    }
    return [
        {
            **shared,
            "seed": int(seed),
            "scheduler": scheduler,
            "requested_scheduler": job_recipe.get("scheduler", ""),
            "model_revision": model_revision,
            "requested_model_revision": job_recipe.get("model_revision", ""),
            "device": device,
            "dtype": dtype,
            "diffusers_version": diffusers_version,
            "torch_version": torch_version,
            "batch_size": len(seeds),
            "batch_index": index,
        }
        for index, seed in enumerate(seeds)
    ]


def inference_fields(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword values of ``generation.inference.GenerationSpec`` for a job's recipe
    (``model`` as the keywords of its ``ModelRef``), without the parent's image, which the
    caller reads. The model receives the prompts as the style wrote them. Raises KeyError
    naming the first key a recipe written by hand or by an older version lacks."""
    return {
        "model": {
            "source": recipe["model_source"],
            "revision": recipe.get("model_revision", ""),
            "family": recipe.get("model_family", "auto"),
        },
        "prompt": recipe["styled_prompt"],
        "negative_prompt": recipe["styled_negative_prompt"],
        "seed": recipe["seed"],
        "steps": recipe["steps"],
        "guidance_scale": recipe["guidance_scale"],
        "width": recipe["width"],
        "height": recipe["height"],
        "num_images": recipe["num_images"],
        "scheduler": recipe["scheduler"],
        "init_strength": recipe["init_strength"],
    }


def a1111_sampler_name(scheduler: str | None) -> str | None:
    """A1111's name for a diffusers scheduler class; the class name itself when unknown."""
    if not scheduler:
        return None
    return SCHEDULERS.get(scheduler) or _MODEL_DEFAULT_SAMPLERS.get(scheduler, scheduler)


def a1111_infotext(recipe: Mapping[str, Any], *, version: str) -> str:
    """A portrait recipe's AUTOMATIC1111 ``parameters`` text. A1111 writes the prompt the
    model actually received, i.e. with the style applied, and the style's name."""
    return a1111_parameters(
        {
            **recipe,
            "prompt": recipe.get("styled_prompt") or recipe.get("prompt", ""),
            "negative_prompt": recipe.get("styled_negative_prompt")
            or recipe.get("negative_prompt", ""),
            "style": recipe.get("style_name"),
            "sampler": a1111_sampler_name(recipe.get("scheduler")),
        },
        version=version,
    )


# --- Remixing and reproducing -------------------------------------------------------------


def remix_spec(recipe: Mapping[str, Any], *, withhold: Collection[str] = ()) -> dict[str, Any]:
    """The job fields a remix of a portrait with ``recipe`` starts from (the create form's
    prefill too).

    The scheduler is the one its author asked for (empty: the model's default), not
    the one that ran, which a portrait's recipe records separately. ``withhold``: the
    prompts the remixer may not read (``portraits.selectors.portrait_withheld``), which
    they do not inherit: they read ``""`` (none).
    """
    spec = {key: recipe.get(key) for key in INHERITED}
    spec["scheduler"] = recipe.get("requested_scheduler", recipe.get("scheduler")) or ""
    for name in withhold:
        spec[name] = ""
    return spec


def recipe_drift(recipe: Mapping[str, Any], again: Mapping[str, Any]) -> list[str]:
    """What would paint differently if ``again`` (a new job's recipe) ran instead of
    ``recipe`` (a portrait's), in words that reveal no server path."""
    model = recipe.get("model_name") or recipe.get("model")
    drift: list[str] = []
    styled = (recipe.get("styled_prompt"), recipe.get("styled_negative_prompt"))
    if styled != (again.get("styled_prompt"), again.get("styled_negative_prompt")):
        style = recipe.get("style_name") or recipe.get("style")
        drift.append(
            f"the style “{style}” now writes a different prompt"
            if style
            else "the prompt the model receives is different"
        )
    if again.get("model_source") != recipe.get("model_source"):
        drift.append(f"the model “{model}” now loads from a different source")
    requested_revision = recipe.get("requested_model_revision", recipe.get("model_revision"))
    if (again.get("model_revision") or "") != (requested_revision or ""):
        drift.append(
            f"the model “{model}” now asks for revision "
            f"{_revision_label(again.get('model_revision'))} "
            f"(it was {_revision_label(requested_revision)})"
        )
    if again.get("model_family") != recipe.get("model_family"):
        drift.append(f"the model “{model}” is now loaded as another family of pipeline")
    requested_scheduler = recipe.get("requested_scheduler", recipe.get("scheduler")) or ""
    if (again.get("scheduler") or "") != requested_scheduler:
        drift.append(
            f"the scheduler would now be {again.get('scheduler') or 'the model default'} "
            f"(it was {requested_scheduler or 'the model default'})"
        )
    return drift


def _revision_label(revision: Any) -> str:
    return f"“{revision}”" if revision else "none in particular"


# --- What each viewer may read -------------------------------------------------------------


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


def public_recipe(recipe: Mapping[str, Any], *, parent_named: bool = True) -> dict[str, Any]:
    """The recipe without server-side keys: what is written into the portrait's file.

    ``parent_named``: whether the file may name the parent (``portraits.services`` decides
    when it writes one); otherwise ``parent`` is ``None``, as an original's. A page, the API
    or a WebSocket shows a recipe only through :func:`recipe_for_viewer`.
    """
    shown = {key: value for key, value in recipe.items() if key not in PRIVATE_RECIPE_KEYS}
    if PARENT_KEY in shown and not parent_named:
        shown[PARENT_KEY] = None
    return shown


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
    shown = public_recipe(recipe, parent_named=parent_visible)
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


# --- Showing a recipe to a member ------------------------------------------------------------

# What the recipe's technical details list, in order: how the site painted it, in
# diffusers' and torch's own words (a member rarely needs them; someone reproducing it
# elsewhere does).
_TECHNICAL = (
    ("scheduler", "Scheduler class"),
    ("requested_scheduler", "Scheduler asked for"),
    ("model", "Model id"),
    ("model_revision", "Model revision"),
    ("requested_model_revision", "Model revision asked for"),
    ("model_family", "Pipeline family"),
    ("device", "Device"),
    ("dtype", "Precision"),
    ("diffusers_version", "diffusers"),
    ("torch_version", "torch"),
    ("batch_size", "Images in its batch"),
    ("batch_index", "Index in its batch"),
)


def sampler_label(scheduler: str | None, *, requested: str | None = None) -> str:
    """The sampler as the create form names it (``SCHEDULERS``' labels), never a class.

    ``scheduler`` is the class that painted (or, on a job not yet painted, the one asked
    for); ``requested`` what the member asked for, empty for the model's own default. A
    job's recipe has no ``requested``: its ``scheduler`` is what was asked.
    """
    asked = scheduler if requested is None else requested
    painted = a1111_sampler_name(scheduler)
    if asked:
        return a1111_sampler_name(asked) or asked
    return f"Model default ({painted})" if painted else "Model default"


def param_display(name: str, value: Any) -> Any:
    """A compared parameter's value (lineage's ``[old, new]``) as the create form says it:
    a sampler by its label, never its class; anything else as it is."""
    if name == "scheduler":
        return sampler_label(value or "")
    return value


def style_additions(recipe: Mapping[str, Any]) -> dict[str, str] | None:
    """What the recipe's style added to the member's words, from its frozen styled prompts
    (the style as it was when it painted, not as an administrator may have edited it since).

    ``before`` and ``after`` surround the member's prompt; ``negative`` is what it added to
    the negative prompt. None when the recipe has no style, or its prompt is withheld
    from this viewer (the additions would spell out the words around it all the same).
    """
    if not (recipe.get("style") or recipe.get("style_name")):
        return None
    prompt, styled = recipe.get("prompt"), recipe.get("styled_prompt")
    if prompt is None or styled is None:
        return None
    before, found, after = styled.partition(prompt) if prompt else ("", "", styled)
    if not found and prompt:  # a hand-written row: show the whole styled prompt
        before, after = styled, ""
    negative = recipe.get("negative_prompt") or ""
    styled_negative = recipe.get("styled_negative_prompt") or ""
    if negative and styled_negative.startswith(negative):
        styled_negative = styled_negative[len(negative) :].lstrip(", ")
    # Shown around the prompt as quoted words: the spaces and the comma that join them
    # to it are layout, not words.
    return {
        "before": before.strip(),
        "after": after.strip().lstrip(",").strip(),
        "negative": styled_negative,
    }


def recipe_display(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe as a member reads it: what ``portraits/_recipe.html`` shows, on the
    portrait page and the job page alike.

    ``recipe`` is one the viewer may read (:func:`recipe_for_viewer`): a portrait's, or a
    job's (which has no ``PAINTED`` keys yet). Returns ``rows`` (label and value, in the
    create form's words: "Sampler", not a scheduler class; the style's row ``adds`` what it
    added, :func:`style_additions`; a withheld prompt's row is ``withheld``, a row's
    ``note`` a muted aside) and ``technical`` (class names, versions, device: for a
    collapsed "Technical details").
    """
    rows: list[dict[str, Any]] = []

    def row(label: str, value: Any, *, note: str = "", withheld: bool = False, adds=None) -> None:
        rows.append(
            {"label": label, "value": value, "note": note, "withheld": withheld, "adds": adds}
        )

    row("Prompt", recipe.get("prompt") or "", withheld=bool(recipe.get("prompt_withheld")))
    if recipe.get("negative_prompt_withheld") or recipe.get("negative_prompt"):
        row(
            "Negative prompt",
            recipe.get("negative_prompt") or "",
            withheld=bool(recipe.get("negative_prompt_withheld")),
        )
    style_name = recipe.get("style_name") or recipe.get("style")
    if style_name:
        row("Style", style_name, adds=style_additions(recipe))
    if recipe.get("model_name") or recipe.get("model"):
        row("Model", recipe.get("model_name") or recipe.get("model"))
    painted = "requested_scheduler" in recipe
    row(
        "Sampler",
        sampler_label(
            recipe.get("scheduler"),
            requested=recipe.get("requested_scheduler") if painted else None,
        ),
    )
    if recipe.get("seed") is not None:
        row("Seed", recipe["seed"])
    steps, strength = recipe.get("steps"), recipe.get("init_strength")
    if steps is not None:
        row("Steps", steps)
    if recipe.get("guidance_scale") is not None:
        row("Guidance (CFG)", number_text(recipe["guidance_scale"]))
    if recipe.get("width") and recipe.get("height"):
        row("Size", f"{recipe['width']} × {recipe['height']} px")
    if recipe.get("num_images", 1) not in (None, 1):
        row("Images", recipe["num_images"])
    if strength is not None:
        note = ""
        if steps is not None:
            note = f"runs {img2img_steps(steps, strength)} of {steps} steps"
        row(
            "Image-to-image",
            f"from the parent's picture, strength {number_text(strength)}",
            note=note,
        )
    technical = [
        {"label": label, "value": number_text(recipe[key])}
        for key, label in _TECHNICAL
        if recipe.get(key) not in (None, "")
    ]
    return {"rows": rows, "technical": technical}
