from __future__ import annotations

import json
from math import ceil

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from config import errors
from config.api.pagination import cursor_page
from config.errors import DomainError, NotFound, domain_error_text, form_add_domain_error
from config.pagecache import cache_public
from portraits import community, credentials, media, selectors, services
from portraits.forms import CredentialsVerifyForm, PortraitEditForm
from portraits.models import Portrait
from portraits.presenters import portrait_image_display, portrait_reproduction
from portraits.recipe import recipe_display

REMIXES_ON_PAGE = 12
PAGE_SIZE = 24


def _viewable(request, public_id: str) -> Portrait:
    try:
        return selectors.portrait_get_viewable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None


def _editable(request, public_id: str) -> Portrait:
    try:
        return selectors.portrait_get_editable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None
    except errors.PermissionDenied as exc:  # seen, but not theirs
        raise PermissionDenied(exc.message) from None


def _private_unless_public(response, portrait: Portrait):
    # A mature portrait's page is for those who opted in: never from a shared cache.
    if (
        portrait.visibility != Portrait.Visibility.PUBLIC
        or portrait.rating != Portrait.Rating.GENERAL
    ):
        patch_cache_control(response, private=True)
    return response


def _rated_out(request):
    """The page of a mature portrait for someone who has not opted in: it says so, with
    the way in (sign in, or turn mature content on), and nothing of the portrait — no
    picture, no title, no link preview. 403: it exists, but not for them as they are."""
    settings_url = f"{reverse('accounts:content')}?{urlencode({'next': request.path})}"
    context = {
        "settings_url": settings_url,
        # Signed in, on to the setting, then back here.
        "login_url": f"{reverse('account_login')}?{urlencode({'next': settings_url})}",
    }
    response = render(request, "portraits/rated_out.html", context, status=403)
    patch_cache_control(response, private=True)
    return response


@require_GET
def portrait_detail(request, public_id):
    try:
        portrait = selectors.portrait_get_viewable(viewer=request.user, public_id=public_id)
    except NotFound:
        if selectors.portrait_get_rated_out(viewer=request.user, public_id=public_id) is None:
            raise Http404("No such portrait.") from None
        return _rated_out(request)
    chain = selectors.portrait_chain(portrait=portrait)
    remixes = list(
        selectors.portrait_remixes(portrait=portrait, viewer=request.user)[: REMIXES_ON_PAGE + 1]
    )
    selectors.portraits_withheld(portraits=remixes, viewer=request.user)  # their titles
    recipe = selectors.portrait_recipe_for(portrait=portrait, viewer=request.user, chain=chain)
    remix_url = f"{reverse('generation:job-create')}?remix={portrait.public_id}"
    context = {
        "portrait": portrait,
        "title": selectors.portrait_title_for(portrait=portrait, viewer=request.user, chain=chain),
        "recipe_view": recipe_display(recipe),
        "image": portrait_image_display(portrait),
        "reproduction": portrait_reproduction(portrait, viewer=request.user),
        "steps": selectors.portrait_lineage(portrait=portrait, viewer=request.user, chain=chain),
        "credits": selectors.portrait_credits(portrait=portrait, chain=chain),
        "remixes": remixes[:REMIXES_ON_PAGE],
        "more_remixes": len(remixes) > REMIXES_ON_PAGE,
        "can_edit": selectors.portrait_can_edit(portrait=portrait, viewer=request.user),
        "remix_url": remix_url,
        # A moderator opens any portrait to review it, but remixes only shared ones.
        "can_remix": selectors.portrait_is_remixable(portrait=portrait, viewer=request.user),
        # A visitor signs in, then lands on the remix form itself.
        "remix_login_url": f"{reverse('account_login')}?{urlencode({'next': remix_url})}",
        "tags": list(portrait.tags.all()),
        "family_size": selectors.portrait_family_size(portrait=portrait),
        "origin": selectors.portrait_origin(portrait=portrait, viewer=request.user),
    }
    return _private_unless_public(render(request, "portraits/detail.html", context), portrait)


