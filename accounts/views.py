"""Account pages: public profiles and avatars, and the settings a member edits.

Sign-up, log-in, log-out, password and e-mail pages are allauth's, under /accounts/.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from accounts.forms import ApiTokenForm, MatureContentForm, ProfileForm
from accounts.selectors import api_token_get, api_token_list, user_get_public
from accounts.services import (
    api_token_create,
    api_token_revoke,
    user_mature_set,
    user_profile_update,
)
from accounts.uploads import avatar_upload_limit
from config.errors import DomainError, NotFound, form_add_domain_error


def _member_or_404(username: str):
    try:
        return user_get_public(username=username)
    except NotFound:
        raise Http404("No such member.") from None


@require_GET
def avatar(request, username: str):
    """Stream a member's avatar from storage: public profile data, no media folder exposed.

    The file is always our own re-encoded WebP (see ``services.avatar_render``).
    """
    member = _member_or_404(username)
    if not member.avatar:
        raise Http404("No avatar.")
    etag = f'"{member.avatar_version}"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return not_modified
    try:
        file = default_storage.open(member.avatar.name, "rb")
    except FileNotFoundError:
        raise Http404("No avatar.") from None
    response = FileResponse(file, content_type="image/webp")
    response["ETag"] = etag
    if request.GET.get("v") == member.avatar_version:
        # A versioned URL never changes content: a new upload gets a new version.
        patch_cache_control(response, public=True, max_age=365 * 24 * 3600, immutable=True)
    else:
        patch_cache_control(response, public=True, max_age=300)
    return response


@csrf_exempt  # only until the upload limit is in place: _settings_profile checks the token
@login_required
@require_http_methods(["GET", "POST"])
def settings_profile(request):
    # The CSRF check reads the POST body, so the avatar's upload limit must be installed
    # before it runs (Django's documented pattern for custom upload handlers).
    avatar_upload_limit(request)
    return _settings_profile(request)


@csrf_protect
def _settings_profile(request):
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                user_profile_update(user=user, request=request, **form.profile_changes())
            except DomainError as exc:
                form_add_domain_error(form, exc)
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("accounts:settings")
    else:
        form = ProfileForm(initial={"display_name": user.display_name, "bio": user.bio})
    return render(request, "accounts/settings_profile.html", {"form": form})


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@login_required
@require_http_methods(["GET", "POST"])
def settings_content(request):
    """Whether the member sees portraits rated mature: on only with "I am 18 or older"
    ticked; off again at any time. ``next``: where to go back to once it is on (the
    page of the mature portrait that sent them here)."""
    user = request.user
    if request.method == "POST":
        form = MatureContentForm(request.POST)
        if form.is_valid():
            try:
                user_mature_set(
                    user=user,
                    shows_mature=form.cleaned_data["shows_mature"],
                    age_confirmed=form.cleaned_data["age_confirmed"],
                )
            except DomainError as exc:
                form_add_domain_error(form, exc)
            else:
                if user.shows_mature:
                    messages.success(
                        request, "Mature content is on: portraits rated mature are shown to you."
                    )
                    return redirect(_safe_next(request) or "accounts:content")
                messages.success(
                    request, "Mature content is off: portraits rated mature are not shown to you."
                )
                return redirect("accounts:content")
    else:
        form = MatureContentForm(initial={"shows_mature": user.shows_mature})
    context = {"form": form, "next": _safe_next(request)}
    response = render(
        request, "accounts/settings_content.html", context, status=400 if form.errors else 200
    )
    patch_cache_control(response, private=True)
    return response


@never_cache  # the page may show a new key: never stored by a browser or proxy
@login_required
@require_http_methods(["GET", "POST"])
def settings_tokens(request):
    new_token = new_key = None
    form = ApiTokenForm()
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                new_token, new_key = api_token_create(
                    user=request.user, name=form.cleaned_data["name"]
                )
            except DomainError as exc:
                form_add_domain_error(form, exc)
            else:
                form = ApiTokenForm()
    context = {
        "form": form,
        "tokens": api_token_list(user=request.user),
        "new_token": new_token,
        "new_key": new_key,
    }
    # Rendered in the POST response rather than after a redirect, so the key is
    # never stored anywhere (not even in the session) on its way to the screen.
    return render(request, "accounts/settings_tokens.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def settings_token_revoke(request, pk: int):
    """GET asks "revoke this token?" (the tokens page links here; its script may ask in a
    dialog instead); the POST that page's button sends revokes it."""
    try:
        if request.method == "GET":
            token = api_token_get(user=request.user, token_id=pk)
            return render(request, "accounts/settings_token_revoke.html", {"token": token})
        token = api_token_revoke(user=request.user, token_id=pk)
    except NotFound:
        raise Http404("No such API token.") from None
    messages.success(request, f"The token “{token.name}” is revoked; it no longer works.")
    return redirect("accounts:tokens")
