"""The moderation API: the rules, reports, appeals and the transparency log.

Thin: ``moderation.reports`` and ``moderation.services`` write, ``moderation.selectors``
and ``moderation.transparency`` read, ``moderation.presenters`` says what a member reads
of a decision. Refusals are domain errors in the one error shape: what the caller may
not see is a 404 (a private portrait, someone else's decision), nothing revealed.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from accounts.selectors import user_get_public
from config.api.parsers import JSONParser
from config.api.schema import error_response
from config.errors import NotFound
from moderation import selectors, services
from moderation.api.serializers import (
    AppealCreateSerializer,
    AppealSerializer,
    DecisionSerializer,
    LogEntrySerializer,
    LogQuerySerializer,
    ReportCreateSerializer,
    ReportSerializer,
    RuleSerializer,
    report_data,
)
from moderation.models import Appeal, ModerationAction, Report, Rule
from moderation.presenters import DecisionView, decision_present
from moderation.reports import report_list_own, report_submit, rules_active
from moderation.transparency import LogEntry, log_entries_filtered, log_entries_present
from portraits.selectors import portrait_get_viewable

NOT_VISIBLE = "No such portrait or member, or not one you can see (nothing more is said)."


def _decision_data(view: DecisionView, absolute) -> dict:
    portrait = None
    if view.has_portrait:
        portrait = {
            "available": view.portrait_available,
            "id": view.portrait_id,
            "title": view.portrait_label if view.portrait_available else None,
            "url": absolute(view.portrait_url) if view.portrait_url else None,
        }
    return {
        "id": view.id,
        "kind": view.kind,
        "rule": {"id": view.rule_id, "title": view.rule} if view.rule_id else None,
        "reason": view.reason,
        "created_at": view.created_at,
        "portrait": portrait,
        "suspended_until": view.until,
    }


def _appeal_data(appeal: Appeal, request) -> dict:
    decision = decision_present(appeal.action, viewer=request.user)
    return {
        "id": appeal.pk,
        "decision": _decision_data(decision, request.build_absolute_uri),
        "text": appeal.text,
        "status": appeal.status,
        "reply": appeal.reply or None,
        "created_at": appeal.created_at,
        "decided_at": appeal.decided_at,
    }


def _log_data(entry: LogEntry, absolute) -> dict:
    target = None
    if entry.target is not None:
        target = {
            "type": entry.target.type,
            "available": entry.target.available,
            "label": entry.target.label,
            "url": absolute(entry.target.url) if entry.target.url else None,
        }
    return {
        "id": entry.id,
        "created_at": entry.created_at,
        "kind": entry.kind,
        "kind_label": entry.kind_label,
        "rule": {"id": entry.rule_id, "title": entry.rule_title} if entry.rule_id else None,
        "target": target,
    }


# --- Rules -----------------------------------------------------------------------------


@extend_schema(tags=["moderation"])
class RuleListView(GenericAPIView):
    """The site's rules in force, in their order. Every report cites one by its `id`.

    Not paginated: a short list that administrators write, read whole.
    """

    permission_classes = [AllowAny]
    pagination_class = None
    serializer_class = RuleSerializer

    def get_queryset(self) -> QuerySet[Rule]:
        return rules_active()

    @extend_schema(operation_id="rules_list", responses=RuleSerializer(many=True))
    def get(self, request):
        serializer = RuleSerializer(self.get_queryset(), many=True, context={"request": request})
        return Response(serializer.data)


# --- Reports ---------------------------------------------------------------------------


@extend_schema(tags=["moderation"])
class ReportListCreateView(GenericAPIView):
    """Your reports, and reporting a portrait or a member."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    serializer_class = ReportSerializer

    def get_queryset(self) -> QuerySet[Report]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no viewer
            return Report.objects.none()
        return report_list_own(reporter=self.request.user)

    @extend_schema(operation_id="reports_list", responses=ReportSerializer(many=True))
    def get(self, request):
        """Your reports, newest first: `received`, then `decided` with their outcome."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([report_data(report, request) for report in page])

    @extend_schema(
        operation_id="reports_create",
        request=ReportCreateSerializer,
        responses={
            201: ReportSerializer,
            200: ReportSerializer,
            404: error_response(NOT_VISIBLE),
        },
    )
    def post(self, request):
        """Report a portrait (`portrait`: its public id) or a member (`user`: their
        username) you can see, citing a `category` and a `rule`.

        201: received. 200: you had an open report on it, and this updated it (a repeat
        never adds a second one). 404: nothing by that id that you can see. 400: your own
        portrait or yourself, an unknown category or rule, text over 2000 characters.
        429: past your report rate (see `Retry-After`).
        """
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "portrait" in data:
            data["portrait"] = portrait_get_viewable(
                viewer=request.user, public_id=data["portrait"]
            )
        else:
            data["user"] = user_get_public(username=data["user"])
        report = report_submit(reporter=request.user, **data)
        code = status.HTTP_200_OK if report.collapsed else status.HTTP_201_CREATED
        return Response(report_data(report, request), status=code)


# --- Appeals ---------------------------------------------------------------------------


@extend_schema(tags=["moderation"])
class AppealListCreateView(GenericAPIView):
    """Your appeals, and appealing a decision about you."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]
    serializer_class = AppealSerializer

    def get_queryset(self) -> QuerySet[Appeal]:
        if getattr(self, "swagger_fake_view", False):
            return Appeal.objects.none()
        return selectors.appeals_for(user=self.request.user)

    @extend_schema(operation_id="appeals_list", responses=AppealSerializer(many=True))
    def get(self, request):
        """Your appeals, newest first, with the decision each appeals and the answer."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([_appeal_data(appeal, request) for appeal in page])

    @extend_schema(
        operation_id="appeals_create",
        request=AppealCreateSerializer,
        responses={
            201: AppealSerializer,
            404: error_response("No such decision about you."),
            409: error_response("You already appealed this decision, or it was reversed."),
        },
    )
    def post(self, request):
        """Appeal a decision about you (a hidden portrait of yours, a warning, a
        suspension), once. Someone else's decision is a 404; a second appeal a 409."""
        serializer = AppealCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        action = (
            ModerationAction.objects.select_related("rule", "target_portrait")
            .filter(pk=serializer.validated_data["action"])
            .first()
        )
        if action is None:
            raise NotFound("No such decision about you.", field_errors={"action": "Not found."})
        appeal = services.appeal_submit(
            user=request.user, action=action, text=serializer.validated_data["text"]
        )
        appeal = selectors.appeals_for(user=request.user).get(pk=appeal.pk)
        return Response(_appeal_data(appeal, request), status=status.HTTP_201_CREATED)


