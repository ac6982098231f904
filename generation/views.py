from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import DomainError, NotFound, form_add_domain_error
from generation import inference, selectors, services
from generation.api.serializers import job_representation
from generation.forms import JobForm
from generation.models import GenerationJob


def _remix_parent(request):
    public_id = request.GET.get("remix")
    if not public_id:
        return None
    from portraits.selectors import portrait_get_viewable

    try:
        return portrait_get_viewable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None


def _initial_from(parent, withheld) -> dict:
    from portraits.services import remix_spec

    spec = remix_spec(parent, withhold=withheld)
    return {key: value for key, value in spec.items() if value not in (None, "")}


@login_required
def job_create(request):
    from portraits.selectors import portrait_title_for, portrait_withheld

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
                job = services.job_submit(user=request.user, spec=form.spec(), parent=parent)
            except DomainError as exc:
                form_add_domain_error(form, exc)
                status = exc.status  # 429 for a quota, as the API answers
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
    jobs = selectors.job_list_owned(user=request.user, status=status)
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "generation/job_list.html",
        {"page": page, "statuses": GenerationJob.Status.choices, "status": status or ""},
    )


def _render_job(request, job, status=200):
    # Built for whoever looks (the owner, or a moderator): the template shows the parent
    # from it, never from ``job.parent``, so portraits.selectors decides what it shows.
    return render(
        request,
        "generation/job_detail.html",
        {"job": job, "job_json": job_representation(job, viewer=request.user)},
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
        return _render_job(request, job, status=exc.status)
    messages.success(request, "Job cancelled.")
    return redirect("generation:job-detail", pk=pk)
