from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from config.api.fields import (
    RefusesUnknownFieldsMixin,
    StrictBooleanField,
    StrictCharField,
    StrictSlugField,
)
from config.api.filters import EnumFilter, QuerySerializer
from generation.models import GenerationJob, GenerationModel, PromptModifier, StylePreset
from generation.presenters import job_present, sweep_present
from generation.selectors import sweep_cells_for_display
from generation.sweeps import AXES
from portraits.models import Portrait
from portraits.recipe import MAX_IMAGES_PER_JOB, PROMPT_MAX_LENGTH, SCHEDULERS


class GenerationModelSerializer(serializers.ModelSerializer):
    paints_noise = serializers.BooleanField(
        read_only=True, help_text='Random weights: paints abstract shapes (demo is "noise").'
    )

    class Meta:
        model = GenerationModel
        fields = [
            "slug",
            "name",
            "description",
            "family",
            "is_default",
            "demo",
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


class PromptModifierSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromptModifier
        fields = ["slug", "category", "name", "text", "order"]


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


# The site's words for what DRF would say in its own ("A valid integer is required.",
# "Ensure this value is less than or equal to 4."): the sentences the service and the
# create page use, so a client shows one voice whichever check refused a field.
WHOLE_NUMBER = {
    "invalid": "Enter a whole number.",
    "max_string_length": "Enter a whole number.",
    "null": "Leave it out for the model's default.",
}
NUMBER = {**WHOLE_NUMBER, "invalid": "Enter a number.", "max_string_length": "Enter a number."}
TEXT = {"max_length": "At most {max_length} characters (this has %(show_value)d)."}
DESCRIBE = "Describe the portrait you want."
PROMPT = {**TEXT, "required": DESCRIBE, "null": DESCRIBE}
NEGATIVE_PROMPT = {**TEXT, "null": "Leave it out, or send an empty string."}


class JobSpecSerializer(RefusesUnknownFieldsMixin, serializers.Serializer):
    """What a client may ask for. Types are checked here, ranges by the service
    (which knows the model's limits); the remix parent is never a client field.

    A request with type errors still gets the service's errors on its other fields in the
    same answer (``generation.api.views``): every bad field at once."""

    prompt = PromptField(
        max_length=PROMPT_MAX_LENGTH,
        error_messages=PROMPT,
    )
    negative_prompt = StrictCharField(
        max_length=PROMPT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        error_messages=NEGATIVE_PROMPT,
    )
    style = StrictSlugField(
        required=False,
        allow_null=True,
        allow_blank=True,
        error_messages={"invalid": "Unknown style “%(value)s”."},
    )
    model = StrictSlugField(
        required=False,
        allow_null=True,
        allow_blank=True,
        error_messages={"invalid": "Unknown model “%(value)s”."},
    )
    seed = serializers.IntegerField(
        required=False, allow_null=True, help_text="Random when empty.", error_messages=WHOLE_NUMBER
    )
    steps = serializers.IntegerField(required=False, error_messages=WHOLE_NUMBER)
    guidance_scale = serializers.FloatField(required=False, error_messages=NUMBER)
    width = serializers.IntegerField(
        required=False, help_text="A multiple of 8.", error_messages=WHOLE_NUMBER
    )
    height = serializers.IntegerField(
        required=False, help_text="A multiple of 8.", error_messages=WHOLE_NUMBER
    )
    num_images = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_IMAGES_PER_JOB,
        error_messages={
            **WHOLE_NUMBER,
            "null": "Leave it out for one image.",
            "min_value": f"Must be between 1 and {MAX_IMAGES_PER_JOB}.",
            "max_value": f"Must be between 1 and {MAX_IMAGES_PER_JOB}.",
        },
    )
    modifiers = serializers.ListField(
        child=StrictSlugField(error_messages={"invalid": "Unknown modifier “%(value)s”."}),
        required=False,
        max_length=20,
        help_text="The prompt builder's modifiers (`GET /api/v1/modifiers/`), by slug: their "
        "words are added to the end of the prompt, each once.",
    )
    scheduler = serializers.ChoiceField(
        choices=sorted(SCHEDULERS),
        required=False,
        allow_blank=True,
        error_messages={
            "invalid_choice": f"Choose one of: {', '.join(sorted(SCHEDULERS))}.",
            "null": "Leave it out, or send an empty string, for the model's default.",
        },
    )