@extend_schema(tags=["moderation"])
class AppealableListView(GenericAPIView):
    """The decisions about you that you may still appeal, newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = DecisionSerializer

    def get_queryset(self) -> QuerySet[ModerationAction]:
        if getattr(self, "swagger_fake_view", False):
            return ModerationAction.objects.none()
        return selectors.appealable_actions_for(user=self.request.user)

    @extend_schema(operation_id="appeals_appealable_list", responses=DecisionSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        data = [
            _decision_data(
                decision_present(action, viewer=request.user), request.build_absolute_uri
            )
            for action in page
        ]
        return self.get_paginated_response(data)


# --- The transparency log ----------------------------------------------------------------


@extend_schema(tags=["moderation"])
class ModerationLogView(GenericAPIView):
    """The public transparency log: every moderation action, newest first, with its date,
    kind and rule; never who took it, nor why. Its target is named and linked only while
    you may see it."""

    permission_classes = [AllowAny]
    serializer_class = LogEntrySerializer

    def get_queryset(self) -> QuerySet[ModerationAction]:
        if getattr(self, "swagger_fake_view", False):
            return ModerationAction.objects.none()
        query = LogQuerySerializer.validated(self.request)
        return log_entries_filtered(kind=query.get("kind"), rule=query.get("rule"))

    @extend_schema(
        operation_id="moderation_log_list",
        parameters=[LogQuerySerializer],
        responses=LogEntrySerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        entries = log_entries_present(page, viewer=request.user)
        return self.get_paginated_response(
            [_log_data(entry, request.build_absolute_uri) for entry in entries]
        )
