"""The job page in each state, what it offers next, and "My jobs", through the test client."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from config import errors
from generation import services
from generation.models import GenerationJob
from portraits.models import Portrait
from portraits.services import portrait_delete, portrait_update
from tests.support import paint_job

Status = GenerationJob.Status


@pytest.fixture(autouse=True)
def _no_enqueue(django_capture_on_commit_callbacks):
    # About pages; the worker is tested elsewhere.
    with django_capture_on_commit_callbacks(execute=False):
        yield


class Page(HTMLParser):
    """Every element's tag and attributes, in order, and the text inside each id'd element."""

    def __init__(self, html: str):
        super().__init__()
        self.html = html
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def all(self, tag: str, **match) -> list[dict]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and all(attrs.get(k.replace("_", "-")) == v for k, v in match.items())
        ]

    def by_id(self, element_id: str) -> dict:
        (found,) = [attrs for _, attrs in self.elements if attrs.get("id") == element_id]
        return found

    def text_of(self, element_id: str) -> str:
        """The text inside the element with ``element_id``, tags removed."""
        return _Text(self.html, element_id).text.strip()


VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Text(HTMLParser):
    def __init__(self, html: str, element_id: str):
        super().__init__()
        self.element_id, self.depth, self.found, self.text = element_id, 0, False, ""
        self.feed(html)
        assert self.found, element_id

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag):
        if self.depth and tag not in VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text += data


def page_of(client, url) -> Page:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return Page(response.content.decode())


def submit(user, **spec) -> GenerationJob:
    spec.setdefault("prompt", "a lighthouse keeper at dusk")
    return services.job_submit(user=user, spec=spec)


@pytest.fixture
def published(alice, painter):
    """A public portrait by alice, for remixes."""
    (portrait,) = paint_job(submit(alice, seed=7).pk)
    portrait_update(portrait=portrait, by=alice, data={"visibility": "public", "title": "Keeper"})
    return portrait


# --- Queued, running: where the job stands, never a broken picture ---------------------------


def test_a_queued_job_shows_a_waiting_box_not_a_picture_without_a_source(client, alice, painter):
    job = submit(alice)
    client.force_login(alice)

    page = page_of(client, job.get_absolute_url())

    assert all(img.get("src") for img in page.all("img")), page.all("img")
    assert "hidden" not in page.by_id("job-canvas")
    assert page.text_of("job-waiting") == "Waiting in the queue"
    assert "hidden" not in page.by_id("job-running")  # its progress, while it may still run
    assert "hidden" in page.by_id("job-results")  # no empty "Results" heading
    assert "hidden" in page.by_id("job-ended")


def test_an_image_to_image_job_counts_the_steps_it_runs_and_says_why(
    client, alice, bob, published, alice_api
):
    job = services.job_submit_remix(
        user=bob, portrait=published, changes={"steps": 20, "init_strength": 0.5}
    )
    client.force_login(bob)

    page = page_of(client, job.get_absolute_url())

    assert page.text_of("job-total") == "10"
    assert page.by_id("job-progress")["max"] == "10"
    assert "10 of 20 steps: strength 0.5" in page.text_of("job-strength")
    bob_api = alice_api
    bob_api.force_authenticate(bob)
    assert bob_api.get(f"/api/v1/jobs/{job.pk}/").json()["progress"] == {"step": 0, "total": 10}


def test_the_worker_announces_the_steps_an_image_to_image_job_runs(bob, published):
    job = services.job_submit_remix(
        user=bob, portrait=published, changes={"steps": 20, "init_strength": 0.25}
    )
    assert job.steps_to_run == 5
    assert submit(bob, steps=20).steps_to_run == 20


# --- Cancelled, failed: what is true, and the way forward ----------------------------------------


def test_a_cancelled_job_shows_no_progress_nor_empty_results_and_offers_next_steps(
    client, alice, painter
):
    job = submit(alice, seed=42, steps=6)
    services.job_cancel(job=job, by=alice)
    client.force_login(alice)

    page = page_of(client, job.get_absolute_url())

    assert "hidden" in page.by_id("job-running")  # no frozen progress bar
    assert "hidden" in page.by_id("job-canvas")
    assert "hidden" in page.by_id("job-results")
    assert "hidden" not in page.by_id("job-ended")
    assert "cancelled before it finished: nothing was painted" in page.text_of("job-ended-text")
    again = f"/jobs/{job.pk}/again/"
    assert page.all("form", action=again, method="post")
    assert "Paint again" in page.html and "Edit and resubmit" in page.html
    assert page.all("a", href=f"/create/?from={job.pk}")


def test_a_failed_job_says_why_and_offers_the_same_next_steps(client, alice, painter):
    job = submit(alice)
    running = services.job_start(job_id=job.pk, worker="w")
    services.job_fail(job=running, error="The GPU ran out of memory.")
    client.force_login(alice)

    page = page_of(client, job.get_absolute_url())

    assert "hidden" not in page.by_id("job-error")
    assert "ran out of memory" in page.text_of("job-error")
    assert "hidden" in page.by_id("job-running")
    assert page.all("form", action=f"/jobs/{job.pk}/again/")


def test_a_moderator_looking_at_a_cancelled_job_is_not_offered_to_paint_it(
    client, alice, mod, painter
):
    job = submit(alice)
    services.job_cancel(job=job, by=alice)
    client.force_login(mod)

    page = page_of(client, job.get_absolute_url())

    assert "hidden" not in page.by_id("job-ended")
    assert not page.all("form", action=f"/jobs/{job.pk}/again/")


def test_paint_again_submits_the_same_recipe_as_a_new_job(client, alice, painter):
    job = submit(alice, seed=42, steps=6, negative_prompt="blur", num_images=2)
    services.job_cancel(job=job, by=alice)
    client.force_login(alice)

    response = client.post(f"/jobs/{job.pk}/again/")

    again = GenerationJob.objects.exclude(pk=job.pk).get()
    assert response.status_code == 302 and response["Location"] == again.get_absolute_url()
    assert again.status == Status.QUEUED
    fields = ("prompt", "negative_prompt", "seed", "steps", "num_images", "model_id", "width")
    assert [getattr(again, f) for f in fields] == [getattr(job, f) for f in fields]


def test_paint_again_of_a_remix_is_a_remix_of_the_same_parent(client, bob, published):
    job = services.job_submit_remix(user=bob, portrait=published, changes={"prompt": "a keeper"})
    services.job_cancel(job=job, by=bob)
    client.force_login(bob)

    client.post(f"/jobs/{job.pk}/again/")

    again = GenerationJob.objects.filter(user=bob).exclude(pk=job.pk).get()
    assert again.parent == published
    assert (again.prompt, again.seed) == ("a keeper", job.seed)


def test_paint_again_of_a_remix_whose_parent_is_gone_says_so_and_submits_nothing(
    client, alice, bob, published
):
    job = services.job_submit_remix(user=bob, portrait=published, changes={"prompt": "a keeper"})
    services.job_cancel(job=job, by=bob)
    portrait_delete(portrait=published, by=alice)
    client.force_login(bob)

    response = client.post(f"/jobs/{job.pk}/again/", follow=True)

    assert response.redirect_chain == [(job.get_absolute_url(), 302)]
    assert "no longer available" in response.content.decode()
    assert GenerationJob.objects.filter(user=bob).count() == 1


def test_nobody_else_can_paint_a_job_again(client, alice, bob, painter):
    job = submit(alice)
    services.job_cancel(job=job, by=alice)
    client.force_login(bob)

    assert client.post(f"/jobs/{job.pk}/again/").status_code == 404
    assert GenerationJob.objects.count() == 1


def test_edit_and_resubmit_opens_the_form_filled_in_with_the_job_s_recipe(client, alice, painter):
    job = submit(alice, prompt="a ferryman", seed=4242, steps=9, num_images=3)
    services.job_cancel(job=job, by=alice)
    client.force_login(alice)

    page = page_of(client, f"/create/?from={job.pk}")

    assert "a ferryman</textarea>" in page.html
    assert page.all("input", name="seed")[0]["value"] == "4242"
    assert page.all("input", name="steps")[0]["value"] == "9"
    assert page.all("input", name="num_images")[0]["value"] == "3"


def test_edit_and_resubmit_of_a_remix_opens_the_remix_form_with_its_strength(
    client, bob, published
):
    job = services.job_submit_remix(
        user=bob, portrait=published, changes={"prompt": "a keeper", "init_strength": 0.4}
    )
    services.job_cancel(job=job, by=bob)
    client.force_login(bob)

    page = page_of(client, job.get_absolute_url())
    (edit,) = [a["href"] for a in page.all("a") if a.get("href", "").startswith("/create/?from")]
    assert f"remix={published.public_id}" in edit
    form = page_of(client, edit.replace("&amp;", "&"))
    assert form.all("input", name="init_strength")[0]["value"] == "0.4"
    assert "a keeper</textarea>" in form.html


def test_edit_and_resubmit_of_someone_else_s_job_is_not_found(client, alice, bob, painter):
    job = submit(alice)
    client.force_login(bob)
    assert client.get(f"/create/?from={job.pk}").status_code == 404
    assert client.get("/create/?from=not-a-uuid").status_code == 404


# --- Finished: each picture's seed and next steps, and a side-by-side comparison -------------


@pytest.fixture
def finished(alice, painter):
    job = submit(alice, seed=100, num_images=2)
    paint_job(job.pk)
    job.refresh_from_db()
    return job


def test_a_finished_job_shows_each_picture_s_seed_and_what_to_do_with_it(client, alice, finished):
    first, second = finished.portraits.order_by("index_in_job")
    client.force_login(alice)

    page = page_of(client, finished.get_absolute_url())

    assert "Seed 100" in page.html and "Seed 101" in page.html
    for portrait in (first, second):
        pid = portrait.public_id
        assert page.all("a", href=f"/create/?remix={pid}")  # remix: the prefilled form
        assert page.all("form", action=f"/p/{pid}/vary/", method="post")  # vary: at once
        assert page.all("a", href=f"/p/{pid}/download/")
        assert page.all("input", name=f"visibility-{pid}", form="job-publish")  # publish


def test_the_pictures_of_a_job_can_be_compared_side_by_side_at_full_size(client, alice, finished):
    client.force_login(alice)
    page = page_of(client, finished.get_absolute_url())

    assert page.by_id("job-compare")
    full = [img for img in page.all("img") if img.get("src", "").endswith("/image/")]
    # 64 px pictures, shown 4 times their size (whole pixels, drawn crisply), side by side.
    assert [(img["width"], img["class"]) for img in full] == [("256", "upscaled")] * 2
    assert "shown 4× its 64 × 64 px" in page.text_of("job-compare")
    assert {img["src"] for img in full} == {
        f"/p/{p.public_id}/image/" for p in finished.portraits.all()
    }


def test_vary_paints_a_remix_with_a_new_random_seed(client, alice, finished):
    portrait = finished.portraits.order_by("index_in_job").first()
    client.force_login(alice)

    response = client.post(f"/p/{portrait.public_id}/vary/")

    vary = GenerationJob.objects.exclude(pk=finished.pk).get()
    assert response["Location"] == vary.get_absolute_url()
    assert vary.parent == portrait and vary.num_images == 1
    assert vary.prompt == finished.prompt
    assert vary.seed != portrait.recipe["seed"]


def test_vary_refused_by_the_quota_says_why_on_the_job_page(client, alice, finished, settings):
    settings.GENERATION_MAX_ACTIVE_JOBS = 1
    submit(alice)
    portrait = finished.portraits.first()
    client.force_login(alice)

    response = client.post(
        f"/p/{portrait.public_id}/vary/", {"next": finished.get_absolute_url()}, follow=True
    )

    assert response.redirect_chain == [(finished.get_absolute_url(), 302)]
    assert "the limit is 1" in response.content.decode()


def test_the_job_page_shows_its_recipe_in_member_facing_words(client, alice, finished):
    client.force_login(alice)
    page = page_of(client, finished.get_absolute_url())

    assert page.by_id("job-recipe")
    assert '<th scope="row">Sampler</th>' in page.html
    assert "Model default" in page.html
    assert "Scheduler" not in page.html.split('id="job-recipe"')[1].split("Technical details")[0]


# --- A deleted parent: what the lineage shows ------------------------------------------------


def test_a_job_whose_parent_was_deleted_credits_its_author_without_its_title(
    client, alice, bob, published
):
    job = services.job_submit_remix(user=bob, portrait=published, changes={"prompt": "x"})
    paint_job(job.pk)  # its remix keeps the parent as a tombstone
    portrait_delete(portrait=published, by=alice)
    client.force_login(bob)

    page = page_of(client, job.get_absolute_url())

    header = page.text_of("job-parent")
    assert "a portrait by Alice Liddell, no longer available" in header
    assert "Keeper" not in page.html
    assert not page.all("a", href=f"/p/{published.public_id}/")


# --- My jobs: a picture per row, where each job stands ---------------------------------------


def test_my_jobs_shows_each_finished_job_s_first_picture_and_the_others_status(
    client, alice, finished
):
    queued = submit(alice)
    cancelled = submit(alice)
    services.job_cancel(job=cancelled, by=alice)
    first = finished.portraits.order_by("index_in_job").first()
    client.force_login(alice)

    page = page_of(client, "/jobs/")

    table = page.by_id("jobs")
    assert table["data-ws-path"] == "/ws/jobs/" and table["data-since"]
    rows = {row["data-job-id"]: row for row in page.all("tr") if "data-job-id" in row}
    assert rows[str(queued.pk)]["data-status"] == "queued"
    assert page.all("img", src=f"/p/{first.public_id}/thumbnail/")
    assert len(page.all("img")) == 1  # the others show their status in its place
    assert '<span class="job-thumb-placeholder" aria-hidden="true">Cancelled</span>' in page.html
    assert '<span class="job-thumb-placeholder" aria-hidden="true">Queued</span>' in page.html


def test_my_jobs_does_not_show_a_deleted_picture(client, alice, finished):
    for portrait in Portrait.objects.filter(job=finished):
        portrait_delete(portrait=portrait, by=alice)
    client.force_login(alice)

    page = page_of(client, "/jobs/")

    assert not page.all("img")
    assert "Succeeded</span>" in page.html


# --- Paint again: only an ended job, and a reproduction whose original is gone -------------


@pytest.mark.parametrize("finish", [False, True], ids=["queued", "succeeded"])
def test_paint_again_of_a_job_that_did_not_end_without_pictures_is_refused(
    client, alice, painter, finish
):
    job = submit(alice)
    if finish:
        paint_job(job.pk)
    client.force_login(alice)

    response = client.post(f"/jobs/{job.pk}/again/", follow=True)

    assert response.redirect_chain == [(job.get_absolute_url(), 302)]
    assert "Only a cancelled or failed job can be painted again" in response.content.decode()
    assert GenerationJob.objects.count() == 1


def test_paint_again_of_a_reproduction_whose_original_was_deleted_says_so(
    client, alice, bob, published
):
    # Bob's remix keeps Alice's portrait as a tombstone, which the reproduction still names.
    paint_job(services.job_submit_remix(user=bob, portrait=published, changes={"seed": 3}).pk)
    job = services.job_submit_reproduction(user=alice, portrait=published)
    services.job_cancel(job=job, by=alice)
    portrait_delete(portrait=published, by=alice)
    client.force_login(alice)

    response = client.post(f"/jobs/{job.pk}/again/", follow=True)

    assert response.redirect_chain == [(job.get_absolute_url(), 302)]
    assert "this job reproduced is no longer available" in response.content.decode()
    assert GenerationJob.objects.filter(user=alice).count() == 2  # the painting, this one


# --- Edit and resubmit of a remix whose parent is gone: never its words as one's own --------

KEEPER = "a lighthouse keeper at dusk"  # alice's prompt on ``published``


def _cancelled_remix(user, portrait, **changes) -> GenerationJob:
    job = services.job_submit_remix(user=user, portrait=portrait, changes=changes)
    services.job_cancel(job=job, by=user)
    return job


def _edit_form(client, job) -> Page:
    page = page_of(client, job.get_absolute_url())
    return page_of(client, page.by_id("job-edit")["href"])


def test_edit_and_resubmit_leaves_out_the_words_a_remix_kept_from_a_deleted_parent(
    client, alice, bob, published
):
    job = _cancelled_remix(bob, published, seed=99)  # the seed changed, nothing else
    portrait_delete(portrait=published, by=alice)
    client.force_login(bob)

    form = _edit_form(client, job)

    assert KEEPER not in form.html
    assert form.all("input", name="seed")[0]["value"] == "99"  # the rest is filled in
    assert not form.all("input", name="init_strength")  # the plain form: a new original
    assert "The job's prompt was kept from a portrait that is no longer available" in (
        form.text_of("withheld-notice")
    )


def test_edit_and_resubmit_leaves_out_the_words_a_remix_kept_from_a_parent_made_private(
    client, alice, bob, published
):
    job = _cancelled_remix(bob, published, seed=99)
    portrait_update(portrait=published, by=alice, data={"visibility": "private"})
    client.force_login(bob)

    form = _edit_form(client, job)

    assert KEEPER not in form.html and "Keeper" not in form.html
    assert "kept from a portrait that is no longer available" in form.text_of("withheld-notice")


def test_edit_and_resubmit_keeps_the_words_the_member_wrote_though_the_parent_is_gone(
    client, alice, bob, carol, published
):
    job = _cancelled_remix(bob, published, prompt="my own ferryman", negative_prompt="fog")
    # Carol's remix keeps Alice's portrait as a tombstone, its recipe still there to compare.
    paint_job(services.job_submit_remix(user=carol, portrait=published, changes={"seed": 5}).pk)
    portrait_delete(portrait=published, by=alice)
    client.force_login(bob)

    form = _edit_form(client, job)

    assert "my own ferryman</textarea>" in form.html and "fog</textarea>" in form.html
    assert 'id="withheld-notice"' not in form.html


def test_edit_and_resubmit_of_a_remix_leaves_out_what_its_visible_parent_withholds(
    client, alice, bob, carol, published
):
    # Carol's public remix keeps Alice's prompt; Bob remixes Carol's, keeping it too; then
    # Alice makes hers private. The remix form (Carol's is still there) must not show it.
    (carols,) = paint_job(
        services.job_submit_remix(user=carol, portrait=published, changes={"seed": 5}).pk
    )
    portrait_update(portrait=carols, by=carol, data={"visibility": "public"})
    job = _cancelled_remix(bob, carols, seed=6)
    portrait_update(portrait=published, by=alice, data={"visibility": "private"})
    client.force_login(bob)

    form = _edit_form(client, job)

    assert "Remix “Untitled remix”" in form.html  # the remix form, of Carol's portrait
    assert KEEPER not in form.html
    assert "The job's prompt was kept from" in form.text_of("withheld-notice")


# --- A moderator looks at anything, but remixes only what members may -----------------------


def test_a_moderator_on_a_job_page_is_offered_remix_only_of_shared_pictures(
    client, alice, mod, finished
):
    private, shared = finished.portraits.order_by("index_in_job")
    portrait_update(portrait=shared, by=alice, data={"visibility": "unlisted"})
    client.force_login(mod)

    page = page_of(client, finished.get_absolute_url())

    assert page.all("img", src=f"/p/{private.public_id}/thumbnail/")  # seen, to review it
    assert not page.all("a", href=f"/create/?remix={private.public_id}")
    assert page.all("a", href=f"/create/?remix={shared.public_id}")
    assert not page.all("form", action=f"/p/{private.public_id}/vary/")


def test_a_moderator_cannot_remix_nor_vary_a_private_portrait(client, alice, mod, finished):
    from rest_framework.test import APIClient

    private = finished.portraits.first()
    client.force_login(mod)
    api = APIClient()
    api.force_authenticate(mod)

    assert client.get(f"/create/?remix={private.public_id}").status_code == 403
    assert client.post(f"/p/{private.public_id}/vary/").status_code == 403
    answer = api.post(f"/api/v1/portraits/{private.public_id}/remix/", {"seed": 1}, format="json")
    assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"
    with pytest.raises(errors.PermissionDenied):
        services.job_submit_remix(user=mod, portrait=private, changes={})
    assert GenerationJob.objects.count() == 1
    # Her own picture stays hers to remix.
    client.force_login(alice)
    assert client.get(f"/create/?remix={private.public_id}").status_code == 200
