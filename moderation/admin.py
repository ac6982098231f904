"""The moderators' side of moderation, in the Django admin.

The queue is the ``Case`` changelist: open cases first, each row one target with
everything about it (thumbnail, reasons, reports and reporters, its place in a remix
family, who has it, internal notes). A case's page shows the whole story and one
decision form; every decision calls a service of ``moderation.services`` (which records
the audit entry, notifies the member and tells the reporters), never writes a row here.
The audit trail (``ModerationAction``) is readable and nothing else, for everyone.

What a member of the Moderators group may do here is what the group's permissions say
(``accounts.permissions.MODERATOR_PERMISSIONS``); every view below checks them.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince

from accounts.permissions import MODERATORS_GROUP
from config.errors import DomainError, form_add_domain_error
from moderation import selectors, services
from moderation.models import Appeal, BlockedTerm, Case, ModerationAction, Report, Rule
from portraits.models import Portrait

User = get_user_model()

THUMB = 64  # px, the queue's thumbnails
DESCENDANTS_SHOWN = 60  # on a case's page; the rest are counted


# --- Decisions -------------------------------------------------------------------------

# What a moderator may decide about a case, with the label the form shows.
DECISION_LABELS = {
    "hide": "Hide the portrait",
    "restore": "Restore the portrait",
    "mature": "Mark the portrait mature",
    "general": "Mark the portrait general",
    "warn": "Warn the member (a strike)",
    "suspend": "Suspend the member",
    "lift": "Lift the member's suspension",
    "dismiss": "Dismiss the reports (no action)",
    "clear": "Clear it: its owner may publish it",
    "uphold": "Uphold the decision",
    "reverse": "Reverse the decision (restores exactly what was there before)",
}
# Decisions that need no rule cited (clearing a held portrait finds nothing wrong).
RULE_OPTIONAL = {"clear"}

DESCENDANT_CHOICES = [
    ("none", "Leave them as they are"),
    ("hide", "Hide them too"),
    ("flag", "Flag them for review"),
]
SUSPENSION_PERIODS = [
    ("1", "1 day"),
    ("3", "3 days"),
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("indefinite", "Indefinitely"),
]


def case_member(case: Case):
    """The member a case's decisions about people (warn, suspend, lift) apply to."""
    if case.target_user_id:
        return case.target_user
    if case.target_portrait_id:
        return case.target_portrait.author
    return None


def case_decisions(case: Case) -> list[str]:
    """What can be decided about ``case`` now, in the order the form offers them.

    An open case is decided (which closes it). A closed report or review case still
    offers what can be done to its target (a hide taken back, a suspension lifted early),
    recorded without the case: it stays closed."""
    if case.kind == Case.Kind.APPEAL:
        if case.is_open and case.appeal.status == Appeal.Status.OPEN:
            return ["uphold", "reverse"]
        return []
    portrait = case.target_portrait
    names = []
    if case.kind == Case.Kind.REVIEW and case.is_open:
        names.append("clear")
    if portrait is not None and not portrait.is_deleted:
        names.append("restore" if portrait.is_hidden_by_moderators else "hide")
        if case.kind == Case.Kind.REPORT or not case.is_open:
            if not (portrait.rating == Portrait.Rating.MATURE and portrait.rating_locked):
                names.append("mature")
            if portrait.rating == Portrait.Rating.MATURE:
                names.append("general")
    member = case_member(case)
    if member is not None and case.kind == Case.Kind.REPORT and not member.is_superuser:
        names += ["lift"] if member.is_suspended else ["warn", "suspend"]
    if case.kind == Case.Kind.REPORT and case.is_open:
        names.append("dismiss")
    return names


