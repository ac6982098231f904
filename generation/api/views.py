from __future__ import annotations

from collections.abc import Callable, Mapping

from django.urls import reverse
from django.urls.converters import SlugConverter, UUIDConverter
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import idempotency
from config.api.parsers import JSONParser
from config.api.schema import error_response
from generation import selectors, services
from generation.api.serializers import (
    GenerationModelSerializer,
    JobDocSerializer,
    JobListQuerySerializer,
    JobPublishSerializer,
    JobSerializer,
    JobSpecSerializer,
    JobSubmittedDocSerializer,
    PromptModifierSerializer,
    RemixSerializer,
    StylePresetSerializer,
    SweepCancelSerializer,
    SweepCompareSerializer,
    SweepDocSerializer,
    SweepPickSerializer,
    SweepSerializer,
    SweepSpecSerializer,
    SweepTriageSerializer,
    TasteDocSerializer,
    TasteSettingsSerializer,
)
from generation.models import GenerationJob, Sweep
from portraits.models import PUBLIC_ID_PATTERN
from portraits.selectors import portrait_get_editable, portrait_get_remixable, portraits_withheld

# What every job submission (a job, a remix, a reproduction) documents besides its own errors.
SUBMISSION_SCHEMA = {
    "parameters": [idempotency.PARAMETER],
    "responses": {
        201: JobSubmittedDocSerializer,
        422: error_response("This Idempotency-Key was used for a different request."),
    },
}


def submission_response(request, submit: Callable[[], GenerationJob]) -> Response:
    """Answer a job submission: 201 with the job and whether it reached the queue.

    ``submit`` makes the job. With an ``Idempotency-Key`` header it runs at most once
    per key (``services.job_submit_once``): a retry answers the job the first request
    made, with ``Idempotent-Replayed: true``.
    """
    key = idempotency.idempotency_key(request)
    fingerprint = idempotency.request_fingerprint(request) if key else ""
    job, replayed = services.job_submit_once(
        user=request.user, key=key, fingerprint=fingerprint, submit=submit
    )
    data = JobSerializer(job, context={"request": request}).data
    data["delivery"] = "deferred" if job.is_delivery_deferred else "sent"
    headers = {"Location": data["api_url"]}
    if replayed:
        headers[idempotency.REPLAYED_HEADER] = "true"
    return Response(data, status=status.HTTP_201_CREATED, headers=headers)


