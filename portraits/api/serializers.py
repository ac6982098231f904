"""Portrait representations. URLs are site-relative unless a request is in the context."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.api.fields import RefusesUnknownFieldsMixin, StrictCharField
from config.api.filters import EnumFilter, QuerySerializer
from portraits import credentials
from portraits.models import (
    DESCRIPTION_MAX_LENGTH,
    TAG_MAX_LENGTH,
    TAGS_MAX_PER_PORTRAIT,
    TITLE_MAX_LENGTH,
    Portrait,
)
from portraits.presenters import portrait_reproduction, portrait_summary
from portraits.selectors import (
    portrait_can_edit,
    portrait_changes_for,
    portrait_credits,
    portrait_moderation_for,
    portrait_origin,
    portrait_parent_for,
    portrait_recipe_for,
)


def _absolute_url(serializer: serializers.Serializer):
    """The request's ``build_absolute_uri`` when there is one: the API's URLs are absolute."""
    request = serializer.context.get("request")
    return request.build_absolute_uri if request is not None else None


def _url(serializer: serializers.Serializer, path: str) -> str:
    absolute = _absolute_url(serializer)
    return absolute(path) if absolute is not None else path


def _portrait_url(serializer: serializers.Serializer, name: str, portrait: Portrait) -> str:
    return _url(serializer, reverse(name, kwargs={"public_id": portrait.public_id}))


class AuthorSerializer(serializers.Serializer):
    name = serializers.CharField()
    username = serializers.CharField(allow_null=True)
    url = serializers.CharField(
        allow_null=True, help_text="Profile page; null for a deleted account."
    )


class PortraitSummarySerializer(serializers.ModelSerializer):
    """A portrait in a list or embedded in a job: enough to show and link it.

    ``id`` is the public id (the only id the API knows portraits by). The portraits
    given must have their ``author`` selected (the selectors do). ``title`` is the title
    as the viewer may read it (``portraits.selectors.portrait_title_for``): the viewer is
    the context's ``viewer``, else its request's user, else anonymous. For a list, decide
    what is withheld first (``portraits.selectors.portraits_withheld``): one query for all.
    """

    # The fields document the shape (the OpenAPI schema); portraits.presenters writes it,
    # the one representation the API, pages and WebSocket events share.

    id = serializers.CharField(source="public_id", read_only=True)
    title = serializers.CharField(
        read_only=True,
        help_text="A default title made from a prompt withheld from you reads "
        '"Untitled remix" (see `recipe.prompt_withheld`).',
    )
    url = serializers.CharField(read_only=True, help_text="The portrait's page.")
    api_url = serializers.CharField(read_only=True)
    image_url = serializers.CharField(read_only=True)
    thumbnail_url = serializers.CharField(read_only=True)
    download_url = serializers.CharField(read_only=True)
    author = AuthorSerializer(read_only=True)
    rating = serializers.ChoiceField(
        choices=Portrait.Rating.choices,
        read_only=True,
        help_text="`mature`: shown only to its author, moderators and members who opted in.",
    )

    class Meta:
        model = Portrait
        fields = [
            "id",
            "title",
            "url",
            "api_url",
            "image_url",
            "thumbnail_url",
            "download_url",
            "width",
            "height",
            "thumbnail_width",
            "thumbnail_height",
            "visibility",
            "rating",
            "author",
            "depth",
            "created_at",
        ]
        read_only_fields = fields

    def _viewer(self):
        if "viewer" in self.context:
            return self.context["viewer"]
        request = self.context.get("request")
        return getattr(request, "user", None)

    def to_representation(self, portrait: Portrait) -> dict[str, Any]:
        return portrait_summary(
            portrait,
            viewer=self._viewer(),
            absolute_url=_absolute_url(self),
            chain=self.context.get("chain"),
        )


class ParentSerializer(serializers.Serializer):
    """A remix's parent as the viewer may see it (``portraits.lineage.ParentRef``):
    ``available`` false — private to someone else, or deleted — leaves only its author."""

    available = serializers.BooleanField()
    id = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    author = AuthorSerializer()
    removed_by_moderators = serializers.BooleanField(
        help_text="Hidden by moderators: not available to others, who read it as removed by "
        "moderators; its author is still credited."
    )


class CreditSerializer(serializers.Serializer):
    name = serializers.CharField()
    username = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    role = serializers.ChoiceField(choices=Portrait.Role.choices, help_text="Their first role.")
    role_label = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=Portrait.Role.choices))
    depths = serializers.ListField(
        child=serializers.IntegerField(), help_text="The steps of the chain they made."
    )


class PortraitModerationSerializer(serializers.Serializer):
    """Moderators' hold on a portrait, as its owner (and moderators) read it."""

    hidden = serializers.BooleanField(help_text="Hidden from everyone but you and moderators.")
    hidden_by = serializers.ChoiceField(
        choices=[("moderators", "moderators"), ("suspension", "suspension")],
        allow_null=True,
        help_text="`moderators`: a moderators' decision (appealable); `suspension`: hidden "
        "while its author's account is suspended.",
    )
    rule = serializers.CharField(help_text="The rule moderators cited; empty if none.")
    reason = serializers.CharField(help_text="The reason they gave; empty if none.")
    held_for_review = serializers.BooleanField(
        help_text="Waiting for a moderator's review: it cannot be made public or unlisted yet."
    )


