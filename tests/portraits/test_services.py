from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from config.errors import Conflict, DomainError, NotFound, PermissionDenied
from generation import services as generation_services
from generation.models import GenerationJob
from generation.services import job_submit
from portraits import selectors, services
from portraits.models import Portrait

pytestmark = pytest.mark.django_db


def test_every_image_of_a_job_becomes_a_private_portrait_with_files_and_full_recipe(alice, paint):
    job = job_submit(
        user=alice,
        spec={"prompt": "  a portrait of a   sailor, ink ", "seed": 500, "num_images": 3},
    )

    portraits = paint(job)

    assert [p.index_in_job for p in portraits] == [0, 1, 2]
    assert len({p.public_id for p in portraits}) == 3
    for index, portrait in enumerate(portraits):
        portrait.refresh_from_db()
        assert len(portrait.public_id) == 16  # 96 random bits, URL-safe
        assert portrait.author == alice
        assert portrait.author_name == "Alice Liddell"
        assert portrait.job == job
        assert portrait.visibility == Portrait.Visibility.PRIVATE
        assert portrait.title == "a portrait of a sailor, ink"
        assert (portrait.width, portrait.height) == (64, 64)
        assert default_storage.exists(portrait.image.name)
        assert default_storage.exists(portrait.thumbnail.name)
        with default_storage.open(portrait.thumbnail.name) as handle, Image.open(handle) as thumb:
            assert thumb.format == "WEBP"
            assert thumb.size == (portrait.thumbnail_width, portrait.thumbnail_height) == (64, 64)
        with default_storage.open(portrait.image.name) as handle, Image.open(handle) as original:
            assert original.format == "PNG"
        recipe = portrait.recipe
        assert recipe["seed"] == 500 + index
        assert recipe["prompt"] == "a portrait of a   sailor, ink"  # as typed, trimmed
        assert recipe["model_name"] == "Painter"
        assert recipe["model_revision"] == "sha256:00c0ffee00c0ffee"
        assert recipe["scheduler"] == "PNDMScheduler"
        assert (recipe["steps"], recipe["guidance_scale"]) == (4, 7.0)
        assert (recipe["width"], recipe["height"]) == (64, 64)
        assert recipe["device"] == "cpu"
        assert recipe["diffusers_version"] == "0.42.1"
        assert recipe["torch_version"] == "2.13.0+cpu"
        assert recipe["init_strength"] is None
        assert (recipe["batch_size"], recipe["batch_index"]) == (3, index)
        assert portrait.depth == 0 and portrait.parent is None and portrait.changes == {}


def test_a_job_stored_twice_keeps_one_set_of_portraits(alice, paint):
    job = job_submit(user=alice, spec={"prompt": "a portrait", "num_images": 2})
    first = paint(job)

    # A task delivered twice would store the same images again: the service hands back
    # the portraits it stored the first time.
    again = services.portrait_create_from_job(
        author=alice,
        job_id=job.pk,
        parent=None,
        recipes=[portrait.recipe for portrait in first],
        images=[Image.new("RGB", (job.width, job.height)) for _ in first],
    )

    assert [p.pk for p in again] == [p.pk for p in first]
    assert Portrait.objects.filter(job=job).count() == 2


def test_a_long_prompt_gives_a_title_cut_at_a_word(alice, paint):
    prompt = "a portrait of " + " ".join(["an extraordinarily detailed"] * 10)
    (portrait,) = paint(job_submit(user=alice, spec={"prompt": prompt}))

    assert portrait.title.endswith("…")
    assert len(portrait.title) <= 80
    assert prompt.startswith(portrait.title[:-1])