def _tree_outline(family) -> list[dict]:
    """The tree's members in reading order (each followed by its subtree), with what a
    template needs to draw them as nested lists without recursion (a tree may be a chain
    a thousand deep): whether a member opens a list of children, and if not, how many
    enclosing lists end after it."""
    order = []
    stack = [family.root]
    while stack:
        member = stack.pop()
        order.append(member)
        stack.extend(reversed(member.children))
    outline = []
    for position, member in enumerate(order):
        following = order[position + 1].step.depth if position + 1 < len(order) else 0
        outline.append(
            {
                "member": member,
                "has_children": bool(member.children),
                "closes": range(max(0, member.step.depth - following)),
            }
        )
    return outline


@cache_public
@require_GET
def portrait_tree(request, public_id):
    portrait = _viewable(request, public_id)
    family = selectors.portrait_family(portrait=portrait, viewer=request.user)
    current = family.members[family.current_key] if family.current_key is not None else None
    context = {
        "portrait": portrait,
        "title": current.step.title
        if current is not None
        else selectors.portrait_title_for(portrait=portrait, viewer=request.user),
        "family": family,
        "outline": _tree_outline(family),
    }
    return _private_unless_public(render(request, "portraits/tree.html", context), portrait)


_VISIBILITY_SAID = {
    Portrait.Visibility.PUBLIC: "Published: it is in the gallery now.",
    Portrait.Visibility.UNLISTED: "Unlisted: anyone with the link can see it, no list shows it.",
    Portrait.Visibility.PRIVATE: "Made private: only you can see it now.",
}


@login_required
@require_POST
def portrait_visibility(request, public_id):
    """The portrait page's Publish / Make private buttons (``visibility`` in the form)."""
    portrait = _editable(request, public_id)
    visibility = request.POST.get("visibility", "")
    try:
        services.portrait_update(
            portrait=portrait, by=request.user, data={"visibility": visibility}
        )
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
    else:
        messages.success(request, _VISIBILITY_SAID[visibility])
    return redirect(portrait)


@require_GET
def portrait_image(request, public_id):
    return media.file_response(_viewable(request, public_id), media.ORIGINAL)


@require_GET
def portrait_thumbnail(request, public_id):
    return media.file_response(_viewable(request, public_id), media.THUMBNAIL)


@require_GET
def portrait_download(request, public_id):
    portrait = _viewable(request, public_id)
    title = selectors.portrait_title_for(portrait=portrait, viewer=request.user)
    return media.file_response(portrait, media.ORIGINAL, attachment=True, title=title)


@require_GET
def portrait_remixes(request, public_id):
    portrait = _viewable(request, public_id)
    items, next_link, previous_link = cursor_page(
        request,
        selectors.portrait_remixes(portrait=portrait, viewer=request.user),
        page_size=PAGE_SIZE,
    )
    selectors.portraits_withheld(portraits=[portrait, *items], viewer=request.user)
    context = {
        "portrait": portrait,
        "title": selectors.portrait_title_for(portrait=portrait, viewer=request.user),
        "remixes": items,
        "next": next_link,
        "previous": previous_link,
    }
    return _private_unless_public(render(request, "portraits/remixes.html", context), portrait)


@require_GET
def portrait_credentials(request, public_id):
    portrait = _viewable(request, public_id)
    try:
        report = selectors.portrait_credentials(portrait=portrait, viewer=request.user)
    except NotFound:
        raise Http404("No such portrait.") from None
    context = {
        "portrait": portrait,
        "title": selectors.portrait_title_for(portrait=portrait, viewer=request.user),
        "report": report,
        "manifest_json": json.dumps(report.get("active_manifest"), indent=2, ensure_ascii=False),
    }
    return _private_unless_public(render(request, "portraits/credentials.html", context), portrait)


