"""The community's bookkeeping on a portrait: publication, counters, trending, tags, search.

``portraits.community`` keeps ``like_count``, ``remix_count`` and ``trending`` exact in the
transaction that changes them; these tests hold it to the formula in its docstring.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.errors import DomainError
from portraits import community
from portraits.models import TAGS_MAX_PER_PORTRAIT, Portrait
from portraits.services import portrait_delete, portrait_update
from portraits.signals import portrait_published
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.django_db
V = Portrait.Visibility


def decayed(events, now):
    """The docstring's score(t), summed directly: Σ w · 2^(−(t − t_e)/half-life)."""
    return sum(
        community.WEIGHTS[kind] * 2 ** (-(now - at) / community.HALF_LIFE) for kind, at in events
    )


def test_the_stored_score_orders_as_the_decayed_sum_at_any_time(alice):
    now = timezone.now()
    old = PortraitFactory(author=alice, visibility=V.PRIVATE)
    new = PortraitFactory(author=alice, visibility=V.PRIVATE)
    # Old: published two days ago with ten likes then; new: published now with one like.
    events = {
        old.pk: [("like", now - timedelta(days=2))] * 10,
        new.pk: [("like", now - timedelta(minutes=5))],
    }
    for pk, items in events.items():
        for kind, at in items:
            community.portrait_activity_record(portrait_id=pk, kind=kind, at=at, delta=1)
    old.refresh_from_db()
    new.refresh_from_db()
    for pk, row in ((old.pk, old), (new.pk, new)):
        assert community.trending_score_now(row.trending, now=now) == pytest.approx(
            decayed(events[pk], now), rel=1e-9
        )
    # Ten likes at a quarter... of a quarter: 10 · 2^-4 < 1 · 2^(-5/720).
    assert new.trending > old.trending
    assert old.like_count == 10 and new.like_count == 1


def test_taking_a_like_back_restores_the_score_exactly(alice):
    portrait = PortraitFactory(author=alice, visibility=V.PRIVATE)
    portrait_update(portrait=portrait, by=alice, data={"visibility": V.PUBLIC})
    portrait.refresh_from_db()
    published = portrait.trending
    at = timezone.now()
    community.portrait_activity_record(portrait_id=portrait.pk, kind="like", at=at, delta=1)
    community.portrait_activity_record(portrait_id=portrait.pk, kind="remix", at=at, delta=1)
    community.portrait_activity_record(portrait_id=portrait.pk, kind="like", at=at, delta=-1)
    community.portrait_activity_record(portrait_id=portrait.pk, kind="remix", at=at, delta=-1)
    portrait.refresh_from_db()
    assert (portrait.like_count, portrait.remix_count) == (0, 0)
    assert portrait.trending == pytest.approx(published, abs=1e-9)


def test_an_unpublished_portrait_without_activity_has_no_score(alice):
    portrait = PortraitFactory(author=alice, visibility=V.PRIVATE)
    at = timezone.now()
    community.portrait_activity_record(portrait_id=portrait.pk, kind="like", at=at, delta=1)
    community.portrait_activity_record(portrait_id=portrait.pk, kind="like", at=at, delta=-1)
    portrait.refresh_from_db()
    assert portrait.trending is None


def test_publishing_records_the_first_time_only_and_tells_the_community(alice):
    portrait = PortraitFactory(author=alice, visibility=V.PRIVATE)
    heard = []

    def receiver(sender, portrait, **kwargs):
        heard.append(portrait.pk)

    portrait_published.connect(receiver)
    try:
        portrait_update(portrait=portrait, by=alice, data={"visibility": V.PUBLIC})
        first = Portrait.objects.get(pk=portrait.pk).published_at
        assert first is not None
        portrait_update(portrait=portrait, by=alice, data={"visibility": V.PRIVATE})
        portrait_update(portrait=portrait, by=alice, data={"visibility": V.PUBLIC})
    finally:
        portrait_published.disconnect(receiver)
    assert Portrait.objects.get(pk=portrait.pk).published_at == first
    assert heard == [portrait.pk]