@extend_schema_field(
    {"type": "number", "format": "double", "minimum": 0, "exclusiveMinimum": True, "maximum": 1}
)
class InitStrengthField(serializers.FloatField):
    """A strength above 0 and at most 1, which the service checks with the other ranges:
    DRF's ``min_value`` would document 0 as allowed."""


class RemixSerializer(JobSpecSerializer):
    """A remix: any job field to change; the rest comes from the parent's recipe.

    ``init_strength`` (0 < s ≤ 1) paints over the parent's original (image-to-image);
    without it the remix paints from noise. There is no ``parent`` field: the parent
    is the portrait in the URL.
    """

    modifiers = None  # the prompt builder is the create form's (a remix edits the prompt)
    prompt = PromptField(
        max_length=PROMPT_MAX_LENGTH,
        required=False,
        error_messages=PROMPT,
    )
    negative_prompt = StrictCharField(
        max_length=PROMPT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        error_messages=NEGATIVE_PROMPT,
    )
    init_strength = InitStrengthField(
        required=False,
        allow_null=True,
        help_text="Image-to-image: how far to move from the parent's image (0 < s ≤ 1).",
        error_messages=NUMBER,
    )

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent (absent ones are inherited, not defaulted)."""
        return {
            key: value for key, value in self.validated_data.items() if key in self.initial_data
        }


@extend_schema_field(
    {
        "type": "object",
        "minProperties": 1,
        "maxProperties": MAX_IMAGES_PER_JOB,
        "additionalProperties": {"type": "string", "enum": list(Portrait.Visibility.values)},
    }
)
class VisibilityChoicesField(serializers.DictField):
    """``{portrait id: visibility}``, for at most a job's number of images."""


class JobPublishSerializer(serializers.Serializer):
    """Who may see each of a finished job's portraits, set in one request."""

    refuses_unknown_fields = True  # see validate(); the schema says so (config.api.schema)

    portraits = VisibilityChoicesField(
        child=serializers.ChoiceField(choices=Portrait.Visibility.choices),
        allow_empty=False,
        help_text="Portrait id → `private`, `unlisted` or `public`, for any of this job's "
        "portraits (those left out keep theirs). All or nothing: an id that is not one of "
        "this job's portraits is a 400 with the id under `errors`, and nothing changes.",
    )

    def validate_portraits(self, value):
        if len(value) > MAX_IMAGES_PER_JOB:
            raise serializers.ValidationError(
                f"A job has at most {MAX_IMAGES_PER_JOB} portraits ({len(value)} given)."
            )
        return value

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs


class JobSerializer(serializers.Serializer):
    """The job resource, read-only: ``generation.presenters.job_present`` for the request's
    user (the same dict the job page and WebSocket messages carry)."""

    def to_representation(self, instance: GenerationJob) -> dict[str, Any]:
        return job_present(instance, viewer=self.context["request"].user)


@extend_schema_field(serializers.DictField())
class _Dict(serializers.DictField):
    pass


