"""Likes and follows over the API.

A like is a resource at its portrait's URL (``/portraits/<id>/like/``), a follow at its
member's (``/users/<username>/follow/``): ``PUT`` makes it, ``DELETE`` removes it, ``GET``
reads its state and the counts. Both writes are idempotent (a retry changes nothing and
answers the same) and answer the state they leave, so a client never needs a second
request to redraw a button. Thin: ``gallery.services`` writes, ``gallery.selectors``
reads. The counts live here, not on accounts' user resource: accounts, to the gallery's
left, cannot know follows.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.serializers import PublicUserSerializer
from accounts.selectors import user_get_public
from gallery import selectors, services
from gallery.models import Follow
from portraits.selectors import portrait_get_viewable


def _body_refused_if_malformed(request) -> None:
    """These writes take no body; one sent anyway must still be well-formed (a
    ``parse_error`` 400, as everywhere in the API), never silently ignored."""
    request.data  # noqa: B018 - parsing is the check


class LikeStateSerializer(serializers.Serializer):
    liked = serializers.BooleanField(help_text="Whether you like this portrait.")
    like_count = serializers.IntegerField(min_value=0)


class FollowStateSerializer(serializers.Serializer):
    followed = serializers.BooleanField(help_text="Whether you follow this member.")
    follower_count = serializers.IntegerField(min_value=0)
    following_count = serializers.IntegerField(min_value=0)


class FollowListItemSerializer(serializers.Serializer):
    user = PublicUserSerializer()
    since = serializers.DateTimeField(help_text="When this follow began.")
    followed = serializers.BooleanField(help_text="Whether you follow this member.")


@extend_schema(tags=["community"])
class PortraitLikeView(APIView):
    """Your like of a portrait you can see (anyone else's private or hidden one is a 404)."""

    permission_classes = [IsAuthenticatedOrReadOnly]

    def _state(self, portrait, liked: bool) -> Response:
        return Response(
            LikeStateSerializer({"liked": liked, "like_count": portrait.like_count}).data
        )

    def _portrait(self):
        return portrait_get_viewable(viewer=self.request.user, public_id=self.kwargs["public_id"])

    @extend_schema(operation_id="portraits_like_retrieve", responses=LikeStateSerializer)
    def get(self, request, public_id: str):
        """Whether you like it (never, anonymously), and how many do."""
        portrait = self._portrait()
        return self._state(portrait, selectors.liked(viewer=request.user, portrait=portrait))

    @extend_schema(
        operation_id="portraits_like_update", request=None, responses=LikeStateSerializer
    )
    def put(self, request, public_id: str):
        """Like it. Liking again changes nothing. Only a portrait shared with everyone
        (public or unlisted) can be liked, but for one's own (403 otherwise)."""
        portrait = self._portrait()
        _body_refused_if_malformed(request)
        services.like_add(user=request.user, portrait=portrait)
        return self._state(portrait, True)

    @extend_schema(
        operation_id="portraits_like_destroy", request=None, responses={200: LikeStateSerializer}
    )
    def delete(self, request, public_id: str):
        """Take your like back (nothing happens if there is none)."""
        portrait = self._portrait()
        _body_refused_if_malformed(request)
        services.like_remove(user=request.user, portrait=portrait)
        return self._state(portrait, False)


@extend_schema(tags=["community"])
class MemberFollowView(APIView):
    """Your follow of a member, and their follower and following counts."""

    permission_classes = [IsAuthenticatedOrReadOnly]

    def _state(self, member, followed: bool) -> Response:
        counts = selectors.follow_counts(user=member)
        body = {
            "followed": followed,
            "follower_count": counts.followers,
            "following_count": counts.following,
        }
        return Response(FollowStateSerializer(body).data)

    def _member(self):
        return user_get_public(username=self.kwargs["username"])

    @extend_schema(operation_id="users_follow_retrieve", responses=FollowStateSerializer)
    def get(self, request, username: str):
        """Whether you follow them (never, anonymously), and their counts."""
        member = self._member()
        return self._state(member, selectors.follows(viewer=request.user, user=member))

    @extend_schema(
        operation_id="users_follow_update", request=None, responses=FollowStateSerializer
    )
    def put(self, request, username: str):
        """Follow them. Following again changes nothing; following yourself is a 400
        (a field error on `username`)."""
        member = self._member()
        _body_refused_if_malformed(request)
        services.follow_add(follower=request.user, followed=member)
        return self._state(member, True)

    @extend_schema(
        operation_id="users_follow_destroy", request=None, responses={200: FollowStateSerializer}
    )
    def delete(self, request, username: str):
        """Stop following them (nothing happens if you did not)."""
        member = self._member()
        _body_refused_if_malformed(request)
        services.follow_remove(follower=request.user, followed=member)
        return self._state(member, False)


class _FollowListView(GenericAPIView):
    permission_classes = [AllowAny]
    serializer_class = FollowListItemSerializer
    person = ""  # which end of each follow is listed

    def rows(self, member):
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no member
            return Follow.objects.none()
        return self.rows(user_get_public(username=self.kwargs["username"]))

    def get(self, request, username: str):
        page = self.paginate_queryset(self.get_queryset())
        people = [getattr(follow, self.person) for follow in page]
        followed = selectors.followed_among(viewer=request.user, users=people)
        items = [
            {"user": person, "since": follow.created_at, "followed": person.pk in followed}
            for follow, person in zip(page, people, strict=True)
        ]
        serializer = FollowListItemSerializer(items, many=True, context={"request": request})
        return self.get_paginated_response(serializer.data)


@extend_schema(tags=["community"])
class MemberFollowersView(_FollowListView):
    """Who follows the member, newest follow first (a cursor-paginated list)."""

    person = "follower"

    def rows(self, member):
        return selectors.followers_of(user=member)

    @extend_schema(
        operation_id="users_followers_list", responses=FollowListItemSerializer(many=True)
    )
    def get(self, request, username: str):
        return super().get(request, username)


@extend_schema(tags=["community"])
class MemberFollowingView(_FollowListView):
    """Whom the member follows, newest follow first (a cursor-paginated list)."""

    person = "followed"

    def rows(self, member):
        return selectors.following_of(user=member)

    @extend_schema(
        operation_id="users_following_list", responses=FollowListItemSerializer(many=True)
    )
    def get(self, request, username: str):
        return super().get(request, username)