def valid_or_every_error(
    spec: serializers.Serializer,
    service_errors: Callable[..., Mapping[str, list[str]]],
) -> None:
    """Validate a submission's body, or refuse it with every error at once: the
    serializer's type errors, with what the service's checks (ranges, the model's limits)
    find in the fields that passed them: ``service_errors(body, checked=<refused fields>)``,
    ``services.job_spec_errors`` or ``job_remix_errors``. Without this a client fixing a
    seed that is no number would learn only then that its steps are out of range."""
    if spec.is_valid():
        return
    errors = dict(spec.errors)
    if isinstance(spec.initial_data, Mapping):
        # Sent as they were (the service checks raw values); fields already refused stay out.
        body = {name: spec.initial_data[name] for name in spec.initial_data}
        errors.update(service_errors(body, checked=set(errors)))
    raise serializers.ValidationError(errors)


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your generation jobs. Follow one live at its `ws_url` (see README, "Live progress")."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = JobSerializer
    # Only a UUID reaches a query; anything else is the API's 404 (as `<uuid:pk>` on pages).
    lookup_value_regex = UUIDConverter.regex

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return GenerationJob.objects.none()
        if self.action == "list":
            wanted = JobListQuerySerializer.validated(self.request).get("status")
            return selectors.job_list_owned(user=self.request.user, status=wanted)
        return selectors.job_queryset_for(viewer=self.request.user)

    def get_object(self):
        return selectors.job_get_for_viewer(viewer=self.request.user, job_id=self.kwargs["pk"])

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        # The parents' titles as this member may read them: one query for the page at most.
        parents = [job.parent for job in page or () if job.parent is not None]
        portraits_withheld(portraits=parents, viewer=self.request.user)
        return page

    @extend_schema(parameters=[JobListQuerySerializer], responses=JobDocSerializer(many=True))
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=JobDocSerializer)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=JobSpecSerializer,
        **SUBMISSION_SCHEMA,
        description="Submit a portrait. Everything but `prompt` defaults to the model's settings; "
        "`seed` is random when empty and always recorded. Answers 429 when you have too many "
        "active jobs or submit too fast. Send an `Idempotency-Key` to make retries safe.",
    )
    def create(self, request, *args, **kwargs):
        def submit() -> GenerationJob:
            spec = JobSpecSerializer(data=request.data)
            valid_or_every_error(spec, services.job_spec_errors)
            return services.job_submit(user=request.user, spec=spec.validated_data)

        return submission_response(request, submit)

    @extend_schema(
        request=None,
        responses={
            200: JobDocSerializer,
            409: error_response("The job has already finished; it cannot be cancelled."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = services.job_cancel(job=self.get_object(), by=request.user)
        return Response(JobSerializer(job, context={"request": request}).data)

    @extend_schema(request=JobPublishSerializer, responses={200: JobDocSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Choose who may see each of a finished job's portraits, in one request:
        `{"portraits": {"<id>": "public", "<id>": "private"}}`. Publishing one records its
        `published_at` the first time. Answers the job, its portraits as they now stand."""
        job = self.get_object()
        choices = JobPublishSerializer(data=request.data)
        choices.is_valid(raise_exception=True)
        services.job_portraits_visibility_set(
            job=job, by=request.user, choices=choices.validated_data["portraits"]
        )
        job = self.get_object()  # its portraits as they are now
        return Response(JobSerializer(job, context={"request": request}).data)


class PortraitSubmissionViewSet(viewsets.GenericViewSet):
    """Jobs submitted from a portrait: a remix, or a reproduction. They live at the
    portrait's URL (``/portraits/<id>/remix/``), routed by ``config.api.urls``, but are
    job submissions: portraits knows nothing of generation."""

    permission_classes = [permissions.IsAuthenticated]
    lookup_field = "public_id"
    # Only a well-formed id reaches a query; any other path is the API's JSON 404.
    lookup_value_regex = PUBLIC_ID_PATTERN

    # What OPTIONS describes (DRF's metadata reads the object and the serializer), and the
    # parent of a remix: shared with the member, or theirs (never a moderator's override).
    def get_object(self):
        return portrait_get_remixable(viewer=self.request.user, public_id=self.kwargs["public_id"])

    def get_serializer_class(self):
        return RemixSerializer if self.action == "remix" else serializers.Serializer

    @extend_schema(request=RemixSerializer, **SUBMISSION_SCHEMA)
    @action(detail=True, methods=["post"])
    def remix(self, request, public_id=None):
        """Remix this portrait: a new job from its recipe with your changes. The new
        portraits will credit every step of the chain. An `Idempotency-Key` makes
        retries safe."""
        portrait = self.get_object()

        def submit() -> GenerationJob:
            spec = RemixSerializer(data=request.data)
            valid_or_every_error(
                spec,
                lambda changes, *, checked: services.job_remix_errors(
                    user=request.user, portrait=portrait, changes=changes, checked=checked
                ),
            )
            return services.job_submit_remix(
                user=request.user, portrait=portrait, changes=spec.changes()
            )

        return submission_response(request, submit)

    @extend_schema(
        request=None,
        parameters=SUBMISSION_SCHEMA["parameters"],
        responses={
            **SUBMISSION_SCHEMA["responses"],
            409: error_response(
                "The recipe can no longer be painted identically (its model, style or "
                "parent is gone or changed)."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def reproduce(self, request, public_id=None):
        """Paint this portrait again from its identical recipe and seed (author only).
        On the same device class and thread count the pixels are identical. An
        `Idempotency-Key` makes retries safe."""
        portrait = portrait_get_editable(viewer=request.user, public_id=public_id)
        return submission_response(
            request,
            lambda: services.job_submit_reproduction(user=request.user, portrait=portrait),
        )


class GenerationModelViewSet(viewsets.ReadOnlyModelViewSet):
    """Models a job may use, with their defaults and limits."""

    serializer_class = GenerationModelSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    lookup_value_regex = SlugConverter.regex
    pagination_class = None
    queryset = selectors.model_list_enabled()


class PromptModifierViewSet(viewsets.ReadOnlyModelViewSet):
    """The prompt builder's modifiers by category (mood, lighting, time of day, framing,
    medium): send their slugs as a job's or sweep's `modifiers` to add their words."""

    serializer_class = PromptModifierSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    lookup_value_regex = SlugConverter.regex
    pagination_class = None
    queryset = selectors.modifier_list_enabled()


class StylePresetViewSet(viewsets.ReadOnlyModelViewSet):
    """Style presets: `prompt_template` wraps your prompt."""

    serializer_class = StylePresetSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    lookup_value_regex = SlugConverter.regex
    pagination_class = None
    queryset = selectors.style_list_enabled()


class SweepViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your sweeps: one idea painted along one axis (styles, variations, guidance, steps or
    the prompt's `{a|b}` alternatives), one job per cell, followed live at `ws_url`."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = SweepSerializer
    lookup_value_regex = UUIDConverter.regex

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Sweep.objects.none()
        return selectors.sweep_list_owned(user=self.request.user)

    def get_object(self):
        return selectors.sweep_get_for_viewer(viewer=self.request.user, sweep_id=self.kwargs["pk"])

    def get_serializer_class(self):
        return {
            "create": SweepSpecSerializer,
            "triage": SweepTriageSerializer,
            "compare": SweepCompareSerializer,
            "cancel": SweepCancelSerializer,
            "pick": SweepPickSerializer,
        }.get(self.action, SweepSerializer)

    def _answer(self, sweep, code=status.HTTP_200_OK, headers=None) -> Response:
        return Response(
            SweepSerializer(sweep, context={"request": self.request}).data,
            status=code,
            headers=headers,
        )

    @extend_schema(responses=SweepDocSerializer(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = [
            {
                "id": str(sweep.pk),
                "axis": sweep.axis,
                "prompt": sweep.prompt,
                "created_at": sweep.created_at.isoformat(),
                "api_url": reverse("api:sweep-detail", kwargs={"pk": sweep.pk}),
                "url": sweep.get_absolute_url(),
                "counts": {
                    "cells": sweep.cells_total,
                    "painted": sweep.cells_painted,
                    "kept": sweep.cells_kept,
                },
            }
            for sweep in page
        ]
        return self.get_paginated_response(rows)

    @extend_schema(responses=SweepDocSerializer)
    def retrieve(self, request, *args, **kwargs):
        return self._answer(self.get_object())

    @extend_schema(
        request=SweepSpecSerializer,
        parameters=[idempotency.PARAMETER],
        responses={
            201: SweepDocSerializer,
            422: error_response("This Idempotency-Key was used for a different request."),
        },
        description="Paint one idea along one axis: every cell a job of one image, sharing the "
        "seed unless the axis is the seed. Counts against your quotas by its cells. "
        "Compatible cells are painted in one pipeline call. With an `Idempotency-Key`, a "
        "retry answers the sweep the first request made.",
    )
    def create(self, request, *args, **kwargs):
        spec = SweepSpecSerializer(data=request.data)
        valid_or_every_error(spec, services.sweep_spec_errors)
        body = dict(spec.validated_data)
        axis, values = body.pop("axis"), body.pop("values", None)

        def submit():  # the key is kept with the sweep's first cell
            sweep = services.sweep_submit(user=request.user, spec=body, axis=axis, values=values)
            return sweep.cells.order_by("sweep_position").first()

        key = idempotency.idempotency_key(request)
        first, replayed = services.job_submit_once(
            user=request.user,
            key=key,
            fingerprint=idempotency.request_fingerprint(request) if key else "",
            submit=submit,
        )
        sweep = first.sweep
        headers = {"Location": reverse("api:sweep-detail", kwargs={"pk": sweep.pk})}
        if replayed:
            headers[idempotency.REPLAYED_HEADER] = "true"
        return self._answer(sweep, status.HTTP_201_CREATED, headers)

    @extend_schema(
        request=SweepCancelSerializer,
        responses={
            200: SweepDocSerializer,
            409: error_response("Every cell has already finished; nothing to cancel."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel every cell still queued or painting, or one (`{"cell": 2}`)."""
        sweep = self.get_object()
        body = SweepCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.sweep_cancel(
            sweep=sweep, by=request.user, position=body.validated_data.get("cell")
        )
        return self._answer(sweep)

    @extend_schema(request=SweepTriageSerializer, responses={200: SweepDocSerializer})
    @action(detail=True, methods=["post"])
    def triage(self, request, pk=None):
        """Keep, discard or skip one cell: `{"cell": 2, "choice": "keep"}`."""
        sweep = self.get_object()
        body = SweepTriageSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.sweep_triage(
            sweep=sweep,
            position=body.validated_data["cell"],
            choice=body.validated_data["choice"],
            by=request.user,
        )
        return self._answer(sweep)

    @extend_schema(request=SweepCompareSerializer, responses={200: SweepDocSerializer})
    @action(detail=True, methods=["post"])
    def compare(self, request, pk=None):
        """Put two cells side by side (`{"cells": [0, 3]}`); the board remembers them."""
        sweep = self.get_object()
        body = SweepCompareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.sweep_compare(sweep=sweep, positions=body.validated_data["cells"], by=request.user)
        return self._answer(sweep)

    @extend_schema(request=SweepPickSerializer, responses={200: SweepDocSerializer})
    @action(detail=True, methods=["post"])
    def pick(self, request, pk=None):
        """Prefer one painted cell to another (`{"chosen": 2, "over": 0}`): the strongest
        signal of your taste, since only the swept value differs between them."""
        sweep = self.get_object()
        body = SweepPickSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.sweep_pick(sweep=sweep, by=request.user, **body.validated_data)
        return self._answer(sweep)


class _Export(serializers.Serializer):
    member = serializers.CharField()
    exported_at = serializers.DateTimeField()
    learning = serializers.BooleanField()
    signals = serializers.ListField(
        child=serializers.DictField(),
        help_text="Oldest first: `kind`, `created_at`, `features` (and `against` for a "
        "pick), the `job` and the `portrait` (while you may open it) it was about.",
    )


class TasteView(APIView):
    """What the studio has learned of your taste from your choices (keeps, discards, picks,
    publishes, likes, remixes, deletions) and what it suggests, each with why. Yours
    only: nobody else can read it."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=TasteDocSerializer)
    def get(self, request):
        return Response(selectors.taste_studio(user=request.user))


class TasteLearningView(APIView):
    permission_classes = [permissions.IsAuthenticated]
    # JSON only: a form's "0" or missing field is no clear yes or no.
    parser_classes = [JSONParser]

    @extend_schema(request=TasteSettingsSerializer, responses=TasteDocSerializer)
    def post(self, request):
        """Switch learning on or off (`{"learning": false}`): off, nothing is recorded or
        suggested from your choices; what was learned stays until you reset it."""
        body = TasteSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.taste_learning_set(user=request.user, learning=body.validated_data["learning"])
        return Response(selectors.taste_studio(user=request.user))


class TasteResetView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses=TasteDocSerializer)
    def post(self, request):
        """Forget every choice the studio learned from."""
        services.taste_reset(user=request.user)
        return Response(selectors.taste_studio(user=request.user))


class TasteExportView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: _Export})
    def get(self, request):
        """Every signal recorded of your choices, as a JSON file to download."""
        name = f"likeness-taste-{request.user.get_username()}.json"
        return Response(
            selectors.taste_export(user=request.user),
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
