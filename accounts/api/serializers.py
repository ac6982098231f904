"""Shapes of the accounts API. Serializers parse and present; the services validate and write.

Length limits appear here so the schema documents them; the services enforce the
same rules for every caller, and refuse with the same field errors.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.models import BIO_MAX_LENGTH, DISPLAY_NAME_MAX_LENGTH, ApiToken, User
from accounts.services import API_TOKEN_NAME_MAX_LENGTH
from config.api.fields import StrictBooleanField, StrictCharField, StrictEmailField

DEFAULT_TOKEN_NAME = "API token"


class _AvatarUrlMixin:
    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_avatar_url(self, user: User) -> str | None:
        if not user.avatar:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(user.avatar_url) if request else user.avatar_url


class PublicUserSerializer(_AvatarUrlMixin, serializers.ModelSerializer):
    """What anyone may see of a member: the profile page, as data. No e-mail address."""

    avatar_url = serializers.SerializerMethodField()
    profile_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["username", "display_name", "bio", "avatar_url", "profile_url", "date_joined"]
        read_only_fields = fields

    def get_profile_url(self, user: User) -> str:
        request = self.context.get("request")
        url = user.get_absolute_url()
        return request.build_absolute_uri(url) if request else url


class MeSerializer(_AvatarUrlMixin, serializers.ModelSerializer):
    """The signed-in member's own account. PATCH with JSON, or multipart to upload an avatar."""

    email = StrictEmailField(max_length=254)
    display_name = StrictCharField(
        max_length=DISPLAY_NAME_MAX_LENGTH, allow_blank=True, required=False
    )
    bio = StrictCharField(
        max_length=BIO_MAX_LENGTH, allow_blank=True, required=False, trim_whitespace=False
    )
    avatar = serializers.FileField(
        write_only=True,
        required=False,
        allow_null=True,
        allow_empty_file=False,
        help_text=(
            "A PNG, JPEG, WebP or GIF image (multipart upload); stored cropped to "
            "256×256 WebP. `null` removes the avatar."
        ),
    )
    avatar_url = serializers.SerializerMethodField()
    shows_mature = StrictBooleanField(
        required=False,
        help_text="Whether portraits rated mature are shown to you. Turning it on needs "
        "`age_confirmed: true` in the same request (400, `errors.age_confirmed`, otherwise); "
        "turning it off needs nothing. JSON only.",
    )
    age_confirmed = StrictBooleanField(
        write_only=True,
        required=False,
        help_text="You confirm that you are 18 or older: needed to turn `shows_mature` on, "
        "and recorded as `mature_confirmed_at`.",
    )
    mature_confirmed_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When you last confirmed you are 18 or older (turning mature content on).",
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "display_name",
            "bio",
            "avatar",
            "avatar_url",
            "shows_mature",
            "age_confirmed",
            "mature_confirmed_at",
            "date_joined",
        ]
        read_only_fields = ["id", "username", "mature_confirmed_at", "date_joined"]


@extend_schema_serializer(exclude_fields=["shows_mature", "age_confirmed"])
class MeUploadSerializer(MeSerializer):
    """PATCH /me/ as multipart/form-data: how an avatar is uploaded (a form has no null).
    Mature content is turned on and off with JSON."""

    avatar = serializers.FileField(
        write_only=True,
        required=False,
        help_text="A PNG, JPEG, WebP or GIF image; stored cropped to 256×256 WebP.",
    )


@extend_schema_serializer(exclude_fields=["avatar"])
class MeJsonSerializer(MeSerializer):
    """PATCH /me/ as JSON. JSON cannot carry an image: upload one as multipart. `"avatar":
    null` removes it, as DELETE /me/avatar/ does."""


class RegisterSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    email = StrictEmailField(max_length=254)
    password = StrictCharField(write_only=True, style={"input_type": "password"})
    display_name = StrictCharField(
        max_length=DISPLAY_NAME_MAX_LENGTH, allow_blank=True, required=False, default=""
    )
    token_name = StrictCharField(
        max_length=API_TOKEN_NAME_MAX_LENGTH,
        required=False,
        default=DEFAULT_TOKEN_NAME,
        help_text="A name for the first API token.",
    )


class RegisteredSerializer(serializers.Serializer):
    user = MeSerializer()
    token = serializers.CharField(help_text="The first API token's key, shown only this once.")
    token_id = serializers.IntegerField()


class RegistrationPendingSerializer(serializers.Serializer):
    """The answer when the site requires a confirmed e-mail address: the same whether the
    address was free (an account was created and a confirmation link mailed) or already
    had an account (its owner was mailed), so it reveals nothing about the address."""

    detail = serializers.CharField()


class TokenObtainSerializer(serializers.Serializer):
    username = StrictCharField(help_text="Username or e-mail address.")
    password = StrictCharField(write_only=True, style={"input_type": "password"})
    name = StrictCharField(
        max_length=API_TOKEN_NAME_MAX_LENGTH,
        required=False,
        default=DEFAULT_TOKEN_NAME,
        help_text="A name to recognise the token by in Settings → API tokens.",
    )


class TokenObtainedSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The key, shown only this once.")
    id = serializers.IntegerField()
    name = serializers.CharField()


class ApiTokenSerializer(serializers.ModelSerializer):
    name = StrictCharField(
        max_length=API_TOKEN_NAME_MAX_LENGTH, help_text="What uses the token, e.g. `render-farm`."
    )

    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "last_used_at"]
        read_only_fields = ["id", "hint", "created_at", "last_used_at"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The key, shown only this once.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = [*ApiTokenSerializer.Meta.read_only_fields, "token"]
