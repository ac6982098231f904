"""The portrait pages and the moderation admin, through the test client."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from generation.models import GenerationJob
from portraits.models import Portrait

pytestmark = pytest.mark.django_db

V = Portrait.Visibility


def test_portrait_page_shows_image_recipe_lineage_credits_and_remixes(
    alice, bob, carol, create_portrait, remix, client
):
    original = create_portrait(alice, prompt="a cellist in a red dress")
    child = remix(original, bob, prompt="a cellist in a blue dress", steps=9)
    grandchild = remix(child, carol, prompt="a cellist in a blue dress, snow")

    page = client.get(child.get_absolute_url())
    html = page.content.decode()

    assert page.status_code == 200
    assert f'src="/p/{child.public_id}/image/"' in html
    assert 'width="64" height="64"' in html
    assert "a cellist in a blue dress" in html
    assert '<del class="diff-del">red</del>' in html
    assert '<ins class="diff-add">blue</ins>' in html
    assert "Alice Liddell" in html and "original author" in html
    assert f"/p/{original.public_id}/" in html  # the ancestor, linked
    assert f"/p/{grandchild.public_id}/" in html  # a direct remix
    assert f"/create/?remix={child.public_id}" not in html  # anonymous: no remix button
    assert f"/p/{child.public_id}/credentials/" in html
    assert f"/p/{child.public_id}/download/" in html


def test_credits_list_every_role_each_person_played(alice, bob, create_portrait, remix, client):
    original = create_portrait(alice, prompt="a heron")
    bobs = remix(original, bob, prompt="a grey heron", init_strength=0.5)
    alices = remix(bobs, alice, prompt="a grey heron at dusk")

    html = client.get(alices.get_absolute_url()).content.decode()

    credits = html[html.index('<ol class="credits">') :]
    credits = credits[: credits.index("</ol>")]
    assert "original author, remixer</span>" in credits
    assert "image-to-image remixer</span>" in credits
    assert "and more" not in credits
    assert credits.index("Alice Liddell") < credits.index(">bob<")


@pytest.mark.parametrize("method", ["get", "post"])
def test_create_page_with_a_forged_remix_parent_is_404_and_creates_no_job(
    method, alice, bob, create_portrait, client
):
    private = create_portrait(alice, visibility=V.PRIVATE)
    client.force_login(bob)
    data = {"prompt": "mine now", "model": "painter"} if method == "post" else None

    for forged in (private.public_id, "no-such-portrait", "x" * 300):
        response = getattr(client, method)(f"/create/?remix={forged}", data)
        assert response.status_code == 404, forged
        assert private.recipe["prompt"] not in response.content.decode()

    assert not GenerationJob.objects.filter(user=bob).exists()
    # The same request with a portrait bob may see goes through: the 404s were the parent.
    public = create_portrait(alice, prompt="a public one")
    response = getattr(client, method)(f"/create/?remix={public.public_id}", data)
    assert response.status_code == (302 if method == "post" else 200)
    if method == "post":
        assert GenerationJob.objects.get(user=bob).parent == public


def test_remix_button_for_members_and_owner_controls_for_the_owner_only(
    alice, bob, create_portrait, client
):
    portrait = create_portrait(alice)
    edit = f"/p/{portrait.public_id}/edit/"
    reproduce = f"/p/{portrait.public_id}/reproduce/"

    client.force_login(bob)
    as_bob = client.get(portrait.get_absolute_url()).content.decode()
    client.force_login(alice)
    as_alice = client.get(portrait.get_absolute_url()).content.decode()

    assert f"/create/?remix={portrait.public_id}" in as_bob
    assert edit not in as_bob and reproduce not in as_bob
    assert edit in as_alice and reproduce in as_alice


def test_private_portrait_page_is_404_for_others(alice, bob, create_portrait, client):
    portrait = create_portrait(alice, visibility=V.PRIVATE)

    assert client.get(portrait.get_absolute_url()).status_code == 404
    client.force_login(bob)
    assert client.get(portrait.get_absolute_url()).status_code == 404
    client.force_login(alice)
    response = client.get(portrait.get_absolute_url())
    assert response.status_code == 200
    assert "private" in response["Cache-Control"]


def test_owner_edits_through_the_form(alice, create_portrait, client):
    portrait = create_portrait(alice)
    client.force_login(alice)

    response = client.post(
        f"/p/{portrait.public_id}/edit/",
        {"title": "Cellist", "description": "Snow.", "visibility": "unlisted"},
    )

    assert response.status_code == 302
    portrait.refresh_from_db()
    assert (portrait.title, portrait.description, portrait.visibility) == (
        "Cellist",
        "Snow.",
        "unlisted",
    )


def test_edit_form_shows_errors_and_changes_nothing(alice, create_portrait, client):
    portrait = create_portrait(alice)
    client.force_login(alice)

    response = client.post(
        f"/p/{portrait.public_id}/edit/", {"title": "   ", "visibility": "friends"}
    )

    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"title", "visibility"}
    portrait.refresh_from_db()
    assert portrait.visibility == V.PUBLIC


def test_others_cannot_edit_delete_or_reproduce_through_pages(alice, bob, create_portrait, client):
    public = create_portrait(alice)
    private = create_portrait(alice, prompt="hidden", visibility=V.PRIVATE)
    client.force_login(bob)

    for action, method in (("edit", "post"), ("delete", "post"), ("reproduce", "post")):
        data = {"title": "Bob's", "visibility": "public"}
        assert getattr(client, method)(f"/p/{public.public_id}/{action}/", data).status_code == 403
        assert getattr(client, method)(f"/p/{private.public_id}/{action}/", data).status_code == 404
    assert Portrait.objects.filter(title="Bob's").count() == 0
    assert Portrait.objects.filter(pk__in=[public.pk, private.pk], deleted_at=None).count() == 2
    assert not GenerationJob.objects.filter(user=bob).exists()


def test_delete_page_warns_about_remixes_then_leaves_a_tombstone(
    alice, bob, create_portrait, remix, client
):
    original = create_portrait(alice)
    remix(original, bob)
    client.force_login(alice)

    confirm = client.get(f"/p/{original.public_id}/delete/").content.decode()
    response = client.post(f"/p/{original.public_id}/delete/")

    assert "no longer available" in confirm
    assert response.status_code == 302 and response["Location"] == "/me/portraits/"
    assert Portrait.objects.get(pk=original.pk).is_deleted
    assert client.get(original.get_absolute_url()).status_code == 404


def test_reproduce_button_submits_a_job_and_opens_it(alice, create_portrait, client):
    portrait = create_portrait(alice, seed=31)
    client.force_login(alice)

    response = client.post(f"/p/{portrait.public_id}/reproduce/")

    job = GenerationJob.objects.filter(user=alice, status="queued").get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert (job.seed, job.num_images) == (31, 1)


def test_my_portraits_page_filters_by_visibility(alice, bob, create_portrait, client):
    private = create_portrait(alice, prompt="alpha private", visibility=V.PRIVATE)
    public = create_portrait(alice, prompt="beta public")
    create_portrait(bob, prompt="gamma bob")
    client.force_login(alice)

    everything = client.get("/me/portraits/").content.decode()
    only_private = client.get("/me/portraits/?visibility=private").content.decode()

    assert private.title in everything and public.title in everything
    assert "gamma bob" not in everything
    assert private.title in only_private and public.title not in only_private


def test_my_portraits_needs_a_login(client, db):
    response = client.get("/me/portraits/")

    assert response.status_code == 302 and "/login" in response["Location"]


def test_credentials_page_shows_the_verified_manifest(alice, bob, create_portrait, remix, client):
    original = create_portrait(alice)
    child = remix(original, bob, prompt="a portrait, remixed")

    html = client.get(f"/p/{child.public_id}/credentials/").content.decode()

    assert "Intact" in html and "the signer is trusted" in html
    assert "The manifest names this portrait" in html
    assert f"Likeness portrait {original.public_id}" in html  # the parent ingredient
    assert original.title not in html  # a title (the prompt, by default) is never signed


def test_verify_page_checks_an_upload(alice, create_portrait, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    portrait = create_portrait(alice)
    with portrait.image.open("rb") as handle:
        upload = SimpleUploadedFile("p.png", handle.read(), "image/png")

    html = client.post("/credentials/verify/", {"file": upload}).content.decode()

    assert "Intact" in html and f"Likeness portrait {portrait.public_id}" in html


def test_job_portraits_snippet_links_each_portrait(alice, paint):
    from generation.services import job_submit
    from portraits.selectors import portrait_list_for_job

    job = job_submit(user=alice, spec={"prompt": "twins", "num_images": 2})
    first, second = paint(job)

    html = render_to_string(
        "portraits/_job_portraits.html",
        {"portraits": portrait_list_for_job(job=job, viewer=alice)},
    )

    assert html.index(f"/p/{first.public_id}/") < html.index(f"/p/{second.public_id}/")
    assert f"/p/{first.public_id}/thumbnail/" in html


def test_admin_lists_searches_and_deletes_through_the_service(
    alice, bob, create_portrait, remix, client, make_user
):
    original = create_portrait(alice, prompt="an astronomer with a brass telescope")
    remix(original, bob, prompt="an astronomer at night")
    create_portrait(bob, prompt="a gardener")
    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    listing = client.get("/admin/portraits/portrait/?q=telescope").content.decode()
    change = client.get(f"/admin/portraits/portrait/{original.pk}/change/")
    response = client.post(f"/admin/portraits/portrait/{original.pk}/delete/", {"post": "yes"})

    assert f"/p/{original.public_id}/thumbnail/" in listing
    assert "a gardener" not in listing
    assert change.status_code == 200
    assert "recipe" not in change.context["adminform"].form.fields  # read-only
    assert response.status_code == 302
    assert Portrait.objects.get(pk=original.pk).is_deleted  # a tombstone: it has a remix


def test_a_field_cleared_on_the_remix_form_is_cleared_not_inherited(
    alice, bob, create_portrait, style_presets, client
):
    style = style_presets.first()
    parent = create_portrait(alice, negative_prompt="blurry", style=style.slug, seed=1234, steps=7)
    client.force_login(bob)

    response = client.post(
        f"/create/?remix={parent.public_id}",
        {
            "prompt": "her sister",
            "model": "painter",
            "seed": "",
            "style": "",
            "negative_prompt": "",
            "steps": "9",
        },
    )

    assert response.status_code == 302
    job = GenerationJob.objects.get(user=bob)
    assert job.parent == parent
    assert (job.style, job.negative_prompt, job.steps) == (None, "", 9)
    # A cleared seed is a new random one (1 chance in 2**32 of meeting the parent's again).
    assert job.seed != 1234
