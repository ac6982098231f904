from __future__ import annotations

import uuid
from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from config import errors
from config.api.pagination import cursor_page
from config.errors import (
    DomainError,
    NotFound,
    domain_error_text,
    form_add_domain_error,
    http_status_for,
)
from generation import inference, selectors, services
from generation.forms import JobForm, SweepForm
from generation.models import GenerationJob
from generation.presenters import (
    job_cell_caption,
    job_compare_scale,
    job_list_row,
    job_present,
    sweep_present,
)
from generation.taste import Choice
from portraits import recipe
from portraits.models import Portrait
from portraits.selectors import (
    portrait_get_editable,
    portrait_get_remixable,
    portrait_is_remixable,
    portrait_title_for,
    portrait_withheld,
)

JOBS_ON_PAGE = 25


def _remix_parent(request):
    public_id = request.GET.get("remix")
    if not public_id:
        return None
    try:
        return portrait_get_remixable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None
    except errors.PermissionDenied as exc:  # a moderator's look at a private portrait
        raise PermissionDenied(exc.message) from None


def _initial_from(parent, withheld) -> dict:
    spec = recipe.remix_spec(parent.recipe, withhold=withheld)
    return {key: value for key, value in spec.items() if value not in (None, "")}


def _initial_from_job(request, *, remix: bool) -> tuple[dict, frozenset[str]] | None:
    """The "Edit and resubmit" of a job's page (``?from=<job id>``): the form filled in with
    the recipe one of the member's own jobs asked for, its seed and image count included
    (image-to-image's strength too, on the remix form), and the words left out of it
    (``selectors.job_withheld``: kept from a parent now gone or hidden). None without
    ``from``."""
    raw = request.GET.get("from")
    if not raw:
        return None
    try:
        job = selectors.job_list_owned(user=request.user).filter(pk=uuid.UUID(raw)).first()
    except ValueError:
        job = None
    if job is None:
        raise Http404("No such job.")
    withheld = selectors.job_withheld(job=job, viewer=request.user)
    spec = {**recipe.remix_spec(job.recipe, withhold=withheld), "num_images": job.num_images}
    if remix and job.init_strength is not None:
        spec["init_strength"] = job.init_strength
    return {key: value for key, value in spec.items() if value not in (None, "")}, withheld


def _job_submit_from(form, *, user, parent):
    """Submit the create or remix form's job; None when the form has errors, which then
    holds all of them: its own type errors ("Enter a whole number.") and, in the same
    answer, the service's errors on every other field (steps 500 and CFG 99 reported
    together with a seed that is not a number, not once it is fixed)."""
    if form.is_valid():
        if parent is None:
            return services.job_submit(user=user, spec=form.spec())
        # The form opened with the parent's recipe: what it says now is it.
        return services.job_submit_remix(user=user, portrait=parent, changes=form.remix_changes())
    if parent is None:
        found = services.job_spec_errors(form.spec(), checked=form.errors)
    else:
        found = services.job_remix_errors(
            user=user, portrait=parent, changes=form.remix_changes(), checked=form.errors
        )
    for field, refusals in found.items():
        for refusal in refusals:
            form.add_error(field if field in form.fields else None, refusal)
    return None


@login_required
def job_create(request):
    parent = _remix_parent(request)
    # Words the parent kept from a portrait this member may not see are not prefilled
    # (portraits.recipe): the form starts without them and says why.
    withheld = portrait_withheld(portrait=parent, viewer=request.user) if parent else frozenset()
    status, from_job = 200, False
    if request.method == "POST":
        form = JobForm(request.POST, remix=parent is not None)
        status = 400
        try:
            job = _job_submit_from(form, user=request.user, parent=parent)
        except DomainError as exc:
            form_add_domain_error(form, exc)
            status = http_status_for(exc)  # 429 for a quota, as the API answers
        else:
            if job is not None:
                return redirect(job)
    else:
        initial = None
        job_initial = _initial_from_job(request, remix=parent is not None)
        if job_initial is not None:
            # What the job kept from its parent, not what the parent keeps: the job's own
            # words are the member's, whatever became of the parent.
            (initial, withheld), from_job = job_initial, True
        elif parent is not None:
            initial = _initial_from(parent, withheld)
        form = JobForm(initial=initial, remix=parent is not None)
    if parent is None:  # a remix starts from its parent's style instead
        _taste_show(form, request.user)
    backend_missing = (
        inference.backend_missing_reason()
        if settings.CELERY_INPROCESS_WORKER and not inference.backend_available()
        else ""
    )
    return render(
        request,
        "generation/job_form.html",
        {
            "form": form,
            "parent": parent,
            "parent_title": (
                portrait_title_for(portrait=parent, viewer=request.user) if parent else ""
            ),
            "withheld": sorted(withheld),
            "from_job": from_job,
            "backend_missing": backend_missing,
        },
        status=status,
    )


