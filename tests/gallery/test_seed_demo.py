"""``manage.py seed_demo``: a painted demo community, and benchmark scale with exact counters."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from gallery.demo import DEMO_EMAIL_DOMAIN, demo_users
from gallery.models import Follow, Like, Notification
from gallery.services import like_add
from generation.models import GenerationJob, GenerationModel
from portraits import community
from portraits.lineage import compute_changes
from portraits.models import Portrait

V = Portrait.Visibility


def _assert_lineage_consistent(portraits):
    by_pk = {p.pk: p for p in portraits}
    for portrait in portraits:
        if portrait.parent_id is None:
            assert (portrait.root_id, portrait.depth, portrait.ancestry) == (None, 0, "")
            continue
        parent = by_pk[portrait.parent_id]
        assert portrait.root_id == parent.family_root_id
        assert portrait.depth == parent.depth + 1
        assert portrait.ancestry == parent.descendant_prefix
        assert portrait.changes == compute_changes(parent.recipe, portrait.recipe)
        assert portrait.recipe["parent"] == parent.public_id


def _assert_like_counts_exact():
    counted = Portrait.objects.annotate(
        likes_counted=Count("likes", distinct=True),
        remixes_counted=Count("remixes", filter=Q(remixes__deleted_at__isnull=True), distinct=True),
    )
    for portrait in counted:
        assert portrait.like_count == portrait.likes_counted, portrait.public_id
        assert portrait.remix_count == portrait.remixes_counted, portrait.public_id


@pytest.mark.inference
@pytest.mark.django_db(transaction=True)
def test_seed_demo_paints_a_small_community_through_the_real_path(tiny_model, style_presets):
    call_command("seed_demo", "--users", "3", "--portraits", "6", "--password", "x" * 12)

    members = list(demo_users().order_by("pk"))
    assert len(members) == 3
    assert all(m.display_name and m.bio and m.avatar for m in members)
    assert all(m.email.endswith(f"@{DEMO_EMAIL_DOMAIN}") for m in members)
    assert EmailAddress.objects.filter(user__in=members, verified=True).count() == 3
    assert members[0].check_password("x" * 12)

    portraits = list(Portrait.objects.select_related("job").order_by("pk"))
    # Painted by the worker's code: every portrait comes from a succeeded job of its author.
    assert portraits and all(p.job and p.job.status == "succeeded" for p in portraits)
    assert all(p.job.user_id == p.author_id for p in portraits)
    published = [p for p in portraits if p.visibility == V.PUBLIC]
    assert len(published) == 6
    assert all(p.published_at and p.trending is not None for p in published)
    # Remix chains across members, several deep.
    remixes = [p for p in portraits if p.parent_id]
    assert len(remixes) == 3
    assert max(p.depth for p in portraits) == 3
    by_pk = {p.pk: p for p in portraits}
    assert all(by_pk[p.parent_id].author_id != p.author_id for p in remixes)
    _assert_lineage_consistent(portraits)
    # Every style with room for it is painted (three originals: the first three styles).
    assert {p.style for p in portraits if not p.parent_id} == {
        s.slug for s in style_presets.filter(is_enabled=True).order_by("order", "name")[:3]
    }
    # Tags, likes (counted exactly), follows, and the notifications they caused.
    assert all(p.tags.exists() for p in published)
    assert Like.objects.count() > 0
    _assert_like_counts_exact()
    assert Follow.objects.filter(follower__in=members).count() >= 3
    kinds = set(Notification.objects.values_list("kind", flat=True))
    assert {"follow", "like", "remix", "publish"} <= kinds

    # Seeding again refuses, rather than a second cast beside the first.
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed_demo", "--users", "3", "--portraits", "2")

    # --reset takes the painted community away, files, jobs and notifications included.
    files = [p.image.name for p in portraits] + [m.avatar.name for m in members]
    assert all(default_storage.exists(name) for name in files)
    call_command("seed_demo", "--reset", "--fast", "--users", "3", "--portraits", "4")
    assert not any(default_storage.exists(name) for name in files)
    assert not GenerationJob.objects.exists()
    assert not Notification.objects.exists()
    assert Portrait.objects.count() == 4


@pytest.fixture
def model_row(db):
    """A registered default model: --fast paints nothing, its recipes only name it."""
    return GenerationModel.objects.create(
        name="Tiny", slug="tiny", source="/models/tiny", family="sd", is_default=True
    )


@pytest.mark.django_db
def test_seed_demo_fast_leaves_the_counters_the_per_row_services_would(model_row, style_presets):
    call_command(
        "seed_demo",
        "--fast",
        "--users",
        "20",
        "--portraits",
        "200",
        "--likes",
        "2000",
        "--tree",
        "50",
    )
    assert demo_users().count() == 20
    portraits = list(Portrait.objects.order_by("pk"))
    assert len(portraits) == 200
    assert Like.objects.count() == 2000
    assert Follow.objects.exists()
    assert Portrait.tags.through.objects.count() >= 200
    assert all(p.search_text for p in portraits if p.visibility == V.PUBLIC)
    _assert_lineage_consistent(portraits)
    _assert_like_counts_exact()
    # A remix is painted after its parent was published, and liked after its publication.
    by_pk = {p.pk: p for p in portraits}
    assert all(p.created_at > by_pk[p.parent_id].published_at for p in portraits if p.parent_id)
    assert not Like.objects.filter(created_at__lt=F("portrait__published_at")).exists()
    # The remix tree for the benchmark: exactly 50 portraits, with their root.
    sizes = (
        Portrait.objects.filter(root__isnull=False)
        .values("root")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    assert sizes[0]["n"] + 1 == 50

    # Replay every portrait's history through the per-row service itself, in time order:
    # its publication (as visibility_apply records it), then each like and each remix
    # with portrait_activity_record. Counters and scores must come out identical.
    stored = {p.pk: (p.like_count, p.remix_count, p.trending) for p in portraits}
    events = [(like.created_at, "like", like.portrait_id) for like in Like.objects.all()]
    events += [(p.created_at, "remix", p.parent_id) for p in portraits if p.parent_id]
    for portrait in portraits:
        Portrait.objects.filter(pk=portrait.pk).update(
            like_count=0,
            remix_count=0,
            trending=community.trending_term("publish", portrait.published_at)
            if portrait.published_at
            else None,
        )
    for at, kind, portrait_id in sorted(events, key=lambda e: e[0]):
        community.portrait_activity_record(portrait_id=portrait_id, kind=kind, at=at, delta=1)
    replayed = {
        p.pk: (p.like_count, p.remix_count, p.trending) for p in Portrait.objects.order_by("pk")
    }
    assert replayed == stored


@pytest.mark.django_db
def test_seed_demo_reset_replaces_the_demo_community(
    model_row, style_presets, alice, gallery_portrait
):
    args = ["seed_demo", "--fast", "--users", "5", "--portraits", "30", "--likes", "60"]
    call_command(*args)
    with pytest.raises(CommandError, match="--reset"):
        call_command(*args)
    # A demo member likes a real member's portrait: the reset must take that like out of
    # its counters too.
    theirs = gallery_portrait(alice)
    before = (theirs.like_count, theirs.trending)
    like_add(user=demo_users().first(), portrait=theirs)
    assert Portrait.objects.get(pk=theirs.pk).like_count == 1

    call_command(*args, "--reset", "--seed", "2")
    assert demo_users().count() == 5
    assert Portrait.objects.filter(author__in=demo_users()).count() == 30
    assert Like.objects.count() == 60
    # Nobody else's work is touched, and their counters are as they were.
    theirs.refresh_from_db()
    assert (theirs.like_count, theirs.trending) == pytest.approx(before)
