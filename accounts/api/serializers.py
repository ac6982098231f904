"""Shapes of the accounts API. Serializers parse and present; the services validate and write.

Length limits appear here so the schema documents them; the services enforce the
same rules for every caller, and refuse with the same field errors.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import BIO_MAX_LENGTH, DISPLAY_NAME_MAX_LENGTH, ApiToken, User
from accounts.services import API_TOKEN_NAME_MAX_LENGTH

DEFAULT_TOKEN_NAME = "API token"


class ApiErrorSerializer(serializers.Serializer):
    """The one error format of the API (see ``config.api.errors``)."""

    detail = serializers.CharField(help_text="A sentence for humans.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `invalid`.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per field; `non_field_errors` for the whole request. May be empty.",
    )


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

    email = serializers.EmailField(max_length=254)
    display_name = serializers.CharField(
        max_length=DISPLAY_NAME_MAX_LENGTH, allow_blank=True, required=False
    )
    bio = serializers.CharField(
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
            "date_joined",
        ]
        read_only_fields = ["id", "username", "date_joined"]


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    display_name = serializers.CharField(
        max_length=DISPLAY_NAME_MAX_LENGTH, allow_blank=True, required=False, default=""
    )
    token_name = serializers.CharField(
        max_length=API_TOKEN_NAME_MAX_LENGTH,
        required=False,
        default=DEFAULT_TOKEN_NAME,
        help_text="A name for the first API token.",
    )


class RegisteredSerializer(serializers.Serializer):
    user = MeSerializer()
    token = serializers.CharField(
        allow_null=True,
        help_text=(
            "The first API token's key, shown only this once. `null` when the site requires "
            "a confirmed e-mail address first (a confirmation link has been mailed)."
        ),
    )
    token_id = serializers.IntegerField(allow_null=True)


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Username or e-mail address.")
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    name = serializers.CharField(
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
    class Meta:
        model = ApiToken
        fields = ["id", "name", "hint", "created_at", "last_used_at"]
        read_only_fields = ["id", "hint", "created_at", "last_used_at"]
        extra_kwargs = {"name": {"help_text": "What uses the token, e.g. `render-farm`."}}


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The key, shown only this once.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = [*ApiTokenSerializer.Meta.read_only_fields, "token"]
