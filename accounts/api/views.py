"""Accounts API: register, obtain tokens, the signed-in member, public profiles.

Thin: each view parses with a serializer, calls one service or selector and
presents the result. Refusals are ``DomainError``s, answered in the one error
format by ``config.api.errors``.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import (
    ApiTokenCreatedSerializer,
    ApiTokenSerializer,
    MeJsonSerializer,
    MeSerializer,
    MeUploadSerializer,
    PublicUserSerializer,
    RegisteredSerializer,
    RegisterSerializer,
    RegistrationPendingSerializer,
    TokenObtainedSerializer,
    TokenObtainSerializer,
)
from accounts.models import ApiToken
from accounts.selectors import api_token_list, user_get_public
from accounts.services import (
    api_token_create,
    api_token_obtain,
    api_token_revoke,
    user_avatar_remove,
    user_mature_set,
    user_profile_update,
    user_register_with_token,
)
from accounts.uploads import avatar_upload_limit
from config.api.parsers import JSONParser, MultiPartParser

REGISTRATION_PENDING = (
    "Check your e-mail: follow the link we sent to confirm your address, then get a token "
    "from POST /api/v1/auth/token/."
)


@extend_schema(tags=["auth"])
class RegisterView(APIView):
    """Create an account and its first API token.

    Where the site requires a confirmed e-mail address, answers 202 with no token
    instead, and answers an address that already has an account exactly the same way.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "register"

    @extend_schema(
        operation_id="auth_register",
        request=RegisterSerializer,
        responses={201: RegisteredSerializer, 202: RegistrationPendingSerializer},
        auth=[],
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, token, key = user_register_with_token(**serializer.validated_data, request=request)
        if key is None:
            return Response({"detail": REGISTRATION_PENDING}, status=status.HTTP_202_ACCEPTED)
        body = {
            "user": MeSerializer(user, context={"request": request}).data,
            "token": key,
            "token_id": token.pk,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["auth"])
class TokenObtainView(APIView):
    """Exchange a username (or e-mail address) and password for a new named API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_scope = "token"

    @extend_schema(
        operation_id="auth_token_create",
        request=TokenObtainSerializer,
        responses={201: TokenObtainedSerializer},
        auth=[],
    )
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, key = api_token_obtain(
            login=data["username"], password=data["password"], name=data["name"], request=request
        )
        return Response(
            {"token": key, "id": token.pk, "name": token.name}, status=status.HTTP_201_CREATED
        )


@extend_schema(tags=["me"])
class MeView(APIView):
    """The signed-in member's own account."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser]

    def initial(self, request, *args, **kwargs):
        avatar_upload_limit(request)  # before anything parses the body
        super().initial(request, *args, **kwargs)

    @extend_schema(operation_id="me_retrieve", responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user, context={"request": request}).data)

    # MeSerializer validates both; the schema tells each content type what it can carry.
    @extend_schema(
        operation_id="me_partial_update",
        request={"application/json": MeJsonSerializer, "multipart/form-data": MeUploadSerializer},
        responses=MeSerializer,
    )
    def patch(self, request):
        serializer = MeSerializer(
            request.user, data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        age_confirmed = changes.pop("age_confirmed", False)
        shows_mature = changes.pop("shows_mature", None)
        user = request.user
        with transaction.atomic():  # all or nothing: a refused profile keeps the setting
            if shows_mature is not None:
                user = user_mature_set(
                    user=user, shows_mature=shows_mature, age_confirmed=age_confirmed
                )
            if changes or shows_mature is None:
                user = user_profile_update(user=user, request=request, **changes)
        return Response(MeSerializer(user, context={"request": request}).data)


@extend_schema(tags=["me"])
class MeAvatarView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_avatar_destroy",
        request=None,
        responses={204: None},
    )
    def delete(self, request):
        """Remove the avatar (nothing happens if there is none)."""
        user_avatar_remove(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["me"])
class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The signed-in member's personal API tokens: list, create, revoke."""

    permission_classes = [IsAuthenticated]
    serializer_class = ApiTokenSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no viewer
            return ApiToken.objects.none()
        return api_token_list(user=self.request.user)

    @extend_schema(responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        """Create a token. Its key is in this response only; store it now."""
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = api_token_create(user=request.user, name=serializer.validated_data["name"])
        token.token = key
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        """Revoke a token: it stops working at once, even for the request revoking it."""
        api_token_revoke(user=request.user, token_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["users"])
class UserDetailView(APIView):
    """A member's public profile. No e-mail address; inactive members are not found."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="users_retrieve", responses=PublicUserSerializer)
    def get(self, request, username: str):
        user = user_get_public(username=username)
        return Response(PublicUserSerializer(user, context={"request": request}).data)