def test_remix_across_three_users_records_lineage_diffs_and_credits(
    alice, bob, carol, create_portrait, remix
):
    original = create_portrait(alice, prompt="a portrait of a fox in a red coat", seed=7)
    bob_remix = remix(original, bob, prompt="a portrait of a fox in a blue coat, at night")
    carol_remix = remix(bob_remix, carol, steps=12, init_strength=0.6)

    assert (bob_remix.parent, bob_remix.root, bob_remix.depth) == (original, original, 1)
    assert (carol_remix.parent, carol_remix.root, carol_remix.depth) == (bob_remix, original, 2)
    assert carol_remix.ancestor_ids == [original.pk, bob_remix.pk]
    assert bob_remix.recipe["parent"] == original.public_id
    # Inherited from the parent's recipe, not defaulted:
    assert bob_remix.recipe["seed"] == carol_remix.recipe["seed"] == 7

    assert bob_remix.changes["prompt_diff"] == [
        {"op": "equal", "text": "a portrait of a fox in a"},
        {"op": "delete", "text": "red coat"},
        {"op": "insert", "text": "blue coat, at night"},
    ]
    assert bob_remix.changes["params"] == {}
    assert bob_remix.changes["img2img"] is False
    assert carol_remix.changes["prompt_changed"] is False
    assert carol_remix.changes["params"] == {"steps": [4, 12]}
    assert carol_remix.changes["img2img"] is True
    assert carol_remix.changes["init_strength"] == 0.6

    credits = selectors.portrait_credits(portrait=carol_remix)
    assert [(c.username, c.role) for c in credits] == [
        ("alice", "original"),
        ("bob", "remixer"),
        ("carol", "img2img_remixer"),
    ]
    assert credits[0].name == "Alice Liddell"


def test_remixing_oneself_twice_credits_once_with_both_steps(alice, bob, create_portrait, remix):
    original = create_portrait(alice, prompt="a heron")
    second = remix(remix(original, bob, prompt="a grey heron"), alice, prompt="a grey heron, dusk")

    credits = selectors.portrait_credits(portrait=second)

    assert [(c.username, c.roles, c.depths) for c in credits] == [
        ("alice", ["original", "remixer"], [0, 2]),
        ("bob", ["remixer"], [1]),
    ]


def test_remix_of_a_portrait_the_user_cannot_see_is_refused_and_creates_nothing(
    alice, bob, create_portrait
):
    private = create_portrait(alice, visibility=Portrait.Visibility.PRIVATE)

    with pytest.raises(NotFound):
        generation_services.job_submit_remix(
            portrait=private, user=bob, changes={"prompt": "mine now"}
        )

    assert not GenerationJob.objects.filter(user=bob).exists()


def test_remix_changes_cannot_carry_a_parent(alice, bob, create_portrait):
    public = create_portrait(alice)
    other = create_portrait(alice, prompt="another one")

    with pytest.raises(DomainError) as caught:
        generation_services.job_submit_remix(
            portrait=public, user=bob, changes={"parent": other.public_id}
        )

    assert "parent" in caught.value.field_errors
    assert not GenerationJob.objects.filter(user=bob).exists()


def test_soft_delete_keeps_descendants_lineage_and_credits(
    alice, bob, carol, create_portrait, remix, django_capture_on_commit_callbacks
):
    original = create_portrait(alice, prompt="a lighthouse keeper")
    middle = remix(original, bob, prompt="a lighthouse keeper with a cat")
    leaf = remix(middle, carol, prompt="a lighthouse keeper with two cats")
    files = [middle.image.name, middle.thumbnail.name]

    with django_capture_on_commit_callbacks(execute=True):
        tombstone = services.portrait_delete(portrait=middle, by=bob)

    assert tombstone is True
    middle.refresh_from_db()
    assert middle.is_deleted and not middle.image and not middle.thumbnail
    assert not any(default_storage.exists(name) for name in files)
    assert middle not in selectors.portrait_queryset_viewable(viewer=bob)
    assert middle not in selectors.portrait_list_owned(user=bob)
    with pytest.raises(NotFound):
        selectors.portrait_get_viewable(viewer=bob, public_id=middle.public_id)

    steps = selectors.portrait_lineage(portrait=leaf, viewer=carol)
    assert [step.author_username for step in steps] == ["alice", "bob", "carol"]
    assert steps[1].available is False and steps[1].title is None
    assert steps[1].changes["changed"] == ["prompt"]
    assert [c.username for c in selectors.portrait_credits(portrait=leaf)] == [
        "alice",
        "bob",
        "carol",
    ]


def test_hard_delete_without_descendants_removes_row_files_and_empty_tombstones(
    alice, bob, create_portrait, remix, django_capture_on_commit_callbacks
):
    original = create_portrait(alice)
    child = remix(original, bob, prompt="a different portrait")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.portrait_delete(portrait=original, by=alice) is True
    files = [child.image.name, child.thumbnail.name]

    with django_capture_on_commit_callbacks(execute=True):
        tombstone = services.portrait_delete(portrait=child, by=bob)

    assert tombstone is False
    assert not any(default_storage.exists(name) for name in files)
    # The tombstone only held the chain together for the child: it goes with it.
    assert not Portrait.objects.filter(pk__in=[original.pk, child.pk]).exists()


