from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from config.api.fields import StrictCharField, StrictSlugField
from config.api.filters import EnumFilter, QuerySerializer
from generation.models import PROMPT_MAX_LENGTH, GenerationJob, GenerationModel, StylePreset
from generation.selectors import job_queue_position
from generation.services import SCHEDULERS


class GenerationModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = GenerationModel
        fields = [
            "slug",
            "name",
            "description",
            "family",
            "is_default",
            "paints_noise",
            "default_steps",
            "max_steps",
            "default_guidance",
            "max_guidance",
            "default_width",
            "default_height",
            "max_width",
            "max_height",
            "default_scheduler",
        ]


class StylePresetSerializer(serializers.ModelSerializer):
    class Meta:
        model = StylePreset
        fields = ["slug", "name", "prompt_template", "negative_prompt", "order"]


# The service drops control characters and strips the rest: a prompt needs one character
# that is neither; and, as every string, no U+0000 (DRF refuses it).
VISIBLE = r"^[^\u0000]*[^\s\u0000-\u001f\u007f][^\u0000]*$"


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": PROMPT_MAX_LENGTH, "pattern": VISIBLE}
)
class PromptField(StrictCharField):
    """A prompt, which the schema says is never blank. A blank one passes this field so the
    service refuses it together with the request's other errors."""

    def run_validation(self, data=empty):
        if isinstance(data, str) and not data.strip():
            return data
        return super().run_validation(data)


class JobListQuerySerializer(QuerySerializer):
    status = EnumFilter(GenerationJob.Status.choices, help_text="Only jobs in this state.")


class JobSpecSerializer(serializers.Serializer):
    """What a client may ask for. Types are checked here, ranges by the service
    (which knows the model's limits); the remix parent is never a client field."""

    refuses_unknown_fields = True  # see validate(); the schema says so (config.api.schema)

    prompt = PromptField(max_length=PROMPT_MAX_LENGTH)
    negative_prompt = StrictCharField(
        max_length=PROMPT_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    style = StrictSlugField(required=False, allow_null=True, allow_blank=True)
    model = StrictSlugField(required=False, allow_null=True, allow_blank=True)
    seed = serializers.IntegerField(required=False, allow_null=True, help_text="Random when empty.")
    steps = serializers.IntegerField(required=False)
    guidance_scale = serializers.FloatField(required=False)
    width = serializers.IntegerField(required=False, help_text="A multiple of 8.")
    height = serializers.IntegerField(required=False, help_text="A multiple of 8.")
    num_images = serializers.IntegerField(required=False, min_value=1, max_value=4)
    scheduler = serializers.ChoiceField(
        choices=sorted(SCHEDULERS), required=False, allow_blank=True
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


class JobSerializer(serializers.Serializer):
    """The job resource, read-only; the same dict is sent over the WebSocket."""

    def to_representation(self, instance: GenerationJob) -> dict[str, Any]:
        request = self.context.get("request")
        return job_representation(instance, viewer=getattr(request, "user", None))


@extend_schema_field(serializers.DictField())
class _Dict(serializers.DictField):
    pass


class JobDocSerializer(serializers.Serializer):
    """Schema of :func:`job_representation`, for the OpenAPI document."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=GenerationJob.Status.choices)
    queue_position = serializers.IntegerField(allow_null=True)
    progress = _Dict()
    recipe = _Dict()
    model = _Dict()
    style = _Dict(allow_null=True)
    parent = _Dict(allow_null=True)
    error = serializers.CharField()
    worker = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.CharField()
    api_url = serializers.CharField()
    ws_url = serializers.CharField()
    portraits = serializers.ListField(child=_Dict())


class JobSubmittedDocSerializer(JobDocSerializer):
    """Schema of a job submission's answer: the job, and whether it reached the queue."""

    delivery = serializers.ChoiceField(
        choices=["sent", "deferred"],
        help_text="`sent`: handed to the queue. `deferred`: the queue could not be reached; "
        "the job is kept and sent by the sweeper (within `GENERATION_SWEEP_INTERVAL`, "
        "15 s by default) once it can be — do not submit it again.",
    )


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def job_representation(job: GenerationJob, *, viewer=None) -> dict[str, Any]:
    """The job as REST clients, its page and WebSocket subscribers see it.

    Built for ``viewer`` (the job's owner or a moderator); without one, for the job's
    owner — what a WebSocket event carries to everyone following the job, a moderator
    included, since the owner sees no more than a moderator does. The parent is shown
    only through ``portraits.selectors`` (a private parent of someone else or a deleted
    one reads ``{"available": false, ...}`` with its author's credit, and the recipe's
    ``parent`` is then null; a visible parent's title is the one ``viewer`` may read,
    see ``portraits.selectors.portrait_title_for``); the owner's own recipe — their
    prompt, even one kept from the parent — is always theirs to see.
    """
    from portraits.api.serializers import PortraitSummarySerializer
    from portraits.recipe import recipe_for_viewer
    from portraits.selectors import portrait_list_for_job, portrait_parent_for

    viewer = job.user if viewer is None else viewer
    portraits = []
    if job.status == GenerationJob.Status.SUCCEEDED:
        found = getattr(job, "live_portraits", None)  # prefetched by the selectors
        if found is None:
            found = portrait_list_for_job(job=job, viewer=job.user)
        portraits = PortraitSummarySerializer(found, many=True, context={"viewer": viewer}).data
    # A remix whose parent row is gone altogether still says it was one (the recipe
    # remembers), as a parent no longer available.
    parent = None
    if job.parent_id is not None or job.recipe.get("parent"):
        parent = portrait_parent_for(parent=job.parent, viewer=viewer)
    return {
        "id": str(job.pk),
        "status": job.status,
        "queue_position": job_queue_position(job=job),
        "progress": {"step": job.progress_step, "total": job.progress_total or job.steps},
        # Never the model's server-side path, nor a parent the viewer may not open.
        "recipe": recipe_for_viewer(
            job.recipe, parent_visible=parent is not None and parent.available
        ),
        "model": {
            "slug": job.model.slug,
            "name": job.model.name,
            "paints_noise": job.model.paints_noise,
        },
        "style": {"slug": job.style.slug, "name": job.style.name} if job.style else None,
        "parent": parent.as_dict() if parent is not None else None,
        "error": job.error,
        "worker": job.worker,
        "attempts": job.attempts,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "url": job.get_absolute_url(),
        "api_url": reverse("api:job-detail", kwargs={"pk": job.pk}),
        "ws_url": job.ws_path,
        "portraits": list(portraits),
    }
