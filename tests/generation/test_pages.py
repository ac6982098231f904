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
    assert "data-paints-noise" not in option
    assert form_of(client.get("/create/")).options["tiny"]["data-paints-noise"] == "true"


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
