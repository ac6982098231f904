"""The members' side of moderation: the rules, reporting, appeals, the suspended
member's page and the public transparency log.

Thin: ``moderation.reports`` and ``moderation.services`` decide and write,
``moderation.selectors`` and ``moderation.transparency`` read. What a member may not see
is a 404 here as everywhere (``portraits.selectors``, ``accounts.selectors``).

The suspended member's page is reached without signing in (a suspended member cannot
sign in): its address carries a signed token (:func:`suspension_page_url`) naming the
member and the suspension it was made for, valid for a day; the sign-in refusal sends
them there with a fresh one.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from accounts.selectors import user_get_public
from config.api.pagination import cursor_page
from config.errors import DomainError, NotFound, form_add_domain_error, http_status_for
from config.pagecache import cache_public
from moderation import selectors, services
from moderation.forms import AppealForm, LogFilterForm, ReportForm
from moderation.models import ModerationAction
from moderation.presenters import decision_present
from moderation.reports import report_get_own, report_submit, rules_active
from moderation.transparency import log_entries_filtered, log_entries_present
from portraits.selectors import portrait_get_viewable, portrait_is_viewable, portrait_title_for

LOG_PAGE_SIZE = 50
APPEALS_PAGE_SIZE = 30

SUSPENDED_PAGE_SALT = "moderation.suspended-page"
# How long a suspended page's link works: signing in again (refused) gives a fresh one.
SUSPENDED_PAGE_MAX_AGE = 24 * 3600


# --- Rules -----------------------------------------------------------------------------


@require_GET
def rules(request):
    """The site's rules in force, in their order; each has an anchor (``#rule-<id>``)."""
    return render(request, "moderation/rules.html", {"rules": rules_active()})


# --- Reports ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def report_portrait(request, public_id: str):
    """Report a portrait one can see (anything else is a 404, as on its own page)."""
    try:
        portrait = portrait_get_viewable(viewer=request.user, public_id=public_id)
    except NotFound:
        raise Http404("No such portrait.") from None
    target = {
        "type": "portrait",
        "label": portrait_title_for(portrait=portrait, viewer=request.user),
        "url": reverse("portraits:detail", kwargs={"public_id": portrait.public_id}),
        "portrait": portrait,
    }
    return _report_page(request, target, portrait=portrait)


@login_required
@require_http_methods(["GET", "POST"])
def report_member(request, username: str):
    """Report a member (an inactive one is a 404, as their profile is)."""
    try:
        member = user_get_public(username=username)
    except NotFound:
        raise Http404("No such member.") from None
    target = {
        "type": "member",
        "label": member.public_name,
        "url": member.get_absolute_url(),
        "member": member,
    }
    return _report_page(request, target, user=member)


def _report_page(request, target: dict, **about):
    status = 200
    if request.method == "POST":
        form = ReportForm(request.POST)
        if form.is_valid():
            try:
                report = report_submit(reporter=request.user, **about, **form.cleaned_data)
            except NotFound:
                raise Http404("Not found.") from None
            except DomainError as error:
                form_add_domain_error(form, error)
                status = http_status_for(error)
            else:
                if report.collapsed:
                    messages.success(request, "Your report is updated.")
                return redirect("moderation:report-detail", pk=report.pk)
        else:
            status = 400
    else:
        form = ReportForm()
    # One's own portrait, or oneself: the page says so instead of offering a form.
    own = (
        about["portrait"].author_id == request.user.pk
        if "portrait" in about
        else about["user"].pk == request.user.pk
    )
    context = {
        "form": form,
        "target": target,
        "own": own,
        "rules_exist": form.fields["rule"].queryset.exists(),
    }
    return render(request, "moderation/report.html", context, status=400 if own else status)


