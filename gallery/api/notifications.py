"""Notifications API: the signed-in member's notifications, marking them read, and which
kinds they want. Thin: ``gallery.notify`` reads, writes and presents; this parses and
documents. Live updates: ``ws/notifications/`` (``gallery.consumers``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api.fields import RefusesUnknownFieldsMixin, StrictBooleanField, StrictIntegerField
from config.api.filters import EnumFilter, QuerySerializer
from config.api.pagination import CreatedCursorPagination
from config.api.parsers import JSONParser
from gallery.models import Notification
from gallery.notify import (
    MARK_READ_MAX_IDS,
    SETTINGS_KINDS,
    NotificationView,
    notification_settings_for,
    notification_settings_update,
    notifications_for,
    notifications_mark_read,
    notifications_present,
    notifications_unread_count,
)

# The largest id a database integer column holds: any larger one cannot be a notification.
MAX_ID = 2**63 - 1


# --- Shapes ---------------------------------------------------------------------------


class ActorSerializer(serializers.Serializer):
    name = serializers.CharField(help_text='Their display name; "Someone" when unknown.')
    username = serializers.CharField(allow_null=True)
    url = serializers.CharField(
        allow_null=True, help_text="Their profile page; null for a deactivated account."
    )
    avatar_url = serializers.CharField(allow_null=True)


class MentionSerializer(serializers.Serializer):
    """The portrait a notification is about, as you may see it now: when you may not
    (made private, hidden, deleted), ``available`` is false and everything else null."""

    available = serializers.BooleanField()
    id = serializers.CharField(allow_null=True)
    title = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    thumbnail_url = serializers.CharField(allow_null=True)
    thumbnail_width = serializers.IntegerField(allow_null=True)
    thumbnail_height = serializers.IntegerField(allow_null=True)


class ModerationNoticeSerializer(serializers.Serializer):
    """What a moderation notice says besides its sentence. Moderators are never named."""

    event = serializers.CharField(
        help_text='What was decided: "hidden", "restored", "rated_mature", "rated_general", '
        '"review_cleared", "warned", "suspended", "suspension_lifted", "suspension_expired", '
        '"report_outcome", "appeal_upheld" or "appeal_reversed".'
    )
    rule = serializers.CharField(help_text="The title of the rule it cites; may be empty.")
    reason = serializers.CharField(
        help_text="The moderators' reason, or their reply to an appeal; may be empty."
    )
    appeal_url = serializers.CharField(
        allow_null=True, help_text="Where to appeal this decision; null when it cannot be."
    )
    outcome = serializers.CharField(
        allow_null=True, help_text='A report\'s outcome: "action taken" or "no action".'
    )
    until = serializers.DateTimeField(
        allow_null=True, help_text="A suspension's end; null: indefinitely, or not one."
    )


class NotificationSerializer(serializers.Serializer):
    """One notification (``gallery.notify.notifications_present`` writes it)."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Notification.Kind.choices)
    text = serializers.CharField(
        help_text='The sentence to show: "Alice liked your portrait “Dusk”."'
    )
    verb = serializers.CharField(help_text='What the actor did: "liked", "remixed"…')
    object = serializers.CharField(
        help_text='To what, without its title: "your portrait", "you", or '
        '"a portrait that is no longer available".'
    )
    created_at = serializers.DateTimeField()
    read = serializers.BooleanField()
    read_at = serializers.DateTimeField(allow_null=True)
    actor = ActorSerializer()
    portrait = MentionSerializer(allow_null=True, help_text="Null for a follow.")
    moderation = ModerationNoticeSerializer(
        allow_null=True,
        help_text='A moderation decision\'s rule, reason and appeal link ("moderation" '
        "kind only; its actor is the moderators, never named).",
    )


def _as_dict(view: NotificationView, absolute) -> dict[str, Any]:
    def url(path: str | None) -> str | None:
        return absolute(path) if path else None

    portrait = None
    if view.portrait is not None:
        mention = view.portrait
        portrait = {
            "available": mention.available,
            "id": mention.public_id,
            "title": mention.title,
            "url": url(mention.url),
            "thumbnail_url": url(mention.thumbnail_url),
            "thumbnail_width": mention.thumbnail_width,
            "thumbnail_height": mention.thumbnail_height,
        }
    return {
        "id": view.id,
        "kind": view.kind,
        "text": view.text,
        "verb": view.verb,
        "object": view.object,
        "created_at": serializers.DateTimeField().to_representation(view.created_at),
        "read": not view.is_unread,
        "read_at": serializers.DateTimeField().to_representation(view.read_at)
        if view.read_at
        else None,
        "actor": {
            "name": view.actor_name,
            "username": view.actor_username,
            "url": url(view.actor_url),
            "avatar_url": url(view.actor_avatar_url),
        },
        "portrait": portrait,
        "moderation": _moderation_as_dict(view, url),
    }


