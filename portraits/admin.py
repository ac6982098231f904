"""Portraits in the Django admin, as a moderator reads them.

The change list says at a glance what each portrait is and where it stands: its
thumbnail, its title (struck through and marked when deleted), its author (linked to
their account), whether it is a remix and of what, and its state in words: deleted,
hidden and why, held for review, its rating, and who can see it. A portrait's page reads
the same way: the recipe in the create form's words (``portraits.recipe.recipe_display``,
as members read it), what a remix changed as lineage shows it, and its place in its
family as links to the other portraits' pages, by title. Raw JSON stays, collapsed, for
whoever needs the exact document.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts.admin import user_admin_link
from config.errors import DomainError, domain_error_text
from portraits import services
from portraits.lineage import changes_for_viewer
from portraits.models import Portrait
from portraits.recipe import recipe_display

# What the admin may edit, through ``services.portrait_update`` as the owner would. The
# moderation fields (rating and its lock, hidden_*, held_for_review) are shown, never
# edited here: moderators change them through the moderation queue, whose services
# check the rule and reason, take the locks, record the audit trail and tell the owner.
ADMIN_EDITABLE = ("title", "description", "visibility")

# Who can see a portrait, in words for the staff: the model's labels speak to its owner
# ("only you").
VISIBILITY_LABELS = {
    Portrait.Visibility.PRIVATE: "Private (its author only)",
    Portrait.Visibility.UNLISTED: "Unlisted (anyone with the link)",
    Portrait.Visibility.PUBLIC: "Public (in the gallery)",
}
REMIXES_SHOWN = 20  # on a portrait's page; the rest are a link to the filtered list
THUMB = 64  # px, the change list's thumbnails
PREVIEW = 160  # px, a portrait's page (its thumbnail file is about this wide)


def portrait_change_url(portrait_id: int) -> str:
    return reverse("admin:portraits_portrait_change", args=[portrait_id])


def portrait_state(portrait: Portrait) -> list[tuple[str, str]]:
    """Where ``portrait`` stands, as (css modifier, words), most important first. A
    deleted portrait is only that: who could see it before no longer matters."""
    if portrait.is_deleted:
        return [("deleted", "Deleted")]
    state = []
    if portrait.hidden_cause == Portrait.HiddenCause.MODERATION:
        state.append(("hidden", "Hidden by moderators"))
    elif portrait.hidden_cause == Portrait.HiddenCause.SUSPENSION:
        state.append(("hidden", "Hidden: author suspended"))
    if portrait.held_for_review:
        state.append(("held", "Held for review"))
    if portrait.rating == Portrait.Rating.MATURE:
        state.append(("mature", "Mature, locked" if portrait.rating_locked else "Mature"))
    elif portrait.rating_locked:
        state.append(("general", "General, locked"))
    state.append((portrait.visibility, VISIBILITY_LABELS[portrait.visibility]))
    return state


def state_badges(portrait: Portrait):
    return format_html_join(
        " ", '<span class="portrait-badge portrait-badge-{}">{}</span>', portrait_state(portrait)
    )


def portrait_link(portrait: Portrait, *, author: bool = True):
    """A portrait as other admin pages name it: its title, linked to its admin page, with
    its author and a mark when it is deleted or hidden (``portrait.author`` is read:
    select it with the portrait)."""
    marks = [words for kind, words in portrait_state(portrait) if kind in ("deleted", "hidden")]
    return format_html(
        '<a href="{}">{}</a>{}{}',
        portrait_change_url(portrait.pk),
        portrait.title,
        format_html(" by {}", author_name(portrait)) if author else "",
        format_html(' <span class="portrait-mark">({})</span>', ", ".join(marks).lower())
        if marks
        else "",
    )


def remix_of(parent: Portrait, *, reproduction: bool = False):
    """A list row's second line: what the row remixes (or repaints), by title."""
    return format_html(
        '<small class="portrait-quiet">{} of “{}”{}</small>',
        "reproduction" if reproduction else "remix",
        parent.title,
        " (deleted)" if parent.is_deleted else "",
    )


def author_name(portrait: Portrait) -> str:
    if portrait.author is None:
        return f"{portrait.author_name} (account deleted)"
    return portrait.author.username


def recipe_readable(recipe: dict):
    """A recipe as a definition list in the create form's words, its technical details
    (class names, versions, device) after; both wrap (``portraits/admin.css``)."""
    return render_to_string(
        "admin/portraits/_recipe.html", {"recipe_view": recipe_display(recipe or {})}
    )


