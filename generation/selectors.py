"""Reads for generation. Who may see a job: its owner and moderators, nobody else."""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from accounts.permissions import is_moderator
from config.errors import NotFound
from generation import taste
from generation.models import (
    GenerationJob,
    GenerationModel,
    PromptModifier,
    StylePreset,
    Sweep,
    TasteProfile,
    TasteSignal,
    WorkerPresence,
)
from portraits.lineage import compute_changes
from portraits.recipe import PARENT_KEY, WITHHOLDABLE
from portraits.selectors import (
    portrait_queryset_for_jobs,
    portrait_queryset_viewable,
    portrait_remix_withheld,
)


def _for_display(
    qs: QuerySet[GenerationJob], *, viewer, portraits: bool = True
) -> QuerySet[GenerationJob]:
    """Everything a job's representation reads, in a fixed number of queries for any page size:
    its queue position (one subquery) and, unless ``portraits`` is False, its live
    portraits (one prefetch)."""
    ahead = (
        GenerationJob.objects.filter(
            status=GenerationJob.Status.QUEUED, created_at__lt=OuterRef("created_at")
        )
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = qs.select_related(
        "model", "style", "user", "parent", "parent__author", "reproduces", "reproduces__author"
    ).annotate(queue_ahead=Coalesce(Subquery(ahead), 0), queue_served=_queue_served())
    return qs.prefetch_related(_live_portraits(viewer)) if portraits else qs


def _live_portraits(viewer) -> Prefetch:
    return Prefetch(
        "portraits", queryset=portrait_queryset_for_jobs(viewer=viewer), to_attr="live_portraits"
    )


def _visible_to(viewer) -> QuerySet[GenerationJob]:
    """The one rule: moderators see every job, a member their own, anonymous none."""
    qs = GenerationJob.objects.all()
    if is_moderator(viewer):
        return qs
    if viewer is None or not viewer.is_authenticated:
        return qs.none()
    return qs.filter(user=viewer)


def job_queryset_for(*, viewer) -> QuerySet[GenerationJob]:
    return _for_display(_visible_to(viewer), viewer=viewer)


def job_get_for_viewer(*, viewer, job_id) -> GenerationJob:
    """The job, or NotFound — a stranger cannot even learn that an id exists.

    Read for every WebSocket message that carries the job (the state on connect, ``done``),
    so it is kept cheap, one query for most jobs: no ordering; the queue's subqueries
    only for a queued job (``job_queue_position`` and ``job_waits_for_a_worker`` read them
    for it); the parent and the reproduced portrait only for a remix or a reproduction;
    the portraits only once it has any (a job has portraits exactly when it succeeded)."""
    try:
        job = _visible_to(viewer).select_related("model", "style", "user").get(pk=job_id)
    except (GenerationJob.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound("No such job.") from None  # a malformed UUID too
    related = [
        lookup
        for lookup, present in (
            ("parent__author", job.parent_id),
            ("reproduces__author", job.reproduces_id),
        )
        if present is not None
    ]
    if job.status == GenerationJob.Status.SUCCEEDED:
        related.append(_live_portraits(viewer))
    else:
        job.live_portraits = []
    if related:
        prefetch_related_objects([job], *related)
    return job


def job_withheld(*, job: GenerationJob, viewer) -> frozenset[str]:
    """Which of a remix job's words ``viewer`` (its owner) may not take up outside a remix of
    its parent: those it kept unchanged from a parent that is now deleted or hidden from
    them, or that the parent itself kept from such a step
    (``portraits.selectors.portrait_remix_withheld``). "Edit and resubmit" leaves them out.

    What the job kept is read from its recipe against the parent's, as a portrait's
    ``changes`` are made (``portraits.lineage.compute_changes``): a job that painted
    nothing has no portrait to say it. No query for an original; one for a parent hidden
    from ``viewer`` (its ancestors), or to decide what a visible one withholds.
    """
    recipe = job.recipe
    if job.parent_id is None and not recipe.get(PARENT_KEY):
        return frozenset()
    parent = job.parent
    if parent is None:  # its row is gone: nothing tells its words from the job's own
        kept = {name for name in WITHHOLDABLE if recipe.get(name)}
    else:
        changes = compute_changes(parent.recipe, recipe)
        kept = {
            name for name in WITHHOLDABLE if recipe.get(name) and not changes[f"{name}_changed"]
        }
    return portrait_remix_withheld(parent=parent, viewer=viewer, kept=kept)


def job_list_owned(*, user, status: str | None = None) -> QuerySet[GenerationJob]:
    qs = _for_display(GenerationJob.objects.filter(user=user), viewer=user)
    if status:
        qs = qs.filter(status=status)
    return qs


# At most this many jobs in the state ``ws/jobs/`` sends on connect: the member's active
# jobs (a handful: GENERATION_MAX_ACTIVE_JOBS) and those that ended since the page was drawn.
JOBS_CHANGED_LIMIT = 100


def job_list_changed_since(*, user, since) -> QuerySet[GenerationJob]:
    """``user``'s jobs a "My jobs" page drawn at ``since`` may show out of date: every
    queued or running one, and every one that ended since (without ``since``: the active
    ones only). Newest first, at most ``JOBS_CHANGED_LIMIT``, with their thumbnails as
    ``user`` may see them."""
    changed = Q(status__in=GenerationJob.ACTIVE_STATUSES)
    if since is not None:
        changed |= Q(finished_at__gte=since)
    return job_list_owned(user=user).filter(changed)[:JOBS_CHANGED_LIMIT]


def _queue_served() -> Exists:
    """Whether a worker that is up (announced within GENERATION_STALE_AFTER) consumes the
    queue of the job's model (a subquery of a job listing)."""
    cutoff = timezone.now() - timedelta(seconds=settings.GENERATION_STALE_AFTER)
    name = OuterRef("model__queue")
    return Exists(
        WorkerPresence.objects.filter(
            seen_at__gte=cutoff, queues__contains=Concat(Value(","), name, Value(","))
        )
    )


def workers_health() -> dict[str, int]:
    """``/healthz``'s ``workers``: how many announced themselves within
    GENERATION_STALE_AFTER (``up``), and how many of those have their models loaded
    (``ready``), in one query."""
    cutoff = timezone.now() - timedelta(seconds=settings.GENERATION_STALE_AFTER)
    return WorkerPresence.objects.filter(seen_at__gte=cutoff).aggregate(
        up=Count("pk"), ready=Count("pk", filter=Q(ready_at__isnull=False))
    )


def job_waits_for_a_worker(*, job: GenerationJob) -> bool:
    """A queued job whose model's queue no running worker consumes: it waits until an
    administrator starts one (README, "Keeping models hot")."""
    if job.status != GenerationJob.Status.QUEUED:
        return False
    served = getattr(job, "queue_served", None)  # annotated by _for_display
    if served is None:
        served = GenerationJob.objects.filter(pk=job.pk).filter(_queue_served()).exists()
    return not served


def job_queue_position(*, job: GenerationJob) -> int | None:
    """1 for the next job to run; None once the job has left the queue."""
    if job.status != GenerationJob.Status.QUEUED:
        return None
    if hasattr(job, "queue_ahead"):  # annotated by _for_display
        return job.queue_ahead + 1
    ahead = GenerationJob.objects.filter(
        status=GenerationJob.Status.QUEUED, created_at__lt=job.created_at
    ).count()
    return ahead + 1


def portrait_has_active_remix_jobs(portrait) -> bool:
    """Whether a remix job of ``portrait`` is still queued or running (it may need the
    portrait's image): registered with ``portraits.selectors.portrait_in_use_register``
    (``GenerationConfig.ready``), so deleting the portrait leaves a tombstone."""
    return GenerationJob.objects.filter(
        parent=portrait, status__in=GenerationJob.ACTIVE_STATUSES
    ).exists()


def model_list_enabled() -> QuerySet[GenerationModel]:
    return GenerationModel.objects.filter(is_enabled=True)


def model_get_default() -> GenerationModel | None:
    return model_list_enabled().order_by("-is_default", "name").first()


def style_list_enabled() -> QuerySet[StylePreset]:
    return StylePreset.objects.filter(is_enabled=True)


def modifier_list_enabled() -> QuerySet[PromptModifier]:
    """The prompt builder's chips, by category then order."""
    return PromptModifier.objects.filter(is_enabled=True)


# --- Sweeps ---------------------------------------------------------------------------------


def sweep_get_for_viewer(*, viewer, sweep_id) -> Sweep:
    """A sweep, for its member only (a board and its choices are theirs: moderators act on
    the jobs and portraits instead); NotFound for anyone else, as for no such sweep."""
    if viewer is None or not viewer.is_authenticated:
        raise NotFound("No such sweep.")
    try:
        return Sweep.objects.get(pk=sweep_id, user=viewer)
    except (Sweep.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound("No such sweep.") from None


def sweep_list_owned(*, user) -> QuerySet[Sweep]:
    """``user``'s sweeps, newest first, each with how many cells it has, painted and kept."""
    done = Q(cells__status=GenerationJob.Status.SUCCEEDED)
    return Sweep.objects.filter(user=user).annotate(
        cells_total=Count("cells"),
        cells_painted=Count("cells", filter=done),
        cells_kept=Count("cells", filter=Q(cells__sweep_choice="keep")),
    )


def sweep_cells_for_display(*, sweep: Sweep, viewer) -> list[GenerationJob]:
    """The sweep's cells in board order, with what each tile shows (their portraits as
    ``viewer`` may see them), in a fixed number of queries."""
    return list(_for_display(sweep.cells.all(), viewer=viewer).order_by("sweep_position"))


def sweep_cell_for_display(*, sweep_id, job_id, viewer) -> GenerationJob | None:
    """One cell as its tile shows it, or None when it is not a cell of ``viewer``'s sweep."""
    qs = GenerationJob.objects.filter(pk=job_id, sweep_id=sweep_id, sweep__user=viewer)
    return _for_display(qs, viewer=viewer).first()


def sweep_of_portrait(*, portrait) -> GenerationJob | None:
    """The sweep cell (its job, with its sweep and style) that painted ``portrait``, if a
    sweep did."""
    if portrait.job_id is None:
        return None
    # Read with the portrait (portraits.selectors select its job): a portrait no sweep
    # painted, nearly all of them, costs its page no query.
    if portrait.job is None or portrait.job.sweep_id is None:
        return None
    return GenerationJob.objects.select_related("sweep", "style").get(pk=portrait.job_id)


def sweep_siblings_viewable(*, sweep_id, portrait, viewer):
    """The other cells' portraits of a sweep that ``viewer`` may see, in board order."""
    return (
        portrait_queryset_viewable(viewer=viewer)
        .filter(job__sweep_id=sweep_id)
        .exclude(pk=portrait.pk)
        .select_related("job__style")
        .order_by("job__sweep_position", "index_in_job")
    )


# --- Taste ------------------------------------------------------------------------------

# How long the community's prior, and a member's fit (keyed by their newest signal, so a
# new choice is seen at once), are kept.
TASTE_CACHE_SECONDS = 600
# How many of the newest signals the community's prior reads.
COMMUNITY_SIGNALS_READ = 20_000
COMMUNITY_PRIOR_KEY = "generation:taste:community"


def style_choices() -> list[taste.Choice]:
    return [taste.Choice(s.slug, s.name) for s in style_list_enabled()]


def modifier_choices() -> list[taste.Choice]:
    return [taste.Choice(m.slug, m.name, m.text) for m in modifier_list_enabled()]


def taste_is_learning(*, user) -> bool:
    """Whether the studio learns ``user``'s taste (it does unless they switched it off)."""
    return not TasteProfile.objects.filter(user=user, learning=False).exists()


def _signal(kind, features, against) -> taste.Signal:
    return taste.Signal(kind=kind, features=tuple(features or ()), against=tuple(against or ()))


def taste_signals(*, user, limit: int = taste.SIGNALS_READ) -> list[taste.Signal]:
    """``user``'s newest signals, as the model reads them."""
    rows = TasteSignal.objects.filter(user=user).values_list("kind", "features", "against")
    return [_signal(*row) for row in rows[:limit]]


def taste_community_prior() -> dict[str, float]:
    """The community's prior (``taste.community_prior``) over the newest signals of
    members whose studio learns; cached, so a page pays for it once in a while."""

    def compute() -> dict[str, float]:
        rows = (
            TasteSignal.objects.exclude(user__taste_profile__learning=False)
            .order_by("-created_at")
            .values_list("user_id", "kind", "features", "against")[:COMMUNITY_SIGNALS_READ]
        )
        by_member: dict[int, list[taste.Signal]] = {}
        for user_id, *signal in rows:
            by_member.setdefault(user_id, []).append(_signal(*signal))
        return taste.community_prior(by_member)

    return cache.get_or_set(COMMUNITY_PRIOR_KEY, compute, TASTE_CACHE_SECONDS)


def taste_for_member(*, user) -> taste.Taste:
    """``user``'s fitted taste over the community's prior (whether or not it learns:
    what they see of it is theirs)."""
    prior = taste_community_prior()
    state = TasteSignal.objects.filter(user=user).aggregate(count=Count("id"), newest=Max("id"))
    if not state["count"]:
        return taste.Taste(prior=prior)
    key = f"generation:taste:{user.pk}:{state['count']}:{state['newest']}"
    return cache.get_or_set(
        key, lambda: taste.taste_fit(taste_signals(user=user), prior=prior), TASTE_CACHE_SECONDS
    )


def _suggestion(found: taste.Suggestion) -> dict:
    return {
        "slug": found.choice.slug,
        "name": found.choice.name,
        **({"text": found.choice.text} if found.choice.text else {}),
        "why": found.why,
        "explore": found.explore,
    }


def taste_studio(*, user, styles: list[taste.Choice] | None = None) -> dict:
    """What the studio has learned of ``user`` and suggests to them, for their eyes only:
    the style picker's order with "suggested for you" (and one slot to explore), the
    modifiers to try, the next sweep, and what it learned, each with why. Switched off:
    nothing suggested, the styles in their own order."""
    styles = style_choices() if styles is None else styles
    chips = modifier_choices()
    learning = taste_is_learning(user=user)
    fitted = taste_for_member(user=user)
    answer = {
        "learning": learning,
        "signals": fitted.signals,
        "source": "you" if fitted.signals else "community" if fitted.prior else "none",
        "style_order": [c.slug for c in styles],
        "styles": [],
        "modifiers": [],
        "next_sweep": None,
        "learned": taste.taste_learned(fitted, _feature_names(styles, chips)),
    }
    if not learning:
        return answer
    rng = random.Random(f"{user.pk}:{fitted.signals}")
    suggested = taste.taste_suggest(fitted, styles, prefix="style:", count=4, rng=rng)
    modifiers = taste.taste_suggest(fitted, chips, prefix="modifier:", count=3, explore=False)
    answer.update(
        style_order=[c.slug for c in taste.taste_order(fitted, styles, prefix="style:")],
        styles=[_suggestion(s) for s in suggested],
        modifiers=[_suggestion(s) for s in modifiers],
    )
    if len(suggested) >= 2:
        prompt = taste_idea_last(user=user)
        chosen = [s for s in suggested if not s.explore]
        answer["next_sweep"] = {
            "axis": Sweep.Axis.STYLES,
            "prompt": prompt,
            "styles": [s.choice.slug for s in suggested],
            "why": (
                "Your likeliest keeps, "
                + ", ".join(s.choice.name for s in chosen)
                + (
                    ", and one to explore, " + suggested[-1].choice.name
                    if suggested[-1].explore
                    else ""
                )
                + "."
            )
            if chosen
            else "Styles to explore: " + ", ".join(s.choice.name for s in suggested) + ".",
        }
    return answer


def _feature_names(styles, modifiers) -> dict[str, str]:
    names = {f"style:{c.slug}": c.name for c in styles}
    names.update({f"modifier:{c.slug}": c.name for c in modifiers})
    return names


def taste_idea_last(*, user) -> str:
    """The member's latest idea, for the next sweep: their latest sweep's prompt (not a
    prompt sweep's, whose braces are its axis), else their latest job's that is not a
    remix (a remix's words may be kept from a portrait since hidden from them)."""
    swept = (
        Sweep.objects.filter(user=user)
        .exclude(axis=Sweep.Axis.PROMPT)
        .values_list("prompt", flat=True)
        .first()
    )
    if swept:
        return swept
    return (
        GenerationJob.objects.filter(user=user, sweep__isnull=True, parent__isnull=True)
        .filter(**{f"frozen__{PARENT_KEY}": None})
        .order_by("-created_at")
        .values_list("prompt", flat=True)
        .first()
        or ""
    )


def taste_export(*, user) -> dict:
    """Every signal of ``user``, for them to download: what they chose, when, about what
    (a portrait's public id while they may still open it)."""
    rows = list(
        TasteSignal.objects.filter(user=user)
        .select_related("portrait")
        .order_by("created_at", "id")
    )
    visible = set(
        portrait_queryset_viewable(viewer=user)
        .filter(pk__in=[r.portrait_id for r in rows if r.portrait_id])
        .values_list("pk", flat=True)
    )
    return {
        "member": user.get_username(),
        "exported_at": timezone.now().isoformat(),
        "learning": taste_is_learning(user=user),
        "signals": [
            {
                "kind": row.kind,
                "created_at": row.created_at.isoformat(),
                "features": row.features,
                **({"against": row.against} if row.against else {}),
                "job": str(row.job_id) if row.job_id else None,
                "portrait": row.portrait.public_id if row.portrait_id in visible else None,
            }
            for row in rows
        ],
    }
