"""The portrait API: read, owner controls, remix, reproduce, credentials, my list."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob
from portraits.models import Portrait
from tests.portraits.factories import image_bytes

pytestmark = pytest.mark.django_db

V = Portrait.Visibility


def url(portrait_or_id, action: str = "") -> str:
    public_id = getattr(portrait_or_id, "public_id", portrait_or_id)
    return f"/api/v1/portraits/{public_id}/{action + '/' if action else ''}"


def test_detail_shows_recipe_author_credits_and_links(alice, bob, create_portrait, remix, api):
    original = create_portrait(alice, prompt="a violinist")
    child = remix(original, bob, prompt="a violinist on a roof", steps=6)

    data = api.get(url(child)).json()

    assert data["id"] == child.public_id
    assert data["url"].endswith(f"/p/{child.public_id}/")
    assert data["image_url"].endswith(f"/p/{child.public_id}/image/")
    assert data["thumbnail_url"].endswith(f"/p/{child.public_id}/thumbnail/")
    assert data["author"]["username"] == "bob"
    assert data["recipe"]["prompt"] == "a violinist on a roof"
    assert data["recipe"]["seed"] == 1234
    assert "model_source" not in data["recipe"]
    assert data["role"] == "remixer" and data["is_img2img"] is False
    assert data["parent"]["id"] == original.public_id
    assert data["parent"]["author"]["name"] == "Alice Liddell"
    assert data["changes"]["params"] == {"steps": [4, 6]}
    assert [c["username"] for c in data["credits"]] == ["alice", "bob"]
    assert data["can_edit"] is False
    assert data["links"]["lineage"].endswith(f"/api/v1/portraits/{child.public_id}/lineage/")


@pytest.mark.parametrize("public_id", ["nope", "x" * 200, "%2e%2e", "AAAAAAAAAAAAAAAA"])
def test_unknown_or_malformed_ids_are_404(api, public_id, db):
    response = api.get(url(public_id))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_private_portrait_is_404_for_others_and_visible_to_owner_and_moderators(
    alice, bob, mod, create_portrait, api
):
    portrait = create_portrait(alice, visibility=V.PRIVATE)

    assert api.get(url(portrait)).status_code == 404
    api.force_authenticate(bob)
    assert api.get(url(portrait)).status_code == 404
    for viewer in (alice, mod):
        api.force_authenticate(viewer)
        assert api.get(url(portrait)).json()["id"] == portrait.public_id


def test_owner_renames_describes_and_changes_visibility(alice, create_portrait, alice_api):
    portrait = create_portrait(alice, visibility=V.PRIVATE)

    response = alice_api.patch(
        url(portrait), {"title": "Red", "description": "In oils.", "visibility": "unlisted"}
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["title"], response.json()["visibility"]) == ("Red", "unlisted")
    portrait.refresh_from_db()
    assert (portrait.title, portrait.description, portrait.visibility) == (
        "Red",
        "In oils.",
        "unlisted",
    )


def test_patch_rejects_bad_values_and_read_only_fields_and_changes_nothing(
    alice, create_portrait, alice_api
):
    portrait = create_portrait(alice)
    before = Portrait.objects.filter(pk=portrait.pk).values().get()

    response = alice_api.patch(
        url(portrait), {"visibility": "friends", "recipe": {"seed": 1}, "title": "x" * 500}
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"visibility", "recipe", "title"}
    assert Portrait.objects.filter(pk=portrait.pk).values().get() == before


@pytest.mark.parametrize("body", ["1", "true", "null", '"title"', "[[]]", "[1]", "[]"])
def test_patch_with_a_body_that_is_not_an_object_is_a_400(body, alice, create_portrait, alice_api):
    # JSON that parses but is no object answered 500 ("'int' object is not iterable")
    # while the unknown fields were being listed.
    portrait = create_portrait(alice)
    before = Portrait.objects.filter(pk=portrait.pk).values().get()

    response = alice_api.generic("PATCH", url(portrait), body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"detail", "code", "errors"}
    assert Portrait.objects.filter(pk=portrait.pk).values().get() == before


def test_editing_someone_elses_portrait_is_403_if_seen_and_404_if_not(
    alice, bob, create_portrait, bob_api
):
    public = create_portrait(alice, prompt="public one")
    private = create_portrait(alice, prompt="private one", visibility=V.PRIVATE)
    before = list(Portrait.objects.order_by("pk").values())

    refused = [
        bob_api.patch(url(public), {"title": "Bob's"}),
        bob_api.delete(url(public)),
        bob_api.post(url(public, "reproduce")),
    ]
    unseen = [bob_api.patch(url(private), {"title": "Bob's"}), bob_api.delete(url(private))]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "permission_denied")] * 3
    assert [(r.status_code, r.json()["code"]) for r in unseen] == [(404, "not_found")] * 2

    assert list(Portrait.objects.order_by("pk").values()) == before
    assert not GenerationJob.objects.filter(user__username="bob").exists()


def test_anonymous_cannot_write(alice, create_portrait, api):
    portrait = create_portrait(alice)
    jobs = GenerationJob.objects.count()

    for response in (
        api.patch(url(portrait), {"title": "Anon"}),
        api.post(url(portrait, "remix"), {}),
    ):
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    portrait.refresh_from_db()
    assert portrait.title != "Anon"
    assert GenerationJob.objects.count() == jobs


def test_owner_deletes_a_portrait_without_remixes_for_good(alice, create_portrait, alice_api):
    portrait = create_portrait(alice)

    assert alice_api.delete(url(portrait)).status_code == 204

    assert not Portrait.objects.filter(pk=portrait.pk).exists()
    assert alice_api.get(url(portrait)).status_code == 404


def test_remix_endpoint_inherits_the_recipe_and_returns_the_job(
    alice, bob, create_portrait, bob_api
):
    portrait = create_portrait(alice, prompt="a baker", seed=55, steps=7)

    response = bob_api.post(
        url(portrait, "remix"), {"prompt": "a baker at dawn", "init_strength": 0.35}
    )

    assert response.status_code == 201, response.json()
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert response["Location"] == response.json()["api_url"]
    assert response.json()["ws_url"] == f"/ws/jobs/{job.pk}/"
    assert (job.user, job.parent, job.init_strength) == (bob, portrait, 0.35)
    assert (job.prompt, job.seed, job.steps, job.num_images) == ("a baker at dawn", 55, 7, 1)
    assert job.recipe["parent"] == portrait.public_id


@pytest.mark.parametrize("strength", [-0.1, 0, 1.5, "lots"])
def test_remix_strength_outside_0_1_is_a_field_error_and_creates_nothing(
    alice, bob, create_portrait, bob_api, strength
):
    portrait = create_portrait(alice)

    response = bob_api.post(url(portrait, "remix"), {"init_strength": strength})

    assert response.status_code == 400
    assert "init_strength" in response.json()["errors"]
    assert not GenerationJob.objects.filter(user=bob).exists()


def test_remix_of_a_private_or_unknown_portrait_is_404_and_creates_nothing(
    alice, bob, create_portrait, bob_api
):
    private = create_portrait(alice, visibility=V.PRIVATE)

    assert bob_api.post(url(private, "remix"), {"prompt": "mine"}).status_code == 404
    assert bob_api.post(url("unknown-id", "remix"), {"prompt": "mine"}).status_code == 404
    assert not GenerationJob.objects.filter(user=bob).exists()


def test_remix_and_job_submission_never_take_a_parent_from_the_client(
    alice, bob, create_portrait, bob_api
):
    public = create_portrait(alice, prompt="public")
    private = create_portrait(alice, prompt="private", visibility=V.PRIVATE)

    via_remix = bob_api.post(url(public, "remix"), {"parent": private.public_id})
    via_jobs = bob_api.post(
        "/api/v1/jobs/", {"prompt": "forged", "parent": private.public_id, "init_strength": 0.5}
    )

    assert via_remix.status_code == 400 and "parent" in via_remix.json()["errors"]
    assert via_jobs.status_code == 400
    assert not GenerationJob.objects.filter(user=bob).exists()


def test_remixing_an_unlisted_portrait_with_the_link_works(alice, bob, create_portrait, bob_api):
    unlisted = create_portrait(alice, visibility=V.UNLISTED)

    response = bob_api.post(url(unlisted, "remix"), {"seed": 9})

    assert response.status_code == 201
    assert GenerationJob.objects.get(pk=response.json()["id"]).parent == unlisted


def test_reproduce_endpoint_submits_the_same_recipe(alice, create_portrait, alice_api):
    portrait = create_portrait(alice, prompt="a potter", seed=77, steps=5)

    response = alice_api.post(url(portrait, "reproduce"))

    assert response.status_code == 201
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert (job.prompt, job.seed, job.steps, job.num_images, job.parent) == (
        "a potter",
        77,
        5,
        1,
        None,
    )


def test_my_portraits_lists_only_mine_filtered_by_visibility(
    alice, bob, create_portrait, alice_api
):
    private = create_portrait(alice, prompt="one", visibility=V.PRIVATE)
    public = create_portrait(alice, prompt="two", visibility=V.PUBLIC)
    create_portrait(bob, prompt="bob's")

    everything = alice_api.get("/api/v1/me/portraits/").json()
    only_public = alice_api.get("/api/v1/me/portraits/?visibility=public").json()
    bad = alice_api.get("/api/v1/me/portraits/?visibility=friends")

    assert [item["id"] for item in everything["results"]] == [public.public_id, private.public_id]
    assert [item["id"] for item in only_public["results"]] == [public.public_id]
    assert bad.status_code == 400 and "visibility" in bad.json()["errors"]


def test_my_portraits_needs_a_login(api, db):
    response = api.get("/api/v1/me/portraits/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_credentials_endpoint_reads_back_the_verified_manifest(
    alice, bob, create_portrait, remix, api
):
    original = create_portrait(alice)
    child = remix(original, bob, prompt="another")

    data = api.get(url(child, "credentials")).json()

    assert data["present"] and data["valid"] and data["trusted"]
    assert data["matches_portrait"] is True
    assert data["author"] == "bob"
    assert data["parent"]["title"] == f"Likeness portrait {original.public_id}"
    assert data["png_provenance"]["parent"]["id"] == original.public_id


def test_verify_endpoint_checks_an_uploaded_file(alice, create_portrait, api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    portrait = create_portrait(alice)
    with portrait.image.open("rb") as handle:
        signed = handle.read()
    tampered = bytearray(signed)
    tampered[-20] ^= 0xFF

    good = api.post(
        "/api/v1/credentials/verify/",
        {"file": SimpleUploadedFile("p.png", signed, "image/png")},
        format="multipart",
    ).json()
    bad = api.post(
        "/api/v1/credentials/verify/",
        {"file": SimpleUploadedFile("p.png", bytes(tampered), "image/png")},
        format="multipart",
    ).json()
    plain = api.post(
        "/api/v1/credentials/verify/",
        {"file": SimpleUploadedFile("p.png", image_bytes(), "image/png")},
        format="multipart",
    ).json()

    assert good["valid"] and good["trusted"]
    assert good["title"] == f"Likeness portrait {portrait.public_id}"
    assert bad["present"] and not bad["valid"]
    assert plain["present"] is False


def test_job_resource_lists_its_portraits(alice, paint, alice_api):
    from generation.services import job_submit

    job = job_submit(user=alice, spec={"prompt": "twins", "num_images": 2})
    first, second = paint(job)

    data = alice_api.get(f"/api/v1/jobs/{job.pk}/").json()

    assert [p["id"] for p in data["portraits"]] == [first.public_id, second.public_id]
    assert data["portraits"][0]["thumbnail_url"] == f"/p/{first.public_id}/thumbnail/"
    assert data["portraits"][0]["visibility"] == "private"


def test_openapi_schema_builds_with_the_portrait_endpoints(api, db):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/portraits/{public_id}/",
        "/api/v1/portraits/{public_id}/lineage/",
        "/api/v1/portraits/{public_id}/remixes/",
        "/api/v1/portraits/{public_id}/remix/",
        "/api/v1/portraits/{public_id}/reproduce/",
        "/api/v1/portraits/{public_id}/credentials/",
        "/api/v1/portraits/{public_id}/download/",
        "/api/v1/me/portraits/",
        "/api/v1/credentials/verify/",
    ):
        assert path in paths, path
