from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from generation import selectors, services
from generation.api.serializers import (
    GenerationModelSerializer,
    JobDocSerializer,
    JobSerializer,
    JobSpecSerializer,
    StylePresetSerializer,
)
from generation.models import GenerationJob


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your generation jobs. Follow one live at its `ws_url` (see README, "Live progress")."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = JobSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return GenerationJob.objects.none()
        if self.action == "list":
            wanted = self.request.query_params.get("status") or None
            return selectors.job_list_owned(user=self.request.user, status=wanted)
        return selectors.job_queryset_for(viewer=self.request.user)

    def get_object(self):
        return selectors.job_get_for_viewer(viewer=self.request.user, job_id=self.kwargs["pk"])

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=[choice for choice, _ in GenerationJob.Status.choices])
        ],
        responses=JobDocSerializer(many=True),
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=JobDocSerializer)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=JobSpecSerializer,
        responses={201: JobDocSerializer},
        description="Submit a portrait. Everything but `prompt` defaults to the model's settings; "
        "`seed` is random when empty and always recorded. Answers 429 when you have too many "
        "active jobs or submit too fast.",
    )
    def create(self, request, *args, **kwargs):
        spec = JobSpecSerializer(data=request.data)
        spec.is_valid(raise_exception=True)
        job = services.job_submit(user=request.user, spec=spec.validated_data)
        data = JobSerializer(job).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["api_url"]})

    @extend_schema(request=None, responses=JobDocSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = services.job_cancel(job=self.get_object(), by=request.user)
        return Response(JobSerializer(job).data)


class GenerationModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Models a job may use, with their defaults and limits."""

    serializer_class = GenerationModelSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    pagination_class = None
    queryset = selectors.model_list_enabled()


class StylePresetViewSet(viewsets.ReadOnlyModelViewSet):
    """Style presets: `prompt_template` wraps your prompt."""

    serializer_class = StylePresetSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    pagination_class = None
    queryset = selectors.style_list_enabled()
