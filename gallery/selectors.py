"""The gallery's lists: one selector for every list of portraits others browse.

The home page, ``/explore/``, tag pages, profiles, the Following feed, the Atom feeds
and ``GET /api/v1/gallery/`` all read :func:`gallery_page`, built on
``portraits.selectors.portrait_list_public(viewer=...)`` — the one place that decides what
may be listed, for whom (a mature portrait only for those who opted in, its owner and
moderators). Nothing here filters visibility.

**Parameters** (:func:`gallery_query_parse`): ``sort`` newest | top | trending |
remixed | relevance (only with a search, and its default then); ``period`` day | week |
month | year | all (only portraits published within it: "top of the week"); filters
``style``, ``model``, ``tag``, ``author`` (username), ``has_remixes``; ``q`` a search.
A value that is not one of these is a ``DomainError`` with field errors (the API's
400, a page's message) before any query runs with it.

**Search.** On PostgreSQL: ``search_vector @@ websearch_to_tsquery('english', q)``,
ranked by ``ts_rank`` against the stored column (never a ``to_tsvector`` per row, so
the GIN index ``portrait_search_idx`` answers it). On SQLite, a documented fallback:
every word of the search that is not a stop-word (AND) must occur in ``search_text``
(lower-case title, tags and prompt), newest first. A search of only stop-words is
refused on both, decided here with PostgreSQL's own English stop-word list.

**Cursors** are opaque and signed (``django.core.signing``, salt ``CURSOR_SALT``), and
bound to the listing they came from. Newest is a keyset on ``(published_at, id)``: a
portrait published later sorts before the cursor, so new ones never shift a page.
Score sorts (top, trending, remixed, relevance) move while people like and remix, so
their first page snapshots the ordered ids (the first ``SNAPSHOT_SIZE``) in the cache
under a random token for ``SNAPSHOT_TTL``; later pages read their slice of it, and
neither new portraits nor changed counts cause a duplicate or a skip. A cursor also
carries the keyset values of its last item: past the snapshot's end, or once it has
expired, pages continue by keyset on ``(score, id)`` (best effort: a score that
changed since may then move a portrait across the cursor).

**Queries.** A page costs a fixed number of SQL queries whatever its size: the rows
(author selected), their tags (if asked for), what is withheld of their titles
(``portraits_withheld``, at most one), whether the viewer likes them (one, members
only); a first page of a score sort one more (its snapshot's ids); a style, model or
author filter one each (that it exists).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core import signing
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_get_public
from config.errors import DomainError, NotFound
from gallery.models import Follow, Like
from generation.models import GenerationModel, StylePreset
from portraits.community import tag_normalise
from portraits.models import Portrait
from portraits.selectors import portrait_is_shared, portrait_list_public, portraits_withheld

NEWEST, TOP, TRENDING, REMIXED, RELEVANCE = "newest", "top", "trending", "remixed", "relevance"
SORTS = (NEWEST, TOP, TRENDING, REMIXED, RELEVANCE)
SORT_LABELS = {
    NEWEST: "Newest",
    TOP: "Most liked",
    TRENDING: "Trending",
    REMIXED: "Most remixed",
    RELEVANCE: "Most relevant",
}
PERIODS = {
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
    "all": None,
}
PERIOD_LABELS = {
    "all": "All time",
    "day": "Today",
    "week": "This week",
    "month": "This month",
    "year": "This year",
}
# The parameters a listing's URL may carry (besides ``cursor`` and ``page_size``).
PARAMETERS = ("sort", "period", "style", "model", "tag", "author", "has_remixes", "q")
TRUE, FALSE = "true", "false"

SEARCH_MAX_LENGTH = 200
PAGE_SIZE = 24
MAX_PAGE_SIZE = 100
SNAPSHOT_SIZE = 1000
SNAPSHOT_TTL = 30 * 60
CURSOR_SALT = "gallery.cursor"
CURSOR_MAX_LENGTH = 600
_SNAPSHOT_KEY = "gallery:snapshot:{token}"

SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,100}")
USERNAME_RE = re.compile(r"[\w.@+-]{1,150}")
_WORD_RE = re.compile(r"\w+")
# Control characters other than whitespace (a pasted line break is only a space).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# PostgreSQL's English stop-words (share/tsearch_data/english.stop): a search made only
# of these finds nothing there, so it is refused on every database alike.
_ENGLISH_STOP = """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now"""
STOP_WORDS = frozenset(_ENGLISH_STOP.split())

# Each sort's key, compared together with ``id`` (both descending).
_SORT_KEYS = {
    NEWEST: "published_at",
    TOP: "like_count",
    TRENDING: "trending",
    REMIXED: "remix_count",
    RELEVANCE: "rank",
}


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class GalleryQuery:
    """What a listing shows, as validated by :func:`gallery_query_parse`.

    ``sort`` is what was asked for ("" for the default: relevance with a search, else
    newest); :attr:`ordering` is what orders the rows.
    """

    sort: str = ""
    period: str = "all"
    style: str = ""
    model: str = ""
    tag: str = ""
    author: str = ""
    author_id: int | None = None
    has_remixes: bool = False
    q: str = ""

    @property
    def effective_sort(self) -> str:
        return self.sort or (RELEVANCE if self.q else NEWEST)

    @property
    def ordering(self) -> str:
        """The key rows are ordered by: SQLite has no ranking, so relevance falls back
        to newest there."""
        sort = self.effective_sort
        if sort == RELEVANCE and not _on_postgres():
            return NEWEST
        return sort

    @property
    def search_words(self) -> list[str]:
        """The search's words that are not stop-words, lower-case (SQLite's fallback)."""
        return [word for word in _WORD_RE.findall(self.q.lower()) if word not in STOP_WORDS]

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.style
            or self.model
            or self.tag
            or self.author
            or self.has_remixes
            or self.q
            or self.period != "all"
        )

    def as_params(self) -> dict[str, str]:
        """The query string that shows this listing again (defaults left out)."""
        params = {
            "q": self.q,
            "sort": self.sort,
            "period": "" if self.period == "all" else self.period,
            "style": self.style,
            "model": self.model,
            "tag": self.tag,
            "author": self.author,
            "has_remixes": TRUE if self.has_remixes else "",
        }
        return {name: value for name, value in params.items() if value}


def gallery_query_parse(
    params: Mapping[str, Any], *, blank_is_absent: bool = False
) -> GalleryQuery:
    """A :class:`GalleryQuery` from a request's query parameters, or ``DomainError``
    with a message for each parameter that is not one a listing can show.

    ``blank_is_absent``: a page's GET form sends every field, empty for "any"; the API
    refuses a blank value like any other that is not in its schema. Parameters not
    listed in ``PARAMETERS`` are left alone (tracking tags, ``cursor``…). Existence of
    a style, model or member costs one query each, only when given.
    """
    values: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for name in PARAMETERS:
        if name not in params:
            continue
        value = params.get(name)
        if not isinstance(value, str):
            errors[name] = ["Give one value."]
            continue
        if blank_is_absent and not value.strip():
            continue
        values[name] = value

    fields: dict[str, Any] = {}
    if "sort" in values:
        if values["sort"] not in SORTS:
            errors["sort"] = [f"Choose one of: {', '.join(SORTS)}."]
        else:
            fields["sort"] = values["sort"]
    if "period" in values:
        if values["period"] not in PERIODS:
            errors["period"] = [f"Choose one of: {', '.join(PERIODS)}."]
        else:
            fields["period"] = values["period"]
    if "has_remixes" in values:
        if values["has_remixes"] not in (TRUE, FALSE):
            errors["has_remixes"] = ["Choose true or false."]
        else:
            fields["has_remixes"] = values["has_remixes"] == TRUE
    if "q" in values:
        q, message = _search_clean(values["q"])
        if message:
            errors["q"] = [message]
        else:
            fields["q"] = q
    if fields.get("sort") == RELEVANCE and not fields.get("q") and "q" not in errors:
        errors["sort"] = ["Sorting by relevance needs a search (q)."]
    if "tag" in values:
        try:
            fields["tag"] = tag_normalise(values["tag"])
        except ValueError as exc:
            errors["tag"] = [str(exc)]
    for name, model in (("style", StylePreset), ("model", GenerationModel)):
        if name in values:
            # Every style and model a portrait was ever painted with, enabled or not.
            if SLUG_RE.fullmatch(values[name]) and model.objects.filter(slug=values[name]).exists():
                fields[name] = values[name]
            else:
                errors[name] = [f"No such {name}."]
    if "author" in values:
        try:
            if not USERNAME_RE.fullmatch(values["author"]):
                raise NotFound("No such member.")
            member = user_get_public(username=values["author"])
        except NotFound:
            errors["author"] = ["No such member."]
        else:
            fields["author"], fields["author_id"] = member.username, member.pk
    if errors:
        raise DomainError("This listing cannot be shown: check its filters.", field_errors=errors)
    return GalleryQuery(**fields)


def _search_clean(raw: str) -> tuple[str, str | None]:
    """``(search, error)``: whitespace collapsed; refused when too long, when it holds
    control characters, or when it has no word that is not a stop-word."""
    if _CONTROL_RE.search(raw):
        return "", "A search cannot contain control characters."
    q = " ".join(raw.split())
    if len(q) > SEARCH_MAX_LENGTH:
        return "", f"A search is at most {SEARCH_MAX_LENGTH} characters ({len(q)} given)."
    words = _WORD_RE.findall(q.lower())
    if not words:
        return "", "Search for at least one word."
    if all(word in STOP_WORDS for word in words):
        return "", "Search for at least one word besides words such as “the” or “and”."
    return q, None


def page_size_parse(raw: str | None, *, default: int = PAGE_SIZE) -> int:
    """``page_size`` from a query string: a whole number from 1 to ``MAX_PAGE_SIZE``."""
    if raw is None:
        return default
    # Three digits at most: int() of a long string is itself work (and past 4300 digits,
    # an error).
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        raw = "0"
    if not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise DomainError(
            "Not a valid page size.",
            field_errors={"page_size": [f"Must be a whole number from 1 to {MAX_PAGE_SIZE}."]},
        )
    return int(raw)


# --- The listing -----------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryScope:
    """Whose portraits a listing is limited to, besides its query's filters: a profile's
    member, a tag page's tag, or the people ``viewer`` follows."""

    author: User | None = None
    tag: str = ""
    following: bool = False

    def key(self, viewer) -> list[Any]:
        return [
            self.author.pk if self.author is not None else None,
            self.tag,
            viewer.pk if self.following else None,
        ]


