from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config import errors
from config.api.pagination import cursor_page
from config.errors import DomainError, NotFound, form_add_domain_error, http_status_for
from generation import inference, selectors, services
from generation.forms import JobForm
from generation.models import GenerationJob
from generation.presenters import job_present
from portraits import recipe
from portraits.models import Portrait
from portraits.selectors import (
    portrait_get_editable,
    portrait_get_viewable,
    portrait_title_for,
    portrait_withheld,
)

JOBS_ON_PAGE = 25


def _remix_parent(request):
    public_id = request.GET.get("remix")
    if not public_id:
        return None
    try:
        return portrait_get_viewable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None


def _initial_from(parent, withheld) -> dict:
    spec = recipe.remix_spec(parent.recipe, withhold=withheld)
    return {key: value for key, value in spec.items() if value not in (None, "")}


@login_required
def job_create(request):
    parent = _remix_parent(request)
    # Words the parent kept from a portrait this member may not see are not prefilled
    # (portraits.recipe): the form starts without them and says why.
    withheld = portrait_withheld(portrait=parent, viewer=request.user) if parent else frozenset()
    status = 200
    if request.method == "POST":
        form = JobForm(request.POST, remix=parent is not None)
        status = 400
        if form.is_valid():
            try:
                if parent is None:
                    job = services.job_submit(user=request.user, spec=form.spec())
                else:  # the form opened with the parent's recipe: what it says now is it
                    job = services.job_submit_remix(
                        user=request.user, portrait=parent, changes=form.remix_changes()
                    )
            except DomainError as exc:
                form_add_domain_error(form, exc)
                status = http_status_for(exc)  # 429 for a quota, as the API answers
            else:
                return redirect(job)
    else:
        form = JobForm(
            initial=_initial_from(parent, withheld) if parent else None, remix=parent is not None
        )
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
            "backend_missing": backend_missing,
        },
        status=status,
    )


@login_required
def job_list(request):
    # A filter value outside the enum never reaches the query: the page lists everything.
    status = request.GET.get("status") or None
    if status not in GenerationJob.Status.values:
        status = None
    jobs, next_link, previous_link = cursor_page(
        request, selectors.job_list_owned(user=request.user, status=status), page_size=JOBS_ON_PAGE
    )
    return render(
        request,
        "generation/job_list.html",
        {
            "jobs": jobs,
            "next": next_link,
            "previous": previous_link,
            "statuses": GenerationJob.Status.choices,
            "status": status or "",
        },
    )


def _render_job(request, job, status=200):
    # Built for whoever looks (the owner, or a moderator): the template shows the parent
    # from it, never from ``job.parent``, so portraits.selectors decides what it shows.
    return render(
        request,
        "generation/job_detail.html",
        {
            "job": job,
            "job_json": job_present(job, viewer=request.user),
            # Its owner chooses who sees its results; a moderator only looks.
            "can_curate": job.user_id == request.user.pk,
            "visibilities": [
                (value, label.split(" (")[0]) for value, label in Portrait.Visibility.choices
            ],
        },
        status=status,
    )


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
        details = [message for found in exc.field_errors.values() for message in found]
        messages.error(request, " ".join([exc.message, *dict.fromkeys(details)]))
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
    return redirect(job)


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
        # A refused prompt names the words (field errors); there is no form to show them on.
        details = [message for field in exc.field_errors.values() for message in field]
        messages.error(request, " ".join([exc.message, *details]))
        return redirect(portrait)
    return redirect(job)