def _taste_show(form: JobForm, user) -> dict:
    """The studio's suggestions on a form about to be shown (the picker's order, why), read
    with the form's own styles; a submission that succeeds never reads them."""
    styles = [Choice(style.slug, style.name) for style in form.styles]
    taste = selectors.taste_studio(user=user, styles=styles)
    form.taste_show(taste)
    return taste


@login_required
def job_list(request):
    # A filter value outside the enum never reaches the query: the page lists everything.
    status = request.GET.get("status") or None
    if status not in GenerationJob.Status.values:
        status = None
    # Drawn now: the page's socket (ws/jobs/) asks for what changed since, so a job that
    # ends between this read and its connection is not left showing "running".
    drawn_at = timezone.now()
    jobs, next_link, previous_link = cursor_page(
        request, selectors.job_list_owned(user=request.user, status=status), page_size=JOBS_ON_PAGE
    )
    return render(
        request,
        "generation/job_list.html",
        {
            "jobs": [(job, job_list_row(job, viewer=request.user)) for job in jobs],
            "drawn_at": drawn_at.isoformat(),
            "next": next_link,
            "previous": previous_link,
            "statuses": GenerationJob.Status.choices,
            "status": status or "",
        },
    )


def _render_job(request, job, status=200):
    # Built for whoever looks (the owner, or a moderator): the template shows the parent
    # from it, never from ``job.parent``, so portraits.selectors decides what it shows.
    job_json = job_present(job, viewer=request.user)
    return render(
        request,
        "generation/job_detail.html",
        {
            "job": job,
            "job_json": job_json,
            # Its owner chooses who sees its results and paints again; a moderator only looks.
            "can_curate": job.user_id == request.user.pk,
            "visibilities": [
                (value, label.split(" (")[0]) for value, label in Portrait.Visibility.choices
            ],
            "edit_url": _edit_url(job, job_json),
            # A moderator looks at anything, but remixes only what is shared with members.
            "remixable": _remixable_ids(job, viewer=request.user),
            "compare_scale": job_compare_scale(job_json["portraits"]),
        },
        status=status,
    )


def _remixable_ids(job, *, viewer) -> set[str]:
    found = getattr(job, "live_portraits", [])  # prefetched by the selectors
    return {
        portrait.public_id
        for portrait in found
        if portrait_is_remixable(portrait=portrait, viewer=viewer)
    }


def _edit_url(job, job_json) -> str:
    """The "Edit and resubmit" link: the create form, prefilled from the job (``?from=``), as a
    remix of the same parent while the member may still open it."""
    query = {"from": str(job.pk)}
    parent = job_json["parent"]
    if parent and parent["available"]:
        query["remix"] = parent["id"]
    return f"{reverse('generation:job-create')}?{urlencode(query)}"


@login_required
def job_detail(request, pk):
    try:
        job = selectors.job_get_for_viewer(viewer=request.user, job_id=pk)
    except NotFound:
        raise Http404("No such job.") from None
    return _render_job(request, job)


@login_required
@require_POST
def job_cancel(request, pk):
    """Without JavaScript; the job page's script uses the API's cancel action instead."""
    try:
        job = selectors.job_get_for_viewer(viewer=request.user, job_id=pk)
        services.job_cancel(job=job, by=request.user)
    except NotFound:
        raise Http404("No such job.") from None
    except DomainError as exc:
        # Refused (the job finished meanwhile): say so, on the job as it now stands.
        messages.error(request, exc.message)
        job = selectors.job_get_for_viewer(viewer=request.user, job_id=pk)
        return _render_job(request, job, status=http_status_for(exc))
    messages.success(request, "Job cancelled.")
    return redirect("generation:job-detail", pk=pk)


@login_required
@require_POST
def job_publish(request, pk):
    """The job page's curation form, in one request: ``visibility-<portrait id>`` for
    each portrait, or ``all`` (its "Publish all" / "Keep all private" buttons) for every
    one listed. A refusal changes nothing and is said on the page."""
    try:
        job = selectors.job_get_for_viewer(viewer=request.user, job_id=pk)
    except NotFound:
        raise Http404("No such job.") from None
    prefix = "visibility-"
    choices = {
        key.removeprefix(prefix): value
        for key, value in request.POST.items()
        if key.startswith(prefix)
    }
    everything = request.POST.get("all")
    if everything:
        choices = dict.fromkeys(choices, everything)
    try:
        portraits = services.job_portraits_visibility_set(job=job, by=request.user, choices=choices)
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
        job = selectors.job_get_for_viewer(viewer=request.user, job_id=pk)
        return _render_job(request, job, status=http_status_for(exc))
    counts = Counter(str(portrait.visibility) for portrait in portraits)
    messages.success(
        request,
        "Saved: "
        + ", ".join(
            f"{counts[value]} {value}" for value in Portrait.Visibility.values if counts[value]
        )
        + ".",
    )
    return redirect(_safe_next(request) or job)