@dataclass(frozen=True)
class GalleryPage:
    """A page of a listing: its portraits (their titles decided for the viewer), the
    cursor of the next page (None on the last), and which of them the viewer likes."""

    items: list[Portrait]
    next_cursor: str | None
    liked_ids: frozenset[int] = frozenset()
    query: GalleryQuery = dataclasses.field(default_factory=GalleryQuery)


def gallery_queryset(*, query: GalleryQuery, viewer, scope: GalleryScope) -> QuerySet[Portrait]:
    """The listed portraits ``query`` and ``scope`` select, unordered (relevance: with
    its ``rank``). Built on ``portrait_list_public``: nothing here decides visibility."""
    qs = portrait_list_public(viewer=viewer)
    if scope.author is not None:
        qs = qs.filter(author=scope.author)
    if scope.following:
        if viewer is None or not viewer.is_authenticated:
            return qs.none()
        # The ids first, as a list: given a subquery, PostgreSQL joined each followed
        # member to all their portraits (31,232 rows, 127 ms for a reader following 86
        # members at 100k portraits) to keep 25; given the ids, it walks the gallery's
        # newest index (author_id is in its INCLUDE) and stops at 25 (bench/README.md).
        followed = list(Follow.objects.filter(follower=viewer).values_list("followed", flat=True))
        qs = qs.filter(author_id__in=followed)
    # Each tag its own filter() call: its own join, so a tag page filtered by another tag
    # lists portraits that carry both.
    for tag in dict.fromkeys(t for t in (scope.tag, query.tag) if t):
        qs = qs.filter(tags__slug=tag)
    if query.author_id is not None:
        qs = qs.filter(author_id=query.author_id)
    if query.style:
        qs = qs.filter(style=query.style)
    if query.model:
        qs = qs.filter(model=query.model)
    if query.has_remixes:
        qs = qs.filter(remix_count__gt=0)
    since = PERIODS[query.period]
    if since is not None:
        qs = qs.filter(published_at__gte=timezone.now() - since)
    if query.q:
        if _on_postgres():
            search = SearchQuery(query.q, search_type="websearch", config="english")
            qs = qs.filter(search_vector=search)
            if query.ordering == RELEVANCE:
                qs = qs.annotate(rank=SearchRank(F("search_vector"), search))
        else:
            # SQLite: every word that is not a stop-word, anywhere in the search text.
            for word in query.search_words:
                qs = qs.filter(search_text__contains=word)
    return qs


