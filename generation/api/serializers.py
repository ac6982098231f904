from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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


class JobSpecSerializer(serializers.Serializer):
    """What a client may ask for. Types are checked here, ranges by the service
    (which knows the model's limits); the remix parent is never a client field."""

    prompt = serializers.CharField(
        max_length=PROMPT_MAX_LENGTH, allow_blank=True, trim_whitespace=True
    )
    negative_prompt = serializers.CharField(
        max_length=PROMPT_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    style = serializers.SlugField(required=False, allow_null=True, allow_blank=True)
    model = serializers.SlugField(required=False, allow_null=True, allow_blank=True)
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
        return job_representation(instance)


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


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def job_representation(job: GenerationJob) -> dict[str, Any]:
    """The job as REST clients and WebSocket subscribers see it (owner's view)."""
    from portraits.api.serializers import PortraitSummarySerializer
    from portraits.selectors import portrait_list_for_job
    from portraits.services import public_recipe

    portraits = []
    if job.status == GenerationJob.Status.SUCCEEDED:
        found = getattr(job, "live_portraits", None)  # prefetched by the selectors
        if found is None:
            found = portrait_list_for_job(job=job, viewer=job.user)
        portraits = PortraitSummarySerializer(found, many=True).data
    parent = job.parent
    return {
        "id": str(job.pk),
        "status": job.status,
        "queue_position": job_queue_position(job=job),
        "progress": {"step": job.progress_step, "total": job.progress_total or job.steps},
        "recipe": public_recipe(job.recipe),  # never the model's server-side path
        "model": {
            "slug": job.model.slug,
            "name": job.model.name,
            "paints_noise": job.model.paints_noise,
        },
        "style": {"slug": job.style.slug, "name": job.style.name} if job.style else None,
        "parent": (
            {"id": parent.public_id, "url": parent.get_absolute_url()}
            if parent is not None and not parent.is_deleted
            else None
        ),
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
