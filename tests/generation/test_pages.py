"""The create form, the job page and its cancel button, through the test client."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from generation import services
from generation.models import GenerationJob

Status = GenerationJob.Status


@pytest.fixture(autouse=True)
def _no_enqueue(django_capture_on_commit_callbacks):
    # About pages; the worker is tested elsewhere.
    with django_capture_on_commit_callbacks(execute=False):
        yield


class Elements(HTMLParser):
    """The attributes of every input, select option and element with an id, by name/value/id."""

    def __init__(self, html: str):
        super().__init__()
        self.inputs: dict[str, dict] = {}
        self.options: dict[str, dict] = {}
        self.ids: dict[str, dict] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and "name" in attrs:
            self.inputs[attrs["name"]] = attrs
        if tag == "option":
            self.options[attrs.get("value", "")] = attrs
        if "id" in attrs:
            self.ids[attrs["id"]] = attrs


def form_of(response) -> Elements:
    return Elements(response.content.decode())


# --- The create form -------------------------------------------------------------------


def test_model_dependent_fields_are_empty_with_the_default_model_s_numbers_as_hints(
    client, alice, tiny_model, turbo_model
):
    client.force_login(alice)
    page = form_of(client.get("/create/"))

    for name, default, maximum in (
        ("steps", "4", "50"),
        ("guidance_scale", "7", "20"),
        ("width", "64", "256"),
        ("height", "64", "256"),
    ):
        field = page.inputs[name]
        assert "value" not in field, name  # empty: the chosen model's default
        assert (field["placeholder"], field["max"]) == (default, maximum), name


def test_each_model_option_carries_its_defaults_and_limits_for_the_script(
    client, alice, tiny_model, turbo_model
):
    client.force_login(alice)
    option = form_of(client.get("/create/")).options["turbo"]

    assert option["data-default-steps"] == "2" and option["data-max-steps"] == "4"
    assert option["data-default-guidance-scale"] == "0"
    assert option["data-max-guidance-scale"] == "2"
    assert (option["data-default-width"], option["data-default-height"]) == ("96", "64")
    assert "data-demo" not in option
    assert form_of(client.get("/create/")).options["tiny"]["data-demo"] == "noise"


def test_empty_fields_get_the_chosen_model_s_defaults_not_the_default_model_s(
    client, alice, tiny_model, turbo_model
):
    client.force_login(alice)
    response = client.post(
        "/create/",
        {"prompt": "a jockey", "model": "turbo", "steps": "", "guidance_scale": "", "width": ""},
    )

    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.model == turbo_model
    assert (job.steps, job.guidance_scale, job.width, job.height) == (2, 0.0, 96, 64)


def test_a_form_shown_again_after_an_error_hints_the_chosen_model_s_numbers(
    client, alice, tiny_model, turbo_model
):
    client.force_login(alice)
    response = client.post("/create/", {"prompt": "", "model": "turbo"})

    assert response.status_code == 400
    page = form_of(response)
    assert (page.inputs["steps"]["placeholder"], page.inputs["steps"]["max"]) == ("2", "4")
    assert "selected" in page.options["turbo"]


def test_a_quota_refusal_on_the_form_answers_429_with_the_message(
    client, alice, tiny_model, settings
):
    settings.GENERATION_MAX_ACTIVE_JOBS = 1
    client.force_login(alice)
    assert client.post("/create/", {"prompt": "first", "model": "tiny"}).status_code == 302

    response = client.post("/create/", {"prompt": "second", "model": "tiny"})

    assert response.status_code == 429
    assert "the limit is 1" in response.content.decode()
    assert GenerationJob.objects.count() == 1


# --- The job page's cancel, without JavaScript --------------------------------------------


@pytest.fixture
def job(alice, tiny_model):
    return services.job_submit(user=alice, spec={"prompt": "a sitter"})


def test_cancel_without_javascript_cancels_and_says_so(client, alice, job):
    client.force_login(alice)
    response = client.post(f"/jobs/{job.pk}/cancel/", follow=True)

    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert response.redirect_chain == [(job.get_absolute_url(), 302)]
    assert "Job cancelled." in response.content.decode()


def test_a_refused_cancel_says_why_and_shows_the_job_as_it_is(client, alice, job):
    GenerationJob.objects.filter(pk=job.pk).update(status=Status.SUCCEEDED)
    client.force_login(alice)

    response = client.post(f"/jobs/{job.pk}/cancel/")

    html = response.content.decode()
    assert response.status_code == 409
    assert "already succeeded; it cannot be cancelled" in html
    assert "Job cancelled." not in html
    page = Elements(html)
    assert page.ids["job"]["data-status"] == "succeeded"
    assert "hidden" in page.ids["job-cancel"]
    job.refresh_from_db()
    assert job.status == Status.SUCCEEDED


def test_the_job_page_tells_its_script_where_the_api_is(client, alice, job):
    client.force_login(alice)
    root = form_of(client.get(job.get_absolute_url())).ids["job"]

    assert root["data-api-url"] == f"/api/v1/jobs/{job.pk}/"
    assert root["data-cancel-api-url"] == f"/api/v1/jobs/{job.pk}/cancel/"
    assert root["data-login-url"].startswith("/accounts/login/?next=")


# --- My jobs: cursor pages ------------------------------------------------------------------


def _jobs_of(user, count: int) -> list[GenerationJob]:
    """``count`` new jobs of ``user``, oldest first: copies of one submitted row (the quota
    on active jobs is the service's business, not this list's)."""
    import uuid

    template = GenerationJob.objects.filter(user=user).first()
    if template is None:
        template = services.job_submit(user=user, spec={"prompt": "a sitter"})
        jobs, count = [template], count - 1
    else:
        jobs = []
    for n in range(count):
        copy = GenerationJob.objects.get(pk=template.pk)
        copy.pk, copy.prompt = uuid.uuid4(), f"sitter {n}"
        copy._state.adding = True
        copy.save(force_insert=True)
        jobs.append(copy)
    return jobs


class _Links(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.hrefs: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            self.hrefs.append((attrs["href"], attrs.get("rel")))


def _page(client, url) -> tuple[list[str], str | None]:
    response = client.get(url)
    assert response.status_code == 200
    links = _Links(response.content.decode()).hrefs
    jobs = [href for href, _ in links if href.startswith("/jobs/") and href.count("/") == 3]
    older = next((href for href, rel in links if rel == "next"), None)
    return jobs, older


def test_my_jobs_page_through_every_job_with_cursor_links_without_javascript(
    client, alice, bob, tiny_model
):
    from generation.views import JOBS_ON_PAGE

    mine = _jobs_of(alice, JOBS_ON_PAGE + 3)
    _jobs_of(bob, 2)
    client.force_login(alice)

    first, older = _page(client, "/jobs/")
    assert len(first) == JOBS_ON_PAGE and older is not None and "cursor=" in older
    # A job submitted meanwhile neither shifts nor repeats the older page (cursors).
    _jobs_of(alice, 1)
    second, last = _page(client, older)
    assert last is None
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(job.get_absolute_url() for job in mine)


def test_my_jobs_older_link_keeps_the_status_filter(client, alice, tiny_model):
    from generation.views import JOBS_ON_PAGE

    jobs = _jobs_of(alice, JOBS_ON_PAGE + 2)
    GenerationJob.objects.filter(pk=jobs[0].pk).update(status=Status.CANCELLED)
    client.force_login(alice)

    first, older = _page(client, "/jobs/?status=queued")
    assert "status=queued" in older
    second, _ = _page(client, older)
    assert len(first) + len(second) == JOBS_ON_PAGE + 1
    assert jobs[0].get_absolute_url() not in first + second


def test_my_jobs_page_runs_the_same_queries_whatever_its_length(client, alice, tiny_model):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from generation.views import JOBS_ON_PAGE

    client.force_login(alice)
    _jobs_of(alice, 1)
    with CaptureQueriesContext(connection) as one:
        assert len(_page(client, "/jobs/")[0]) == 1
    _jobs_of(alice, JOBS_ON_PAGE)
    with CaptureQueriesContext(connection) as full:
        assert len(_page(client, "/jobs/")[0]) == JOBS_ON_PAGE
    assert len(full.captured_queries) == len(one.captured_queries)


def test_a_forged_cursor_is_the_site_s_400_page(client, alice):
    client.force_login(alice)
    assert client.get("/jobs/?cursor=garbage").status_code == 400
