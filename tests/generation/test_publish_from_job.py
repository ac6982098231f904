"""Curating a finished job: its owner chooses who sees each portrait, in one request, on
the job page or by API; a refusal changes nothing."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from generation import services
from portraits.models import Portrait
from tests.support import paint_job

V = Portrait.Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_enqueue(django_capture_on_commit_callbacks):
    # Jobs are finished by hand (paint_job); nothing is sent to a broker.
    with django_capture_on_commit_callbacks(execute=False):
        yield


@pytest.fixture
def painted(alice, painter):
    """A finished job of alice's with three portraits, all private as they are stored."""
    job = services.job_submit(user=alice, spec={"prompt": "three sisters", "num_images": 3})
    portraits = paint_job(job.pk)
    assert [p.visibility for p in portraits] == [V.PRIVATE] * 3
    return job, portraits


def _state(portraits) -> list[tuple[str, bool]]:
    return [
        (row.visibility, row.published_at is not None)
        for row in Portrait.objects.filter(pk__in=[p.pk for p in portraits]).order_by(
            "index_in_job"
        )
    ]


class Radios(HTMLParser):
    """The job page's radios by name (value → attributes), its labels and the form."""

    def __init__(self, html: str):
        super().__init__()
        self.radios: dict[str, dict[str, dict]] = {}
        self.forms: dict[str, dict] = {}
        self.label_depth = 0
        self.unlabelled = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.label_depth += 1
        if tag == "form" and "id" in attrs:
            self.forms[attrs["id"]] = attrs
        if tag == "input" and attrs.get("type") == "radio":
            self.radios.setdefault(attrs["name"], {})[attrs["value"]] = attrs
            if not self.label_depth:
                self.unlabelled += 1

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1


def test_job_page_lists_each_portrait_with_a_labelled_choice_of_who_sees_it(alice, client, painted):
    job, portraits = painted
    client.force_login(alice)

    html = client.get(job.get_absolute_url()).content.decode()

    page = Radios(html)
    action = reverse("generation:job-publish", kwargs={"pk": job.pk})
    assert page.forms["job-publish"]["action"] == action
    assert "hidden" not in page.forms["job-publish"]
    assert set(page.radios) == {f"visibility-{p.public_id}" for p in portraits}
    for group in page.radios.values():
        assert set(group) == {"private", "unlisted", "public"}
        assert "checked" in group["private"] and all(
            r["form"] == "job-publish" for r in group.values()
        )
    assert page.unlabelled == 0  # every radio inside its label
    assert html.count("<legend>Who sees portrait") == 3
    assert 'name="all" value="public"' in html and "Publish all" in html