def test_a_portrait_with_a_remix_still_queued_becomes_a_tombstone(alice, bob, create_portrait):
    original = create_portrait(alice)
    generation_services.job_submit_remix(portrait=original, user=bob, changes={"prompt": "later"})

    assert services.portrait_delete(portrait=original, by=alice) is True
    assert Portrait.objects.filter(pk=original.pk, deleted_at__isnull=False).exists()


def test_update_changes_only_owner_fields_and_validates_all_at_once(alice, bob, create_portrait):
    portrait = create_portrait(alice)

    with pytest.raises(DomainError) as caught:
        services.portrait_update(
            portrait=portrait, by=alice, data={"title": " ", "visibility": "friends", "author": 1}
        )
    assert set(caught.value.field_errors) == {"title", "visibility", "author"}
    portrait.refresh_from_db()
    assert portrait.title == "a portrait of a woman with red hair, oil painting"

    services.portrait_update(
        portrait=portrait,
        by=alice,
        data={"title": "  Red  hair ", "description": "Oil.", "visibility": "unlisted"},
    )
    portrait.refresh_from_db()
    assert (portrait.title, portrait.description, portrait.visibility) == (
        "Red hair",
        "Oil.",
        "unlisted",
    )


def test_only_the_author_or_an_administrator_may_edit(alice, bob, mod, create_portrait, make_user):
    """A moderator is refused too: they hide, restore and rate through moderation's
    actions, which cite a rule and are audited (issue 10)."""
    portrait = create_portrait(alice)

    for someone in (bob, mod):
        with pytest.raises(PermissionDenied):
            services.portrait_update(portrait=portrait, by=someone, data={"title": "Not yours"})
        with pytest.raises(PermissionDenied):
            services.portrait_delete(portrait=portrait, by=someone)

    admin = make_user("root", is_staff=True, is_superuser=True)
    services.portrait_update(portrait=portrait, by=admin, data={"visibility": "private"})
    portrait.refresh_from_db()
    assert portrait.title != "Not yours" and portrait.visibility == "private"


def test_reproduce_submits_the_identical_recipe_with_one_image(alice, paint):
    job = job_submit(
        user=alice, spec={"prompt": "a clown", "seed": 90, "num_images": 2, "steps": 9}
    )
    _, second = paint(job)

    again = generation_services.job_submit_reproduction(portrait=second, user=alice)

    assert again.num_images == 1
    assert again.seed == 91
    assert (again.prompt, again.steps, again.parent) == ("a clown", 9, None)


def test_reproduce_of_an_img2img_remix_keeps_its_parent_and_strength(
    alice, bob, create_portrait, remix
):
    original = create_portrait(alice)
    child = remix(original, bob, init_strength=0.4, prompt="a portrait, in watercolour")

    job = generation_services.job_submit_reproduction(portrait=child, user=bob)

    assert (job.parent, job.init_strength, job.seed) == (original, 0.4, child.recipe["seed"])


def test_reproduce_of_an_img2img_remix_whose_parent_went_private_is_refused(
    alice, bob, create_portrait, remix
):
    original = create_portrait(alice)
    child = remix(original, bob, init_strength=0.4)
    services.portrait_update(portrait=original, by=alice, data={"visibility": "private"})

    with pytest.raises(DomainError) as caught:
        generation_services.job_submit_reproduction(portrait=child, user=bob)

    assert isinstance(caught.value, Conflict)
    assert not GenerationJob.objects.filter(user=bob, parent=original, status="queued").exists()


@pytest.fixture
def noir(db):
    from generation.models import StylePreset

    style, _ = StylePreset.objects.update_or_create(
        slug="test-noir",
        defaults={"name": "Noir", "prompt_template": "{prompt}, film noir", "negative_prompt": ""},
    )
    return style


def test_reproduce_refuses_when_the_style_now_writes_a_different_prompt(
    alice, create_portrait, noir, alice_api
):
    portrait = create_portrait(alice, prompt="a detective", style="test-noir")
    noir.prompt_template = "{prompt}, film noir, heavy rain"
    noir.save()
    jobs_before = GenerationJob.objects.count()

    with pytest.raises(DomainError) as caught:
        generation_services.job_submit_reproduction(portrait=portrait, user=alice)
    response = alice_api.post(f"/api/v1/portraits/{portrait.public_id}/reproduce/")

    assert isinstance(caught.value, Conflict)
    assert "style “Noir” now writes a different prompt" in caught.value.message
    assert response.status_code == 409
    assert "style “Noir”" in response.json()["detail"]
    assert GenerationJob.objects.count() == jobs_before  # rolled back, nothing queued


