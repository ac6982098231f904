from django.contrib import admin, messages

from config.errors import DomainError
from generation import services
from generation.models import GenerationJob, GenerationModel, StylePreset


@admin.register(GenerationModel)
class GenerationModelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "source", "family", "is_enabled", "is_default", "paints_noise"]
    list_filter = ["is_enabled", "family", "paints_noise"]
    search_fields = ["name", "slug", "source"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["make_default", "enable", "disable"]
    fieldsets = [
        (
            None,
            {"fields": ["name", "slug", "description", "is_enabled", "is_default", "paints_noise"]},
        ),
        ("Weights", {"fields": ["source", "revision", "family"]}),
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


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "user",
        "status",
        "model",
        "prompt_short",
        "created_at",
        "worker",
        "attempts",
    ]
    list_filter = ["status", "model", "created_at"]
    search_fields = ["id", "prompt", "user__username"]
    list_select_related = ["user", "model"]
    date_hierarchy = "created_at"
    actions = ["cancel_jobs"]
    readonly_fields = [f.name for f in GenerationJob._meta.fields]

    def has_add_permission(self, request):
        return False  # jobs are submitted through the service, never hand-made

    @admin.display(description="Prompt")
    def prompt_short(self, job):
        return job.prompt[:60]

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
