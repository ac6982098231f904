"""Search: titles, tags and prompts. PostgreSQL's full-text search (the stored weighted
``search_vector``, its GIN index, ``ts_rank``), and SQLite's documented fallback (every
word, newest first). Run this file on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from gallery.selectors import GalleryScope, gallery_page, gallery_query_parse, gallery_queryset
from portraits.models import Portrait
from tests.gallery.conftest import V, ids

pytestmark = pytest.mark.django_db

ANONYMOUS = AnonymousUser()
HOUR = timedelta(hours=1)


def search(viewer=ANONYMOUS, page_size=24, **params) -> list[str]:
    query = gallery_query_parse(params)
    found, cursor = [], None
    while True:
        page = gallery_page(query=query, viewer=viewer, cursor=cursor, page_size=page_size)
        found += ids(page.items)
        if not (cursor := page.next_cursor):
            return found


@pytest.fixture
def coast(alice, bob, gallery_portrait):
    """Portraits about lighthouses, found by title, by tag and by prompt, and others."""
    return {
        "title": gallery_portrait(
            alice, ago=3 * HOUR, title="The lighthouse keeper", prompt="an old man, oil"
        ),
        "tag": gallery_portrait(
            bob, ago=2 * HOUR, title="Evening", prompt="a woman at dusk", tags=("lighthouse",)
        ),
        "prompt": gallery_portrait(
            bob, ago=1 * HOUR, title="Storm", prompt="a red lighthouse in a storm at night"
        ),
        "fox": gallery_portrait(
            alice, ago=4 * HOUR, title="Fox", prompt="a red fox in the snow, watercolour"
        ),
        "private": gallery_portrait(
            alice, title="Secret lighthouse", prompt="lighthouse", visibility=V.PRIVATE
        ),
    }


def test_search_finds_words_in_titles_tags_and_prompts(coast):
    found = search(q="lighthouse")
    assert set(found) == set(ids([coast["title"], coast["tag"], coast["prompt"]]))


def test_every_word_must_match_and_stop_words_do_not_narrow(coast):
    assert search(q="red lighthouse") == ids([coast["prompt"]])
    assert search(q="the red lighthouse in a storm") == ids([coast["prompt"]])
    assert search(q="  red\n\tlighthouse ") == ids([coast["prompt"]])  # pasted whitespace
    assert set(search(q="RED")) == set(ids([coast["prompt"], coast["fox"]]))
    assert search(q="lighthouse unicorn") == []


def test_a_private_portrait_is_never_found(coast, alice):
    assert coast["private"].public_id not in search(alice, q="secret lighthouse")
    assert search(alice, q="secret") == []


def test_a_search_with_an_explicit_sort_is_ordered_by_it(coast, gallery_portrait):
    from tests.gallery.conftest import activity

    activity(coast["tag"], "like", 5)
    activity(coast["title"], "like", 2)
    assert search(q="lighthouse", sort="top") == ids(
        [coast["tag"], coast["title"], coast["prompt"]]
    )
    assert search(q="lighthouse", sort="newest") == ids(
        [coast["prompt"], coast["tag"], coast["title"]]
    )


def test_the_sqlite_fallback_lists_matches_newest_first(coast):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's fallback")
    # No ranking: relevance (the default with a search) is newest first there.
    expected = ids([coast["prompt"], coast["tag"], coast["title"]])
    assert search(q="lighthouse") == expected
    assert search(q="lighthouse", sort="relevance") == expected
    # Words anywhere, even inside others: the fallback is a substring match.
    assert search(q="lighthouses") == [] and search(q="house") == expected


@pytest.mark.postgres
def test_postgres_ranks_a_title_above_a_tag_above_a_prompt(coast):
    # Newest is the prompt match; relevance puts the title (weight A) first, then the
    # tag (B), then the prompt (C).
    assert search(q="lighthouse") == ids([coast["title"], coast["tag"], coast["prompt"]])
    assert search(q="lighthouse", sort="relevance") == search(q="lighthouse")
    # Stemming: the plural finds the same portraits.
    assert search(q="lighthouses") == search(q="lighthouse")


@pytest.mark.postgres
def test_postgres_understands_web_search_syntax(coast):
    assert set(search(q="lighthouse -storm")) == set(ids([coast["title"], coast["tag"]]))
    assert search(q='"red fox"') == ids([coast["fox"]])
    assert set(search(q="storm or snow")) == set(ids([coast["prompt"], coast["fox"]]))


@pytest.mark.postgres
def test_postgres_reads_the_stored_vector_through_its_gin_index(coast):
    query = gallery_query_parse({"q": "lighthouse"})
    qs = gallery_queryset(query=query, viewer=ANONYMOUS, scope=GalleryScope())
    sql = str(qs.query)
    assert '"search_vector" @@' in sql and "websearch_to_tsquery" in sql
    assert "to_tsvector" not in sql  # never a document recomputed per row
    # Enough rows that the planner's choice is the one it makes at scale.
    template = coast["fox"]
    Portrait.objects.bulk_create(
        [
            Portrait(
                **{
                    field.attname: getattr(template, field.attname)
                    for field in Portrait._meta.concrete_fields
                    if field.attname not in ("id", "public_id")
                },
                public_id=f"filler-{n}",
            )
            for n in range(2000)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE portraits_portrait SET search_vector = to_tsvector('english', 'filler ' || id)"
            " WHERE public_id LIKE 'filler-%%'"
        )
        cursor.execute("ANALYZE portraits_portrait")
        compiled, params = qs.order_by("-rank", "-id").query.sql_with_params()
        cursor.execute(f"EXPLAIN {compiled}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "portrait_search_idx" in plan, plan


@pytest.mark.postgres
def test_relevance_pages_are_stable_while_new_matches_arrive(alice, gallery_portrait):
    titled = [gallery_portrait(alice, title=f"Lighthouse {n}", prompt="sea") for n in range(4)]
    prompted = [gallery_portrait(alice, title=f"Sea {n}", prompt="lighthouse") for n in range(4)]
    query = gallery_query_parse({"q": "lighthouse"})
    first = gallery_page(query=query, viewer=ANONYMOUS, page_size=3)
    gallery_portrait(alice, title="Lighthouse lighthouse", prompt="lighthouse")  # ranks first
    seen, cursor = ids(first.items), first.next_cursor
    while cursor:
        page = gallery_page(query=query, viewer=ANONYMOUS, cursor=cursor, page_size=3)
        seen += ids(page.items)
        cursor = page.next_cursor
    assert sorted(seen) == sorted(ids(titled + prompted))
    assert set(seen[:4]) == set(ids(titled))


def test_the_page_and_the_api_search(coast, client, api):
    html = client.get("/explore/", {"q": "red lighthouse"}).content.decode()
    assert f'data-id="{coast["prompt"].public_id}"' in html
    assert f'data-id="{coast["fox"].public_id}"' not in html
    assert "Portraits matching “red lighthouse”" in html
    body = api.get("/api/v1/gallery/", {"q": "red lighthouse"}).json()
    assert ids(body["results"]) == ids([coast["prompt"]])


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("the and of it", "besides words such as"),
        ("a" * 201, "at most 200 characters"),
        ("?!.,", "at least one word"),
    ],
)
def test_a_search_of_only_stop_words_or_too_long_is_refused(q, message, api, client, db):
    response = api.get("/api/v1/gallery/", {"q": q})
    assert response.status_code == 400
    assert message in response.json()["errors"]["q"][0]
    page = client.get("/explore/", {"q": q})
    assert page.status_code == 400 and message in page.content.decode()