def test_reproduce_refuses_when_the_model_now_loads_other_weights(
    alice, create_portrait, painter, client
):
    portrait = create_portrait(alice, seed=8)
    painter.source = "/models/painter-v2"
    painter.revision = "v2"
    painter.save()
    client.force_login(alice)
    jobs_before = GenerationJob.objects.count()

    with pytest.raises(DomainError) as caught:
        generation_services.job_submit_reproduction(portrait=portrait, user=alice)
    page = client.post(f"/p/{portrait.public_id}/reproduce/", follow=True).content.decode()

    message = caught.value.message
    assert isinstance(caught.value, Conflict)
    assert "model “Painter” now loads from a different source" in message
    assert "revision “v2”" in message
    assert "/models/" not in message  # a server path is nobody's business
    assert "cannot be reproduced exactly" in page
    assert GenerationJob.objects.count() == jobs_before


def test_reproduce_refuses_when_the_style_is_gone(alice, create_portrait, noir):
    portrait = create_portrait(alice, prompt="a detective", style="test-noir")
    noir.delete()

    with pytest.raises(DomainError) as caught:
        generation_services.job_submit_reproduction(portrait=portrait, user=alice)

    assert isinstance(caught.value, Conflict) and "Unknown style" in caught.value.message
    assert not GenerationJob.objects.filter(user=alice, status="queued").exists()


def test_reproduce_with_unchanged_style_and_model_submits(alice, create_portrait, noir):
    portrait = create_portrait(alice, prompt="a detective", style="test-noir", seed=5)
    noir.name = "Film noir"  # a new name paints the same pixels
    noir.save()

    job = generation_services.job_submit_reproduction(portrait=portrait, user=alice)

    assert (job.recipe["styled_prompt"], job.seed) == ("a detective, film noir", 5)


def test_only_the_author_may_reproduce(alice, bob, create_portrait):
    portrait = create_portrait(alice)

    with pytest.raises(DomainError) as caught:
        generation_services.job_submit_reproduction(portrait=portrait, user=bob)

    assert isinstance(caught.value, PermissionDenied)
    assert not GenerationJob.objects.filter(user=bob).exists()


def test_signing_without_key_files_in_production_fails_loudly(alice, paint, settings, tmp_path):
    from django.core.exceptions import ImproperlyConfigured

    settings.PRODUCTION = True
    settings.C2PA_SIGNING_KEY = tmp_path / "signer.key"
    settings.C2PA_SIGNING_CERTS = tmp_path / "chain.pem"
    job = job_submit(user=alice, spec={"prompt": "a portrait"})

    with pytest.raises(ImproperlyConfigured, match="C2PA_SIGNING_KEY"):
        paint(job)
    assert not Portrait.objects.exists()


def test_signing_outside_production_creates_a_development_ca_on_first_use(
    alice, paint, settings, tmp_path
):
    # The embedded default (DEBUG unset, so off) as much as a developer's DEBUG=true.
    settings.DEBUG = False
    settings.PRODUCTION = False
    settings.C2PA_SIGNING_KEY = tmp_path / "c2pa" / "signer.key"
    settings.C2PA_SIGNING_CERTS = tmp_path / "c2pa" / "chain.pem"

    (portrait,) = paint(job_submit(user=alice, spec={"prompt": "a portrait"}))

    assert settings.C2PA_SIGNING_KEY.exists() and (tmp_path / "c2pa" / "ca.pem").exists()
    report = selectors.portrait_credentials(portrait=portrait, viewer=alice)
    assert report["valid"] and report["trusted"]


def test_failed_signing_leaves_no_files_behind(alice, paint, monkeypatch, settings):
    from portraits import credentials

    def broken(*args, **kwargs):
        raise RuntimeError("signer unavailable")

    monkeypatch.setattr(credentials, "sign_png", broken)
    job = job_submit(user=alice, spec={"prompt": "a portrait", "num_images": 2})

    with pytest.raises(RuntimeError):
        paint(job)

    assert not Portrait.objects.filter(job=job).exists()
    assert [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()] == []