def _ordered(qs: QuerySet[Portrait], sort: str) -> QuerySet[Portrait]:
    return qs.order_by(F(_SORT_KEYS[sort]).desc(), F("id").desc())


def _after(qs: QuerySet[Portrait], sort: str, value: Any, last_id: int) -> QuerySet[Portrait]:
    """The rows after ``(value, last_id)`` in descending order. The ``<=`` bounds the
    index scan; the OR decides the ties."""
    key = _SORT_KEYS[sort]
    return qs.filter(**{f"{key}__lte": value}).filter(
        Q(**{f"{key}__lt": value}) | Q(id__lt=last_id)
    )


def _digest(query: GalleryQuery, scope: GalleryScope, viewer) -> str:
    """What a cursor is bound to: the listing it came from."""
    listing = [
        query.ordering,
        query.period,
        query.style,
        query.model,
        query.tag,
        query.author_id,
        query.has_remixes,
        query.q,
        *scope.key(viewer),
    ]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:16]


def _encode_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decode_value(sort: str, value: Any) -> Any:
    """A cursor's keyset value, as the column compares it, or ValueError."""
    if sort == NEWEST:
        if not isinstance(value, str):
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
        if timezone.is_naive(parsed):
            raise ValueError(value)
        return parsed
    if sort in (TOP, REMIXED):
        if type(value) is not int or value < 0:
            raise ValueError(value)
        return value
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError(value)
    return float(value)