@login_required
@require_http_methods(["GET", "POST"])
def portrait_edit(request, public_id):
    portrait = _editable(request, public_id)
    if request.method == "POST":
        form = PortraitEditForm(request.POST, rating_locked=portrait.rating_locked)
        if form.is_valid():
            was_held = portrait.held_for_review
            try:
                services.portrait_update(portrait=portrait, by=request.user, data=form.cleaned_data)
            except DomainError as exc:
                form_add_domain_error(form, exc)
            else:
                if portrait.held_for_review and not was_held:  # the prompt gate's review
                    messages.warning(
                        request,
                        "Saved. Some of the new words need a moderator's review: the "
                        "portrait stays private until they have cleared it.",
                    )
                else:
                    messages.success(request, "Saved.")
                return redirect(portrait)
    else:
        form = PortraitEditForm(
            initial={
                "title": portrait.title,
                "description": portrait.description,
                "visibility": portrait.visibility,
                "rating": portrait.rating,
                "tags": ", ".join(portrait.tags.values_list("slug", flat=True)),
            },
            rating_locked=portrait.rating_locked,
        )
    response = render(
        request,
        "portraits/edit.html",
        {
            "portrait": portrait,
            "form": form,
            "suggested_tags": community.tags_suggested(style=portrait.style),
        },
        status=400 if form.errors else 200,
    )
    return _private_unless_public(response, portrait)


@login_required
@require_http_methods(["GET", "POST"])
def portrait_delete(request, public_id):
    portrait = _editable(request, public_id)
    if request.method == "POST":
        tombstone = services.portrait_delete(portrait=portrait, by=request.user)
        messages.success(
            request,
            "Deleted. Remixes built on it keep crediting you, without its picture or prompt."
            if tombstone
            else "Deleted.",
        )
        return redirect("portraits:mine")
    has_remixes = selectors.portrait_has_descendants(portrait=portrait)
    return render(
        request, "portraits/delete.html", {"portrait": portrait, "has_remixes": has_remixes}
    )


@login_required
@require_GET
def my_portraits(request):
    visibility = request.GET.get("visibility") or None
    if visibility not in (None, *Portrait.Visibility.values):
        visibility = None
    items, next_link, previous_link = cursor_page(
        request,
        selectors.portrait_list_owned(user=request.user, visibility=visibility),
        page_size=PAGE_SIZE,
    )
    context = {
        "portraits": items,
        "next": next_link,
        "previous": previous_link,
        "visibility": visibility or "",
        "visibilities": Portrait.Visibility.choices,
    }
    response = render(request, "portraits/mine.html", context)
    patch_cache_control(response, private=True)
    return response


class _VerifyThrottleScope:
    throttle_scope = "verify"  # what DRF's scoped throttles read from a view


def _verify_wait(request) -> float | None:
    """Seconds to wait if ``request`` is over the `verify` rate, else None (and counted).

    The API's own throttles (``ScopedRateThrottle`` and its kind, from the API's
    settings) and its buckets: the page and the API share one budget per member or address.
    """
    api_request = Request(request)
    api_request.user = request.user
    waits = []
    for throttle_class in api_settings.DEFAULT_THROTTLE_CLASSES:
        if issubclass(throttle_class, ScopedRateThrottle):
            throttle = throttle_class()
            if not throttle.allow_request(api_request, _VerifyThrottleScope()):
                waits.append(throttle.wait() or 0)
    return max(waits) if waits else None


@require_http_methods(["GET", "POST"])
def credentials_verify(request):
    report = None
    status = 200
    if request.method == "POST":
        form = CredentialsVerifyForm(request.POST, request.FILES)
        wait = _verify_wait(request)
        if wait is not None:
            form.add_error(
                None, f"Too many verifications; try again in {max(1, ceil(wait / 60))} min."
            )
            status = 429
        elif form.is_valid():
            # A body over UPLOAD_MAX_BYTES was refused (413) before this view (config.middleware).
            report = credentials.file_report(form.cleaned_data["file"].read())
    else:
        form = CredentialsVerifyForm()
    context = {
        "form": form,
        "report": report,
        "manifest_json": json.dumps(report.get("active_manifest"), indent=2, ensure_ascii=False)
        if report
        else "",
    }
    if form.errors and status == 200:
        status = 400
    return render(request, "portraits/verify.html", context, status=status)
