"""The create and remix form in a real browser: what a style adds, said as it is chosen;
the strength slider's number and the steps image-to-image will run, as it moves; the
advanced settings folded on a phone and opened on their errors.

Screenshots of each state at 1400 and 390 px go to LIKENESS_SCREENSHOTS when it is set
(a folder; otherwise the test's own tmp dir), to look at as a person would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from generation import services
from generation.models import GenerationJob
from portraits.services import portrait_update
from tests.browser.actions import (
    fill,
    log_in,
    save_full_page_screenshot,
    submit_form_of,
    view_at_width,
)
from tests.support import paint_job

pytestmark = [pytest.mark.browser]

PHONE, DESKTOP = 390, 1400


def shots_dir(tmp_path) -> Path:
    folder = Path(os.environ.get("LIKENESS_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(browser, tmp_path, name: str) -> None:
    """The page as it stands, at a desktop's and a phone's width (left at the phone's)."""
    # A focused field's caret and spinners smear a full-page capture.
    browser.execute_script("document.activeElement && document.activeElement.blur()")
    for width in (DESKTOP, PHONE):
        view_at_width(browser, width)
        save_full_page_screenshot(browser, shots_dir(tmp_path) / f"h3-{name}-{width}.png")


def text_of(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def test_choosing_a_style_shows_what_it_adds_to_the_prompt(embedded_site, browser, alice, tmp_path):
    log_in(browser, embedded_site, "alice")
    browser.get(embedded_site.url + "/create/")
    assert text_of(browser, "id_style_helptext") == "Your prompt is painted as you write it."

    Select(browser.find_element(By.NAME, "style")).select_by_visible_text("Film noir")

    said = text_of(browser, "id_style_helptext")
    assert said.startswith("Adds “film noir portrait of” before your prompt and “black and white")
    assert said.endswith("Asks the model to avoid “color, cheerful, flat lighting”.")
    shoot(browser, tmp_path, "create-style")

    Select(browser.find_element(By.NAME, "style")).select_by_visible_text("No style")
    assert text_of(browser, "id_style_helptext") == "Your prompt is painted as you write it."


def test_on_a_phone_paint_it_follows_the_prompt_and_a_bad_setting_opens_the_fold(
    embedded_site, browser, alice, tmp_path
):
    log_in(browser, embedded_site, "alice")
    view_at_width(browser, PHONE, height=844)
    browser.get(embedded_site.url + "/create/")
    button = browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]")
    assert button.text == "Paint it"
    # Reachable without scrolling past the advanced settings: folded, and the button on
    # the first screen.
    assert not browser.find_element(By.NAME, "steps").is_displayed()
    bottom = browser.execute_script("return arguments[0].getBoundingClientRect().bottom", button)
    assert bottom <= 844
    shoot(browser, tmp_path, "create")

    fill(browser, "prompt", "a harbour pilot")
    submit_form_of(browser, "prompt", steps=500, guidance_scale=99)

    assert browser.find_element(By.ID, "advanced").get_attribute("open") is not None
    steps = browser.find_element(By.NAME, "steps")
    assert steps.is_displayed() and steps.get_attribute("aria-invalid") == "true"
    assert steps.value_of_css_property("border-top-width") == "2px"  # a border, not colour
    assert "Must be between 1 and 50." in text_of(browser, "id_steps_error")
    assert "Must be between 0 and 20." in text_of(browser, "id_guidance_scale_error")
    prompt = browser.find_element(By.NAME, "prompt")
    assert prompt.get_attribute("aria-invalid") is None
    assert prompt.value_of_css_property("border-top-width") == "1px"
    shoot(browser, tmp_path, "create-errors")


@pytest.fixture
def parent(alice, tiny_model):
    """alice's public portrait of 20 steps, stored as the worker would (no painting)."""
    job = services.job_submit(user=alice, spec={"prompt": "a lighthouse keeper", "steps": 20})
    (portrait,) = paint_job(job.pk)
    return portrait_update(portrait=portrait, by=alice, data={"visibility": "public"})


def test_the_strength_slider_says_its_number_and_the_steps_it_will_run(
    embedded_site, browser, bob, parent, tmp_path
):
    log_in(browser, embedded_site, "bob")
    browser.get(f"{embedded_site.url}/create/?remix={parent.public_id}")
    parent_figure = browser.find_element(By.CSS_SELECTOR, "figure.remix-parent")
    assert "a lighthouse keeper" in parent_figure.text and "by Alice Liddell" in parent_figure.text
    image = parent_figure.find_element(By.TAG_NAME, "img")
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        )
    )
    strength = browser.find_element(By.ID, "strength-block")
    assert not strength.is_displayed()  # "Paint anew from the recipe" is chosen

    browser.find_element(By.CSS_SELECTOR, "input[name=start_from][value=picture]").click()
    assert strength.is_displayed()
    assert text_of(browser, "strength-value") == "0.5"
    assert text_of(browser, "img2img-steps") == "Runs 10 of 20 steps: strength 0.5."

    browser.find_element(By.NAME, "init_strength").send_keys(Keys.ARROW_RIGHT)
    assert text_of(browser, "strength-value") == "0.55"
    assert text_of(browser, "img2img-steps") == "Runs 11 of 20 steps: strength 0.55."

    browser.find_element(By.CSS_SELECTOR, "#advanced > summary").click()
    fill(browser, "steps", 8)
    assert text_of(browser, "img2img-steps") == "Runs 4 of 8 steps: strength 0.55."
    shoot(browser, tmp_path, "remix")
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, 60).until(
        lambda d: "/jobs/" in d.current_url or d.find_elements(By.ID, "form-errors")
    )
    assert "/jobs/" in browser.current_url, text_of(browser, "form-errors")
    job = GenerationJob.objects.get(user=bob)
    assert (job.parent_id, job.steps, job.init_strength) == (parent.pk, 8, 0.55)
