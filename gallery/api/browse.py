"""The gallery over the API: ``/gallery/``, ``/tags/<slug>/portraits/`` and
``/feed/following/``, with the pages' parameters and cursors.

Thin: ``gallery.selectors`` validates the parameters (a value a listing cannot show is a
400 with field errors) and reads the page; ``gallery.presenters`` shapes each item. The
cursor is the selector's own (opaque, signed, stable while likes change), so these lists
do not use DRF's paginator: ``next`` is the whole link to the next page, null on the last.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from gallery.presenters import gallery_item
from gallery.selectors import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    PERIODS,
    SEARCH_MAX_LENGTH,
    SORTS,
    GalleryScope,
    gallery_page,
    gallery_query_parse,
    page_size_parse,
)
from portraits.api.serializers import PortraitSummarySerializer
from portraits.community import tag_normalise


class GalleryItemSerializer(PortraitSummarySerializer):
    """A portrait in the gallery: its summary, its counts, when it was published, its
    style, model and tags, and whether you like it. (Documents the shape;
    ``gallery.presenters.gallery_item`` writes it.)"""

    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    liked = serializers.BooleanField(
        allow_null=True, read_only=True, help_text="Whether you like it; null when anonymous."
    )

    class Meta(PortraitSummarySerializer.Meta):
        fields = [
            *PortraitSummarySerializer.Meta.fields,
            "like_count",
            "remix_count",
            "published_at",
            "style",
            "model",
            "tags",
            "liked",
        ]
        read_only_fields = fields


class GalleryPageSerializer(serializers.Serializer):
    next = serializers.CharField(
        allow_null=True, help_text="The next page (its cursor in the link); null on the last."
    )
    results = GalleryItemSerializer(many=True)


_SLUG = r"^[-a-zA-Z0-9_]+$"


def _string(**schema) -> dict:
    return {"type": "string", **schema}


PARAMETERS = [
    OpenApiParameter(
        "sort",
        str,
        enum=list(SORTS),
        description="Order: `newest` (by when published), `top` (most liked), `trending` "
        "(recent likes and remixes, decayed with a 12-hour half-life), `remixed`, or "
        "`relevance` (only with `q`, and its default). Default: `relevance` with a search, "
        "else `newest`.",
    ),
    OpenApiParameter(
        "period",
        str,
        enum=list(PERIODS),
        description="Only portraits published within the last day, week, month or year "
        "(`top` + `week` = top of the week). Default `all`.",
    ),
    OpenApiParameter(
        "style", _string(pattern=_SLUG, maxLength=80), description="A style's slug (/styles/)."
    ),
    OpenApiParameter(
        "model", _string(pattern=_SLUG, maxLength=100), description="A model's slug (/models/)."
    ),
    OpenApiParameter(
        "tag", _string(minLength=1, maxLength=60), description="A tag; normalised to its slug."
    ),
    OpenApiParameter(
        "author",
        _string(pattern=r"^[\w.@+-]+$", maxLength=150),
        description="A member's username.",
    ),
    OpenApiParameter(
        "has_remixes",
        OpenApiTypes.BOOL,
        description="`true`: only portraits someone remixed.",
    ),
    OpenApiParameter(
        "q",
        _string(minLength=1, maxLength=SEARCH_MAX_LENGTH),
        description="Search titles, tags and prompts. PostgreSQL: web-search syntax "
        '(`"a phrase"`, `or`, `-word`), ranked. SQLite: every word must occur. A search of '
        "only stop-words (`the`, `and`…) is refused.",
    ),
    OpenApiParameter(
        "cursor",
        _string(minLength=1),
        description="From a page's `next` link; opaque, do not build one.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        description=f"Items per page, 1 to {MAX_PAGE_SIZE} (default {PAGE_SIZE}).",
    ),
]


class _GalleryListView(APIView):
    permission_classes = [permissions.AllowAny]

    def scope(self) -> GalleryScope:
        return GalleryScope()

    def get(self, request, **kwargs):
        query = gallery_query_parse(request.query_params)
        page_size = page_size_parse(request.query_params.get("page_size"))
        page = gallery_page(
            query=query,
            viewer=request.user,
            cursor=request.query_params.get("cursor"),
            page_size=page_size,
            scope=self.scope(),
            with_tags=True,
        )
        member = request.user.is_authenticated
        results = [
            gallery_item(
                portrait,
                viewer=request.user,
                liked=(portrait.pk in page.liked_ids) if member else None,
                absolute_url=request.build_absolute_uri,
            )
            for portrait in page.items
        ]
        next_link = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_link = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response({"next": next_link, "results": results})


class GalleryListView(_GalleryListView):
    """The public gallery: listed portraits (public, not hidden), every sort and filter
    of the site's gallery, a page at a time."""

    @extend_schema(
        operation_id="gallery_list", parameters=PARAMETERS, responses=GalleryPageSerializer
    )
    def get(self, request, **kwargs):
        return super().get(request, **kwargs)


class TagPortraitsView(_GalleryListView):
    """The listed portraits filed under a tag (an unknown tag lists none)."""

    def scope(self) -> GalleryScope:
        slug = self.kwargs["slug"]
        try:
            if tag_normalise(slug) != slug:
                raise ValueError(slug)
        except ValueError:
            raise Http404("No such tag.") from None
        return GalleryScope(tag=slug)

    @extend_schema(
        operation_id="tags_portraits_list",
        parameters=[p for p in PARAMETERS if p.name != "tag"],
        responses=GalleryPageSerializer,
    )
    def get(self, request, **kwargs):
        return super().get(request, **kwargs)


class FollowingFeedView(_GalleryListView):
    """New public portraits by the members you follow (newest first by default)."""

    permission_classes = [permissions.IsAuthenticated]

    def scope(self) -> GalleryScope:
        return GalleryScope(following=True)

    @extend_schema(
        operation_id="feed_following_list", parameters=PARAMETERS, responses=GalleryPageSerializer
    )
    def get(self, request, **kwargs):
        return super().get(request, **kwargs)