@dataclass(frozen=True)
class _Cursor:
    after: tuple[Any, int]  # the keyset values of the last item shown
    token: str | None = None  # the snapshot's, for score sorts
    offset: int = 0  # how far into the snapshot


def _cursor_dump(digest: str, cursor: _Cursor) -> str:
    value, last_id = cursor.after
    payload = {"d": digest, "k": [_encode_value(value), last_id]}
    if cursor.token is not None:
        payload.update(t=cursor.token, o=cursor.offset)
    return signing.dumps(payload, salt=CURSOR_SALT, compress=True)


def _cursor_load(raw: str, *, digest: str, sort: str) -> _Cursor:
    invalid = DomainError(
        "Not a valid cursor.",
        field_errors={"cursor": ["Not a valid cursor: follow the next link of a page."]},
    )
    if not isinstance(raw, str) or len(raw) > CURSOR_MAX_LENGTH:
        raise invalid
    try:
        payload = signing.loads(raw, salt=CURSOR_SALT)
    except signing.BadSignature:
        raise invalid from None
    if not isinstance(payload, dict):
        raise invalid
    if payload.get("d") != digest:
        raise DomainError(
            "This cursor belongs to another listing.",
            field_errors={"cursor": ["This cursor belongs to another listing: start again."]},
        )
    try:
        value, last_id = payload["k"]
        if type(last_id) is not int or last_id < 0:
            raise ValueError(last_id)
        value = _decode_value(sort, value)
        token, offset = payload.get("t"), payload.get("o", 0)
        if token is not None and not (isinstance(token, str) and len(token) <= 32):
            raise ValueError(token)
        if type(offset) is not int or not 0 <= offset <= SNAPSHOT_SIZE:
            raise ValueError(offset)
    except (KeyError, TypeError, ValueError):
        raise invalid from None
    return _Cursor(after=(value, last_id), token=token, offset=offset)


