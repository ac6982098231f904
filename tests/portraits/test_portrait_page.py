"""The portrait page as a member and a visitor read it (issue 11): the picture large with
its real size, the recipe in the create form's words, "Sign in to remix" for visitors,
and a reproduction that says what it reproduces and whether its pixels match."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from generation import services as generation_services
from generation.inference import GenerationResult
from portraits.models import Portrait
from tests.conftest import PASSWORD
from tests.support import fake_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def noir(db):
    from generation.models import StylePreset

    style, _ = StylePreset.objects.update_or_create(
        slug="film-noir-test",
        defaults={
            "name": "Film noir",
            "prompt_template": "film noir portrait of {prompt}, venetian blind shadows",
            "negative_prompt": "color, cheerful",
        },
    )
    return style


def _technical_details(page: str) -> str:
    match = re.search(r'<details class="recipe-technical">(.*?)</details>', page, re.S)
    assert match, "the recipe has no Technical details"
    return match.group(1)


def test_portrait_page_names_the_sampler_as_the_form_does(alice, create_portrait, client):
    portrait = create_portrait(alice, scheduler="EulerAncestralDiscreteScheduler")

    page = client.get(portrait.get_absolute_url()).content.decode()

    assert re.search(r'<th scope="row">Sampler</th>\s*<td>\s*Euler a', page)
    assert "Scheduler:" not in page and ">Scheduler<" not in page
    # The diffusers class appears only in the collapsed technical details.
    technical = _technical_details(page)
    assert page.count("EulerAncestralDiscreteScheduler") == technical.count(
        "EulerAncestralDiscreteScheduler"
    )
    assert "EulerAncestralDiscreteScheduler" in _technical_details(page)
    assert "diffusers" in _technical_details(page)


def test_a_model_default_sampler_reads_model_default_with_what_painted(
    alice, create_portrait, client
):
    portrait = create_portrait(alice)  # no sampler asked: the painter reports PNDM

    page = client.get(portrait.get_absolute_url()).content.decode()

    assert "Model default (PLMS)" in page
    assert "PNDMScheduler" in _technical_details(page)


def test_portrait_page_shows_what_the_style_adds(alice, create_portrait, client, noir):
    portrait = create_portrait(alice, prompt="a detective", style=noir.slug, negative_prompt="")

    page = client.get(portrait.get_absolute_url()).content.decode()

    assert "Film noir" in page
    assert "Adds to the prompt" in page
    assert "<q>film noir portrait of</q>" in page and "<q>venetian blind shadows</q>" in page
    assert "Adds to the negative prompt" in page and "<q>color, cheerful</q>" in page


def test_small_picture_is_shown_enlarged_with_its_real_size(alice, create_portrait, client):
    portrait = create_portrait(alice, width=64, height=128)

    page = client.get(portrait.get_absolute_url()).content.decode()

    assert "64 × 128 px original, shown enlarged" in page
    img = re.search(r'<img src="/p/[^"]+/image/"[^>]*>', page).group(0)
    assert 'class="upscaled"' in img and "--natural-width: 64px" in img
    assert 'width="64" height="128"' in img


def test_visitor_sees_sign_in_to_remix_and_lands_on_the_remix_form(
    alice, bob, create_portrait, client
):
    portrait = create_portrait(alice, prompt="a lighthouse keeper")
    remix_url = f"{reverse('generation:job-create')}?remix={portrait.public_id}"
    login_url = f"{reverse('account_login')}?next={quote(remix_url, safe='')}"

    page = client.get(portrait.get_absolute_url()).content.decode()
    assert f'<a class="button" href="{login_url}">Sign in to remix</a>' in page.replace(
        "&amp;", "&"
    )

    signed_in = client.post(login_url, {"login": "bob", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == remix_url
    form = client.get(signed_in["Location"]).content.decode()
    assert "a lighthouse keeper" in form  # the remix form, prefilled from the parent


def test_members_see_remix_not_sign_in(alice, bob, create_portrait, client):
    portrait = create_portrait(alice)
    client.force_login(bob)

    page = client.get(portrait.get_absolute_url()).content.decode()

    assert ">Remix</a>" in page and "Sign in to remix" not in page


# --- Reproductions ----------------------------------------------------------------------


def _finish(job, *, seed_for_pixels: int) -> Portrait:
    """Paint ``job`` the way the worker does, with a picture drawn from ``seed_for_pixels``
    (not the job's seed: a reproduction whose device paints differently)."""
    running = generation_services.job_start(job_id=job.pk, worker="painter@test")
    result = GenerationResult(
        images=[fake_image(seed_for_pixels, running.width, running.height)],
        seeds=[running.seed],
        scheduler="PNDMScheduler",
        device="cpu",
        dtype="float32",
        diffusers_version="0.42.1",
        torch_version="2.13.0+cpu",
        model_revision="sha256:00c0ffee00c0ffee",
    )
    assert generation_services.job_succeed(job=running, result=result)
    return Portrait.objects.get(job_id=job.pk)


def test_a_reproduction_says_what_it_reproduces_and_that_its_pixels_match(
    alice, create_portrait, remix, paint, client, alice_api
):
    original = create_portrait(alice, prompt="an original", seed=5)
    step = remix(original, alice, prompt="a remix of it")
    job = generation_services.job_submit_reproduction(user=alice, portrait=step)
    (again,) = paint(job)

    # Same place in the chain as what it reproduces, and credited the same.
    assert again.parent_id == step.parent_id == original.pk
    assert again.reproduces_id == step.pk
    assert again.pixels_sha256 == step.pixels_sha256 != ""
    assert again.pixels_match is True
    client.force_login(alice)
    page = client.get(again.get_absolute_url()).content.decode()
    header = page.split('<article class="portrait">')[1].split("</header>")[0]
    assert f'Reproduction of <a href="{step.get_absolute_url()}">a remix of it</a>' in header
    assert "its pixels match the original's exactly" in header
    assert '<span class="badge">reproduction</span>' in header
    assert "remixer</span>" not in header

    resource = alice_api.get(f"/api/v1/portraits/{again.public_id}/").json()
    assert resource["reproduces"]["id"] == step.public_id
    assert resource["reproduces"]["available"] is True
    assert resource["pixels_match"] is True
    assert resource["parent"]["id"] == original.public_id
    plain = alice_api.get(f"/api/v1/portraits/{step.public_id}/").json()
    assert plain["reproduces"] is None and plain["pixels_match"] is None

    job_resource = alice_api.get(f"/api/v1/jobs/{job.pk}/").json()
    assert job_resource["reproduces"]["id"] == step.public_id
    assert job_resource["pixels_match"] is True
    job_page = client.get(job.get_absolute_url()).content.decode()
    assert f'reproduction of <a href="{step.get_absolute_url()}">' in job_page
    assert "pixels match the original" in job_page
    assert " · remix of" not in job_page


def test_a_queued_reproduction_job_does_not_know_yet_whether_pixels_match(
    alice, create_portrait, alice_api
):
    portrait = create_portrait(alice, seed=9)
    job = generation_services.job_submit_reproduction(user=alice, portrait=portrait)

    resource = alice_api.get(f"/api/v1/jobs/{job.pk}/").json()

    assert resource["reproduces"]["id"] == portrait.public_id
    assert resource["pixels_match"] is None


def test_a_reproduction_whose_pixels_differ_says_so(alice, create_portrait, client, alice_api):
    portrait = create_portrait(alice, seed=9)
    job = generation_services.job_submit_reproduction(user=alice, portrait=portrait)

    again = _finish(job, seed_for_pixels=10)

    assert again.pixels_match is False
    client.force_login(alice)
    page = client.get(again.get_absolute_url()).content.decode()
    assert "its pixels differ from the original's" in page
    assert alice_api.get(f"/api/v1/portraits/{again.public_id}/").json()["pixels_match"] is False


def test_reproduction_of_a_portrait_stored_before_hashes_reads_the_originals_file(
    alice, create_portrait, paint
):
    portrait = create_portrait(alice, seed=11)
    Portrait.objects.filter(pk=portrait.pk).update(pixels_sha256="")  # an older row

    (again,) = paint(generation_services.job_submit_reproduction(user=alice, portrait=portrait))

    portrait.refresh_from_db()
    assert portrait.pixels_sha256 == again.pixels_sha256 != ""
    assert again.pixels_match is True


def test_a_deleted_original_leaves_the_reproduction_saying_so(
    alice, bob, create_portrait, paint, client
):
    portrait = create_portrait(alice, seed=12)
    (again,) = paint(generation_services.job_submit_reproduction(user=alice, portrait=portrait))
    from portraits.services import portrait_delete, portrait_update

    portrait_update(portrait=again, by=alice, data={"visibility": "public"})
    portrait_delete(portrait=portrait, by=alice)

    page = client.get(again.get_absolute_url()).content.decode()

    assert "Reproduction of <em>a portrait" in page and "no longer available" in page
    assert portrait.get_absolute_url() not in page  # never a link to a 404


def test_a_public_reproduction_of_an_original_made_private_since_names_it_to_nobody_else(
    alice, bob, create_portrait, paint, client, bob_api
):
    from portraits.services import portrait_update

    original = create_portrait(alice, prompt="a secret garden", seed=13)
    portrait_update(portrait=original, by=alice, data={"title": "Secret garden"})
    (again,) = paint(generation_services.job_submit_reproduction(user=alice, portrait=original))
    portrait_update(portrait=again, by=alice, data={"visibility": "public", "title": "Again"})
    portrait_update(portrait=original, by=alice, data={"visibility": "private"})
    client.force_login(bob)

    page = client.get(again.get_absolute_url()).content.decode()
    header = page.split('<article class="portrait">')[1].split("</header>")[0]
    assert "Reproduction of <em>a portrait by Alice Liddell, no longer available" in header
    assert original.public_id not in page and "Secret garden" not in page

    reproduces = bob_api.get(f"/api/v1/portraits/{again.public_id}/").json()["reproduces"]
    assert reproduces["available"] is False
    assert reproduces["id"] is None and reproduces["title"] is None and reproduces["url"] is None
    assert reproduces["author"]["name"] == "Alice Liddell"  # the credit stays


def test_a_moderator_reviewing_a_private_portrait_is_not_offered_to_remix_it(
    alice, mod, create_portrait, client
):
    private = create_portrait(alice, visibility=Portrait.Visibility.PRIVATE)
    remix_link = f'href="/create/?remix={private.public_id}"'

    client.force_login(mod)
    page = client.get(private.get_absolute_url()).content.decode()
    assert "Download PNG" in page  # the page itself, as moderators review it
    assert remix_link not in page

    client.force_login(alice)
    assert remix_link in client.get(private.get_absolute_url()).content.decode()


# --- Verifying a file ---------------------------------------------------------------------


def test_verify_page_says_a_non_image_is_not_an_image(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("notes.txt", b"just some text, not a picture")

    response = client.post("/credentials/verify/", {"file": upload})

    page = response.content.decode()
    assert response.status_code == 400
    assert "This is not an image we can read." in page
    assert "No Content Credentials" not in page


def test_verify_api_refuses_a_non_image_with_a_field_error(api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("fake.png", b"\x89PNG\r\n\x1a\nbroken")

    response = api.post("/api/v1/credentials/verify/", {"file": upload}, format="multipart")

    assert response.status_code == 400
    assert "This is not an image we can read." in str(response.json())


def test_verify_still_reads_a_plain_image_without_credentials(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.portraits.factories import image_bytes

    upload = SimpleUploadedFile("plain.png", image_bytes(), content_type="image/png")

    response = client.post("/credentials/verify/", {"file": upload})

    assert response.status_code == 200
    assert "not an image we can read" not in response.content.decode()


def test_lineage_names_a_changed_sampler_as_the_form_does(
    alice, bob, create_portrait, remix, client
):
    original = create_portrait(alice)  # painted by the model's default, PNDM ("PLMS")
    child = remix(original, bob, scheduler="EulerAncestralDiscreteScheduler")

    page = client.get(child.get_absolute_url()).content.decode()
    lineage = page.split('id="lineage"')[1]

    assert re.search(r"<dt>sampler</dt><dd><del[^>]*>PLMS</del> → <ins[^>]*>Euler a</ins>", lineage)
    assert "DiscreteScheduler" not in lineage and "PNDMScheduler" not in lineage
    tree = client.get(f"/p/{child.public_id}/tree/").content.decode()
    assert "Euler a" in tree and "EulerAncestralDiscreteScheduler" not in tree


def test_a_reproduction_reads_as_one_among_the_remixes_of_its_parent(
    alice, bob, create_portrait, remix, paint, client
):
    original = create_portrait(alice, prompt="an original")
    step = remix(original, bob, prompt="a remix of it")
    (again,) = paint(generation_services.job_submit_reproduction(user=bob, portrait=step))
    from portraits.services import portrait_update

    portrait_update(portrait=again, by=bob, data={"visibility": "public"})

    page = client.get(original.get_absolute_url()).content.decode()
    remixes = page.split('id="remixes"')[1]

    cards = re.findall(r'<figure class="card portrait-card">.*?</figure>', remixes, re.S)
    assert len(cards) == 2
    (reproduction_card,) = [card for card in cards if again.public_id in card]
    assert '<span class="badge">reproduction</span>' in reproduction_card
    (remix_card,) = [card for card in cards if again.public_id not in card]
    assert "reproduction" not in remix_card
