from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from portraits import recipe as recipes
from portraits.recipe import MAX_IMAGES_PER_JOB, PROMPT_MAX_LENGTH, SEED_MAX


class GenerationModel(models.Model):
    """A diffusers text-to-image model that workers can load, with its defaults and limits."""

    class Demo(models.TextChoices):
        # Random weights (build_tiny_model): for tests and a cold start.
        NOISE = "noise", "Random weights: paints abstract shapes"
        # The project's trained model (train_tiny_model; shipped in generation/weights).
        PORTRAITS = "portraits", "Trained offline demo: small stylised portraits"

    class Family(models.TextChoices):
        AUTO = "auto", "Detect (AutoPipelineForText2Image)"
        SD = "sd", "Stable Diffusion 1.x / 2.x"
        SDXL = "sdxl", "Stable Diffusion XL"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    source = models.CharField(
        max_length=500,
        help_text="A Hugging Face repo id (stabilityai/sd-turbo) or a local folder path.",
    )
    revision = models.CharField(max_length=100, blank=True, help_text="Hub branch, tag or commit.")
    family = models.CharField(max_length=10, choices=Family.choices, default=Family.AUTO)
    description = models.TextField(blank=True)
    is_enabled = models.BooleanField("enabled", default=True)
    is_default = models.BooleanField("default", default=False)
    demo = models.CharField(
        max_length=10,
        choices=Demo.choices,
        blank=True,
        default="",
        help_text="One of the project's own offline models: the site tells members what it "
        "can paint. Blank for a real model.",
    )
    default_steps = models.PositiveSmallIntegerField(default=25)
    max_steps = models.PositiveSmallIntegerField(default=50)
    default_guidance = models.FloatField(default=7.0)
    max_guidance = models.FloatField(default=20.0)
    default_width = models.PositiveIntegerField(default=512)
    default_height = models.PositiveIntegerField(default=512)
    max_width = models.PositiveIntegerField(default=1024)
    max_height = models.PositiveIntegerField(default=1024)
    default_scheduler = models.CharField(
        max_length=60,
        blank=True,
        help_text="A diffusers scheduler class name; empty: the model's own.",
    )
    queue = models.SlugField(
        max_length=100,
        default="gpu",
        help_text="The broker queue its jobs are sent to. Start the workers that should keep "
        'this model loaded with `-Q <queue>` (README, "Keeping models hot"); a job waits, '
        "and says so, while no worker consumes its queue.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="generation_one_default_model",
            ),
            models.CheckConstraint(
                condition=Q(default_steps__gte=1) & Q(default_steps__lte=F("max_steps")),
                name="generation_model_steps_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(default_guidance__gte=0) & Q(default_guidance__lte=F("max_guidance")),
                name="generation_model_guidance_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(default_width__gte=64)
                & Q(default_width__lte=F("max_width"))
                & Q(default_height__gte=64)
                & Q(default_height__lte=F("max_height")),
                name="generation_model_size_within_limit",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def paints_noise(self) -> bool:
        return self.demo == self.Demo.NOISE

    def limits(self) -> recipes.ModelLimits:
        """What a recipe needs of this model (``portraits.recipe`` takes plain values)."""
        return recipes.ModelLimits(
            slug=self.slug,
            name=self.name,
            source=self.source,
            revision=self.revision,
            family=self.family,
            default_steps=self.default_steps,
            max_steps=self.max_steps,
            default_guidance=self.default_guidance,
            max_guidance=self.max_guidance,
            default_width=self.default_width,
            default_height=self.default_height,
            max_width=self.max_width,
            max_height=self.max_height,
            default_scheduler=self.default_scheduler,
        )


class StylePreset(models.Model):
    """A style from the portrait tradition, applied to the user's prompt by a template."""

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=80, unique=True)
    prompt_template = models.CharField(
        max_length=500, help_text="Must contain {prompt}, where the user's prompt goes."
    )
    negative_prompt = models.CharField(max_length=500, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    is_enabled = models.BooleanField("enabled", default=True)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(prompt_template__contains="{prompt}"),
                name="generation_style_template_has_prompt",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def apply(self, prompt: str) -> str:
        return self.template().apply(prompt)

    def template(self) -> recipes.StyleTemplate:
        """This style as a recipe uses it (``portraits.recipe`` takes plain values)."""
        return recipes.StyleTemplate(
            slug=self.slug,
            name=self.name,
            prompt_template=self.prompt_template,
            negative_prompt=self.negative_prompt,
        )


class Sweep(models.Model):
    """One idea painted along one axis (``generation.sweeps``): its cells are jobs
    (``GenerationJob.sweep``), painted together where they can be, shown as a board that
    its member triages (keep, discard, skip) and compares. Only its member sees it."""

    class Axis(models.TextChoices):
        STYLES = "styles", "Styles"
        SEEDS = "seeds", "Variations"
        GUIDANCE = "guidance", "Guidance"
        STEPS = "steps", "Steps"
        PROMPT = "prompt", "Prompt alternatives"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sweeps"
    )
    axis = models.CharField(max_length=10, choices=Axis.choices)
    # The idea as written (with its {a|b} alternatives, for a prompt sweep).
    prompt = models.TextField(max_length=PROMPT_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The board as it was left: the two cells side by side in the comparison.
    compare_left = models.ForeignKey(
        "GenerationJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    compare_right = models.ForeignKey(
        "GenerationJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(axis__in=["styles", "seeds", "guidance", "steps", "prompt"]),
                name="generation_sweep_axis_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt[:40]} ({self.get_axis_display()})"

    def get_absolute_url(self) -> str:
        return reverse("generation:sweep-detail", kwargs={"pk": self.pk})

    @property
    def ws_path(self) -> str:
        return f"/ws/sweeps/{self.pk}/"


class PromptModifier(models.Model):
    """A few words of the prompt builder (mood, lighting, time of day, framing, medium):
    the create page offers them as chips that add their ``text`` to the prompt. Managed by
    administrators; a disabled one is no longer offered (the prompts it went into keep
    its words)."""

    class Category(models.TextChoices):
        MOOD = "mood", "Mood"
        LIGHTING = "lighting", "Lighting"
        TIME = "time", "Time of day"
        FRAMING = "framing", "Framing"
        MEDIUM = "medium", "Medium"

    category = models.CharField(max_length=10, choices=Category.choices)
    name = models.CharField(max_length=60, help_text="What the chip says.")
    slug = models.SlugField(max_length=80, unique=True)
    text = models.CharField(max_length=120, help_text="The words it adds to the prompt.")
    order = models.PositiveSmallIntegerField(default=0)
    is_enabled = models.BooleanField("enabled", default=True)

    class Meta:
        ordering = ["category", "order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(category__in=["mood", "lighting", "time", "framing", "medium"]),
                name="generation_modifier_category_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.name}"


# What a member makes of a sweep's cell (``GenerationJob.sweep_choice``; blank: untriaged).
TRIAGE_CHOICES = [("keep", "Kept"), ("discard", "Discarded"), ("skip", "Skipped")]


class GenerationJob(models.Model):
    """One submission: a recipe, painted as a batch of 1–4 images by a worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_jobs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)

    # The recipe as the member asked for it (defaults resolved at submission): these
    # columns are the truth (portraits.recipe says why), the rest is in ``frozen``.
    model = models.ForeignKey(GenerationModel, on_delete=models.PROTECT, related_name="jobs")
    style = models.ForeignKey(
        StylePreset, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    prompt = models.TextField(max_length=PROMPT_MAX_LENGTH)
    negative_prompt = models.TextField(max_length=PROMPT_MAX_LENGTH, blank=True)
    seed = models.BigIntegerField(validators=[MinValueValidator(0), MaxValueValidator(SEED_MAX)])
    steps = models.PositiveSmallIntegerField()
    guidance_scale = models.FloatField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    num_images = models.PositiveSmallIntegerField(default=1)
    scheduler = models.CharField(max_length=60, blank=True)
    # Remixes: the portrait this job was remixed from (chosen by the server from
    # what the user could see) and, for image-to-image, how far to move from it.
    parent = models.ForeignKey(
        "portraits.Portrait",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="remix_jobs",
    )
    init_strength = models.FloatField(null=True, blank=True)
    # A reproduction: the portrait whose recipe this job paints again (its ``parent`` is
    # that portrait's parent, so the new portrait takes the same place in the chain).
    reproduces = models.ForeignKey(
        "portraits.Portrait",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reproduction_jobs",
    )
    # The prompt gate let the prompts through for a moderator's review (a "review" entry of
    # the blocklist matched them, ``config.gates``): the job runs, and its portraits are
    # created held for review (``portraits.services.portrait_create_from_job``).
    held_for_review = models.BooleanField(default=False)
    # The rest of the recipe: other rows as they were at submission (the styled prompts,
    # the model's slug, name, source, revision and family, the style's slug and name, the
    # parent's public id; ``portraits.recipe.FROZEN_FIELDS``). Immutable afterwards.
    frozen = models.JSONField(default=dict)

    # Execution.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When a task for this job was last sent to the broker (submission, a requeue, a
    # re-send by the sweeper): the sweeper re-sends only once this is old. Null while no
    # send has succeeded (the broker was unreachable): the sweeper sends it at its next run.
    enqueued_at = models.DateTimeField(default=timezone.now, null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The broker message whose delivery claimed the running attempt: only that message,
    # given back by the broker, may take the job over (services.job_start).
    task_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    progress_step = models.PositiveSmallIntegerField(default=0)
    progress_total = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # The pipeline call that painted this attempt: the worker paints compatible queued
    # jobs, of any members, together (services.job_claim_batch). Random, shared by the
    # jobs of one call; with how many jobs and images that call painted.
    batch_id = models.UUIDField(null=True, blank=True)
    batch_jobs = models.PositiveSmallIntegerField(default=0)
    batch_images = models.PositiveSmallIntegerField(default=0)
    # A cell of a sweep: its place on the board, what differs from its siblings
    # (``generation.sweeps.Cell.label``) and its member's triage of it.
    sweep = models.ForeignKey(
        Sweep, on_delete=models.SET_NULL, null=True, blank=True, related_name="cells"
    )
    sweep_position = models.PositiveSmallIntegerField(null=True, blank=True)
    sweep_label = models.JSONField(default=dict, blank=True)
    sweep_choice = models.CharField(max_length=8, choices=TRIAGE_CHOICES, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="generation_job_queue_idx"),
            models.Index(fields=["user", "status"], name="generation_job_user_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "cancelled"]),
                name="generation_job_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(num_images__gte=1) & Q(num_images__lte=MAX_IMAGES_PER_JOB),
                name="generation_job_num_images_range",
            ),
            models.CheckConstraint(
                condition=Q(seed__gte=0) & Q(seed__lte=SEED_MAX), name="generation_job_seed_range"
            ),
            # An image-to-image job needs its parent until it is over; afterwards the
            # parent may be deleted (SET_NULL) while the job stays in its owner's list.
            # (portraits.services.portrait_delete keeps a tombstone for active remix jobs.)
            models.CheckConstraint(
                condition=Q(init_strength__isnull=True)
                | (
                    Q(init_strength__gt=0)
                    & Q(init_strength__lte=1)
                    & (Q(parent__isnull=False) | Q(status__in=["succeeded", "failed", "cancelled"]))
                ),
                name="generation_job_init_strength_needs_parent",
            ),
            models.CheckConstraint(
                condition=Q(width__gte=64) & Q(height__gte=64) & Q(steps__gte=1),
                name="generation_job_minimums",
            ),
            models.UniqueConstraint(
                fields=["sweep", "sweep_position"],
                condition=Q(sweep__isnull=False),
                name="generation_job_one_cell_per_place",
            ),
            models.CheckConstraint(
                condition=Q(sweep_choice__in=["", "keep", "discard", "skip"]),
                name="generation_job_sweep_choice_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prompt[:40]} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("generation:job-detail", kwargs={"pk": self.pk})

    @property
    def recipe(self) -> dict:
        """The whole recipe, as the API shows it and a portrait copies it: the asked
        columns with the frozen snapshot (``portraits.recipe.recipe_assemble``)."""
        asked = {name: getattr(self, name) for name in recipes.ASKED_FIELDS}
        return recipes.recipe_assemble(asked, self.frozen)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def is_img2img(self) -> bool:
        return self.init_strength is not None

    @property
    def steps_to_run(self) -> int:
        """How many denoising steps the worker runs (``portraits.recipe.img2img_steps``):
        what its progress counts to. At least one: a submission refuses a recipe with
        none (``job_validate_spec``)."""
        return max(1, recipes.img2img_steps(self.steps, self.init_strength))

    def batch_mates(self) -> models.QuerySet[GenerationJob]:
        """Queued jobs that could be painted in one pipeline call with this one (of any
        member): the same model, size, steps, scheduler, guidance and image-to-image
        strength (``inference.batch_key`` of their specs), oldest first. Prompts, seeds,
        image counts and starting images may differ."""
        return (
            GenerationJob.objects.filter(
                status=self.Status.QUEUED,
                model_id=self.model_id,
                width=self.width,
                height=self.height,
                steps=self.steps,
                scheduler=self.scheduler,
                guidance_scale=self.guidance_scale,
                init_strength=self.init_strength,
            )
            .exclude(pk=self.pk)
            .order_by("created_at")
        )

    @property
    def is_delivery_deferred(self) -> bool:
        """Queued, but no message for it reached the broker yet (the sweeper will send it)."""
        return self.status == self.Status.QUEUED and self.enqueued_at is None

    @property
    def ws_path(self) -> str:
        return f"/ws/jobs/{self.pk}/"


class SubmissionKey(models.Model):
    """An ``Idempotency-Key`` a member sent with a job submission, and the job it made.

    A retry with the same key and the same request gets that job back instead of a
    second one; the same key with another request is refused. Kept for a day (the
    sweeper deletes older ones). Only successful submissions are recorded: a refused
    one (invalid, over quota) may be retried with its key.
    """

    KEY_MAX_LENGTH = 255

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submission_keys"
    )
    key = models.CharField(max_length=KEY_MAX_LENGTH)
    # A hash of what was asked (method, path, body): a key names one request.
    request_fingerprint = models.CharField(max_length=64)
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="generation_submission_key_once"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.job_id}"


class WorkerPresence(models.Model):
    """A Celery worker that is up, and the queues it consumes: written when it starts and
    every GENERATION_HEARTBEAT_INTERVAL while it runs, deleted when it stops
    (``services.WorkerPresenceBeat``). A row older than GENERATION_STALE_AFTER belongs to a
    worker that died; a queued job whose queue no fresh row lists is told it waits for one.
    It is *ready* (``ready_at``) once the process that paints has its models loaded.
    """

    hostname = models.CharField(max_length=200, unique=True)
    # ",gpu,celery,": one lookup (``contains=",gpu,"``) on every database tells whether a
    # queue is served, in a subquery of the job listing.
    queues = models.CharField(max_length=1000, default=",")
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Readiness: set once the process that paints has loaded every model of its queues
    # (``services.worker_warmed``), cleared when a worker of this name starts again.
    ready_at = models.DateTimeField(null=True, blank=True)
    models_loaded = models.CharField(max_length=1000, blank=True, default="")

    class Meta:
        verbose_name_plural = "worker presences"

    def __str__(self) -> str:
        return self.hostname

    @staticmethod
    def queues_field(queues) -> str:
        return "," + "".join(f"{queue}," for queue in sorted(queues))


class TasteProfile(models.Model):
    """Whether the studio learns a member's taste (``generation.taste``). No row: it does.
    Switched off, it records nothing and suggests nothing of theirs; what it had learned
    stays until they reset it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="taste_profile"
    )
    learning = models.BooleanField(default=True)
    reset_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {'learning' if self.learning else 'off'}"


class TasteSignal(models.Model):
    """One choice a member made about a recipe, read as its features at the time
    (``generation.taste.recipe_features``): a later edit or deletion of the portrait does
    not rewrite what they chose. Only its member and the community's aggregate
    (``generation.taste.community_prior``, never one member's) read it."""

    class Kind(models.TextChoices):
        KEEP = "keep", "Kept"
        DISCARD = "discard", "Discarded"
        PREFER = "prefer", "Picked over another"
        PUBLISH = "publish", "Published"
        LIKE = "like", "Liked"
        REMIX = "remix", "Remixed"
        DELETE = "delete", "Deleted"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="taste_signals"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    features = models.JSONField(default=list)
    # A pick's other cell: what the chosen one was preferred to.
    against = models.JSONField(default=list, blank=True)
    # What it was about, while it exists (a sweep's cell, a portrait).
    job = models.ForeignKey(
        GenerationJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    other_job = models.ForeignKey(
        GenerationJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    portrait = models.ForeignKey(
        "portraits.Portrait", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="generation_taste_recent")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=["keep", "discard", "prefer", "publish", "like", "remix", "delete"]
                ),
                name="generation_tastesignal_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.created_at:%Y-%m-%d}"