def test_a_public_portrait_without_a_publication_date_cannot_exist(alice):
    from django.db import IntegrityError, transaction

    portrait = PortraitFactory(author=alice, visibility=V.PRIVATE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Portrait.objects.filter(pk=portrait.pk).update(visibility=V.PUBLIC)


def test_several_visibilities_at_once_all_or_nothing(alice, bob):
    mine = [PortraitFactory(author=alice, visibility=V.PRIVATE) for _ in range(3)]
    theirs = PortraitFactory(author=bob, visibility=V.PRIVATE)
    with pytest.raises(DomainError) as caught:
        community.portraits_visibility_set(
            by=alice,
            choices={
                mine[0].public_id: V.PUBLIC,
                theirs.public_id: V.PUBLIC,
                mine[1].public_id: "x",
            },
        )
    assert set(caught.value.field_errors) == {theirs.public_id, mine[1].public_id}
    assert not Portrait.objects.filter(visibility=V.PUBLIC).exists()

    community.portraits_visibility_set(
        by=alice, choices={mine[0].public_id: V.PUBLIC, mine[1].public_id: V.UNLISTED}
    )
    rows = {p.pk: p for p in Portrait.objects.filter(author=alice)}
    assert rows[mine[0].pk].visibility == V.PUBLIC and rows[mine[0].pk].published_at
    assert rows[mine[1].pk].visibility == V.UNLISTED and rows[mine[1].pk].published_at is None
    assert rows[mine[2].pk].visibility == V.PRIVATE


def test_a_remix_counts_on_its_parent_until_it_is_deleted(alice, bob, create_portrait, remix):
    parent = create_portrait(alice)
    child = remix(parent, bob, prompt="a portrait of a man with red hair, oil painting")
    parent.refresh_from_db()
    assert parent.remix_count == 1
    with_remix = parent.trending
    expected = math.log2(
        2 ** community.trending_term("publish", parent.published_at)
        + 2 ** community.trending_term("remix", child.created_at)
    )
    assert with_remix == pytest.approx(expected, abs=1e-9)
    portrait_delete(portrait=child, by=bob)
    parent.refresh_from_db()
    assert parent.remix_count == 0
    assert parent.trending == pytest.approx(
        community.trending_term("publish", parent.published_at), abs=1e-9
    )


def test_style_and_model_are_columns_of_a_painted_portrait(alice, create_portrait, style_presets):
    portrait = create_portrait(alice, style=style_presets[0].slug)
    assert portrait.style == style_presets[0].slug
    assert portrait.model == portrait.recipe["model"] != ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Film Noir, portrait  #Red-Hair", ["film", "noir", "portrait", "red-hair"]),
        (["film-noir", "Film-Noir", "ÉTÉ"], ["film-noir", "été"]),
        ("", []),
    ],
)
def test_tags_are_lower_case_slugs_once_each(raw, expected):
    assert community.tags_parse(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "!!!, ???",
        ["x" * 41],
        [f"tag{n}" for n in range(TAGS_MAX_PER_PORTRAIT + 1)],
        [3],
    ],
)
def test_bad_tags_are_a_field_error(raw):
    with pytest.raises(DomainError) as caught:
        community.tags_parse(raw)
    assert caught.value.field_errors["tags"]


def test_tags_and_title_are_searchable_text(alice):
    portrait = PortraitFactory(
        author=alice, title="Dawn", recipe=recipe_for("a fox in the snow"), visibility=V.PRIVATE
    )
    community.portrait_tags_set(portrait=portrait, slugs=["winter-light"])
    portrait.refresh_from_db()
    assert portrait.search_text == "dawn winter light a fox in the snow"


def test_a_remix_does_not_make_words_from_a_hidden_step_searchable(alice, bob):
    original = PortraitFactory(author=alice, recipe=recipe_for("a secret garden"))
    child = PortraitFactory(
        author=bob,
        parent=original,
        recipe={**recipe_for("a secret garden"), "seed": 99},
        title="Garden remix",
    )
    community.search_documents_refresh(portrait_ids=[child.pk])
    child.refresh_from_db()
    assert "secret" in child.search_text
    # Alice makes her original private: bob's remix kept her words, nobody may find them.
    portrait_update(portrait=original, by=alice, data={"visibility": V.PRIVATE})
    child.refresh_from_db()
    assert "secret" not in child.search_text
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT search_vector::text FROM portraits_portrait WHERE id = %s", [child.pk]
            )
            assert "secret" not in cursor.fetchone()[0]


@pytest.mark.postgres
def test_search_vectors_weigh_title_over_tags_over_prompt(alice):
    portrait = PortraitFactory(author=alice, title="Harbour", recipe=recipe_for("a lighthouse"))
    community.portrait_tags_set(portrait=portrait, slugs=["storm"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector::text FROM portraits_portrait WHERE id = %s", [portrait.pk]
        )
        vector = cursor.fetchone()[0]
    assert "'harbour':1A" in vector and "'storm':2B" in vector and "'lighthous':4C" in vector