def test_owner_publishes_some_and_keeps_others_private_in_one_request(
    alice, client, painted, django_assert_max_num_queries
):
    job, (first, second, third) = painted
    client.force_login(alice)
    url = reverse("generation:job-publish", kwargs={"pk": job.pk})

    response = client.post(
        url,
        {
            f"visibility-{first.public_id}": "public",
            f"visibility-{second.public_id}": "unlisted",
            f"visibility-{third.public_id}": "private",
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == job.get_absolute_url()
    assert _state([first, second, third]) == [
        ("public", True),
        ("unlisted", False),
        ("private", False),
    ]
    assert "Saved: 1 private, 1 unlisted, 1 public." in response.content.decode()
    # The page shows the choices as they now stand.
    page = Radios(response.content.decode())
    assert "checked" in page.radios[f"visibility-{first.public_id}"]["public"]
    assert "checked" in page.radios[f"visibility-{second.public_id}"]["unlisted"]


def test_publish_all_publishes_every_portrait_listed(alice, client, painted):
    job, portraits = painted
    client.force_login(alice)
    form = {f"visibility-{p.public_id}": "private" for p in portraits}

    client.post(reverse("generation:job-publish", kwargs={"pk": job.pk}), {**form, "all": "public"})

    assert _state(portraits) == [("public", True)] * 3


@pytest.mark.parametrize(
    "bad",
    [
        {"visibility-{first}": "everyone"},
        {"visibility-{others}": "public"},  # bob's portrait, smuggled into alice's form
        {"visibility-{other_job}": "public"},  # alice's own, but of another job
        {"visibility-nosuchportrait": "public"},
        {"visibility-{first}": "public", "all": "everyone"},
    ],
)
def test_a_refused_choice_is_a_message_on_the_page_and_changes_nothing(
    alice, bob, client, painted, bad
):
    job, portraits = painted
    (others,) = paint_job(services.job_submit(user=bob, spec={"prompt": "bob's"}).pk)
    (other_job,) = paint_job(services.job_submit(user=alice, spec={"prompt": "another"}).pk)
    ids = {
        "first": portraits[0].public_id,
        "others": others.public_id,
        "other_job": other_job.public_id,
    }
    form = {f"visibility-{p.public_id}": "public" for p in portraits[1:]}
    form.update({key.format(**ids): value for key, value in bad.items()})
    client.force_login(alice)

    response = client.post(reverse("generation:job-publish", kwargs={"pk": job.pk}), form)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was changed." in html and 'class="message message-error"' in html
    assert _state([*portraits, others, other_job]) == [("private", False)] * 5


def test_nothing_chosen_is_a_message(alice, client, painted):
    job, portraits = painted
    client.force_login(alice)

    response = client.post(reverse("generation:job-publish", kwargs={"pk": job.pk}), {})

    assert response.status_code == 400
    assert "Choose who may see at least one portrait." in response.content.decode()


def test_only_the_jobs_owner_curates_it(alice, bob, mod, client, painted):
    job, portraits = painted
    url = reverse("generation:job-publish", kwargs={"pk": job.pk})
    form = {f"visibility-{p.public_id}": "public" for p in portraits}

    client.force_login(bob)
    assert client.post(url, form).status_code == 404
    client.force_login(mod)  # a moderator looks at the job; the form is its owner's
    assert 'data-curate="false"' in client.get(job.get_absolute_url()).content.decode()
    assert "visibility-" not in client.get(job.get_absolute_url()).content.decode()
    client.logout()
    assert client.post(url, form).status_code == 302  # to the login page
    assert _state(portraits) == [("private", False)] * 3


def test_a_job_still_running_has_no_form(alice, client, painter):
    job = services.job_submit(user=alice, spec={"prompt": "not yet"})
    client.force_login(alice)

    html = client.get(job.get_absolute_url()).content.decode()

    form_tag = html.split('id="job-publish"')[1].split(">")[0]
    assert "hidden" in form_tag and "visibility-" not in html


# --- The API ------------------------------------------------------------------------------


def _api_url(job) -> str:
    return f"/api/v1/jobs/{job.pk}/publish/"


def test_api_sets_who_sees_each_portrait_in_one_request(alice_api, painted):
    job, (first, second, third) = painted

    response = alice_api.post(
        _api_url(job),
        {"portraits": {first.public_id: "public", third.public_id: "unlisted"}},
        format="json",
    )

    assert response.status_code == 200
    shown = {p["id"]: p["visibility"] for p in response.json()["portraits"]}
    assert shown == {
        first.public_id: "public",
        second.public_id: "private",
        third.public_id: "unlisted",
    }
    assert _state([first, second, third]) == [
        ("public", True),
        ("private", False),
        ("unlisted", False),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"portraits": {"{first}": "everyone"}},
        {"portraits": {"{first}": "public", "{others}": "public"}},
        {"portraits": {"nosuchportrait": "public"}},
        {"portraits": {"{first}": "public", "bad\x00id": "public"}},
        {"portraits": {}},
        {"portraits": ["{first}"]},
        {"portraits": {"{first}": None}},
        {"portraits": {f"id{n}": "public" for n in range(5)}},  # more than a job paints
        {"portraits": {"{first}": "public"}, "extra": 1},
        {},
        [],
    ],
)
def test_api_refuses_bad_choices_with_field_errors_and_changes_nothing(
    alice_api, bob, painted, body
):
    job, portraits = painted
    (others,) = paint_job(services.job_submit(user=bob, spec={"prompt": "bob's"}).pk)
    ids = {"first": portraits[0].public_id, "others": others.public_id}

    def fill(value):
        if isinstance(value, dict):
            return {key.format(**ids): fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value.format(**ids) if isinstance(value, str) else value

    response = alice_api.post(_api_url(job), fill(body), format="json")

    assert response.status_code == 400
    assert response.json()["errors"]
    assert _state([*portraits, others]) == [("private", False)] * 4


def test_api_job_of_someone_else_is_404(bob_api, painted):
    job, portraits = painted

    response = bob_api.post(
        _api_url(job), {"portraits": {portraits[0].public_id: "public"}}, format="json"
    )

    assert response.status_code == 404
    assert _state(portraits)[0] == ("private", False)
