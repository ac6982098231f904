"""Portrait rows made directly, for tests that need many of them (a chain of 50).

These skip the pipeline, the PNG chunks and the signing: only lineage and listing
tests use them. Anything about the files goes through ``portrait_create_from_job``
(see conftest's ``paint``).
"""

from __future__ import annotations

import io

import factory
from django.utils import timezone
from PIL import Image

from portraits.community import search_documents_refresh, trending_term
from portraits.lineage import compute_changes
from portraits.models import Portrait
from portraits.recipe import (
    ModelLimits,
    job_snapshot,
    portrait_recipes,
    recipe_assemble,
    spec_clean,
)


def image_bytes(color=(120, 80, 40), size=(16, 16), format="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=format)
    return buffer.getvalue()


PAINTER = ModelLimits(
    slug="painter",
    name="Painter",
    source="/models/painter",
    revision="sha256:0123456789abcdef",
    family="sd",
    default_steps=4,
    max_steps=50,
    default_guidance=7.0,
    max_guidance=20.0,
    default_width=16,
    default_height=16,
    max_width=1024,
    max_height=1024,
)


def recipe_for(prompt: str, **overrides) -> dict:
    """A portrait's recipe as a one-image job on the Painter model writes it (the recipe
    module builds it, as the services do), with ``overrides`` on top."""
    asked, errors = spec_clean(
        {"prompt": prompt, "seed": 1, "scheduler": "EulerDiscreteScheduler"},
        model=PAINTER,
        has_parent=False,
    )
    assert not errors, errors
    frozen = job_snapshot(prompt=prompt, negative_prompt="", model=PAINTER, style=None, parent=None)
    (recipe,) = portrait_recipes(
        recipe_assemble(asked, frozen),
        seeds=[asked["seed"]],
        scheduler=asked["scheduler"],
        model_revision=PAINTER.revision,
        device="cpu",
        dtype="torch.float32",
        diffusers_version="0.0.test",
        torch_version="0.0.test",
    )
    recipe.update(overrides)
    return recipe


class PortraitFactory(factory.django.DjangoModelFactory):
    """``PortraitFactory(author=alice, parent=p)`` fills in root, depth, ancestry and
    changes the way the service does."""

    class Meta:
        model = Portrait

    author_name = factory.LazyAttribute(lambda o: o.author.public_name)
    title = factory.Sequence(lambda n: f"Portrait {n}")
    visibility = Portrait.Visibility.PUBLIC
    published_at = factory.LazyAttribute(
        lambda o: timezone.now() if o.visibility == Portrait.Visibility.PUBLIC else None
    )
    trending = factory.LazyAttribute(
        lambda o: trending_term("publish", o.published_at) if o.published_at else None
    )
    width = 16
    height = 16
    thumbnail_width = 16
    thumbnail_height = 16
    image = factory.django.FileField(filename="original.png", data=image_bytes())
    thumbnail = factory.django.FileField(filename="thumbnail.webp", data=image_bytes(format="WEBP"))
    recipe = factory.Sequence(lambda n: recipe_for(f"a portrait in the style {n}", seed=n))
    parent = None
    # The recipe's, as the services copy them.
    style = factory.LazyAttribute(lambda o: o.recipe.get("style") or "")
    model = factory.LazyAttribute(lambda o: o.recipe.get("model") or "")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        parent = kwargs.get("parent")
        if parent is not None:
            kwargs["recipe"] = {**kwargs["recipe"], "parent": parent.public_id}
            kwargs.setdefault("root_id", parent.root_id or parent.pk)
            kwargs.setdefault("depth", parent.depth + 1)
            kwargs.setdefault("ancestry", parent.descendant_prefix)
            kwargs.setdefault("changes", compute_changes(parent.recipe, kwargs["recipe"]))
        portrait = super()._create(model_class, *args, **kwargs)
        # What search reads, as the services write it.
        search_documents_refresh(portrait_ids=[portrait.pk])
        portrait.refresh_from_db(fields=["search_text"])
        return portrait


def remix_chain(authors, length: int, **first) -> list[Portrait]:
    """An original and ``length`` remixes, each by the next of ``authors`` in turn,
    each changing one word of the prompt and the seed."""
    chain = [PortraitFactory(author=authors[0], recipe=recipe_for("a portrait of step 0"), **first)]
    for depth in range(1, length + 1):
        chain.append(
            PortraitFactory(
                author=authors[depth % len(authors)],
                parent=chain[-1],
                recipe=recipe_for(f"a portrait of step {depth}", seed=depth),
            )
        )
    return chain