class PortraitSerializer(PortraitSummarySerializer):
    """One portrait in full, as a viewer who may see it sees it.

    ``changes`` is what this step changed from its parent (word diff of the prompt,
    changed parameters, style, image-to-image); when the parent is not available to
    the viewer only the names of what changed are given. ``credits`` lists everyone
    who shaped it; pass the chain in the context (``chain``) to avoid a query.
    """

    recipe = serializers.SerializerMethodField()
    parent = serializers.SerializerMethodField()
    reproduces = serializers.SerializerMethodField()
    pixels_match = serializers.SerializerMethodField()
    changes = serializers.SerializerMethodField()
    credits = serializers.SerializerMethodField()
    role = serializers.ChoiceField(choices=Portrait.Role.choices, read_only=True)
    is_img2img = serializers.BooleanField(read_only=True)
    can_edit = serializers.SerializerMethodField()
    origin = serializers.SerializerMethodField(
        help_text="Where it was painted beyond its lineage, or null: a sweep's portrait has "
        '`{"kind": "sweep", "axis", "axis_label", "caption" (what its cell tried), "sweep" '
        '(its id and board url, for its author only), "siblings" (the other cells\' portraits '
        "you may see, each with its caption)}`."
    )
    links = serializers.SerializerMethodField()
    moderation = serializers.SerializerMethodField()
    published_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When its author first made it public (kept if it is made private again); "
        "null if it never was.",
    )
    rating_locked = serializers.BooleanField(
        read_only=True,
        help_text="Moderators set its rating: its author cannot change it (a PATCH of "
        "`rating` is refused with a field error).",
    )
    like_count = serializers.IntegerField(read_only=True)
    remix_count = serializers.IntegerField(
        read_only=True,
        help_text="Its direct remixes, private ones included (the family tree shows their "
        "places as not available).",
    )
    tags = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="slug", help_text="Lower-case slugs."
    )

    class Meta(PortraitSummarySerializer.Meta):
        fields = [
            *PortraitSummarySerializer.Meta.fields,
            "rating_locked",
            "published_at",
            "like_count",
            "remix_count",
            "tags",
            "description",
            "recipe",
            "role",
            "is_img2img",
            "parent",
            "reproduces",
            "pixels_match",
            "changes",
            "credits",
            "can_edit",
            "origin",
            "links",
            "moderation",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, portrait: Portrait) -> dict[str, Any]:
        # The summary from its presenter, then the fields only the full resource has.
        data = super().to_representation(portrait)
        for field in self._readable_fields:
            if field.field_name not in data:
                attribute = field.get_attribute(portrait)
                data[field.field_name] = (
                    None if attribute is None else field.to_representation(attribute)
                )
        return data

    @extend_schema_field(serializers.DictField())
    def get_recipe(self, portrait: Portrait) -> dict[str, Any]:
        # Its `parent` is null unless the viewer may open the parent, its prompts null
        # (and `prompt_withheld` true) if kept from a step hidden from them (portraits.recipe).
        return portrait_recipe_for(
            portrait=portrait, viewer=self._viewer(), chain=self.context.get("chain")
        )

    @extend_schema_field(ParentSerializer(allow_null=True))
    def get_parent(self, portrait: Portrait) -> dict[str, Any] | None:
        if portrait.parent is None:
            return None
        parent = portrait_parent_for(
            parent=portrait.parent, viewer=self._viewer(), chain=self.context.get("chain")
        )
        return parent.as_dict(absolute=lambda path: _url(self, path))

    @extend_schema_field(
        ParentSerializer(
            allow_null=True,
            help_text="A reproduction (Reproduce): the portrait whose recipe it painted again, "
            "as you may see it. It has that portrait's `parent` (the same place in the chain). "
            "Null when it is no reproduction.",
        )
    )
    def get_reproduces(self, portrait: Portrait) -> dict[str, Any] | None:
        return self._reproduction(portrait)["reproduces"]

    @extend_schema_field(
        serializers.BooleanField(
            allow_null=True,
            help_text="A reproduction: whether its decoded pixels are those of the portrait it "
            "reproduces (their files always differ, in their signed metadata). Null when it is "
            "no reproduction, or when the original's file was gone.",
        )
    )
    def get_pixels_match(self, portrait: Portrait) -> bool | None:
        return self._reproduction(portrait)["pixels_match"]

    def _reproduction(self, portrait: Portrait) -> dict[str, Any]:
        cached = getattr(self, "_reproduction_of", None)
        if cached is None or cached[0] is not portrait:
            cached = (
                portrait,
                portrait_reproduction(
                    portrait, viewer=self._viewer(), absolute_url=_absolute_url(self)
                ),
            )
            self._reproduction_of = cached
        return cached[1]

    @extend_schema_field(serializers.DictField())
    def get_changes(self, portrait: Portrait) -> dict[str, Any]:
        return portrait_changes_for(
            portrait=portrait, viewer=self._viewer(), chain=self.context.get("chain")
        )

    @extend_schema_field(CreditSerializer(many=True))
    def get_credits(self, portrait: Portrait) -> list[dict[str, Any]]:
        credits = portrait_credits(portrait=portrait, chain=self.context.get("chain"))
        return CreditSerializer(credits, many=True).data

    @extend_schema_field(
        PortraitModerationSerializer(
            allow_null=True,
            help_text="Moderators' hold on it, for its owner and moderators only; null for "
            "everyone else and when nothing holds it.",
        )
    )
    def get_moderation(self, portrait: Portrait) -> dict[str, Any] | None:
        return portrait_moderation_for(portrait=portrait, viewer=self._viewer())

    def get_can_edit(self, portrait: Portrait) -> bool:
        return portrait_can_edit(portrait=portrait, viewer=self._viewer())

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_origin(self, portrait: Portrait) -> dict | None:
        return portrait_origin(portrait=portrait, viewer=self._viewer())

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_links(self, portrait: Portrait) -> dict[str, str]:
        names = {
            "lineage": "api:portrait-lineage",
            "tree": "api:portrait-tree",
            "remixes": "api:portrait-remixes",
            "credentials": "api:portrait-credentials",
            "remix": "api:portrait-remix",
            "reproduce": "api:portrait-reproduce",
            "download": "api:portrait-download",
        }
        return {key: _portrait_url(self, name, portrait) for key, name in names.items()}