def _moderation_as_dict(view: NotificationView, url) -> dict[str, Any] | None:
    notice = view.moderation
    if notice is None:
        return None
    return {
        "event": notice.event,
        "rule": notice.rule,
        "reason": notice.reason,
        "appeal_url": url(notice.appeal_url),
        "outcome": notice.outcome,
        "until": serializers.DateTimeField().to_representation(notice.until)
        if notice.until
        else None,
    }


class NotificationListQuerySerializer(QuerySerializer):
    unread = EnumFilter(
        [("true", "true"), ("false", "false")],
        help_text="`true`: only unread notifications.",
    )


class MarkReadSerializer(RefusesUnknownFieldsMixin, serializers.Serializer):
    ids = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MARK_READ_MAX_IDS,
        help_text="Mark only these (yours; any other id is ignored). Leave out to mark all.",
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread and are now read.")
    unread_count = serializers.IntegerField()


class NotificationSettingsSerializer(RefusesUnknownFieldsMixin, serializers.Serializer):
    """Which kinds you are notified of (all, until you turn some off)."""

    remix = StrictBooleanField(
        required=False, help_text="Someone remixed a portrait you are credited on."
    )
    like = StrictBooleanField(required=False, help_text="Someone liked your portrait.")
    follow = StrictBooleanField(required=False, help_text="Someone followed you.")
    publish = StrictBooleanField(
        required=False, help_text="Someone you follow published a portrait."
    )


class NotificationPagination(CreatedCursorPagination):
    """Newest first, with the member's ``unread_count`` beside the page."""

    page_size = 30

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["unread_count"] = notifications_unread_count(user=self.request.user)
        return response

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["properties"]["unread_count"] = {
            "type": "integer",
            "description": "All your unread notifications, not only this page's.",
        }
        paginated.setdefault("required", []).append("unread_count")
        return paginated


# --- Views ----------------------------------------------------------------------------


@extend_schema(tags=["notifications"])
class NotificationListView(GenericAPIView):
    """Your notifications, newest first; `?unread=true` for the unread ones only.

    Marking read is explicit (POST `/api/v1/notifications/read/`): reading this list
    changes nothing.
    """

    permission_classes = [IsAuthenticated]
    pagination_class = NotificationPagination
    serializer_class = NotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no viewer
            return Notification.objects.none()
        query = NotificationListQuerySerializer.validated(self.request)
        return notifications_for(user=self.request.user, unread_only=query.get("unread") == "true")

    @extend_schema(
        operation_id="notifications_list",
        parameters=[NotificationListQuerySerializer],
        responses=NotificationSerializer(many=True),
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        views = notifications_present(page, viewer=request.user)
        data = [_as_dict(view, request.build_absolute_uri) for view in views]
        return self.get_paginated_response(data)


@extend_schema(tags=["notifications"])
class NotificationReadView(APIView):
    """Mark your notifications read: all of them, or those named in `ids`."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="notifications_read",
        request=MarkReadSerializer,
        responses=MarkedSerializer,
    )
    def post(self, request):
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = notifications_mark_read(
            user=request.user, ids=serializer.validated_data.get("ids")
        )
        return Response(
            {"marked": marked, "unread_count": notifications_unread_count(user=request.user)}
        )


@extend_schema(tags=["notifications"])
class NotificationSettingsView(APIView):
    """Which kinds of notification you get: turn any of them off or on again."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @staticmethod
    def _body(settings) -> dict[str, bool]:
        return {kind: bool(getattr(settings, kind)) for kind in SETTINGS_KINDS}

    @extend_schema(
        operation_id="notifications_settings_retrieve",
        responses=NotificationSettingsSerializer,
    )
    def get(self, request):
        return Response(self._body(notification_settings_for(user=request.user)))

    @extend_schema(
        operation_id="notifications_settings_partial_update",
        request=NotificationSettingsSerializer,
        responses=NotificationSettingsSerializer,
    )
    def patch(self, request):
        serializer = NotificationSettingsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        settings = notification_settings_update(
            user=request.user, changes=dict(serializer.validated_data)
        )
        return Response(self._body(settings))