class DecisionForm(forms.Form):
    """One decision about a report or review case: which, under which rule, and why."""

    decision = forms.ChoiceField(widget=forms.RadioSelect)
    rule = forms.ModelChoiceField(
        queryset=Rule.objects.none(), required=False, empty_label="— cite a rule —"
    )
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="The member reads it with the rule; reporters learn only the outcome and the rule.",
    )
    descendants = forms.ChoiceField(
        choices=DESCENDANT_CHOICES,
        initial="none",
        required=False,
        widget=forms.RadioSelect,
        label="Its descendants (remixes)",
    )
    period = forms.ChoiceField(
        choices=SUSPENSION_PERIODS, initial="7", required=False, label="Suspend for"
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        names = case_decisions(case)
        self.fields["decision"].choices = [(name, _decision_label(name, case)) for name in names]
        self.fields["rule"].queryset = Rule.objects.filter(is_active=True)
        # Only what a decision offered here uses.
        if "hide" not in names:
            del self.fields["descendants"]
        if "suspend" not in names:
            del self.fields["period"]

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision and decision not in RULE_OPTIONAL and not data.get("rule"):
            self.add_error("rule", "Cite the rule this decision applies.")
        if decision and decision not in RULE_OPTIONAL and not data.get("reason", "").strip():
            self.add_error("reason", "Say why: the member is shown this reason.")
        if decision == "suspend" and not data.get("period"):
            self.add_error("period", "Choose how long the suspension lasts.")
        return data

    @property
    def suspended_until(self):
        period = self.cleaned_data.get("period")
        if period == "indefinite":
            return None
        return timezone.now() + timedelta(days=int(period))


class AppealDecisionForm(forms.Form):
    """Uphold or reverse the appealed action, with a reply the member reads."""

    decision = forms.ChoiceField(widget=forms.RadioSelect)
    reply = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="The member reads this reply.",
    )

    def __init__(self, *args, case: Case, **kwargs):
        super().__init__(*args, **kwargs)
        self.case = case
        self.fields["decision"].choices = [
            (name, DECISION_LABELS[name]) for name in case_decisions(case)
        ]


def _decision_label(name: str, case: Case) -> str:
    member = case_member(case)
    if name not in ("warn", "suspend", "lift") or member is None:
        return DECISION_LABELS[name]
    who = f"{member.username} (the author)" if case.target_portrait_id else member.username
    return {
        "warn": f"Warn {who}: a strike",
        "suspend": f"Suspend {who}",
        "lift": f"Lift the suspension of {who}",
    }[name]


def decision_form_for(case: Case, data=None) -> forms.Form:
    form_class = AppealDecisionForm if case.kind == Case.Kind.APPEAL else DecisionForm
    return form_class(data, case=case, prefix="decide")


def decision_apply(*, moderator, case: Case, form: forms.Form) -> str:
    """Carry out the valid ``form``'s decision through the services; say what was done."""
    data = form.cleaned_data
    decision = data["decision"]
    if decision in ("uphold", "reverse"):
        services.appeal_decide(
            moderator=moderator,
            appeal=case.appeal,
            reverse=decision == "reverse",
            reply=data["reply"],
        )
        if decision == "reverse":
            return "Appeal reversed: what the decision changed is restored."
        return "Appeal upheld."
    rule, reason = data.get("rule"), data.get("reason", "").strip()
    portrait, member = case.target_portrait, case_member(case)
    said = {"moderator": moderator, "rule": rule, "reason": reason}
    if not case.is_open:
        # A closed case stays closed: the action is recorded on its own. (Dismissing and
        # clearing are offered on open cases only: case_decisions.)
        case = None
    if decision == "hide":
        services.portrait_hide(
            portrait=portrait, case=case, descendants=data.get("descendants") or "none", **said
        )
        return f"“{portrait.title}” is hidden."
    if decision == "restore":
        services.portrait_restore(portrait=portrait, case=case, **said)
        return f"“{portrait.title}” is restored."
    if decision in ("mature", "general"):
        services.portrait_rate(portrait=portrait, rating=decision, case=case, **said)
        return f"“{portrait.title}” is marked {decision}."
    if decision == "warn":
        services.member_warn(user=member, case=case, **said)
        return f"{member.username} is warned."
    if decision == "suspend":
        until = form.suspended_until
        services.member_suspend(user=member, until=until, case=case, **said)
        when = f"until {until:%Y-%m-%d %H:%M}" if until else "indefinitely"
        return f"{member.username} is suspended {when}."
    if decision == "lift":
        services.member_suspension_lift(user=member, case=case, **said)
        return f"{member.username}'s suspension is lifted."
    if decision == "dismiss":
        services.case_dismiss(case=case, **said)
        return "The reports are dismissed."
    if decision == "clear":
        services.portrait_review_clear(portrait=portrait, **said)
        return f"“{portrait.title}” is cleared."
    raise ValueError(decision)