class MyPortraitListQuerySerializer(QuerySerializer):
    visibility = EnumFilter(
        Portrait.Visibility.choices, help_text="Only portraits with this visibility."
    )


# A tag as sent: text with a letter or digit in it (what is left once normalised to a slug;
# punctuation alone leaves nothing), and no U+0000 (DRF refuses it).
TAG_PATTERN = r"^[^\u0000]*[^\W_][^\u0000]*$"


@extend_schema_field(
    {"type": "string", "minLength": 1, "maxLength": TAG_MAX_LENGTH, "pattern": TAG_PATTERN}
)
class TagField(StrictCharField):
    """One tag, normalised by the service (``portraits.community.tags_parse``)."""


class PortraitUpdateSerializer(RefusesUnknownFieldsMixin, serializers.Serializer):
    """What an owner may change. Checked again by the service (forms use it too)."""

    unknown_field_message = "This field cannot be changed."

    title = StrictCharField(max_length=TITLE_MAX_LENGTH, required=False)
    description = StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True
    )
    visibility = serializers.ChoiceField(choices=Portrait.Visibility.choices, required=False)
    rating = serializers.ChoiceField(
        choices=Portrait.Rating.choices,
        required=False,
        help_text="`mature`: only its author, moderators and members who opted in to mature "
        "content see it, anywhere. Refused (400, `errors.rating`) while moderators hold its "
        "rating (`rating_locked`).",
    )
    tags = serializers.ListField(
        child=TagField(max_length=TAG_MAX_LENGTH),
        max_length=TAGS_MAX_PER_PORTRAIT,
        required=False,
        help_text=f"Replaces its tags (up to {TAGS_MAX_PER_PORTRAIT}): each is stored as a "
        "lower-case slug (`Oil Painting` → `oil-painting`), duplicates once. A tag of "
        "punctuation only is refused (400, `errors.tags`), and nothing changes.",
    )


class LineageStepSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", allow_null=True)
    depth = serializers.IntegerField()
    available = serializers.BooleanField()
    is_deleted = serializers.BooleanField()
    is_current = serializers.BooleanField()
    role = serializers.ChoiceField(choices=Portrait.Role.choices)
    role_label = serializers.CharField()
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    title = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    thumbnail_url = serializers.CharField(allow_null=True)
    prompt = serializers.CharField(
        allow_null=True,
        help_text="Null for a step you cannot see, and for one whose prompt was kept from "
        "a step you cannot see (`prompt_withheld`).",
    )
    prompt_withheld = serializers.BooleanField()
    visibility = serializers.CharField(allow_null=True)
    changes = serializers.DictField()
    removed_by_moderators = serializers.BooleanField(
        help_text="Hidden by moderators (shown to you as removed by moderators, unless it is "
        "yours); its author's credit and what it changed remain."
    )

    @extend_schema_field(AuthorSerializer)
    def get_author(self, step) -> dict[str, Any]:
        return {"name": step.author_name, "username": step.author_username, "url": step.author_url}


class FamilyMemberSerializer(serializers.Serializer):
    """One member of a remix tree. `available` false (private to someone else, hidden,
    deleted, or unlisted and named by no page you can open): no `id`, `title`, `url` or
    thumbnail, only its place (`key`, `parent`), its author and the names of what it
    changed (`changes.changed`)."""

    key = serializers.IntegerField(
        help_text="Its position in `members` (shallowest first): the tree's own reference "
        "to it, valid within this response."
    )
    parent = serializers.IntegerField(
        source="parent_key",
        allow_null=True,
        help_text="The `key` of the portrait it remixed (always earlier in `members`); null "
        "for the original.",
    )
    id = serializers.CharField(source="step.public_id", allow_null=True)
    depth = serializers.IntegerField(source="step.depth")
    available = serializers.BooleanField(source="step.available")
    is_deleted = serializers.BooleanField(source="step.is_deleted")
    is_current = serializers.BooleanField(
        source="step.is_current", help_text="The portrait whose tree you asked for."
    )
    role = serializers.ChoiceField(source="step.role", choices=Portrait.Role.choices)
    role_label = serializers.CharField(source="step.role_label")
    author = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="step.created_at")
    title = serializers.CharField(source="step.title", allow_null=True)
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    thumbnail_width = serializers.IntegerField(source="step.thumbnail_width", allow_null=True)
    thumbnail_height = serializers.IntegerField(source="step.thumbnail_height", allow_null=True)
    visibility = serializers.CharField(source="step.visibility", allow_null=True)
    removed_by_moderators = serializers.BooleanField(
        source="step.removed_by_moderators",
        help_text="Hidden by moderators (shown to you as removed by moderators, unless it is "
        "yours); its author's credit and what it changed remain.",
    )
    changes = serializers.DictField(
        source="step.changes",
        help_text="What its edge from `parent` changed, as on its lineage "
        "(`portraits.lineage.changes_for_viewer`); empty for the original.",
    )

    @extend_schema_field(AuthorSerializer)
    def get_author(self, member) -> dict[str, Any]:
        step = member.step
        return {"name": step.author_name, "username": step.author_username, "url": step.author_url}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_url(self, member) -> str | None:
        return _url(self, member.step.url) if member.step.url else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_thumbnail_url(self, member) -> str | None:
        return _url(self, member.step.thumbnail_url) if member.step.thumbnail_url else None


