from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from accounts.admin import user_admin_link
from config.errors import DomainError
from generation import services
from generation.models import (
    GenerationJob,
    GenerationModel,
    PromptModifier,
    StylePreset,
    WorkerPresence,
)
from portraits.admin import portrait_link, raw_json, recipe_readable, remix_of


@admin.register(GenerationModel)
class GenerationModelAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "source",
        "family",
        "queue",
        "is_enabled",
        "is_default",
        "demo",
    ]
    list_filter = ["is_enabled", "family", "demo", "queue"]
    search_fields = ["name", "slug", "source"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["make_default", "enable", "disable"]
    fieldsets = [
        (
            None,
            {"fields": ["name", "slug", "description", "is_enabled", "is_default", "demo"]},
        ),
        ("Weights", {"fields": ["source", "revision", "family"]}),
        ("Workers", {"fields": ["queue"]}),
        (
            "Defaults and limits",
            {
                "fields": [
                    ("default_steps", "max_steps"),
                    ("default_guidance", "max_guidance"),
                    ("default_width", "default_height"),
                    ("max_width", "max_height"),
                    "default_scheduler",
                ]
            },
        ),
    ]

    @admin.action(description="Make the selected model the default")
    def make_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model.", messages.ERROR)
            return
        model = services.model_make_default(model=queryset.get())
        self.message_user(request, f"{model.name} is now the default model.")

    @admin.action(description="Enable the selected models")
    def enable(self, request, queryset):
        queryset.update(is_enabled=True)

    @admin.action(description="Disable the selected models (running jobs finish)")
    def disable(self, request, queryset):
        queryset.update(is_enabled=False)


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "order", "is_enabled"]
    list_editable = ["order", "is_enabled"]
    search_fields = ["name", "prompt_template"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(PromptModifier)
class PromptModifierAdmin(admin.ModelAdmin):
    """The prompt builder's vocabularies: the chips of the create page, by category."""

    list_display = ["name", "category", "text", "order", "is_enabled"]
    list_editable = ["order", "is_enabled"]
    list_filter = ["category", "is_enabled"]
    search_fields = ["name", "text"]
    prepopulated_fields = {"slug": ["category", "name"]}


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    """Jobs as they ran, read-only: the recipe in the create form's words (as on a
    portrait's admin page), the portrait it remixes or reproduces and the portraits it
    made, linked by title; the worker's side after. Cancelling goes through the service."""

    # What a row needs to be told apart and judged; the worker's side is on the job's page.
    list_display = ["job_short", "user_link", "status", "prompt_short", "model", "created_at"]
    list_filter = ["status", "model", "created_at"]
    search_fields = ["id", "prompt", "user__username"]
    # Every column reads these rows: a page of any size is the same few queries.
    list_select_related = ["user", "model", "parent", "reproduces"]
    list_display_links = ["job_short"]
    date_hierarchy = "created_at"
    actions = ["cancel_jobs"]
    fieldsets = [
        (
            None,
            {"fields": ["status_line", "user_link", "page_link", "portraits_made", "created_at"]},
        ),
        ("Recipe", {"fields": ["recipe_view", "parent_link", "reproduces_link"]}),
        (
            "Worker",
            {
                "fields": [
                    "worker",
                    "task_id",
                    "attempts",
                    ("enqueued_at", "started_at"),
                    ("heartbeat_at", "finished_at"),
                    "error",
                    "held_for_review",
                ]
            },
        ),
        ("Stored data", {"classes": ["collapse"], "fields": ["recipe_json", "frozen_json"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    class Media:
        css = {"all": ["portraits/admin.css"]}

    def has_add_permission(self, request):
        return False  # jobs are submitted through the service, never hand-made

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user", "model", "parent__author", "reproduces__author")
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: a "Save" button would promise an edit that cannot be.
        extra_context = {
            "show_save": False,
            "show_save_and_continue": False,
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="Prompt")
    def prompt_short(self, job):
        prompt = Truncator(job.prompt).chars(60)
        # A reproduction paints a portrait again: it reads as that, not as a remix.
        if job.reproduces is not None:
            return format_html("{}<br>{}", prompt, remix_of(job.reproduces, reproduction=True))
        if job.parent is not None:
            return format_html("{}<br>{}", prompt, remix_of(job.parent))
        return prompt

    @admin.display(description="Job", ordering="created_at")
    def job_short(self, job):
        # The start of its id is enough to tell jobs apart on a page (the whole id is on
        # its page and in the search), and leaves the prompt room to read.
        return f"{str(job.pk)[:8]}…"

    @admin.display(description="User", ordering="user__username")
    def user_link(self, job):
        return user_admin_link(job.user)

    @admin.display(description="Status")
    def status_line(self, job):
        status = job.get_status_display()
        if job.status == GenerationJob.Status.RUNNING and job.progress_total:
            return f"{status}: step {job.progress_step} of {job.progress_total}"
        if job.status == GenerationJob.Status.FAILED and job.error:
            return f"{status}: {job.error}"
        return status

    @admin.display(description="Page")
    def page_link(self, job):
        url = job.get_absolute_url()
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="Portraits")
    def portraits_made(self, job):
        made = list(job.portraits.order_by("index_in_job"))
        if not made:
            return "None."
        return format_html(
            '<ol class="portrait-remixes">{}</ol>',
            format_html_join("", "<li>{}</li>", ((portrait_link(p, author=False),) for p in made)),
        )

    @admin.display(description="Remix of")
    def parent_link(self, job):
        if job.parent is None:
            return "— (an original)" if not job.frozen.get("parent") else "— (no longer stored)"
        return portrait_link(job.parent)

    @admin.display(description="Reproduces")
    def reproduces_link(self, job):
        return portrait_link(job.reproduces) if job.reproduces is not None else "—"

    @admin.display(description="Recipe")
    def recipe_view(self, job):
        return recipe_readable(job.recipe)

    @admin.display(description="Recipe (JSON)")
    def recipe_json(self, job):
        return raw_json(job.recipe)

    @admin.display(description="Frozen at submission (JSON)")
    def frozen_json(self, job):
        return raw_json(job.frozen)

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request, queryset):
        cancelled = 0
        for job in queryset.filter(status__in=GenerationJob.ACTIVE_STATUSES):
            try:
                services.job_cancel(job=job, by=request.user)
                cancelled += 1
            except DomainError:
                pass
        self.message_user(request, f"Cancelled {cancelled} job(s).")


@admin.register(WorkerPresence)
class WorkerPresenceAdmin(admin.ModelAdmin):
    """The workers that announced themselves, the queues they consume and whether their
    models are loaded (read-only: the workers write it). One not seen for
    GENERATION_STALE_AFTER is gone."""

    list_display = ["hostname", "queues", "is_ready", "models_loaded", "started_at", "seen_at"]
    readonly_fields = ["hostname", "queues", "ready_at", "models_loaded", "started_at", "seen_at"]

    @admin.display(boolean=True, description="ready", ordering="ready_at")
    def is_ready(self, presence):
        """Its models loaded (``ready_at``)."""
        return presence.ready_at is not None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