class BulkDismissForm(forms.Form):
    rule = forms.ModelChoiceField(queryset=Rule.objects.none(), empty_label="— cite a rule —")
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded with each dismissal.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = Rule.objects.filter(is_active=True)


# --- The queue -------------------------------------------------------------------------


class AssignedFilter(admin.SimpleListFilter):
    title = "assignment"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", "Assigned to me"), ("nobody", "Unassigned"), ("anyone", "Assigned")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        if self.value() == "anyone":
            return queryset.filter(assigned_to__isnull=False)
        return queryset


class CategoryFilter(admin.SimpleListFilter):
    title = "report category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return Report.Category.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(
                pk__in=Report.objects.filter(category=self.value()).values("case_id")
            )
        return queryset


class TargetFilter(admin.SimpleListFilter):
    title = "target"
    parameter_name = "target"

    def lookups(self, request, model_admin):
        return [("portrait", "Portraits"), ("member", "Members")]

    def queryset(self, request, queryset):
        if self.value() == "portrait":
            return queryset.filter(target_portrait__isnull=False)
        if self.value() == "member":
            return queryset.filter(target_user__isnull=False)
        return queryset


class ModeratorListFilter(admin.RelatedFieldListFilter):
    """The "assigned to" filter: only the people a case can be assigned to."""

    def field_choices(self, field, request, model_admin):
        return [(user.pk, user.username) for user in moderators_queryset()]


def moderators_queryset():
    return (
        User.objects.filter(Q(groups__name=MODERATORS_GROUP) | Q(is_superuser=True))
        .filter(is_active=True)
        .distinct()
        .order_by("username")
    )


class CaseChangeList(ChangeList):
    """The queue's page: after the page of cases is read, their families are read for all
    of them at once (ancestors in one query, descendant counts in another)."""

    def get_results(self, request):
        super().get_results(request)
        lineage_attach(list(self.result_list))


def lineage_attach(cases: list[Case]) -> None:
    """Give each portrait case ``lineage_ancestors`` (root first) and
    ``lineage_descendants`` (a count of the live ones), in two queries for the page."""
    portraits = [case.target_portrait for case in cases if case.target_portrait_id]
    ancestor_ids = {pk for portrait in portraits for pk in portrait.ancestor_ids}
    ancestors = (
        Portrait.objects.only(
            "id", "public_id", "title", "author_name", "hidden_cause", "deleted_at", "depth"
        ).in_bulk(ancestor_ids)
        if ancestor_ids
        else {}
    )
    counts = {}
    if portraits:
        prefixes = {portrait.pk: portrait.descendant_prefix for portrait in portraits}
        counts = Portrait.objects.filter(
            root_id__in={portrait.family_root_id for portrait in portraits},
            deleted_at__isnull=True,
        ).aggregate(
            **{
                f"d{pk}": Count("pk", filter=Q(ancestry__startswith=prefix))
                for pk, prefix in prefixes.items()
            }
        )
    for case in cases:
        portrait = case.target_portrait
        if portrait is None:
            continue
        case.lineage_ancestors = [ancestors[pk] for pk in portrait.ancestor_ids if pk in ancestors]
        case.lineage_descendants = counts.get(f"d{portrait.pk}") or 0


