from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.parsers import MultiPartParser
from config.errors import NotFound
from config.pagecache import cache_public
from portraits import credentials, media, selectors, services
from portraits.api.serializers import (
    CredentialsSerializer,
    FamilySerializer,
    LineageSerializer,
    MyPortraitListQuerySerializer,
    PortraitSerializer,
    PortraitSummarySerializer,
    PortraitUpdateSerializer,
    VerifyUploadSerializer,
)
from portraits.models import PUBLIC_ID_PATTERN, Portrait


class PortraitViewSet(
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Portraits, by their public id.

    Anyone may read a public or unlisted portrait; a private one exists only for its
    author and moderators (404 for everyone else, also on every action below). Only
    the author (or a moderator) may edit or delete it: others who can see it get 403.
    A portrait rated mature is for its author, moderators and members who opted in to
    mature content (`shows_mature` on /me/); anyone else gets 403 with the code
    `mature_content` on it and every action below.
    """

    serializer_class = PortraitSerializer
    lookup_field = "public_id"
    # Only a well-formed id reaches a query; any other path is the API's JSON 404.
    lookup_value_regex = PUBLIC_ID_PATTERN
    permission_classes = [permissions.IsAuthenticatedOrReadOnly]

    def get_queryset(self):
        return selectors.portrait_queryset_viewable(viewer=self.request.user)

    def get_object(self) -> Portrait:
        viewer, public_id = self.request.user, self.kwargs["public_id"]
        try:
            return selectors.portrait_get_viewable(viewer=viewer, public_id=public_id)
        except NotFound:
            # A mature one they have not opted in to: 403 that says why (its page does too).
            if selectors.portrait_get_rated_out(viewer=viewer, public_id=public_id) is None:
                raise
        raise selectors.RatedOut(
            "This portrait is marked mature: only members who confirmed they are 18 or older "
            "and turned mature content on see it (PATCH /api/v1/me/ with "
            '{"shows_mature": true, "age_confirmed": true}).'
        )

    def retrieve(self, request, *args, **kwargs):
        portrait = self.get_object()
        chain = selectors.portrait_chain(portrait=portrait)
        context = {**self.get_serializer_context(), "chain": chain}
        return Response(PortraitSerializer(portrait, context=context).data)

    @extend_schema(request=PortraitUpdateSerializer, responses=PortraitSerializer)
    def update(self, request, *args, **kwargs):
        portrait = selectors.portrait_get_editable(
            viewer=request.user, public_id=self.kwargs["public_id"]
        )
        changes = PortraitUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        changes.is_valid(raise_exception=True)
        services.portrait_update(portrait=portrait, by=request.user, data=changes.validated_data)
        return self.retrieve(request, *args, **kwargs)

    @extend_schema(request=PortraitUpdateSerializer, responses=PortraitSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        description="Delete the portrait. A portrait others built on stays as a tombstone in "
        "their lineage (credit and changes kept, files removed); otherwise it is gone."
    )
    def destroy(self, request, *args, **kwargs):
        portrait = selectors.portrait_get_editable(
            viewer=request.user, public_id=self.kwargs["public_id"]
        )
        services.portrait_delete(portrait=portrait, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            302: OpenApiResponse(
                description="With S3 storage: a redirect to a signed URL valid for a few minutes."
            ),
        },
        description="The original PNG (recipe chunks and Content Credentials inside), "
        "as an attachment.",
    )
    @action(detail=True, methods=["get"], permission_classes=[permissions.AllowAny])
    def download(self, request, public_id=None):
        portrait = self.get_object()
        title = selectors.portrait_title_for(portrait=portrait, viewer=request.user)
        return media.file_response(portrait, media.ORIGINAL, attachment=True, title=title)

    @extend_schema(responses=LineageSerializer)
    @action(detail=True, methods=["get"], permission_classes=[permissions.AllowAny])
    def lineage(self, request, public_id=None):
        """The chain from the original to this portrait, each step with its author and
        what it changed; steps you cannot see read as "no longer available"."""
        portrait = self.get_object()
        chain = selectors.portrait_chain(portrait=portrait)
        steps = selectors.portrait_lineage(portrait=portrait, viewer=request.user, chain=chain)
        credits = selectors.portrait_credits(portrait=portrait, chain=chain)
        data = {
            "id": portrait.public_id,
            "depth": portrait.depth,
            "steps": steps,
            "credits": credits,
        }
        return Response(LineageSerializer(data).data)

    def dispatch(self, request, *args, **kwargs):
        # A remix tree is the same for every anonymous visitor: from the public page cache.
        if self.action_map.get(request.method.lower()) == "tree":
            return cache_public(super().dispatch)(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(responses=FamilySerializer)
    @action(detail=True, methods=["get"], permission_classes=[permissions.AllowAny])
    def tree(self, request, public_id=None):
        """The family of an idea: every portrait built on this one's original, as a flat
        list of members that name their parent. Members you cannot see read as not
        available (no id, title or picture) but keep their place and their author's credit.
        A tree larger than the site's bound (PORTRAIT_FAMILY_MAX_MEMBERS) is shown to it,
        shallowest first, with `left_out` saying how many were not."""
        portrait = self.get_object()
        family = selectors.portrait_family(portrait=portrait, viewer=request.user)
        data = {
            "id": portrait.public_id,
            "total": family.total,
            "shown": len(family.members),
            "left_out": family.left_out,
            "max_members": family.max_members,
            "current": family.current_key,
            "members": family.members,
        }
        return Response(FamilySerializer(data, context={"request": request}).data)

    @extend_schema(
        request=None,
        responses=PortraitSerializer,
        description="Publish it (author or moderator): it becomes public and enters the "
        "gallery; the first time, `published_at` is recorded. Publishing a public portrait "
        "changes nothing. To make it private again, PATCH its `visibility`.",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, public_id=None):
        portrait = selectors.portrait_get_editable(viewer=request.user, public_id=public_id)
        services.portrait_publish(portrait=portrait, by=request.user)
        return self.retrieve(request, public_id=public_id)

    @extend_schema(responses=PortraitSummarySerializer(many=True))
    @action(detail=True, methods=["get"], permission_classes=[permissions.AllowAny])
    def remixes(self, request, public_id=None):
        """Direct remixes you may see listed (public ones, and your own), newest first."""
        portrait = self.get_object()
        page = self.paginate_queryset(
            selectors.portrait_remixes(portrait=portrait, viewer=request.user)
        )
        selectors.portraits_withheld(portraits=page, viewer=request.user)  # their titles
        serializer = PortraitSummarySerializer(page, many=True, context={"request": request})
        return self.get_paginated_response(serializer.data)

    @extend_schema(responses=CredentialsSerializer)
    @action(detail=True, methods=["get"], permission_classes=[permissions.AllowAny])
    def credentials(self, request, public_id=None):
        """The Content Credentials (C2PA) manifest read back from the stored file and
        verified, with the PNG's `parameters` and provenance chunks."""
        report = selectors.portrait_credentials(portrait=self.get_object(), viewer=request.user)
        return Response(CredentialsSerializer(report).data)


class MyPortraitListView(ListAPIView):
    """Your portraits, newest first; `?visibility=private|unlisted|public` filters."""

    serializer_class = PortraitSummarySerializer
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(parameters=[MyPortraitListQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Portrait.objects.none()
        visibility = MyPortraitListQuerySerializer.validated(self.request).get("visibility")
        return selectors.portrait_list_owned(user=self.request.user, visibility=visibility)


class CredentialsVerifyView(APIView):
    """Verify any image's Content Credentials: upload a file, get its manifest back.

    Anyone may; each member or address has the `verify` rate (API_VERIFY_RATE), shared
    with the verify page. A body over UPLOAD_MAX_BYTES was refused (413) before this view.
    """

    permission_classes = [permissions.AllowAny]
    parser_classes = [MultiPartParser]  # a file: a urlencoded form cannot carry one
    throttle_scope = "verify"

    @extend_schema(request=VerifyUploadSerializer, responses=CredentialsSerializer)
    def post(self, request):
        upload = VerifyUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        report = credentials.file_report(upload.validated_data["file"].read())
        return Response(CredentialsSerializer(report).data)