class JobDocSerializer(serializers.Serializer):
    """Schema of :func:`generation.presenters.job_present`, for the OpenAPI document."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=GenerationJob.Status.choices)
    queue_position = serializers.IntegerField(allow_null=True)
    queue_note = serializers.CharField(
        allow_null=True,
        help_text="Why a queued job may wait longer than its position says (no worker serves "
        "its model at the moment); null otherwise.",
    )
    progress = _Dict()
    recipe = _Dict()
    model = _Dict()
    style = _Dict(allow_null=True)
    parent = _Dict(allow_null=True)
    reproduces = _Dict(
        allow_null=True,
        help_text="A reproduction: the portrait whose recipe it paints again (the shape of "
        "`parent`); null for any other job.",
    )
    pixels_match = serializers.BooleanField(
        allow_null=True,
        help_text="A finished reproduction: whether its pixels are the original's; null "
        "until it has painted, and for any other job.",
    )
    error = serializers.CharField()
    worker = serializers.CharField()
    attempts = serializers.IntegerField()
    batch = _Dict(
        allow_null=True,
        help_text="The pipeline call that painted its latest attempt: `id`, and how many "
        "`jobs` (of any members) and `images` it painted together; null before it starts.",
    )
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


# --- Sweeps ---------------------------------------------------------------------------------


class SweepSpecSerializer(JobSpecSerializer):
    """A sweep: a job's recipe (its base) and the axis to paint it along. Each cell paints
    one image."""

    num_images = None  # one picture per cell
    axis = serializers.ChoiceField(
        choices=list(AXES),
        help_text="`styles` (values: 2–12 style slugs), `seeds` (values: how many "
        "variations), `guidance` or `steps` (values: a list), `prompt` (no values: the "
        "prompt's `{a|b}` alternatives, every combination).",
        error_messages={"invalid_choice": f"Choose one of: {', '.join(AXES)}."},
    )
    values = serializers.JSONField(required=False, allow_null=True, default=None)


class SweepTriageSerializer(serializers.Serializer):
    cell = serializers.IntegerField(min_value=0, help_text="The cell's position on the board.")
    choice = serializers.ChoiceField(
        choices=["keep", "discard", "skip", ""],
        help_text="`keep`, `discard`, `skip`, or empty to undecide.",
        error_messages={"invalid_choice": "Choose one of: keep, discard, skip."},
    )


class SweepCompareSerializer(serializers.Serializer):
    cells = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        max_length=2,
        help_text="Two cell positions to put side by side; empty to close the comparison.",
    )


class SweepCancelSerializer(serializers.Serializer):
    cell = serializers.IntegerField(
        min_value=0, required=False, help_text="One cell to cancel; without it, every active cell."
    )


class SweepPickSerializer(serializers.Serializer):
    chosen = serializers.IntegerField(min_value=0, help_text="The cell you prefer.")
    over = serializers.IntegerField(min_value=0, help_text="The cell you prefer it to.")


class TasteSettingsSerializer(serializers.Serializer):
    learning = StrictBooleanField(
        help_text="Whether the studio learns from your choices and suggests from them."
    )


class TasteSuggestionSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    text = serializers.CharField(required=False, help_text="A modifier's words.")
    why = serializers.CharField(help_text="Why it is suggested, in words.")
    explore = serializers.BooleanField(help_text="The slot kept for something less tried.")


class TasteLearnedSerializer(serializers.Serializer):
    feature = serializers.CharField(help_text="`style:<slug>`, `modifier:<slug>`, `word:<w>`…")
    label = serializers.CharField()
    weight = serializers.FloatField()
    why = serializers.CharField()
    toward = serializers.BooleanField()


class TasteNextSweepSerializer(serializers.Serializer):
    axis = serializers.CharField()
    prompt = serializers.CharField()
    styles = serializers.ListField(child=serializers.CharField())
    why = serializers.CharField()


class TasteLearnedListsSerializer(serializers.Serializer):
    likes = TasteLearnedSerializer(many=True)
    dislikes = TasteLearnedSerializer(many=True)


class TasteDocSerializer(serializers.Serializer):
    """Schema of :func:`generation.selectors.taste_studio`, for the OpenAPI document."""

    learning = serializers.BooleanField()
    signals = serializers.IntegerField(help_text="How many of your choices it learned from.")
    source = serializers.ChoiceField(
        choices=["you", "community", "none"],
        help_text="Whose choices the suggestions come from: yours, or (with none yet) the "
        "community's.",
    )
    style_order = serializers.ListField(
        child=serializers.CharField(), help_text="Every style's slug, your likeliest first."
    )
    styles = TasteSuggestionSerializer(many=True)
    modifiers = TasteSuggestionSerializer(many=True)
    next_sweep = TasteNextSweepSerializer(allow_null=True)
    learned = TasteLearnedListsSerializer()


class SweepSerializer(serializers.Serializer):
    """The sweep resource, read-only: ``generation.presenters.sweep_present``."""

    def to_representation(self, instance) -> dict[str, Any]:
        viewer = self.context["request"].user
        cells = sweep_cells_for_display(sweep=instance, viewer=viewer)
        return sweep_present(instance, cells=cells, viewer=viewer)


class SweepDocSerializer(serializers.Serializer):
    """Schema of :func:`generation.presenters.sweep_present`, for the OpenAPI document."""

    id = serializers.UUIDField()
    axis = serializers.ChoiceField(choices=list(AXES))
    axis_label = serializers.CharField()
    prompt = serializers.CharField()
    created_at = serializers.DateTimeField()
    url = serializers.CharField()
    api_url = serializers.CharField()
    ws_url = serializers.CharField()
    cells = serializers.ListField(
        child=_Dict(),
        help_text="In board order: `position`, `caption` (what differs from the other cells), "
        "`label`, `choice` (keep, discard, skip or empty) and `job` (the job resource).",
    )
    compare = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="The cells side by side."
    )
    batches = serializers.IntegerField(help_text="How many pipeline calls painted its cells.")
    counts = _Dict()