def _in_order(qs: QuerySet[Portrait], ids: Sequence[int]) -> list[Portrait]:
    """The rows of ``ids`` that ``qs`` still lists (one query), in the order of ``ids``."""
    rows = {row.pk: row for row in qs.filter(id__in=list(ids))}
    return [rows[pk] for pk in ids if pk in rows]


def gallery_page(
    *,
    query: GalleryQuery,
    viewer,
    cursor: str | None = None,
    page_size: int = PAGE_SIZE,
    scope: GalleryScope | None = None,
    with_tags: bool = False,
) -> GalleryPage:
    """One page of the listing ``query`` and ``scope`` select, after ``cursor`` (a
    previous page's ``next_cursor``), as ``viewer`` may see it.

    A cursor that was not made for this listing, or not made here at all, is a
    ``DomainError`` on ``cursor``. ``with_tags``: read each portrait's tags (one
    query), for the API. See the module's docstring for the order, the snapshot that
    keeps score sorts stable and the queries a page costs.
    """
    scope = scope or GalleryScope()
    sort = query.ordering
    digest = _digest(query, scope, viewer)
    # A blank cursor is no cursor of ours either (pages drop their form's blank fields).
    position = _cursor_load(cursor, digest=digest, sort=sort) if cursor is not None else None
    qs = gallery_queryset(query=query, viewer=viewer, scope=scope)
    if with_tags:
        qs = qs.prefetch_related("tags")

    next_position: _Cursor | None = None
    if position is None and sort != NEWEST:
        # First page of a score sort: its order as of now, kept for the pages to come.
        rows = list(_ordered(qs, sort).values_list("id", _SORT_KEYS[sort])[:SNAPSHOT_SIZE])
        ids = [pk for pk, _ in rows]
        items = _in_order(qs, ids[:page_size])
        if len(ids) > page_size:
            token = secrets.token_urlsafe(12)
            last_value, last_id = rows[-1][1], rows[-1][0]
            cache.set(_SNAPSHOT_KEY.format(token=token), (ids, last_value, last_id), SNAPSHOT_TTL)
            after = (
                _key_of(items[-1], sort) if items else (rows[page_size - 1][1], ids[page_size - 1])
            )
            next_position = _Cursor(after=after, token=token, offset=page_size)
    else:
        snapshot = None
        if position is not None and position.token is not None:
            snapshot = cache.get(_SNAPSHOT_KEY.format(token=position.token))
        ids = snapshot[0] if snapshot is not None else []
        if snapshot is not None and position.offset < len(ids):
            end = position.offset + page_size
            items = _in_order(qs, ids[position.offset : end])
            if end < len(ids):
                # A page whose portraits all left the gallery meanwhile carries on after
                # the previous page's last.
                after = _key_of(items[-1], sort) if items else position.after
                next_position = _Cursor(after=after, token=position.token, offset=end)
            elif len(ids) >= SNAPSHOT_SIZE:
                # The end of a full snapshot: on after its last row as it stood then.
                after = (snapshot[1], snapshot[2])
                next_position = _Cursor(after=after, token=position.token, offset=len(ids))
        else:
            page = _ordered(qs, sort)
            if position is not None:
                page = _after(page, sort, *position.after)
            if snapshot is not None:
                # Past the end of a full snapshot: none of the rows it held (their scores
                # may have moved below its end since).
                page = page.exclude(id__in=ids)
            items = list(page[: page_size + 1])
            if len(items) > page_size:
                items = items[:page_size]
                keep = snapshot is not None
                next_position = _Cursor(
                    after=_key_of(items[-1], sort),
                    token=position.token if keep else None,
                    offset=position.offset if keep else 0,
                )

    # Titles as this viewer may read them, for the whole page in at most one query.
    portraits_withheld(portraits=items, viewer=viewer)
    return GalleryPage(
        items=items,
        next_cursor=_cursor_dump(digest, next_position) if next_position else None,
        liked_ids=frozenset(liked_among(viewer=viewer, portraits=items)),
        query=query,
    )


