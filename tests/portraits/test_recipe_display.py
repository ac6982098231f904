"""A recipe as a member reads it (``portraits.recipe.recipe_display``, ``_recipe.html``):
the create form's names, what a style adds, the diffusers details kept for those who ask."""

from __future__ import annotations

from portraits.recipe import (
    StyleTemplate,
    job_snapshot,
    recipe_assemble,
    recipe_display,
    recipe_for_viewer,
)
from tests.portraits.factories import PAINTER, recipe_for

NOIR = StyleTemplate(
    slug="film-noir",
    name="Film noir",
    prompt_template="film noir portrait of {prompt}, black and white, high contrast",
    negative_prompt="color, cheerful",
)


def _rows(view) -> dict[str, dict]:
    return {row["label"]: row for row in view["rows"]}


def _all_text(rows) -> str:
    return " ".join(str(row["value"]) for row in rows)


def test_sampler_is_named_as_on_the_form_and_its_class_only_in_technical_details():
    recipe = recipe_for(
        "a sailor",
        scheduler="EulerAncestralDiscreteScheduler",
        requested_scheduler="EulerAncestralDiscreteScheduler",
    )
    view = recipe_display(recipe_for_viewer(recipe, parent_visible=False))
    assert _rows(view)["Sampler"]["value"] == "Euler a"
    assert "Scheduler" not in _rows(view)
    assert "DiscreteScheduler" not in _all_text(view["rows"])
    technical = {row["label"]: row["value"] for row in view["technical"]}
    assert technical["Scheduler class"] == "EulerAncestralDiscreteScheduler"
    assert technical["diffusers"] == "0.0.test" and technical["Device"] == "cpu"


def test_a_model_default_sampler_names_what_painted():
    recipe = recipe_for("a sailor", scheduler="EulerDiscreteScheduler", requested_scheduler="")
    assert _rows(recipe_display(recipe))["Sampler"]["value"] == "Model default (Euler)"


def test_a_jobs_recipe_not_yet_painted_says_model_default_without_guessing():
    asked = {
        "prompt": "a sailor",
        "negative_prompt": "",
        "seed": 7,
        "steps": 20,
        "guidance_scale": 7.0,
        "width": 64,
        "height": 64,
        "num_images": 2,
        "scheduler": "",
        "init_strength": None,
    }
    frozen = job_snapshot(
        prompt="a sailor", negative_prompt="", model=PAINTER, style=None, parent=None
    )
    view = recipe_display(recipe_assemble(asked, frozen))
    rows = _rows(view)
    assert rows["Sampler"]["value"] == "Model default"
    assert rows["Images"]["value"] == 2
    assert rows["Guidance (CFG)"]["value"] == "7"
    assert rows["Size"]["value"] == "64 × 64 px"


def test_style_row_shows_what_the_style_added_to_both_prompts():
    frozen = job_snapshot(
        prompt="a sailor", negative_prompt="blurry", model=PAINTER, style=NOIR, parent=None
    )
    recipe = recipe_for("a sailor", negative_prompt="blurry", **frozen)
    style = _rows(recipe_display(recipe))["Style"]
    assert style["value"] == "Film noir"
    assert style["adds"] == {
        "before": "film noir portrait of",
        "after": "black and white, high contrast",
        "negative": "color, cheerful",
    }


def test_what_a_style_added_is_not_shown_around_a_withheld_prompt():
    frozen = job_snapshot(
        prompt="a sailor", negative_prompt="", model=PAINTER, style=NOIR, parent=None
    )
    recipe = recipe_for_viewer(
        recipe_for("a sailor", **frozen), parent_visible=False, withhold=("prompt",)
    )
    rows = _rows(recipe_display(recipe))
    assert rows["Prompt"]["withheld"] is True and rows["Prompt"]["value"] == ""
    assert rows["Style"]["value"] == "Film noir" and rows["Style"]["adds"] is None


def test_image_to_image_says_how_many_steps_it_runs():
    recipe = recipe_for("a sailor", steps=20, init_strength=0.5)
    row = _rows(recipe_display(recipe))["Image-to-image"]
    assert row["value"] == "from the parent's picture, strength 0.5"
    assert row["note"] == "runs 10 of 20 steps"