def _portrait_thumb(portrait: Portrait | None, size: int = THUMB):
    if portrait is None or portrait.is_deleted:
        return mark_safe('<span class="mod-thumb mod-thumb-empty">—</span>')
    height = round(size * portrait.thumbnail_height / max(portrait.thumbnail_width, 1))
    return format_html(
        '<img class="mod-thumb" src="{}" width="{}" height="{}" alt="" loading="lazy">',
        reverse("portraits:thumbnail", kwargs={"public_id": portrait.public_id}),
        size,
        height,
    )


def _portrait_state(portrait: Portrait) -> str:
    if portrait.is_deleted:
        return "deleted"
    words = [portrait.get_visibility_display().split(" (")[0].lower()]
    if portrait.hidden_cause:
        words.append(portrait.get_hidden_cause_display().lower())
    if portrait.held_for_review:
        words.append("held for review")
    if portrait.rating == Portrait.Rating.MATURE:
        words.append("mature (locked)" if portrait.rating_locked else "mature")
    return ", ".join(words)


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """The one queue. Cases are opened by reports, the prompt gate and appeals, and closed
    by decisions; here a moderator takes them (assignment, notes) and decides them."""

    # Few columns, each a short stack of lines, so a row reads at a glance beside the
    # filters (and as a card on a phone: moderation/admin.css).
    list_display = ["thumbnail", "target", "reasons", "reports_and_reporters", "kind_status"]
    list_display_links = ["thumbnail", "target"]
    list_filter = [
        "status",
        "kind",
        TargetFilter,
        CategoryFilter,
        AssignedFilter,
        ("assigned_to", ModeratorListFilter),
    ]
    search_fields = [
        "target_portrait__title",
        "target_portrait__public_id",
        "target_portrait__author__username",
        "target_user__username",
        "notes",
    ]
    list_per_page = 50
    actions = ["assign_to_me", "unassign", "dismiss_selected"]
    fields = ["kind", "status", "created_at", "closed_at", "assigned_to", "notes"]
    readonly_fields = ["kind", "status", "created_at", "closed_at"]
    change_form_template = "admin/moderation/case/change_form.html"

    class Media:
        css = {"all": ["moderation/admin.css"]}

    def has_add_permission(self, request) -> bool:
        return False  # reports, the prompt gate and appeals open cases

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a case is its reports' and decisions' history

    def get_changelist(self, request, **kwargs):
        return CaseChangeList

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {"title": "Moderation queue", **(extra_context or {})}
        )

    def get_queryset(self, request):
        # A target's open cases (a report, a review, an appeal) sit together, in the order
        # the target first came to the queue, the oldest first; then the closed ones.
        first_open = Case.objects.filter(status=Case.Status.OPEN).order_by("created_at", "id")
        # (ModelAdmin.get_queryset would order before the ordering's annotations exist.)
        return (
            Case.objects.select_related(
                "target_portrait__author",
                "target_user",
                "assigned_to",
                "appeal__action__rule",
                "appeal__appellant",
            )
            .prefetch_related(
                Prefetch(
                    "reports",
                    queryset=Report.objects.select_related("reporter", "rule").order_by(
                        "created_at", "id"
                    ),
                )
            )
            .annotate(
                reports_total=Count("reports"),
                queue_rank=models.Case(models.When(status=Case.Status.OPEN, then=0), default=1),
                target_since=Coalesce(
                    Subquery(
                        first_open.filter(target_portrait=OuterRef("target_portrait")).values(
                            "created_at"
                        )[:1]
                    ),
                    Subquery(
                        first_open.filter(target_user=OuterRef("target_user")).values("created_at")[
                            :1
                        ]
                    ),
                    "created_at",
                ),
            )
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request):
        return ["queue_rank", "target_since", "target_portrait_id", "target_user_id", "created_at"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assigned_to":
            kwargs["queryset"] = moderators_queryset()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # -- columns

    @admin.display(description="")
    def thumbnail(self, case: Case):
        if case.target_portrait_id:
            return _portrait_thumb(case.target_portrait)
        user = case.target_user
        if user is not None and user.avatar:
            return format_html(
                '<img class="mod-thumb mod-avatar" src="{}" width="{}" height="{}" alt="">',
                user.avatar_url,
                THUMB,
                THUMB,
            )
        return mark_safe('<span class="mod-thumb mod-thumb-empty">member</span>')

    @admin.display(description="Target")
    def target(self, case: Case):
        portrait = case.target_portrait
        if portrait is not None:
            author = portrait.author.username if portrait.author else portrait.author_name
            return format_html(
                "{}<br><small>by {} · {}</small><br><small>{}</small>",
                portrait.title,
                author,
                _portrait_state(portrait),
                self.lineage(case),
            )
        user = case.target_user
        if user is not None:
            state = "suspended" if user.is_suspended else "member"
            return format_html("{}<br><small>{}</small>", user.username, state)
        return "—"

    @admin.display(description="Case", ordering="created_at")
    def kind_status(self, case: Case):
        return format_html(
            '<span class="mod-badge mod-{}">{}</span> <span class="mod-badge mod-{}">{}</span>'
            "<br><small>opened {} ago</small><br>{}",
            case.kind,
            case.get_kind_display(),
            case.status,
            case.get_status_display(),
            timesince(case.created_at, depth=1),
            self.handling(case),
        )

    @admin.display(description="Reasons")
    def reasons(self, case: Case):
        if case.kind == Case.Kind.APPEAL:
            action = case.appeal.action
            rule = action.rule.title if action.rule else "no rule"
            return format_html(
                "Appeal of “{}” ({})<br><small>{}</small>",
                action.get_kind_display(),
                rule,
                Truncator(case.appeal.text).chars(120),
            )
        if case.kind == Case.Kind.REVIEW:
            return "Held by the prompt gate for review"
        reports = list(case.reports.all())
        categories = Counter(report.get_category_display() for report in reports)
        rules = sorted({report.rule.title for report in reports})
        latest = next((report.text for report in reversed(reports) if report.text), "")
        return format_html(
            "{}<br><small>{}</small>{}",
            ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in categories.items()),
            "; ".join(rules),
            format_html("<br><q>{}</q>", Truncator(latest).chars(120)) if latest else "",
        )

    @admin.display(description="Reports", ordering="reports_total")
    def reports_and_reporters(self, case: Case):
        names = [report.reporter.username for report in case.reports.all()]
        if not names:
            return "—"
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        count = case.reports_total
        return format_html(
            '<span class="mod-count">{} report{}</span><br><small>by {}</small>',
            count,
            "" if count == 1 else "s",
            shown,
        )

    def lineage(self, case: Case):
        """Where the portrait sits in its family: its ancestors, how many descend from it."""
        ancestors = getattr(case, "lineage_ancestors", None)
        if ancestors is None:
            return ""

        def name(portrait):
            return (
                "removed by moderators"
                if portrait.hidden_cause == "moderation"
                else (portrait.title)
            )

        if not ancestors:
            chain = "original"
        elif len(ancestors) == 1:
            chain = format_html("remix of {}", name(ancestors[0]))
        elif len(ancestors) == 2:
            chain = format_html("remix of {} ← {}", name(ancestors[1]), name(ancestors[0]))
        else:
            chain = format_html(
                "remix of {} ← … ← {} (depth {})",
                name(ancestors[-1]),
                name(ancestors[0]),
                len(ancestors),
            )
        count = case.lineage_descendants
        return format_html("{} · {} descendant{}", chain, count, "" if count == 1 else "s")

    def handling(self, case: Case):
        """Who has the case, and the start of its internal notes."""
        who = (
            format_html("<b>{}</b>", case.assigned_to.username)
            if case.assigned_to
            else ("unassigned")
        )
        notes = Truncator(case.notes).chars(80)
        if not notes:
            return who
        return format_html('{}<br><small class="mod-notes">{}</small>', who, notes)

    # -- bulk actions

    @admin.action(description="Assign the selected cases to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        taken = queryset.filter(status=Case.Status.OPEN).update(
            assigned_to=request.user, updated_at=timezone.now()
        )
        self.message_user(request, f"{taken} case(s) assigned to you.", messages.SUCCESS)

    @admin.action(description="Unassign the selected cases", permissions=["change"])
    def unassign(self, request, queryset):
        left = queryset.update(assigned_to=None, updated_at=timezone.now())
        self.message_user(request, f"{left} case(s) unassigned.", messages.SUCCESS)

    @admin.action(description="Dismiss the selected reports (no action)…", permissions=["change"])
    def dismiss_selected(self, request, queryset):
        """Asks for the rule and reason first (a page of its own), then dismisses each
        open report case through the service."""
        form = BulkDismissForm(request.POST if "apply" in request.POST else None)
        dismissible = queryset.filter(status=Case.Status.OPEN, kind=Case.Kind.REPORT)
        if form.is_bound and form.is_valid():
            done = 0
            for case in dismissible:
                try:
                    services.case_dismiss(
                        moderator=request.user,
                        case=case,
                        rule=form.cleaned_data["rule"],
                        reason=form.cleaned_data["reason"],
                    )
                    done += 1
                except DomainError as exc:
                    self.message_user(request, f"Case {case.pk}: {exc.message}", messages.ERROR)
            skipped = queryset.count() - done
            note = f" ({skipped} skipped: not open report cases)" if skipped else ""
            self.message_user(request, f"{done} case(s) dismissed{note}.", messages.SUCCESS)
            return None
        return TemplateResponse(
            request,
            "admin/moderation/case/dismiss_selected.html",
            {
                **self.admin_site.each_context(request),
                "title": "Dismiss reports",
                "opts": self.opts,
                "form": form,
                "cases": queryset,
                "dismissible": dismissible,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "media": self.media + form.media,
            },
        )

    # -- a case's page and its decision

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="{}_{}_decide".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self.get_object(request, unquote(object_id))
        if case is not None:
            extra_context = {
                **case_page_context(case),
                "title": f"{case} · {case.get_status_display().lower()}",
                "subtitle": None,
                **(extra_context or {}),
            }
            extra_context.setdefault(
                "decision_form",
                decision_form_for(case) if self.has_change_permission(request, case) else None,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def decide_view(self, request, object_id):
        case = self.get_object(request, unquote(object_id))
        if case is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if request.method != "POST" or not self.has_change_permission(request, case):
            raise PermissionDenied
        form = decision_form_for(case, request.POST)
        if form.is_valid():
            try:
                done = decision_apply(moderator=request.user, case=case, form=form)
            except DomainError as exc:
                form_add_domain_error(form, exc)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:moderation_case_changelist"))
        # Show the case's page again with the form and its errors (as a GET: the page's
        # own form, assignment and notes, must not read this POST).
        page_request = copy.copy(request)
        page_request.method = "GET"
        page_request.POST = QueryDict()
        return self.change_view(page_request, object_id, extra_context={"decision_form": form})


def case_page_context(case: Case) -> dict:
    """Everything a moderator reads on a case's page before deciding."""
    portrait = case.target_portrait
    member = case_member(case)
    context = {
        "case": case,
        "portrait": portrait,
        "member": member,
        "reports": case.reports.select_related("reporter", "rule").order_by("created_at", "id"),
        "appeal": case.appeal,
        "state": _portrait_state(portrait) if portrait is not None else "",
    }
    if portrait is not None:
        lineage_attach([case])
        context["ancestors"] = case.lineage_ancestors
        context["descendants"] = list(
            selectors.portrait_descendants(portrait=portrait)[:DESCENDANTS_SHOWN]
        )
        context["descendant_count"] = case.lineage_descendants
        context["thumb"] = _portrait_thumb(portrait, size=160)
    if member is not None:
        context["strikes"] = selectors.strikes_count(user=member)
    history = ModerationAction.objects.select_related("rule", "moderator")
    about = Q()
    if portrait is not None:
        about |= Q(target_portrait=portrait)
    if member is not None:
        about |= Q(target_user=member)
    history = history.filter(about) if about else history.none()
    context["history"] = history[:30]
    if case.appeal is not None:
        context["appealed"] = case.appeal.action
        context["appealed_change"] = _before_after(case.appeal.action)
    return context


def _before_after(action: ModerationAction):
    """The fields ``action`` changed: (name, before, after)."""
    keys = dict.fromkeys([*action.before, *action.after])
    return [
        (key, action.before.get(key), action.after.get(key))
        for key in keys
        if action.before.get(key) != action.after.get(key)
    ]


# --- Rules and the blocklist ----------------------------------------------------------


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    """Site rules, shown on /rules/ in this order. A rule once cited cannot be deleted
    (reports and the audit trail keep it): make it inactive instead."""

    list_display = ["title", "order", "is_active", "cited", "created_at"]
    list_editable = ["order", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["title", "text"]
    fields = ["title", "text", "order", "is_active"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                reports_citing=Count("reports", distinct=True),
                actions_citing=Count("actions", distinct=True),
            )
        )

    @admin.display(description="Cited by")
    def cited(self, rule: Rule) -> str:
        return f"{rule.reports_citing} report(s), {rule.actions_citing} action(s)"


@admin.register(BlockedTerm)
class BlockedTermAdmin(admin.ModelAdmin):
    """The prompt gate's entries (``moderation.blocklist``); ``clean()`` validates each
    pattern when it is saved. The counters say how often each refused or held a text."""

    list_display = [
        "pattern",
        "kind",
        "action",
        "is_active",
        "refused_count",
        "matched_count",
        "created_at",
    ]
    list_filter = ["kind", "action", "is_active"]
    search_fields = ["pattern", "note"]
    fields = ["kind", "pattern", "action", "is_active", "note", "refused_count", "matched_count"]
    readonly_fields = ["refused_count", "matched_count"]
    ordering = ["-refused_count", "kind", "pattern"]


# --- The audit trail: read, never written here -----------------------------------------


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """Every moderation decision. Append-only: nobody, superusers included, adds, changes or
    deletes a row here (the model and, on PostgreSQL, a trigger refuse it anyway)."""

    list_display = ["created_at", "kind", "target", "rule", "moderator", "reason_short", "case"]
    list_filter = ["kind", "rule", "created_at"]
    list_select_related = ["rule", "moderator", "target_portrait", "target_user"]
    search_fields = ["reason", "moderator__username", "target_user__username"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "kind",
        "moderator",
        "target",
        "rule",
        "reason",
        "change",
        "case_link",
        "reverses",
    ]
    readonly_fields = fields
    actions = None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Target")
    def target(self, action: ModerationAction) -> str:
        # The trail keeps its targets' ids after they are gone (no database constraint).
        # (Read through select_related, a row that is gone is None; read alone, it raises.)
        if action.target_portrait_id:
            try:
                portrait = action.target_portrait
            except Portrait.DoesNotExist:
                portrait = None
            title = f"“{portrait.title}”" if portrait is not None else "(deleted)"
            return f"portrait #{action.target_portrait_id} {title}"
        if action.target_user_id:
            try:
                user = action.target_user
            except User.DoesNotExist:
                user = None
            name = user.username if user is not None else f"#{action.target_user_id} (deleted)"
            return f"member {name}"
        return "—"

    @admin.display(description="Reason")
    def reason_short(self, action: ModerationAction) -> str:
        return Truncator(action.reason).chars(80)

    @admin.display(description="Before → after")
    def change(self, action: ModerationAction):
        return format_html(
            "<pre>{}</pre><pre>{}</pre>",
            json.dumps(action.before, indent=2, ensure_ascii=False),
            json.dumps(action.after, indent=2, ensure_ascii=False),
        )

    @admin.display(description="Case")
    def case_link(self, action: ModerationAction):
        if not action.case_id:
            return "—"
        return format_html(
            '<a href="{}">case {}</a>',
            reverse("admin:moderation_case_change", args=[action.case_id]),
            action.case_id,
        )
