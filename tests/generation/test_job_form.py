"""The create and remix form, and the API behind it: every field error at once, in the
site's one voice, marked on the field; the demo-model notice; what a style adds; the
advanced settings folded away; image-to-image as a clear choice with its steps said."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from config.errors import DomainError
from generation import services
from generation.models import GenerationJob
from portraits.services import portrait_update
from tests.support import paint_job

# What Django and DRF say in their own words, which the site replaces with its own.
FOREIGN_VOICE = re.compile(
    r"Ensure this|A valid (integer|number)|Select a valid choice|This field is required|"
    r"not a valid choice|valid \"slug\""
)


@pytest.fixture(autouse=True)
def _no_enqueue(django_capture_on_commit_callbacks):
    # About the form; the worker is tested elsewhere.
    with django_capture_on_commit_callbacks(execute=False):
        yield


class Page(HTMLParser):
    """Every element's attributes by id and every form control's by name; the text of
    the element with each id (for error lists and help texts)."""

    VOID = {"input", "img", "br", "meta", "link", "hr", "source"}

    def __init__(self, html: str):
        super().__init__()
        self.by_id: dict[str, dict] = {}
        self.by_name: dict[str, dict] = {}
        self.text_of: dict[str, str] = {}
        self.details: list[dict] = []
        self.images: list[dict] = []
        self.radios: list[dict] = []
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {name: ("" if value is None else value) for name, value in attrs}
        attrs["_tag"] = tag
        if "id" in attrs:
            self.by_id[attrs["id"]] = attrs
            self.text_of[attrs["id"]] = ""
        if tag in ("input", "textarea", "select") and "name" in attrs:
            if attrs.get("type") == "radio":
                self.radios.append(attrs)
            else:
                self.by_name[attrs["name"]] = attrs
        if tag == "details":
            self.details.append(attrs)
        if tag == "img":
            self.images.append(attrs)
        if tag not in self.VOID:
            self._open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.text_of[element_id] += data


def page_of(response) -> Page:
    return Page(response.content.decode())


def described_by(page: Page, name: str) -> str:
    """The text a screen reader reads for the field ``name`` besides its label."""
    ids = page.by_name[name].get("aria-describedby", "").split()
    return " ".join(page.text_of.get(element_id, "") for element_id in ids)


def advanced(page: Page) -> dict:
    (details,) = [d for d in page.details if d.get("id") == "advanced"]
    return details


# --- Every field error at once, in one voice, marked on the field ---------------------------

BAD_FIELDS = {
    "prompt": "",
    "seed": "-1",
    "num_images": "9",
    "steps": "500",
    "guidance_scale": "99",
    "width": "100",
}


def test_the_create_form_reports_every_bad_field_in_one_answer_in_the_site_s_words(
    client, alice, tiny_model
):
    client.force_login(alice)

    response = client.post("/create/", {"model": "tiny", **BAD_FIELDS})

    assert response.status_code == 400
    page = page_of(response)
    said = {name: described_by(page, name) for name in BAD_FIELDS}
    assert "Describe the portrait you want." in said["prompt"]
    assert "Must be between 0 and 4294967295." in said["seed"]
    assert "Must be between 1 and 4." in said["num_images"]
    assert "Must be between 1 and 50." in said["steps"]  # the model's own maximum
    assert "Must be between 0 and 20." in said["guidance_scale"]
    assert "Must be a multiple of 8" in said["width"]
    assert not FOREIGN_VOICE.search(response.content.decode())
    assert not GenerationJob.objects.exists()


def test_a_field_that_is_no_number_comes_back_with_the_other_fields_range_errors(
    client, alice, tiny_model
):
    client.force_login(alice)

    response = client.post(
        "/create/", {"prompt": "a fisherman", "model": "tiny", "seed": "abc", "steps": "500"}
    )

    page = page_of(response)
    assert "Enter a whole number." in described_by(page, "seed")
    assert "Must be between 1 and 50." in described_by(page, "steps")


def test_an_invalid_field_is_marked_for_eyes_and_screen_readers(client, alice, tiny_model):
    client.force_login(alice)

    page = page_of(client.post("/create/", {"model": "tiny", **BAD_FIELDS}))

    for name in BAD_FIELDS:
        field = page.by_name[name]
        assert field.get("aria-invalid") == "true", name
        error_id = f"id_{name}_error"
        assert error_id in field["aria-describedby"].split(), name
        assert page.by_id[error_id]["class"] == "errorlist", name
        assert page.by_name[name]["id"] in page.by_id  # the summary's link has a target
    assert page.by_name["style"].get("aria-invalid") is None  # only the bad ones
    # The summary at the top names each field with a link to it.
    summary = page.text_of["form-errors"]
    assert "Steps: Must be between 1 and 50." in summary


def test_the_site_stylesheet_marks_invalid_fields_by_shape_and_words_too(client, alice):
    # Site-wide (every form's invalid fields carry Django's aria-invalid), not the job form's.
    from django.contrib.staticfiles import finders

    with open(finders.find("gallery/likeness.css")) as file:
        css = file.read()
    rule = css[css.index('textarea[aria-invalid="true"]') :]
    rule = rule[: rule.index("}")]
    assert "border: 2px solid" in rule  # thicker than a valid field's 1px
    assert "background-image" in rule  # a warning sign inside the field
    assert 'content: " (needs a change)"' in css  # and words by its label


# --- The advanced settings: folded, opened on their errors ------------------------------


def test_the_advanced_settings_are_folded_and_the_main_action_follows_the_prompt(
    client, alice, tiny_model
):
    client.force_login(alice)
    html = client.get("/create/").content.decode()
    page = Page(html)

    assert "open" not in advanced(page)
    folded = html[
        html.index('id="advanced"') : html.index("</details>", html.index('id="advanced"'))
    ]
    for name in (
        "negative_prompt",
        "model",
        "seed",
        "steps",
        "guidance_scale",
        "width",
        "height",
        "scheduler",
        "num_images",
    ):
        assert f'name="{name}"' in folded, name
    assert 'name="prompt"' not in folded and 'name="style"' not in folded
    assert html.index('name="prompt"') < html.index("Paint it</button>")


def test_the_advanced_settings_open_when_one_of_them_has_an_error(client, alice, tiny_model):
    client.force_login(alice)

    only_prompt = page_of(client.post("/create/", {"prompt": "", "model": "tiny"}))
    with_steps = page_of(client.post("/create/", {"prompt": "a sailor", "steps": "500"}))

    assert "open" not in advanced(only_prompt)
    assert "open" in advanced(with_steps)


# --- The demo model's notice ------------------------------------------------------------


def test_members_see_a_plain_sentence_about_the_demo_model_and_staff_the_command(
    client, alice, mod, tiny_model
):
    client.force_login(alice)
    member_page = client.get("/create/").content.decode()
    client.force_login(mod)
    staff_page = client.get("/create/").content.decode()

    sentence = "This demo model paints abstract shapes; an administrator can add a real model."
    assert sentence in member_page and sentence in staff_page
    assert "manage.py add_model" not in member_page
    assert "manage.py add_model" in staff_page


def test_a_job_page_of_the_demo_model_shows_members_no_shell_command(client, alice, tiny_model):
    job = services.job_submit(user=alice, spec={"prompt": "a sailor"})
    client.force_login(alice)

    html = client.get(job.get_absolute_url()).content.decode()

    assert "This demo model paints abstract shapes" in html
    assert "manage.py" not in html


# --- What a style adds ------------------------------------------------------------------


def test_the_form_shows_what_each_style_adds_to_the_prompt(
    client, alice, tiny_model, style_presets
):
    client.force_login(alice)

    response = client.post(
        "/create/", {"prompt": "a detective", "style": "film-noir", "steps": "500"}
    )

    html = response.content.decode()
    page = Page(html)
    # Under the select, for the chosen style (the script keeps it current)...
    adds = described_by(page, "style")
    assert "Adds “film noir portrait of” before your prompt" in adds
    assert (
        "“black and white, venetian blind shadows, 1940s, cigarette smoke, high contrast” after it"
        in adds
    )
    assert "avoid “color, cheerful, flat lighting”" in adds
    # ...each option carrying its words for the script...
    option = html[html.index('value="film-noir"') - 200 : html.index('value="film-noir"') + 300]
    assert 'data-before="film noir portrait of"' in option
    assert 'data-negative="color, cheerful, flat lighting"' in option
    # ...and every style listed for a browser without script.
    assert "What each style adds" in html
    assert "“ukiyo-e woodblock print portrait of”" in html


def test_without_a_style_the_form_says_the_prompt_is_painted_as_written(
    client, alice, tiny_model, style_presets
):
    client.force_login(alice)
    page = page_of(client.get("/create/"))

    assert "Your prompt is painted as you write it." in described_by(page, "style")


def test_the_sampler_options_are_named_as_members_know_them(client, alice, tiny_model):
    client.force_login(alice)
    html = client.get("/create/").content.decode()
    select = html[
        html.index('name="scheduler"') : html.index("</select>", html.index('name="scheduler"'))
    ]

    labels = re.findall(r">([^<]+)</option>", select)
    assert labels[:3] == ["Model default", "Euler", "Euler a"]
    assert not [label for label in labels if "Scheduler" in label]


# --- The remix form ---------------------------------------------------------------------


@pytest.fixture
def parent(alice, tiny_model):
    job = services.job_submit(user=alice, spec={"prompt": "a lighthouse keeper", "steps": 20})
    (portrait,) = paint_job(job.pk)
    return portrait_update(portrait=portrait, by=alice, data={"visibility": "public"})


def test_the_remix_form_shows_the_picture_being_remixed(client, bob, parent):
    client.force_login(bob)

    response = client.get(f"/create/?remix={parent.public_id}")

    html = response.content.decode()
    page = Page(html)
    thumbnail = reverse("portraits:thumbnail", kwargs={"public_id": parent.public_id})
    thumbnails = [img for img in page.images if img["src"] == thumbnail]
    assert thumbnails and "a lighthouse keeper" in thumbnails[0]["alt"]
    assert "by Alice Liddell" in html


def test_image_to_image_is_a_choice_with_a_strength_slider_explained_in_words(client, bob, parent):
    client.force_login(bob)

    html = client.get(f"/create/?remix={parent.public_id}").content.decode()

    page = Page(html)
    choices = {radio["value"]: radio for radio in page.radios if radio["name"] == "start_from"}
    assert set(choices) == {"recipe", "picture"}
    assert "checked" in choices["recipe"]  # a remix paints anew unless the member chooses
    assert "Paint anew from the recipe" in html and "Start from this picture" in html
    slider = page.by_name["init_strength"]
    assert (slider["type"], slider["min"], slider["max"]) == ("range", "0.05", "1")
    assert "Low keeps the picture, high repaints it." in described_by(page, "init_strength")
    # Said before painting: the parent's 20 steps at the slider's 0.5.
    assert "Runs 10 of 20 steps: strength 0.5." in described_by(page, "init_strength")
    assert page.text_of["strength-value"] == "0.5"


def test_the_steps_image_to_image_runs_are_said_for_what_was_posted(client, bob, parent):
    client.force_login(bob)

    page = page_of(
        client.post(
            f"/create/?remix={parent.public_id}",
            {"prompt": "", "start_from": "picture", "init_strength": "0.25", "steps": "12"},
        )
    )

    assert "Runs 3 of 12 steps: strength 0.25." in page.text_of["img2img-steps"]


def test_painting_anew_ignores_the_slider_and_starting_from_the_picture_uses_it(
    client, bob, parent
):
    client.force_login(bob)
    form = {"prompt": "at night", "model": "tiny", "steps": "20", "init_strength": "0.3"}

    anew = client.post(f"/create/?remix={parent.public_id}", {**form, "start_from": "recipe"})
    over = client.post(f"/create/?remix={parent.public_id}", {**form, "start_from": "picture"})

    assert anew.status_code == 302 and over.status_code == 302
    jobs = GenerationJob.objects.filter(user__username="bob").order_by("created_at")
    assert [job.init_strength for job in jobs] == [None, 0.3]
    assert all(job.parent == parent for job in jobs)


def test_a_strength_too_low_to_run_a_step_is_refused_before_painting(bob, parent):
    with pytest.raises(DomainError) as caught:
        services.job_submit_remix(
            user=bob, portrait=parent, changes={"steps": 4, "init_strength": 0.1}
        )

    assert "leave no step to paint" in caught.value.field_errors["init_strength"][0]
    assert not GenerationJob.objects.filter(user=bob).exists()


# --- The API: every error at once, one voice --------------------------------------------


def test_the_api_returns_every_bad_field_at_once_in_the_site_s_words(alice_api, tiny_model):
    response = alice_api.post(
        "/api/v1/jobs/",
        {
            "prompt": "",
            "seed": "abc",
            "num_images": 9,
            "steps": 500,
            "guidance_scale": 99,
            "width": 100,
            "scheduler": "Nonsense",
            "colour": "red",
        },
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors == {
        "prompt": ["Describe the portrait you want."],
        "seed": ["Enter a whole number."],
        "num_images": ["Must be between 1 and 4."],
        "steps": ["Must be between 1 and 50."],
        "guidance_scale": ["Must be between 0 and 20."],
        "width": ["Must be a multiple of 8 (try 96)."],
        "scheduler": [errors["scheduler"][0]],
        "colour": ["Unknown field."],
    }
    assert errors["scheduler"][0].startswith("Choose one of: ")
    assert not FOREIGN_VOICE.search(response.content.decode())
    assert not GenerationJob.objects.exists()


def test_the_api_s_own_type_checks_speak_the_site_s_words(alice_api, tiny_model):
    response = alice_api.post(
        "/api/v1/jobs/",
        {"prompt": "a sailor", "guidance_scale": "lots", "model": "not a slug!", "steps": None},
        format="json",
    )

    errors = response.json()["errors"]
    assert errors["guidance_scale"] == ["Enter a number."]
    assert errors["model"] == ["Unknown model “not a slug!”."]
    assert errors["steps"] == ["Leave it out for the model's default."]


def test_the_remix_api_returns_every_bad_field_at_once(bob_api, parent):
    response = bob_api.post(
        f"/api/v1/portraits/{parent.public_id}/remix/",
        {"steps": "many", "init_strength": 2, "guidance_scale": 99},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "steps": ["Enter a whole number."],
        "init_strength": ["Must be between 0 and 1."],
        "guidance_scale": ["Must be between 0 and 20."],
    }


def test_a_form_filled_from_an_image_to_image_job_starts_from_the_picture_at_its_strength(
    client, bob, parent
):
    job = services.job_submit_remix(
        user=bob, portrait=parent, changes={"prompt": "at dusk", "init_strength": 0.37}
    )
    client.force_login(bob)

    page = page_of(client.get(f"/create/?remix={parent.public_id}&from={job.pk}"))

    checked = [radio["value"] for radio in page.radios if "checked" in radio]
    assert checked == ["picture"]
    slider = page.by_name["init_strength"]
    # Off the slider's notches: shown as it is, not snapped to 0.35 and resubmitted so.
    assert (slider["value"], slider["step"]) == ("0.37", "any")
    assert "Runs 7 of 20 steps: strength 0.37." in described_by(page, "init_strength")


def test_the_sampler_s_empty_choice_names_the_model_s_own_sampler(
    client, alice, tiny_model, turbo_model
):
    turbo_model.default_scheduler = "EulerAncestralDiscreteScheduler"
    turbo_model.save()
    client.force_login(alice)

    html = client.post("/create/", {"prompt": "", "model": "turbo"}).content.decode()

    assert '<option value="" selected>Model default (Euler a)</option>' in html
    turbo_option = html[html.index('value="turbo"') - 400 : html.index('value="turbo"') + 400]
    assert 'data-default-sampler="Model default (Euler a)"' in turbo_option
    assert 'data-default-sampler="Model default"' in html  # tiny brings its own


def test_too_long_a_prompt_is_said_in_the_site_s_words_on_the_page_and_in_the_api(
    client, alice, alice_api, tiny_model
):
    client.force_login(alice)
    long = "x" * 1001

    page = page_of(client.post("/create/", {"prompt": long, "negative_prompt": long}))
    body = alice_api.post(
        "/api/v1/jobs/", {"prompt": long, "negative_prompt": long}, format="json"
    ).json()

    said = "At most 1000 characters (this has 1001)."
    assert said in described_by(page, "prompt") and said in described_by(page, "negative_prompt")
    assert body["errors"] == {"prompt": [said], "negative_prompt": [said]}
