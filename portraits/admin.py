from __future__ import annotations

import json

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from config.errors import DomainError
from portraits import services
from portraits.models import Portrait

# What the admin may edit, through ``services.portrait_update`` as the owner would. The
# moderation fields (rating and its lock, hidden_*, held_for_review) are shown, never
# edited here: moderators change them through the moderation queue, whose services
# check the rule and reason, take the locks, record the audit trail and tell the owner.
ADMIN_EDITABLE = ("title", "description", "visibility")


def _pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class DeletedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("tombstone", "Deleted (tombstone)")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "tombstone":
            return queryset.filter(deleted_at__isnull=False)
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

    list_display = [
        "thumbnail_tag",
        "title",
        "author_link",
        "visibility",
        "depth",
        "created_at",
        "is_live",
    ]
    list_display_links = ["thumbnail_tag", "title"]
    list_filter = [
        "visibility",
        "rating",
        "hidden_cause",
        "held_for_review",
        DeletedFilter,
        RemixFilter,
        "created_at",
    ]
    list_select_related = ["author"]
    search_fields = ["title", "recipe__prompt", "author__username", "author_name", "public_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    actions = ["make_private"]
    fields = [
        "thumbnail_preview",
        "public_id",
        "page_link",
        "title",
        "description",
        "visibility",
        "rating",
        "rating_locked",
        "held_for_review",
        "hidden_at",
        "hidden_cause",
        "hidden_rule",
        "hidden_reason",
        "author",
        "author_name",
        "job",
        "index_in_job",
        "size",
        "recipe_pretty",
        "lineage_links",
        "depth",
        "ancestry",
        "changes_pretty",
        "created_at",
        "updated_at",
        "deleted_at",
    ]
    readonly_fields = [name for name in fields if name not in ADMIN_EDITABLE]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_deleted:
            return self.fields  # a tombstone is history only
        return self.readonly_fields

    def has_add_permission(self, request):
        return False  # portraits come from jobs only

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author", "parent", "root", "job")

    @admin.display(description="", ordering=None)
    def thumbnail_tag(self, portrait: Portrait):
        if portrait.is_deleted:
            return "—"
        return format_html(
            '<img src="{}" width="64" height="{}" alt="" style="border-radius:4px">',
            reverse("portraits:thumbnail", kwargs={"public_id": portrait.public_id}),
            round(64 * portrait.thumbnail_height / max(portrait.thumbnail_width, 1)),
        )

    @admin.display(description="Preview")
    def thumbnail_preview(self, portrait: Portrait):
        return self.thumbnail_tag(portrait)

    @admin.display(description="author", ordering="author__username")
    def author_link(self, portrait: Portrait):
        return portrait.author.username if portrait.author else f"{portrait.author_name} (deleted)"

    @admin.display(description="live", boolean=True, ordering="deleted_at")
    def is_live(self, portrait: Portrait):
        return not portrait.is_deleted

    @admin.display(description="Page")
    def page_link(self, portrait: Portrait):
        url = portrait.get_absolute_url()
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="Size")
    def size(self, portrait: Portrait):
        thumb = f"{portrait.thumbnail_width}×{portrait.thumbnail_height}"
        return f"{portrait.width}×{portrait.height} (thumbnail {thumb})"

    @admin.display(description="Recipe")
    def recipe_pretty(self, portrait: Portrait):
        return _pretty_json(portrait.recipe)

    @admin.display(description="Changes vs parent")
    def changes_pretty(self, portrait: Portrait):
        return _pretty_json(portrait.changes)

    @admin.display(description="Lineage")
    def lineage_links(self, portrait: Portrait):
        links = [
            (reverse("admin:portraits_portrait_change", args=[pk]), f"#{pk}")
            for pk in portrait.ancestor_ids
        ]
        if not links:
            return "original"
        return format_html_join(" → ", '<a href="{}">{}</a>', links)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # What the service refuses (a portrait held for review made public, a title the
        # prompt gate refuses) rolls the change back and says why, rather than a 500.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as refused:
            problems = [message for field in refused.field_errors.values() for message in field]
            self.message_user(request, " ".join([refused.message, *problems]), messages.ERROR)
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