def _safe_next(request) -> str:
    """A form's ``next`` (the sweep board publishes a cell and comes back), if it is ours."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return ""


@login_required
@require_POST
def job_create_reproduction(request, public_id):
    """The Reproduce button on a portrait's page: a job submission, so generation's."""
    try:
        portrait = portrait_get_editable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None
    except errors.PermissionDenied as exc:  # seen, but not theirs
        raise PermissionDenied(exc.message) from None
    try:
        job = services.job_submit_reproduction(user=request.user, portrait=portrait)
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
        return redirect(portrait)
    return redirect(job)


@login_required
@require_POST
def job_submit_again(request, pk):
    """The "Paint again" of a cancelled or failed job: its recipe, submitted as it was."""
    try:
        job = selectors.job_get_for_viewer(viewer=request.user, job_id=pk)
    except NotFound:
        raise Http404("No such job.") from None
    try:
        again = services.job_submit_again(user=request.user, job=job)
    except DomainError as exc:
        # Nothing was submitted (a quota, a parent or an original gone): say why on the
        # job's page, which is there whatever the service could not find.
        messages.error(request, domain_error_text(exc))
        return redirect("generation:job-detail", pk=pk)
    return redirect(again)


@login_required
@require_POST
def portrait_vary(request, public_id):
    """The "Vary" of a job's picture: a remix of it with a new random seed and nothing else
    changed, submitted at once (the remix form is its "Remix" button)."""
    try:
        portrait = portrait_get_remixable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None
    except errors.PermissionDenied as exc:  # a moderator's look at a private portrait
        raise PermissionDenied(exc.message) from None
    try:
        job = services.job_submit_remix(
            user=request.user, portrait=portrait, changes={"seed": None, "num_images": 1}
        )
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = portrait.get_absolute_url()
        return redirect(back)
    return redirect(job)


# --- Sweeps ------------------------------------------------------------------------------------

# What the sweep page takes from its query string: the create form's fields, sent by its
# "Try in several styles" button, or a portrait's recipe (``?portrait=<id>``).
SWEEP_PREFILL = (
    "prompt",
    "style",
    "negative_prompt",
    "model",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "scheduler",
    "axis",
)


def _sweep_initial(request) -> dict:
    # The create form's buttons post its fields here (a POST keeps its CSRF token out of
    # the address bar); a link passes them, or a portrait, in the query string.
    source = request.POST if request.method == "POST" else request.GET
    public_id = request.GET.get("portrait")
    if public_id:
        try:
            portrait = portrait_get_remixable(viewer=request.user, public_id=public_id)
        except (NotFound, errors.PermissionDenied):
            raise Http404("No such portrait.") from None
        withheld = portrait_withheld(portrait=portrait, viewer=request.user)
        initial = _initial_from(portrait, withheld)
        initial.pop("num_images", None)
    else:
        initial = {name: source[name] for name in SWEEP_PREFILL if source.get(name)}
        if source.getlist("styles"):  # the studio's suggested sweep
            initial["styles"] = source.getlist("styles")
    axes = {choice for choice, _ in SweepForm.base_fields["axis"].choices}
    initial.pop("axis", None)
    if source.get("axis") in axes:
        initial["axis"] = source["axis"]
    return initial


@login_required
def sweep_create(request):
    """One idea along one axis. Without JavaScript: every field is a plain form field.
    ``?prefill=1``: the create form's "Try in several styles" and "Vary", opening this form
    with its recipe, nothing submitted yet."""
    status = 200
    if request.method == "POST" and not request.GET.get("prefill"):
        form = SweepForm(request.POST)
        status = 400
        if form.is_valid():
            try:
                sweep = services.sweep_submit(
                    user=request.user,
                    spec=form.spec(),
                    axis=form.cleaned_data["axis"],
                    values=form.axis_values(),
                )
            except DomainError as exc:
                for field, refusals in exc.field_errors.items():
                    for refusal in refusals:
                        form.add_error(form.error_field(field), refusal)
                if not exc.field_errors:
                    form.add_error(None, exc.message)
                status = http_status_for(exc)
            else:
                return redirect(sweep)
    else:
        form = SweepForm(initial=_sweep_initial(request))
    taste = _taste_show(form, request.user)
    return render(
        request,
        "generation/sweep_form.html",
        {
            "form": form,
            "max_cells": settings.GENERATION_SWEEP_MAX_CELLS,
            "next_sweep": taste["next_sweep"],
        },
        status=status,
    )


@login_required
def sweep_list(request):
    sweeps, next_link, previous_link = cursor_page(
        request, selectors.sweep_list_owned(user=request.user), page_size=JOBS_ON_PAGE
    )
    return render(
        request,
        "generation/sweep_list.html",
        {"sweeps": sweeps, "next": next_link, "previous": previous_link},
    )


def _sweep_or_404(request, pk):
    try:
        return selectors.sweep_get_for_viewer(viewer=request.user, sweep_id=pk)
    except NotFound:
        raise Http404("No such sweep.") from None


def _render_sweep(request, sweep, status=200):
    cells = selectors.sweep_cells_for_display(sweep=sweep, viewer=request.user)
    board = sweep_present(sweep, cells=cells, viewer=request.user)
    by_position = {cell["position"]: cell for cell in board["cells"]}
    compared = [by_position.get(place) for place in board["compare"] or ()]
    compared = compared if len(compared) == 2 and all(compared) else None
    return render(
        request,
        "generation/sweep_detail.html",
        {
            "sweep": sweep,
            "board": board,
            "compared": compared,
            # The pick's two buttons: each side preferred to the other (without script,
            # the script keeps them following the comparison).
            "compared_pairs": [compared, compared[::-1]] if compared else [({}, {}), ({}, {})],
            "choices": TRIAGE_BUTTONS,
        },
        status=status,
    )


# The board's triage buttons: the choice, what the button says, its keyboard shortcut.
TRIAGE_BUTTONS = [("keep", "Keep", "K"), ("discard", "Discard", "D"), ("skip", "Skip", "S")]


@login_required
def sweep_detail(request, pk):
    return _render_sweep(request, _sweep_or_404(request, pk))


def _sweep_action(request, pk, act, done: str):
    """A board form's POST (without script; the board's script calls the API instead):
    run ``act(sweep)``, then back to the board, at the cell it concerned; a refusal is
    said on the board as it stands."""
    sweep = _sweep_or_404(request, pk)
    try:
        act(sweep)
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
        return _render_sweep(request, sweep, status=http_status_for(exc))
    if done:
        messages.success(request, done)
    anchor = request.POST.get("cell", "")
    return redirect(f"{sweep.get_absolute_url()}#cell-{anchor}" if anchor.isdigit() else sweep)


@login_required
@require_POST
def sweep_triage(request, pk):
    return _sweep_action(
        request,
        pk,
        lambda sweep: services.sweep_triage(
            sweep=sweep,
            position=request.POST.get("cell"),
            choice=request.POST.get("choice", ""),
            by=request.user,
        ),
        "",
    )


@login_required
@require_POST
def sweep_compare(request, pk):
    positions = [value for value in request.POST.getlist("cells") if value != ""]
    return _sweep_action(
        request,
        pk,
        lambda sweep: services.sweep_compare(sweep=sweep, positions=positions, by=request.user),
        "",
    )


@login_required
@require_POST
def sweep_cancel(request, pk):
    position = request.POST.get("cell") or None
    return _sweep_action(
        request,
        pk,
        lambda sweep: services.sweep_cancel(sweep=sweep, by=request.user, position=position),
        "Cell cancelled."
        if position is not None
        else "Sweep cancelled: the cells already painted keep their pictures.",
    )


@login_required
@require_POST
def sweep_pick(request, pk):
    def pick(sweep):
        chosen, over = services.sweep_pick(
            sweep=sweep,
            chosen=request.POST.get("chosen"),
            over=request.POST.get("over"),
            by=request.user,
        )
        messages.success(
            request, f"You preferred {job_cell_caption(chosen)} to {job_cell_caption(over)}."
        )

    return _sweep_action(request, pk, pick, "")


# --- Taste ------------------------------------------------------------------------------


@login_required
def taste_detail(request):
    """What the studio learned of this member's taste and what it suggests, with why;
    switch it off, reset it, download the signals."""
    return render(
        request, "generation/taste.html", {"taste": selectors.taste_studio(user=request.user)}
    )


@login_required
@require_POST
def taste_learning(request):
    learning = request.POST.get("learning") == "on"
    services.taste_learning_set(user=request.user, learning=learning)
    messages.success(
        request,
        "The studio learns from your choices again."
        if learning
        else "The studio no longer learns from your choices. What it learned stays until you reset it.",
    )
    return redirect("generation:taste")


@login_required
@require_POST
def taste_reset(request):
    deleted = services.taste_reset(user=request.user)
    messages.success(request, f"Forgotten: {deleted} choice{'s' if deleted != 1 else ''}.")
    return redirect("generation:taste")


@login_required
def taste_export(request):
    """Every signal of this member, as a JSON file (the API's ``/api/v1/taste/export/``)."""
    response = JsonResponse(
        selectors.taste_export(user=request.user), json_dumps_params={"indent": 2}
    )
    name = f"likeness-taste-{request.user.get_username()}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