def _key_of(portrait: Portrait, sort: str) -> tuple[Any, int]:
    return getattr(portrait, _SORT_KEYS[sort]), portrait.pk


# --- The social graph: who follows whom, who liked what, and the counts ------------
#
# These read Like and Follow rows. Members who closed their account or were suspended
# (``is_active`` False) are left out of every list and count, as
# ``accounts.selectors.user_get_public`` treats them everywhere else. One query at most each.


@dataclass(frozen=True)
class FollowCounts:
    followers: int
    following: int


def _member(user) -> bool:
    return user is not None and user.is_authenticated


def follow_counts(*, user: User) -> FollowCounts:
    """How many active members follow ``user``, and how many ``user`` follows: one query
    (the two follow indexes, OR-ed)."""
    counts = Follow.objects.filter(Q(followed=user) | Q(follower=user)).aggregate(
        followers=Count("pk", filter=Q(followed=user, follower__is_active=True)),
        following=Count("pk", filter=Q(follower=user, followed__is_active=True)),
    )
    return FollowCounts(followers=counts["followers"], following=counts["following"])


def followers_of(*, user: User) -> QuerySet[Follow]:
    """The follows of ``user`` by active members, each with its ``follower``; newest first
    (a cursor paginator orders by ``(-created_at, -id)``, the followers index)."""
    return (
        Follow.objects.filter(followed=user, follower__is_active=True)
        .select_related("follower")
        .order_by("-created_at", "-id")
    )


def following_of(*, user: User) -> QuerySet[Follow]:
    """The follows ``user`` made of active members, each with its ``followed``; newest first."""
    return (
        Follow.objects.filter(follower=user, followed__is_active=True)
        .select_related("followed")
        .order_by("-created_at", "-id")
    )


def follows(*, viewer, user: User) -> bool:
    """Whether ``viewer`` follows ``user`` (False for anonymous, and for oneself)."""
    if not _member(viewer) or viewer.pk == user.pk:
        return False
    return Follow.objects.filter(follower=viewer, followed=user).exists()


def followed_among(*, viewer, users: Iterable[User]) -> set[int]:
    """The ids of those of ``users`` that ``viewer`` follows: one query for a whole list
    (none for anonymous or an empty list)."""
    ids = {user.pk for user in users}
    if not _member(viewer) or not ids:
        return set()
    return set(
        Follow.objects.filter(follower=viewer, followed_id__in=ids).values_list(
            "followed_id", flat=True
        )
    )


def portrait_likeable(*, portrait: Portrait, viewer) -> bool:
    """Whether ``viewer`` may like ``portrait`` (which they can see): a like is public
    activity, so only a portrait anyone with the link may open (public or unlisted, not
    hidden, of any rating: ``viewer`` sees it) — or one's own. A moderator who sees a
    private or hidden portrait may not like it."""
    if not _member(viewer):
        return False
    return portrait.author_id == viewer.pk or portrait_is_shared(portrait=portrait)


def liked(*, viewer, portrait: Portrait) -> bool:
    """Whether ``viewer`` likes ``portrait`` (False for anonymous)."""
    if not _member(viewer):
        return False
    return Like.objects.filter(user=viewer, portrait=portrait).exists()


def liked_among(*, viewer, portraits: Iterable[Portrait]) -> set[int]:
    """The ids of those of ``portraits`` that ``viewer`` likes: one query for a page."""
    ids = {portrait.pk for portrait in portraits}
    if not _member(viewer) or not ids:
        return set()
    return set(
        Like.objects.filter(user=viewer, portrait_id__in=ids).values_list("portrait_id", flat=True)
    )
