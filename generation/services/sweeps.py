"""Sweeps: one idea submitted as several jobs along one axis, and the board's choices.

A sweep's cells are ordinary jobs (``GenerationJob.sweep``), validated, gated and
counted against the member's quota like any, all in one transaction: a sweep is created
whole or not at all. Cells that differ only in their prompt or seed (styles, prompt
alternatives, variations) are compatible for the worker's batching
(``GenerationJob.batch_mates``), so a worker that takes one paints its siblings in the
same pipeline call; guidance and steps sweeps split into one group per value. Cancelling
a sweep cancels each of its active cells; a cell alone is cancelled as the job it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.suspension import is_suspended, suspension_refusal
from config.errors import Conflict, DomainError, PermissionDenied
from config.gates import text_gate_check
from generation.models import TRIAGE_CHOICES, GenerationJob, Sweep
from generation.services.lifecycle import job_cancel
from generation.services.submission import job_create, job_validate_spec, quota_claim
from generation.services.taste import taste_prefer, taste_triage
from generation.sweeps import AXIS_FIELD, SweepError, cell_caption, sweep_cells
from portraits import recipe as recipes

logger = logging.getLogger(__name__)

TRIAGE_VALUES = tuple(value for value, _ in TRIAGE_CHOICES)


def sweep_validate(spec: Mapping[str, Any], *, axis: str, values: Any = None):
    """The cells of a sweep and each one's checked job fields, or ``DomainError`` with
    every error at once (``sweep_submit`` says how they are told)."""
    try:
        cells = sweep_cells(axis, values, spec, max_cells=settings.GENERATION_SWEEP_MAX_CELLS)
    except SweepError as exc:
        # With the base recipe's own errors, but the swept field's: every error at once.
        errors = dict(exc.errors)
        swept = AXIS_FIELD.get(axis)
        try:
            job_validate_spec({k: v for k, v in spec.items() if k != swept})
        except DomainError as base:
            for field, messages in base.field_errors.items():
                if field != swept:
                    errors.setdefault(field, []).extend(messages)
        raise DomainError("Please correct the errors below.", field_errors=errors) from None
    swept = AXIS_FIELD[axis]
    errors: recipes.FieldErrors = {}
    checked = []
    for cell in cells:
        try:
            checked.append(job_validate_spec(cell.spec))
        except DomainError as exc:
            for field, messages in exc.field_errors.items():
                for message in messages:
                    if field == swept and axis != "prompt":
                        recipes.add_error(
                            errors, "values", f"{cell_caption(cell.label)}: {message}"
                        )
                    elif message not in errors.get(field, []):
                        recipes.add_error(errors, field, message)
    if errors:
        raise DomainError("Please correct the errors below.", field_errors=errors)
    return cells, checked


def sweep_spec_errors(spec: Mapping[str, Any], *, checked=()) -> recipes.FieldErrors:
    """The field errors ``sweep_validate`` finds, returned: for a serializer whose own type
    checks refused ``checked`` fields (left out here, as ``job_spec_errors`` does)."""
    rest = {name: value for name, value in spec.items() if name not in checked}
    axis, values = rest.pop("axis", None), rest.pop("values", None)
    if "axis" in checked:
        return {}
    try:
        sweep_validate(rest, axis=axis, values=values)
    except DomainError as exc:
        return {name: found for name, found in exc.field_errors.items() if name not in checked}
    return {}


def sweep_submit(*, user, spec: Mapping[str, Any], axis: str, values: Any = None) -> Sweep:
    """Validate every cell, check the quota for all of them, and save the sweep and its
    queued jobs, sent to the broker after commit.

    ``spec`` is the base recipe as a job submission takes it; ``axis`` and ``values`` as
    ``generation.sweeps.sweep_cells`` takes them. Every error at once, by field: the axis's
    own (``axis``, ``values``, ``prompt`` for unbalanced ``{…}``), and each cell's job
    validation, where an error about the swept field is told under ``values`` with the
    value it concerns ("Guidance 30: …")."""
    if is_suspended(user):
        raise suspension_refusal(user)
    cells, checked = sweep_validate(spec, axis=axis, values=values)
    held = {}
    for fields in checked:
        key = (fields["prompt"], fields["negative_prompt"])
        if key not in held:
            held[key] = text_gate_check(
                {"prompt": fields["prompt"], "negative_prompt": fields["negative_prompt"]},
                user=user,
            )
    with transaction.atomic():
        quota_claim(user, adding=len(cells))
        sweep = Sweep.objects.create(user=user, axis=axis, prompt=str(spec.get("prompt") or ""))
        for position, (cell, fields) in enumerate(zip(cells, checked, strict=True)):
            job_create(
                user=user,
                fields=fields,
                held=held[(fields["prompt"], fields["negative_prompt"])],
                sweep=sweep,
                sweep_position=position,
                sweep_label=cell.label,
            )
        logger.info("Sweep %s: %d cells along %s for %s", sweep.pk, len(cells), axis, user.pk)
    return sweep


def _own(sweep: Sweep, by) -> None:
    """Only its member changes a sweep (moderators act on jobs and portraits instead)."""
    if sweep.user_id != by.pk:
        raise PermissionDenied("Only the member who made this sweep can change it.")


def sweep_cancel(*, sweep: Sweep, by, position: Any = None) -> list[GenerationJob]:
    """Cancel every queued or running cell (or only the one at ``position``); the
    finished ones keep their pictures. Returns the cells cancelled; ``Conflict`` when
    none was active."""
    _own(sweep, by)
    if position is not None:
        return [job_cancel(job=_cell(sweep, position), by=by)]
    cancelled = []
    for job in sweep.cells.filter(status__in=GenerationJob.ACTIVE_STATUSES):
        try:
            cancelled.append(job_cancel(job=job, by=by))
        except Conflict:  # finished meanwhile: it keeps its pictures
            continue
    if not cancelled:
        raise Conflict("Every cell of this sweep has already finished; nothing to cancel.")
    return cancelled


def _cell(sweep: Sweep, position: Any, field: str = "cell") -> GenerationJob:
    try:
        place = int(position)
    except (TypeError, ValueError):
        place = None
    job = sweep.cells.filter(sweep_position=place).first() if place is not None else None
    if job is None:
        raise DomainError(
            "Nothing was changed.", field_errors={field: [f"No cell {position} in this sweep."]}
        )
    return job


def sweep_triage(*, sweep: Sweep, position: Any, choice: str, by) -> GenerationJob:
    """Keep, discard or skip one cell (``choice`` blank: undecided again)."""
    _own(sweep, by)
    if choice not in (*TRIAGE_VALUES, ""):
        raise DomainError(
            "Nothing was changed.",
            field_errors={"choice": [f"Choose one of: {', '.join(TRIAGE_VALUES)}."]},
        )
    job = _cell(sweep, position)
    with transaction.atomic():
        GenerationJob.objects.filter(pk=job.pk).update(sweep_choice=choice)
        job.sweep_choice = choice
        # Kept or discarded, it says something of the member's taste (``generation.taste``).
        taste_triage(user=by, job=job, choice=choice)
    return job


def sweep_pick(*, sweep: Sweep, chosen: Any, over: Any, by) -> tuple[GenerationJob, GenerationJob]:
    """The member prefers one painted cell to another: the strongest signal of taste, as
    only the swept value differs between them (``generation.services.taste``). Returns
    the two cells, the chosen first."""
    _own(sweep, by)
    first, second = _cell(sweep, chosen, "chosen"), _cell(sweep, over, "over")
    errors: recipes.FieldErrors = {}
    if first.pk == second.pk:
        recipes.add_error(errors, "over", "Choose two different cells.")
    for field, job in (("chosen", first), ("over", second)):
        if job.status != GenerationJob.Status.SUCCEEDED:
            recipes.add_error(errors, field, f"Cell {job.sweep_position} has no picture yet.")
    if errors:
        raise DomainError("Nothing was changed.", field_errors=errors)
    taste_prefer(user=by, chosen=first, other=second)
    return first, second


def sweep_compare(*, sweep: Sweep, positions: Sequence[Any], by) -> Sweep:
    """Put two cells side by side (the board remembers them); an empty list clears it."""
    _own(sweep, by)
    if not positions:
        sweep.compare_left = sweep.compare_right = None
    else:
        if len(positions) != 2 or str(positions[0]) == str(positions[1]):
            raise DomainError(
                "Nothing was changed.", field_errors={"cells": ["Choose two different cells."]}
            )
        sweep.compare_left = _cell(sweep, positions[0], "cells")
        sweep.compare_right = _cell(sweep, positions[1], "cells")
    sweep.save(update_fields=["compare_left", "compare_right"])
    return sweep