def raw_json(value):
    """The exact document, for whoever debugs: shown in a collapsed "Stored data" section."""
    return format_html(
        '<pre class="portrait-json">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False)
    )


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("live", "Not deleted"),
            ("tombstone", "Deleted (kept for its remixes)"),
            ("hidden", "Hidden by moderators"),
            ("suspended", "Hidden: author suspended"),
            ("held", "Held for review"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "live":
            return queryset.filter(deleted_at__isnull=True)
        if value == "tombstone":
            return queryset.filter(deleted_at__isnull=False)
        if value == "hidden":
            return queryset.filter(hidden_cause=Portrait.HiddenCause.MODERATION)
        if value == "suspended":
            return queryset.filter(hidden_cause=Portrait.HiddenCause.SUSPENSION)
        if value == "held":
            return queryset.filter(held_for_review=True)
        return queryset


class VisibilityFilter(admin.SimpleListFilter):
    title = "who can see it"
    parameter_name = "visibility"

    def lookups(self, request, model_admin):
        return list(VISIBILITY_LABELS.items())

    def queryset(self, request, queryset):
        if self.value() in VISIBILITY_LABELS:
            return queryset.filter(visibility=self.value())
        return queryset


class RemixFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("original", "Originals"), ("remix", "Remixes")]

    def queryset(self, request, queryset):
        if self.value() == "original":
            return queryset.filter(parent__isnull=True)
        if self.value() == "remix":
            return queryset.filter(parent__isnull=False)
        return queryset


