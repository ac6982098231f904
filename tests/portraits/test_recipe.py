"""The recipe module: one table of fields, and the pure functions every surface uses."""

from __future__ import annotations

import pytest

from generation.forms import img2img_steps_text
from generation.models import GenerationJob
from portraits import recipe as recipes
from portraits.recipe import (
    SCHEDULERS,
    ModelLimits,
    StyleTemplate,
    a1111_sampler_name,
    inference_fields,
    job_snapshot,
    portrait_recipes,
    recipe_assemble,
    remix_spec,
    spec_clean,
)

MODEL = ModelLimits(
    slug="tiny",
    name="Tiny",
    source="/models/tiny",
    revision="main",
    family="sd",
    default_steps=20,
    max_steps=50,
    default_guidance=7.0,
    max_guidance=20.0,
    default_width=512,
    default_height=512,
    max_width=1024,
    max_height=1024,
    default_scheduler="",
)
NOIR = StyleTemplate(
    slug="noir", name="Noir", prompt_template="film noir, {prompt}", negative_prompt="colour"
)
# The keys a job's recipe has always shown, in order (the API's ``recipe``).
JOB_RECIPE_KEYS = [
    "prompt",
    "negative_prompt",
    "style",
    "style_name",
    "styled_prompt",
    "styled_negative_prompt",
    "model",
    "model_name",
    "model_source",
    "model_revision",
    "model_family",
    "scheduler",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "num_images",
    "init_strength",
    "parent",
]


def _job_recipe(**spec):
    fields, errors = spec_clean({"prompt": "a sailor", **spec}, model=MODEL, has_parent=False)
    assert not errors
    frozen = job_snapshot(
        prompt=fields["prompt"],
        negative_prompt=fields["negative_prompt"],
        model=MODEL,
        style=NOIR,
        parent=None,
    )
    return recipe_assemble(fields, frozen)


def test_a_job_recipe_is_the_asked_fields_and_the_snapshot_with_no_key_in_both():
    assert not set(recipes.ASKED_FIELDS) & set(recipes.FROZEN_FIELDS)
    recipe = _job_recipe(negative_prompt="blur", seed=3)

    assert list(recipe) == JOB_RECIPE_KEYS
    assert recipe["styled_prompt"] == "film noir, a sailor"
    assert recipe["styled_negative_prompt"] == "blur, colour"
    assert (recipe["seed"], recipe["steps"], recipe["width"]) == (3, 20, 512)


def test_every_bad_field_is_reported_at_once():
    _, errors = spec_clean(
        {"prompt": " ", "steps": 99, "width": 100, "scheduler": "LMSDiscreteScheduler", "x": 1},
        model=MODEL,
        has_parent=False,
    )

    assert set(errors) == {"prompt", "steps", "width", "scheduler", "x"}


def test_init_strength_needs_a_parent_and_more_than_zero():
    _, orphan = spec_clean({"prompt": "p", "init_strength": 0.5}, model=MODEL, has_parent=False)
    _, zero = spec_clean({"prompt": "p", "init_strength": 0}, model=MODEL, has_parent=True)

    assert "remix one" in orphan["init_strength"][0]
    assert "greater than 0" in zero["init_strength"][0]


def test_each_portrait_recipe_has_its_seed_and_what_painted_it_but_not_the_batch_size_asked():
    job = _job_recipe(num_images=2, seed=10)

    first, second = portrait_recipes(
        job,
        seeds=[10, 11],
        scheduler="PNDMScheduler",
        model_revision="abc",
        device="cpu",
        dtype="float32",
        diffusers_version="0.42",
        torch_version="2.13",
    )

    assert "num_images" not in first
    assert (first["seed"], second["seed"]) == (10, 11)
    assert first["scheduler"] == "PNDMScheduler" and first["requested_scheduler"] == ""
    assert first["model_revision"] == "abc" and first["requested_model_revision"] == "main"
    assert (second["batch_size"], second["batch_index"]) == (2, 1)


def test_a_remix_inherits_the_scheduler_asked_for_and_no_withheld_words():
    (painted,) = portrait_recipes(
        _job_recipe(negative_prompt="blur"),
        seeds=[1],
        scheduler="PNDMScheduler",
        model_revision="abc",
        device="cpu",
        dtype="float32",
        diffusers_version="0.42",
        torch_version="2.13",
    )

    spec = remix_spec(painted, withhold={"negative_prompt"})

    assert spec["scheduler"] == ""  # the model's default was asked for, not PNDM
    assert spec["negative_prompt"] == "" and spec["prompt"] == "a sailor"
    assert set(spec) == set(recipes.INHERITED)


def test_the_inference_spec_gets_the_styled_prompts_and_names_what_a_recipe_lacks():
    recipe = _job_recipe()

    fields = inference_fields(recipe)

    assert fields["prompt"] == "film noir, a sailor"
    assert fields["model"] == {"source": "/models/tiny", "revision": "main", "family": "sd"}
    with pytest.raises(KeyError, match="styled_prompt"):
        inference_fields({k: v for k, v in recipe.items() if k != "styled_prompt"})


def test_lineage_compares_the_parameters_the_table_marks():
    assert recipes.COMPARED == (
        "model",
        "model_revision",
        "scheduler",
        "seed",
        "steps",
        "guidance_scale",
        "width",
        "height",
    )
    assert recipes.LABELS["guidance_scale"] == "guidance"


@pytest.mark.parametrize(
    ("scheduler", "sampler"),
    [
        ("EulerAncestralDiscreteScheduler", "Euler a"),
        ("DPMSolverMultistepScheduler", "DPM++ 2M"),
        ("DDIMScheduler", "DDIM"),
        ("PNDMScheduler", "PLMS"),
        ("UniPCMultistepScheduler", "UniPC"),
        ("LCMScheduler", "LCM"),  # a model's own default, never offered
        ("FlowMatchEulerDiscreteScheduler", "FlowMatchEulerDiscreteScheduler"),
    ],
)
def test_scheduler_classes_map_to_a1111_sampler_names(scheduler, sampler):
    assert a1111_sampler_name(scheduler) == sampler


def test_no_scheduler_that_needs_a_missing_package_is_offered():
    assert "LMSDiscreteScheduler" not in SCHEDULERS  # scipy
    assert "DPMSolverSDEScheduler" not in SCHEDULERS  # torchsde


def test_image_to_image_runs_the_share_of_the_steps_its_strength_asks_everywhere_it_is_said():
    # int(7 × 0.3) = 2 of 7: the form's words, the recipe's note and the job's progress agree.
    assert recipes.img2img_steps(7, 0.3) == 2
    assert recipes.img2img_steps(7, None) == 7
    assert recipes.img2img_steps(4, 0.2) == 0  # none: a submission refuses it
    assert img2img_steps_text(7, 0.3) == "Runs 2 of 7 steps: strength 0.3."
    rows = recipes.recipe_display({"steps": 7, "init_strength": 0.3})["rows"]
    assert [row["note"] for row in rows if row["label"] == "Image-to-image"] == [
        "runs 2 of 7 steps"
    ]
    assert GenerationJob(steps=7, init_strength=0.3).steps_to_run == 2
    assert recipes.number_text(7.0) == "7" and recipes.number_text(0.3) == "0.3"
