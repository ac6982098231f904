"""The model registry: which diffusers models workers may load, and which is the default."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from generation.models import (
    GenerationModel,
)

logger = logging.getLogger(__name__)

# --- The model registry ----------------------------------------------------------


def model_register(
    *,
    name: str,
    slug: str,
    source: str,
    family: str = "auto",
    revision: str = "",
    description: str = "",
    paints_noise: bool = False,
    limits: Mapping[str, Any] | None = None,
    make_default: bool = False,
    make_default_if_none: bool = False,
    keep_existing: bool = False,
) -> tuple[GenerationModel, bool]:
    """Add or update a model by slug; returns it and whether it was created.

    * ``keep_existing``: a model already registered under ``slug`` is left exactly
      as an administrator left it (enabled or not, its limits, its source); only a
      missing one is created. For start-up commands that run on every ``make run``.
    * ``make_default``: make it the default (one at a time) and enable it, as the
      admin's "make default" action does.
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
        "paints_noise": paints_noise,
        **(limits or {}),
    }
    with transaction.atomic():
        if keep_existing:
            model, created = GenerationModel.objects.get_or_create(slug=slug, defaults=fields)
        else:
            model, created = GenerationModel.objects.update_or_create(slug=slug, defaults=fields)
        if make_default:
            GenerationModel.objects.exclude(pk=model.pk).filter(is_default=True).update(
                is_default=False
            )
            GenerationModel.objects.filter(pk=model.pk).update(is_default=True, is_enabled=True)
            model.is_default = model.is_enabled = True
        elif (
            make_default_if_none
            and model.is_enabled
            and not GenerationModel.objects.filter(is_default=True).exists()
        ):
            GenerationModel.objects.filter(pk=model.pk).update(is_default=True)
            model.is_default = True
    return model, created
