from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse

TITLE_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 2000
TAG_MAX_LENGTH = 40
TAGS_MAX_PER_PORTRAIT = 10

# What the gallery lists: public, not deleted, not hidden by moderators. Its indexes are
# partial on this condition, so they hold only the rows a list can show.
LISTED = Q(visibility="public", deleted_at__isnull=True, hidden_at__isnull=True)


# What decides, besides LISTED, whether a listed row is shown to a viewer: its rating,
# and its author (one's own are shown whatever their rating).
RATED_BY = ["rating", "author"]


# What new_public_id makes and the column holds: URL-safe base64, at most 22 characters.
# URLs and selectors check ids against it before any query sees them.
PUBLIC_ID_PATTERN = r"[A-Za-z0-9_-]{1,22}"


def new_public_id() -> str:
    # 16 URL-safe characters, 96 bits of randomness: not guessable, not enumerable.
    return secrets.token_urlsafe(12)


def original_path(instance: Portrait, filename: str) -> str:
    return f"portraits/{instance.public_id[:2]}/{instance.public_id}.png"


def thumbnail_path(instance: Portrait, filename: str) -> str:
    return f"portraits/{instance.public_id[:2]}/{instance.public_id}-thumb.webp"


class Tag(models.Model):
    """A word owners file portraits under: a lower-case slug (``portraits.tags``)."""

    slug = models.SlugField(max_length=TAG_MAX_LENGTH, unique=True, allow_unicode=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("gallery:tag", kwargs={"slug": self.slug})


class Portrait(models.Model):
    """One image of a successful job, with its recipe and its place in a remix chain.

    ``ancestry`` is the stored path of internal ids from the root to the parent
    (``"/3/17/"``; empty for an original), so a chain of any depth is read in one
    query. ``root`` is the original of the chain (NULL for an original itself,
    which is its own root). ``changes`` records, at creation, what this step
    changed from its parent (format in ``portraits.lineage``), so credits survive
    the parent becoming private or deleted.

    ``recipe`` is the job's frozen recipe for this one image: its own seed (job
    seed + index), the scheduler and weights revision that actually painted it
    (next to the ``requested_*`` ones a remix asks for again), the device, dtype
    and diffusers/torch versions, and ``batch_size``/``batch_index``.
    """

    class Role(models.TextChoices):
        """What a step's author did to shape a portrait (from its parent and recipe)."""

        ORIGINAL = "original", "original author"
        REMIXER = "remixer", "remixer"
        IMG2IMG_REMIXER = "img2img_remixer", "image-to-image remixer"

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private (only you)"
        UNLISTED = "unlisted", "Unlisted (anyone with the link)"
        PUBLIC = "public", "Public (in the gallery)"

    class Rating(models.TextChoices):
        GENERAL = "general", "General"
        MATURE = "mature", "Mature"

    class HiddenCause(models.TextChoices):
        """Why ``hidden_at`` is set: a moderator hid it, or its author is suspended."""

        NONE = "", "Not hidden"
        MODERATION = "moderation", "Hidden by moderators"
        SUSPENSION = "suspension", "Author suspended"

    public_id = models.CharField(max_length=22, unique=True, default=new_public_id, editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="portraits",
    )
    # Kept so credits still name someone whose account is gone.
    author_name = models.CharField(max_length=150)
    job = models.ForeignKey(
        "generation.GenerationJob", on_delete=models.SET_NULL, null=True, related_name="portraits"
    )
    index_in_job = models.PositiveSmallIntegerField(default=0)

    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    description = models.TextField(max_length=DESCRIPTION_MAX_LENGTH, blank=True)
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE
    )

    image = models.FileField(upload_to=original_path, max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    thumbnail = models.FileField(upload_to=thumbnail_path, max_length=200)
    thumbnail_width = models.PositiveIntegerField()
    thumbnail_height = models.PositiveIntegerField()
    recipe = models.JSONField()

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="remixes"
    )
    root = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    depth = models.PositiveIntegerField(default=0)
    ancestry = models.TextField(blank=True, default="")
    changes = models.JSONField(default=dict, blank=True)
    # A reproduction (``generation``'s Reproduce) paints a portrait's recipe again: it takes
    # the same place in the chain (the same parent, credited the same), and names here the
    # portrait it repaints, so it reads as a reproduction, not as another remix.
    reproduces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reproductions"
    )
    # A sha256 of the decoded pixels (``portraits.imagefiles.pixels_sha256``), written at
    # creation: two files of the same picture differ in their signed metadata, their
    # pixels do not. Empty for a portrait stored before it was kept (read from its file
    # when needed). ``pixels_match``: for a reproduction, whether its pixels are the
    # original's; None when not a reproduction, or when the original's file was gone.
    pixels_sha256 = models.CharField(max_length=64, blank=True, default="")
    pixels_match = models.BooleanField(null=True, blank=True)

    # The community's view of it (``portraits.community``): when its owner first made it
    # public (the gallery's "newest" and "top of the week" go by this, not by when it was
    # painted); its likes and its remixes (not deleted), kept exact in the transaction
    # that changes them; and its trending score, a log2 that orders by decayed activity.
    published_at = models.DateTimeField(null=True, blank=True)
    like_count = models.PositiveIntegerField(default=0)
    remix_count = models.PositiveIntegerField(default=0)
    trending = models.FloatField(null=True, blank=True)
    # Moderators hide a portrait (issue 10): only its owner and moderators see it then.
    # ``hidden_cause`` says why (set iff ``hidden_at`` is): a moderator's hide, or its
    # author's suspension (lifting one un-hides only those). ``hidden_rule`` and
    # ``hidden_reason`` are what its owner is shown; moderation services write all four.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_cause = models.CharField(
        max_length=10, choices=HiddenCause.choices, blank=True, default=""
    )
    hidden_rule = models.CharField(max_length=200, blank=True, default="")
    hidden_reason = models.TextField(blank=True, default="")
    # The prompt gate's "review" outcome: its owner sees it, but it cannot be made public
    # or unlisted until a moderator clears it.
    held_for_review = models.BooleanField(default=False)
    # Content rating: set by the owner, unless a moderator overrode it (``rating_locked``).
    rating = models.CharField(max_length=10, choices=Rating.choices, default=Rating.GENERAL)
    rating_locked = models.BooleanField(default=False)
    # The recipe's style and model slugs, as columns the gallery filters on with an index.
    style = models.CharField(max_length=80, blank=True, default="")
    model = models.CharField(max_length=100, blank=True, default="")
    tags = models.ManyToManyField(Tag, related_name="portraits", blank=True)
    # What search reads: title, prompt and tags (``portraits.search``). ``search_text`` on
    # every database; ``search_vector`` (weighted tsvector, GIN-indexed) on PostgreSQL only.
    search_text = models.TextField(blank=True, default="")
    search_vector = SearchVectorField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # A deleted portrait with descendants stays as a tombstone: its files are
    # removed, but its author's credit and its changes remain in the chain.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("moderate_portrait", "Can see and moderate every portrait and job")]
        indexes = [
            models.Index(fields=["visibility", "-created_at"], name="portrait_visibility_idx"),
            models.Index(fields=["author", "-created_at"], name="portrait_author_idx"),
            # The remixes of a portrait, newest first, paginated by cursor.
            models.Index(fields=["parent", "-created_at"], name="portrait_parent_idx"),
            # A remix tree: every descendant of an original, shallowest first.
            models.Index(fields=["root", "depth", "created_at"], name="portrait_tree_idx"),
            # The gallery's sorts and filters, each over listed rows only.
            # Newest; and, covering the scores, any sort within a period ("top of the
            # week": the week's rows read from the index alone, then sorted). Each sort's
            # index also carries what decides who may see a row besides LISTED (its
            # rating, and its author for the author's own: ``portrait_rating_q``), so a
            # list stays an index-only scan.
            models.Index(
                fields=["-published_at", "-id"],
                include=["like_count", "remix_count", "trending", *RATED_BY],
                condition=LISTED,
                name="gallery_newest_idx",
            ),
            models.Index(
                fields=["-like_count", "-id"],
                include=RATED_BY,
                condition=LISTED,
                name="gallery_top_idx",
            ),
            models.Index(
                fields=["-trending", "-id"],
                include=RATED_BY,
                condition=LISTED,
                name="gallery_trending_idx",
            ),
            models.Index(
                fields=["-remix_count", "-id"],
                include=RATED_BY,
                condition=LISTED,
                name="gallery_remixed_idx",
            ),
            models.Index(
                fields=["author", "-published_at", "-id"],
                condition=LISTED,
                name="gallery_author_idx",
            ),
            models.Index(
                fields=["style", "-published_at", "-id"],
                condition=LISTED,
                name="gallery_style_idx",
            ),
            models.Index(
                fields=["model", "-published_at", "-id"],
                condition=LISTED,
                name="gallery_model_idx",
            ),
            # The GIN index on search_vector is PostgreSQL's only: migration 0004 adds it.
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=["private", "unlisted", "public"]),
                name="portrait_visibility_valid",
            ),
            models.CheckConstraint(
                condition=(Q(parent__isnull=True) & Q(depth=0) & Q(ancestry=""))
                | (Q(parent__isnull=False) & Q(depth__gt=0) & Q(root__isnull=False)),
                name="portrait_lineage_consistent",
            ),
            models.CheckConstraint(
                condition=~Q(visibility="public")
                | Q(published_at__isnull=False, trending__isnull=False),
                name="portrait_public_has_published_at",
            ),
            models.CheckConstraint(
                condition=Q(rating__in=["general", "mature"]), name="portrait_rating_valid"
            ),
            # Hidden exactly when there is a cause, and only for a known cause.
            models.CheckConstraint(
                condition=Q(hidden_at__isnull=True, hidden_cause="")
                | Q(hidden_at__isnull=False, hidden_cause__in=["moderation", "suspension"]),
                name="portrait_hidden_has_cause",
            ),
            # A task delivered twice must not store a job's images twice.
            models.UniqueConstraint(
                fields=["job", "index_in_job"],
                condition=Q(job__isnull=False),
                name="portrait_one_per_job_image",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("portraits:detail", kwargs={"public_id": self.public_id})

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def is_hidden_by_moderators(self) -> bool:
        return self.hidden_cause == self.HiddenCause.MODERATION

    @property
    def family_root_id(self) -> int:
        """The original of this portrait's remix tree (itself, for an original)."""
        return self.root_id or self.pk

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.ancestry.strip("/").split("/") if part]

    @property
    def descendant_prefix(self) -> str:
        """What every descendant's ``ancestry`` starts with (``ancestry__startswith``)."""
        return f"{self.ancestry or '/'}{self.pk}/"

    @property
    def seed(self) -> int | None:
        return self.recipe.get("seed")

    @property
    def is_img2img(self) -> bool:
        return self.parent_id is not None and self.recipe.get("init_strength") is not None

    @property
    def role(self) -> str:
        if self.parent_id is None:
            return self.Role.ORIGINAL
        return self.Role.IMG2IMG_REMIXER if self.is_img2img else self.Role.REMIXER

    @property
    def role_label(self) -> str:
        return self.Role(self.role).label