class FamilySerializer(serializers.Serializer):
    """The remix tree of a portrait's original, flat: `members` shallowest first, each
    naming its parent by `key`, so a client builds the nesting in one pass. A tree larger
    than `max_members` is cut there (shallowest first, so what is shown is connected);
    `left_out` says how many members were not shown."""

    id = serializers.CharField(help_text="The portrait you asked for.")
    total = serializers.IntegerField(help_text="Members of the whole tree, original included.")
    shown = serializers.IntegerField()
    left_out = serializers.IntegerField()
    max_members = serializers.IntegerField()
    current = serializers.IntegerField(
        allow_null=True,
        help_text="The `key` of the portrait you asked for; null when the bound left it out.",
    )
    members = FamilyMemberSerializer(many=True)


class LineageSerializer(serializers.Serializer):
    id = serializers.CharField()
    depth = serializers.IntegerField()
    steps = LineageStepSerializer(many=True, help_text="From the original to this portrait.")
    credits = CreditSerializer(many=True)


class CredentialsSerializer(serializers.Serializer):
    """A file's Content Credentials as read back and verified."""

    present = serializers.BooleanField()
    valid = serializers.BooleanField(help_text="The manifest is intact and its hashes match.")
    trusted = serializers.BooleanField(
        help_text="The signer chains to a trust anchor (the built-in list or this site's CA)."
    )
    validation_state = serializers.CharField(allow_null=True)
    validation_errors = serializers.ListField(child=serializers.DictField())
    title = serializers.CharField(allow_null=True)
    author = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    digital_source_type = serializers.CharField(allow_null=True)
    parent = serializers.DictField(allow_null=True)
    signer = serializers.CharField(allow_null=True)
    signer_organization = serializers.CharField(allow_null=True)
    active_manifest = serializers.DictField(allow_null=True)
    png_parameters = serializers.CharField(allow_null=True)
    png_provenance = serializers.DictField(allow_null=True)
    matches_portrait = serializers.BooleanField(required=False)


@extend_schema_field({"type": "string", "format": "binary", "minLength": 1})
class NonEmptyFileField(serializers.FileField):
    """A file upload: the field refuses an empty file, and the schema says so."""


class VerifyUploadSerializer(serializers.Serializer):
    file = NonEmptyFileField(
        help_text="An image file (PNG, JPEG, WebP...); the whole request may be at most "
        f"{filesizeformat(settings.UPLOAD_MAX_BYTES)} (UPLOAD_MAX_BYTES), or it is a 413. "
        "A file that is no readable image is refused with a field error.",
        validators=[credentials.validate_readable_image],
    )
