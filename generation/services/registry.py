"""The model registry: which diffusers models workers may load, and which is the default."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction

from generation import inference
from generation.models import GenerationModel

logger = logging.getLogger(__name__)


def model_register(
    *,
    name: str,
    slug: str,
    source: str,
    family: str = "auto",
    revision: str = "",
    description: str = "",
    demo: str = "",
    limits: Mapping[str, Any] | None = None,
    make_default: bool = False,
    make_default_if_none: bool = False,
    keep_existing: bool = False,
) -> tuple[GenerationModel, bool]:
    """Add or update a model by slug; returns it and whether it was created.

    * ``keep_existing``: a model already registered under ``slug`` is left exactly
      as an administrator left it (enabled or not, its limits, its source); only a
      missing one is created. For start-up commands that run on every ``make run``.
    * ``make_default``: make it the default and enable it (``model_make_default``).
    * ``make_default_if_none``: make it the default only if no model is the default
      at all and this one is enabled — never take the flag from another model, even
      a disabled one, and never make a disabled model the default.

    Updating never changes whether a model is enabled: that is the admin's call.
    The caller keeps ``limits`` consistent (defaults within maxima); the database's
    check constraints refuse anything else.
    """
    fields = {
        "name": name,
        "source": source,
        "family": family,
        "revision": revision,
        "description": description,
        "demo": demo,
        **(limits or {}),
    }
    with transaction.atomic():
        if keep_existing:
            model, created = GenerationModel.objects.get_or_create(slug=slug, defaults=fields)
        else:
            model, created = GenerationModel.objects.update_or_create(slug=slug, defaults=fields)
        if make_default:
            model_make_default(model=model)
        elif (
            make_default_if_none
            and model.is_enabled
            and not GenerationModel.objects.filter(is_default=True).exists()
        ):
            GenerationModel.objects.filter(pk=model.pk).update(is_default=True)
            model.is_default = True
    return model, created


def model_make_default(*, model: GenerationModel) -> GenerationModel:
    """Make ``model`` the default (the one a form starts from) and enable it.

    One default at a time: the previous default loses the flag in the same transaction,
    before ``model`` takes it (the database's unique constraint refuses two).
    """
    with transaction.atomic():
        GenerationModel.objects.exclude(pk=model.pk).filter(is_default=True).update(
            is_default=False
        )
        GenerationModel.objects.filter(pk=model.pk).update(is_default=True, is_enabled=True)
    model.is_default = model.is_enabled = True
    logger.info("Model %s is now the default", model.slug)
    return model


def models_warm_up(*, queues) -> tuple[list[str], list[str]]:
    """Load the enabled models whose jobs go to one of ``queues`` (a worker starting:
    ``generation.tasks``), so its first job finds its model loaded, and say which loaded:
    the worker's readiness. GENERATION_WARM_UP: ``auto`` loads them, and also paints once
    at every batch bucket when compiling (``LIKENESS_COMPILE``: the shapes compile now, not
    during a job); ``true`` always paints; ``false`` loads nothing (the first job does).

    Only as many as the worker keeps loaded (``LIKENESS_PIPELINE_CACHE_SIZE``) are loaded,
    the default model first among them and loaded last, so it is the one kept. Returns the
    slugs loaded and those that could not be; a model that cannot be loaded is logged and
    left for its jobs to fail with the reason."""
    mode = settings.GENERATION_WARM_UP
    if mode == "false" or not inference.backend_available():
        return [], []
    try:
        paint = mode == "true" or inference.compiling()  # read before anything imports torch
        keep = inference.pipeline_cache_size()
    except ValueError:  # misconfigured: the first job says how
        return [], []
    models = GenerationModel.objects.filter(is_enabled=True, queue__in=list(queues))
    chosen = list(models.order_by("-is_default", "name")[:keep])
    loaded, failed = [], []
    for model in reversed(chosen):
        ref = inference.ModelRef(source=model.source, revision=model.revision, family=model.family)
        try:
            if paint:
                inference.warm_up(ref, model.default_width, model.default_height)
            else:
                inference.load_pipeline(ref)
        except Exception:
            logger.exception("Could not load model %s", model.slug)
            failed.append(model.slug)
            continue
        loaded.append(model.slug)
    logger.info("Loaded %s%s", ", ".join(loaded) or "no model", " (warmed up)" if paint else "")
    return loaded, failed