@login_required
@require_GET
def report_detail(request, pk: int):
    """The reporter's own report: received, and later its outcome (nobody else's: 404)."""
    try:
        report = report_get_own(reporter=request.user, report_id=pk)
    except NotFound:
        raise Http404("No such report.") from None
    target = None
    if report.target_portrait_id:
        portrait = report.target_portrait
        if portrait_is_viewable(portrait=portrait, viewer=request.user):
            target = {
                "label": portrait_title_for(portrait=portrait, viewer=request.user),
                "url": portrait.get_absolute_url(),
            }
        else:
            target = {"label": "a portrait that is no longer available", "url": None}
    else:
        try:
            member = user_get_public(username=report.target_user.username)
            target = {"label": member.public_name, "url": member.get_absolute_url()}
        except NotFound:
            target = {"label": "a member who is no longer here", "url": None}
    return render(request, "moderation/report_detail.html", {"report": report, "target": target})


# --- Appeals ---------------------------------------------------------------------------


@login_required
@require_GET
def appeals(request):
    """Settings → Appeals: the decisions one may still appeal, and one's appeals with
    their answers (newest first, a page at a time). ``?action=<id>`` (a moderation
    notice's link) opens that decision's appeal form."""
    action_id = _int_or_none(request.GET.get("action"))
    if action_id is not None:
        return redirect("moderation:appeal-create", action_id=action_id)
    appealable = [
        decision_present(action, viewer=request.user)
        for action in selectors.appealable_actions_for(user=request.user)
    ]
    items, next_link, previous_link = cursor_page(
        request, selectors.appeals_for(user=request.user), page_size=APPEALS_PAGE_SIZE
    )
    history = [
        {"appeal": appeal, "action": decision_present(appeal.action, viewer=request.user)}
        for appeal in items
    ]
    context = {
        "appealable": appealable,
        "history": history,
        "next_link": next_link,
        "previous_link": previous_link,
    }
    return render(request, "moderation/appeals.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def appeal_create(request, action_id: int):
    """Appeal one decision about oneself, once. A decision about anyone else is a 404;
    one already appealed sends the member to their appeals, saying so."""
    action = selectors.appealable_actions_for(user=request.user).filter(pk=action_id).first()
    if action is None:
        if selectors.appeals_for(user=request.user).filter(action_id=action_id).exists():
            messages.info(request, "You have appealed this decision already: see its answer here.")
            return redirect("moderation:appeals")
        raise Http404("No such decision to appeal.")
    status = 200
    if request.method == "POST":
        form = AppealForm(request.POST)
        if form.is_valid():
            try:
                services.appeal_submit(
                    user=request.user, action=action, text=form.cleaned_data["text"]
                )
            except NotFound:
                raise Http404("No such decision to appeal.") from None
            except DomainError as error:
                form_add_domain_error(form, error)
                status = http_status_for(error)
            else:
                messages.success(
                    request, "Your appeal is received. A moderator will answer it here."
                )
                return redirect("moderation:appeals")
        else:
            status = 400
    else:
        form = AppealForm()
    context = {"form": form, "decision": decision_present(action, viewer=request.user)}
    return render(request, "moderation/appeal_form.html", context, status=status)


# --- The suspended member's page ---------------------------------------------------------


def _suspension_stamp(user: User) -> str:
    return user.suspended_at.isoformat() if user.suspended_at else ""


def suspension_page_url(user: User) -> str:
    """The path of ``user``'s suspended page (no sign-in needed): a token signed with the
    site's secret, naming them and this suspension, valid ``SUSPENDED_PAGE_MAX_AGE``."""
    token = signing.dumps(
        {"u": user.pk, "s": _suspension_stamp(user)}, salt=SUSPENDED_PAGE_SALT, compress=True
    )
    return reverse("moderation:suspended", kwargs={"token": token})


def _member_for_token(token: str) -> tuple[User | None, str]:
    """The member a valid, unexpired token names (or None), and the suspension it was
    made for."""
    try:
        payload = signing.loads(token, salt=SUSPENDED_PAGE_SALT, max_age=SUSPENDED_PAGE_MAX_AGE)
    except signing.BadSignature:  # tampered with, malformed or expired
        return None, ""
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        return None, ""
    return User.objects.filter(pk=payload["u"], is_active=True).first(), payload.get("s", "")


@never_cache  # its address is the member's key to it: no copy kept on the way
@require_http_methods(["GET", "POST"])
def suspended(request, token: str):
    """A suspended member's page: the suspension (rule, reason, until when) and their
    appeal of it, and of any other decision they may still appeal.

    A link that is invalid or expired, or made for an earlier suspension, says so (404);
    once the suspension is over it says that they can sign in again.
    """
    member, stamp = _member_for_token(token)
    if member is None or (member.is_suspended and stamp != _suspension_stamp(member)):
        return render(request, "moderation/suspended_invalid.html", status=404)
    if not member.is_suspended:
        return render(request, "moderation/suspended.html", {"member": member, "over": True})

    appealable = list(selectors.appealable_actions_for(user=member))
    suspension = (
        ModerationAction.objects.filter(target_user=member, kind=ModerationAction.Kind.SUSPEND)
        .select_related("rule")
        .order_by("-created_at", "-id")
        .first()
    )
    posted_id, posted_form, status = None, None, 200
    if request.method == "POST":
        posted_id = _int_or_none(request.POST.get("action"))
        action = next((a for a in appealable if a.pk == posted_id), None)
        if action is None:
            # Appealed already (a second tab, a double click), or not theirs to appeal.
            messages.error(request, "That decision cannot be appealed (again) from here.")
            return redirect(request.path)
        posted_form = AppealForm(request.POST)
        if posted_form.is_valid():
            try:
                services.appeal_submit(
                    user=member, action=action, text=posted_form.cleaned_data["text"]
                )
            except DomainError as error:
                form_add_domain_error(posted_form, error)
                status = http_status_for(error)
            else:
                messages.success(
                    request,
                    "Your appeal is received. A moderator will answer it; the answer is "
                    "shown on this page and in your notifications.",
                )
                return redirect(request.path)
        else:
            status = 400

    decisions = []
    for action in appealable:
        form = posted_form if action.pk == posted_id else AppealForm(auto_id=f"id_%s_{action.pk}")
        decisions.append({"decision": decision_present(action, viewer=member), "form": form})
    suspension_view = decision_present(suspension, viewer=member) if suspension else None
    suspension_appeal = (
        selectors.appeals_for(user=member).filter(action=suspension).first() if suspension else None
    )
    context = {
        "member": member,
        "over": False,
        "suspension": suspension_view,
        "suspension_appeal": suspension_appeal,
        "decisions": decisions,
        "appeals": selectors.appeals_for(user=member)[:APPEALS_PAGE_SIZE],
    }
    return render(request, "moderation/suspended.html", context, status=status)


def _int_or_none(value) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


# --- The transparency log ------------------------------------------------------------------


@cache_public
@require_GET
def log(request):
    """Every moderation action, newest first: when, what kind, under which rule; never by
    whom. ``?kind=`` and ``?rule=`` narrow it; a value that is not one of theirs is a 400."""
    form = LogFilterForm(request.GET)
    entries, next_link, previous_link, status = [], None, None, 200
    if form.is_valid():
        actions = log_entries_filtered(
            kind=form.cleaned_data["kind"] or None, rule=form.cleaned_data["rule"]
        )
        items, next_link, previous_link = cursor_page(request, actions, page_size=LOG_PAGE_SIZE)
        entries = log_entries_present(items, viewer=request.user)
    else:
        status = 400
    context = {
        "form": form,
        "entries": entries,
        "next_link": next_link,
        "previous_link": previous_link,
        "filtered": bool(request.GET.get("kind") or request.GET.get("rule")),
    }
    return render(request, "moderation/log.html", context, status=status)