@admin.register(Portrait)
class PortraitAdmin(admin.ModelAdmin):
    """Portraits as they are. Edits and deletes (administrators: the Moderators group only
    views) go through the same services as the site; the recipe and the lineage are history
    and stay read-only, and so is the moderation state (``ADMIN_EDITABLE``): moderators act
    on a portrait from the moderation queue."""

    list_display = ["thumbnail_tag", "title_display", "author_link", "state", "created_at"]
    list_display_links = ["thumbnail_tag", "title_display"]
    list_filter = [
        StateFilter,
        VisibilityFilter,
        "rating",
        RemixFilter,
        "created_at",
    ]
    # The list's every column reads these rows and nothing else: a page of any size is
    # the same few queries (tests/portraits/test_admin.py counts them).
    list_select_related = ["author", "parent", "reproduces"]
    search_fields = ["title", "recipe__prompt", "author__username", "author_name", "public_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    actions = ["make_private"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "thumbnail_preview",
                    "title",
                    "description",
                    "visibility",
                    "state",
                    "author_link",
                    "page_link",
                    "public_id",
                ]
            },
        ),
        (
            "Moderation",
            {
                "fields": [
                    ("rating", "rating_locked"),
                    "held_for_review",
                    ("hidden_at", "hidden_cause"),
                    "hidden_rule",
                    "hidden_reason",
                ]
            },
        ),
        ("Recipe", {"fields": ["recipe_view", "size", "job_link"]}),
        ("Lineage", {"fields": ["lineage", "reproduction", "remixes", "changes_view"]}),
        ("Dates", {"fields": ["created_at", "published_at", "updated_at", "deleted_at"]}),
        (
            "Stored data",
            {
                "classes": ["collapse"],
                "fields": ["recipe_json", "changes_json", "ancestry", "depth", "author_name"],
            },
        ),
    ]
    readonly_fields = [
        name for name in flatten_fieldsets(fieldsets) if name not in ADMIN_EDITABLE
    ] + ["title_label", "visibility_label", "job_page_link"]

    class Media:
        css = {"all": ["portraits/admin.css"]}

    def get_fieldsets(self, request, obj=None):
        # Where title and visibility cannot be edited, they are shown as the staff need
        # them: visibility in their words rather than the model's (which address the
        # owner: "only you"), a deleted portrait's title and visibility marked deleted.
        shown = {}
        if not self._can_edit(request, obj):
            shown.update(title="title_label", visibility="visibility_label")
        # The job's admin page is for those who may open it (not the Moderators group);
        # its page on the site shows every job to a moderator.
        if not request.user.has_perm("generation.view_generationjob"):
            shown["job_link"] = "job_page_link"
        if not shown:
            return self.fieldsets
        return [
            (name, {**options, "fields": [shown.get(field, field) for field in options["fields"]]})
            for name, options in self.fieldsets
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_deleted:
            return flatten_fieldsets(self.get_fieldsets(request, obj))  # history only
        return self.readonly_fields

    def _can_edit(self, request, obj) -> bool:
        return self.has_change_permission(request, obj) and not (obj and obj.is_deleted)

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "visibility":
            kwargs["choices"] = list(VISIBILITY_LABELS.items())
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return False  # portraits come from jobs only

    def get_view_on_site_url(self, obj=None):
        if obj is not None and obj.is_deleted:
            return None  # its page is gone: no button to a 404
        return super().get_view_on_site_url(obj)

    # --- the change list

    @admin.display(description="")
    def thumbnail_tag(self, portrait: Portrait, size: int = THUMB):
        if portrait.is_deleted:
            return format_html(
                '<span class="portrait-thumb portrait-thumb-gone" style="width:{}px">deleted</span>',
                size,
            )
        return format_html(
            '<img class="portrait-thumb" src="{}" width="{}" height="{}" alt="" loading="lazy">',
            reverse("portraits:thumbnail", kwargs={"public_id": portrait.public_id}),
            size,
            round(size * portrait.thumbnail_height / max(portrait.thumbnail_width, 1)),
        )

    @admin.display(description="Preview")
    def thumbnail_preview(self, portrait: Portrait):
        return self.thumbnail_tag(portrait, size=PREVIEW)

    @admin.display(description="Title", ordering="title")
    def title_display(self, portrait: Portrait):
        # A reproduction paints its original again (and sits beside it, under the same
        # parent): it reads as that, not as one more remix of the parent.
        if portrait.reproduces is not None:
            second = remix_of(portrait.reproduces, reproduction=True)
        elif portrait.parent is not None:
            second = remix_of(portrait.parent)
        else:
            return self.title_label(portrait)
        return format_html("{}<br>{}", self.title_label(portrait), second)

    @admin.display(description="Author", ordering="author__username")
    def author_link(self, portrait: Portrait):
        if portrait.author is None:
            return f"{portrait.author_name} (account deleted)"
        return user_admin_link(portrait.author)

    @admin.display(description="State")
    def state(self, portrait: Portrait):
        return state_badges(portrait)

    # --- a portrait's page

    @admin.display(description="Title")
    def title_label(self, portrait: Portrait):
        if portrait.is_deleted:
            return format_html(
                '<del>{}</del> <span class="portrait-mark">(deleted)</span>', portrait.title
            )
        return portrait.title

    @admin.display(description="Visibility")
    def visibility_label(self, portrait: Portrait) -> str:
        label = VISIBILITY_LABELS[portrait.visibility]
        if portrait.is_deleted:
            return f"Deleted: nobody sees it (it was {label.split(' (')[0].lower()})"
        return label

    @admin.display(description="Page")
    def page_link(self, portrait: Portrait):
        if portrait.is_deleted:
            return "— (deleted: its page is gone)"
        url = portrait.get_absolute_url()
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="Size")
    def size(self, portrait: Portrait):
        thumb = f"{portrait.thumbnail_width} × {portrait.thumbnail_height}"
        return f"{portrait.width} × {portrait.height} px (thumbnail {thumb})"

    @admin.display(description="Job")
    def job_link(self, portrait: Portrait):
        if portrait.job_id is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>, image {} of {}',
            reverse("admin:generation_generationjob_change", args=[portrait.job_id]),
            portrait.job_id,
            portrait.index_in_job + 1,
            portrait.recipe.get("num_images") or portrait.index_in_job + 1,
        )

    @admin.display(description="Job")
    def job_page_link(self, portrait: Portrait):
        if portrait.job_id is None:
            return "—"
        url = reverse("generation:job-detail", kwargs={"pk": portrait.job_id})
        return format_html('<a href="{}">{}</a>, image {}', url, url, portrait.index_in_job + 1)

    @admin.display(description="Recipe")
    def recipe_view(self, portrait: Portrait):
        return recipe_readable(portrait.recipe)

    @admin.display(description="Recipe (JSON)")
    def recipe_json(self, portrait: Portrait):
        return raw_json(portrait.recipe)

    @admin.display(description="Changes (JSON)")
    def changes_json(self, portrait: Portrait):
        return raw_json(portrait.changes)

    @admin.display(description="What it changed")
    def changes_view(self, portrait: Portrait):
        if portrait.parent_id is None:
            return "— (an original)"
        # The staff read everything: both sides of every diff.
        changes = changes_for_viewer(portrait.changes, step_visible=True, parent_visible=True)
        return render_to_string("portraits/_changes.html", {"changes": changes})

    @admin.display(description="Family")
    def lineage(self, portrait: Portrait):
        """The chain from its original down to it, each step linked by title."""
        if portrait.parent_id is None:
            return "An original (no parent)."
        found = Portrait.objects.select_related("author").in_bulk(portrait.ancestor_ids)
        chain = [found[pk] for pk in portrait.ancestor_ids if pk in found]
        steps = [format_html("<li>{}</li>", portrait_link(step)) for step in chain]
        steps.append(format_html("<li><strong>{}</strong> (this portrait)</li>", portrait.title))
        return format_html(
            '<ol class="portrait-chain">{}</ol>', format_html_join("", "{}", ((s,) for s in steps))
        )

    @admin.display(description="Reproduction of")
    def reproduction(self, portrait: Portrait):
        if portrait.reproduces_id is None:
            return "— (not a reproduction)"
        original = Portrait.objects.select_related("author").get(pk=portrait.reproduces_id)
        match = {True: "its pixels match", False: "its pixels differ", None: "not compared"}
        return format_html("{}: {}", portrait_link(original), match[portrait.pixels_match])

    @admin.display(description="Remixes")
    def remixes(self, portrait: Portrait):
        changelist = reverse("admin:portraits_portrait_changelist")
        direct = list(
            Portrait.objects.filter(parent=portrait)
            .select_related("author")
            .order_by("created_at", "id")[: REMIXES_SHOWN + 1]
        )
        if not direct:
            return "None."
        count = (
            len(direct)
            if len(direct) <= REMIXES_SHOWN
            else Portrait.objects.filter(parent=portrait).count()
        )
        descendants = Portrait.objects.filter(
            ancestry__startswith=portrait.descendant_prefix
        ).count()
        items = format_html_join(
            "", "<li>{}</li>", ((portrait_link(r),) for r in direct[:REMIXES_SHOWN])
        )
        return format_html(
            '<ul class="portrait-remixes">{}</ul><p>'
            '<a href="{}?{}">{} direct remix{}</a> · <a href="{}?{}">{} descendant{} in all</a>'
            "</p>",
            items,
            changelist,
            urlencode({"parent__id__exact": portrait.pk}),
            count,
            "" if count == 1 else "es",
            changelist,
            urlencode({"ancestry__startswith": portrait.descendant_prefix}),
            descendants,
            "" if descendants == 1 else "s",
        )

    # --- writes, through the services

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # What the service refuses (a portrait held for review made public, a title the
        # prompt gate refuses) rolls the change back and says why, rather than a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as refused:
            self.message_user(request, domain_error_text(refused), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name] for name in form.changed_data if name in ADMIN_EDITABLE
        }
        # The form already copied its values onto obj; the service validates and saves.
        obj.refresh_from_db(fields=list(data) or None)
        services.portrait_update(portrait=obj, by=request.user, data=data)

    def get_deleted_objects(self, objs, request):
        # Remixes are never deleted with their parent (it becomes a tombstone instead),
        # so the "protected objects" Django would list do not apply.
        objs = list(objs)
        perms_needed = set() if self.has_delete_permission(request) else {"portrait"}
        return [str(obj) for obj in objs], {"portraits": len(objs)}, perms_needed, []

    def delete_model(self, request, obj):
        services.portrait_delete(portrait=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for portrait in queryset.filter(deleted_at__isnull=True):
            services.portrait_delete(portrait=portrait, by=request.user)

    # Administrators only (it needs "change"): a moderator takes a portrait down with
    # "Hide" in the moderation queue, which cites a rule and is recorded.
    @admin.action(description="Make private (take down from the gallery)", permissions=["change"])
    def make_private(self, request, queryset):
        changed = 0
        for portrait in queryset.filter(deleted_at__isnull=True).exclude(
            visibility=Portrait.Visibility.PRIVATE
        ):
            services.portrait_update(
                portrait=portrait, by=request.user, data={"visibility": Portrait.Visibility.PRIVATE}
            )
            changed += 1
        self.message_user(request, f"{changed} portrait(s) made private.", messages.SUCCESS)
