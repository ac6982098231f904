"""A newcomer signs up, paints a portrait and watches it paint, in a real browser."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from generation.models import GenerationJob
from tests.browser.actions import fill, log_in

pytestmark = [pytest.mark.browser, pytest.mark.inference]

# Records every value the progress bar and the live preview take, from page load on.
WATCH = """
window.__seen = {progress: [], previews: []};
const bar = document.getElementById('job-progress');
new MutationObserver(() => window.__seen.progress.push(Number(bar.value)))
  .observe(bar, {attributes: true, attributeFilter: ['value']});
// The preview's <img> is made when the first preview arrives (never one without a picture).
new MutationObserver(() => {
  const img = document.getElementById('job-preview');
  if (img) window.__seen.previews.push(img.getAttribute('src'));
}).observe(document.getElementById('job-canvas'),
           {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
"""


def test_newcomer_signs_up_and_watches_a_portrait_paint(embedded_site, browser):
    wait = WebDriverWait(browser, 60)
    browser.get(embedded_site.url + "/accounts/signup/")
    fill(browser, "email", "newcomer@example.com")
    fill(browser, "username", "newcomer")
    fill(browser, "password1", "a-long-and-unusual-passphrase")
    fill(browser, "password2", "a-long-and-unusual-passphrase")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.LINK_TEXT, "Create")))

    browser.find_element(By.LINK_TEXT, "Create").click()
    assert "paints abstract shapes" in browser.find_element(By.ID, "demo-model-notice").text
    fill(browser, "prompt", "an astronomer by candlelight")
    Select(browser.find_element(By.NAME, "style")).select_by_visible_text("Baroque chiaroscuro")
    browser.find_element(By.CSS_SELECTOR, "#advanced > summary").click()  # "More settings"
    fill(browser, "steps", 40)
    fill(browser, "width", 256)
    fill(browser, "height", 256)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    wait.until(ec.presence_of_element_located((By.ID, "job-progress")))
    browser.execute_script(WATCH)
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-status"), "Succeeded"))
    image = wait.until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "#job-portraits figure img"))
    )
    # The <img> has its width and height from the start, so it is "visible" before its
    # file has arrived: wait for the decoded image itself.
    wait.until(
        lambda driver: driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        )
    )

    seen = browser.execute_script("return window.__seen")
    advancing = [value for value in seen["progress"] if 0 < value < 40]
    assert len(set(advancing)) >= 3, seen["progress"]  # the bar moved through the steps
    assert advancing == sorted(advancing)
    previews = [src for src in seen["previews"] if src and src.startswith("data:image/")]
    assert len(set(previews)) >= 3  # the live preview changed as it painted

    job = GenerationJob.objects.get(user__username="newcomer")
    assert job.status == GenerationJob.Status.SUCCEEDED
    assert job.style.slug == "baroque-chiaroscuro"
    browser.find_element(By.LINK_TEXT, "My jobs").click()
    assert "an astronomer by candlelight" in browser.find_element(By.TAG_NAME, "main").text


def start_a_long_job(browser, site, model, prompt: str, steps: int, until_step: int):
    """alice submits a job long enough to act on mid-way; returns once it is painting."""
    model.max_steps = 1000
    model.save()
    log_in(browser, site, "alice")
    browser.get(site.url + "/create/")
    fill(browser, "prompt", prompt)
    browser.find_element(By.CSS_SELECTOR, "#advanced > summary").click()  # "More settings"
    fill(browser, "steps", steps)
    fill(browser, "width", 256)
    fill(browser, "height", 256)
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait = WebDriverWait(browser, 120)
    wait.until(lambda d: int(d.find_element(By.ID, "job-step").text) >= until_step)
    return wait


def test_job_page_rides_out_a_server_restart_without_a_reload(
    embedded_site, browser, alice, tiny_model
):
    """The WebSocket drops with the server mid-job; the page reconnects by itself, and
    the restarted embedded server (whose memory queue died with it) picks the job up."""
    wait = start_a_long_job(
        browser, embedded_site, tiny_model, "a clockmaker, patient", steps=400, until_step=3
    )

    embedded_site.kill()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-connection"), "reconnecting"))
    embedded_site.start()

    wait.until(ec.text_to_be_present_in_element((By.ID, "job-status"), "Succeeded"))
    assert browser.find_element(By.ID, "job-connection").text == ""
    # The status changes with `done`; the portraits follow once the page has fetched them.
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#job-portraits figure img")))
    job = GenerationJob.objects.get(user=alice)
    assert job.status == GenerationJob.Status.SUCCEEDED, embedded_site.log()
    assert job.attempts == 2  # the restarted process painted it again from the start
    assert job.portraits.count() == 1


def test_cancel_button_stops_the_painting_and_keeps_no_image(
    embedded_site, browser, alice, tiny_model
):
    wait = start_a_long_job(
        browser, embedded_site, tiny_model, "a sitter who will not sit still", 600, until_step=2
    )

    browser.find_element(By.CSS_SELECTOR, "#job-cancel button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-status"), "Cancelled"))
    assert not browser.find_element(By.ID, "job-cancel").is_displayed()
    job = GenerationJob.objects.get(user=alice)
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.CANCELLED
    assert job.progress_step < 600
    assert not job.portraits.exists()
    browser.refresh()  # and the page, loaded afresh, agrees
    assert browser.find_element(By.ID, "job-status").text == "Cancelled"


def test_picking_another_model_shows_its_defaults_and_paints_with_them(
    embedded_site, browser, alice, tiny_model, turbo_model
):
    log_in(browser, embedded_site, "alice")
    browser.get(embedded_site.url + "/create/")
    steps = browser.find_element(By.NAME, "steps")
    guidance = browser.find_element(By.NAME, "guidance_scale")
    assert (steps.get_attribute("placeholder"), steps.get_attribute("value")) == ("4", "")
    assert browser.find_element(By.ID, "demo-model-notice").is_displayed()

    browser.find_element(By.CSS_SELECTOR, "#advanced > summary").click()  # "More settings"
    Select(browser.find_element(By.NAME, "model")).select_by_visible_text("Turbo")
    assert (steps.get_attribute("placeholder"), steps.get_attribute("max")) == ("2", "4")
    assert guidance.get_attribute("placeholder") == "0"
    assert browser.find_element(By.NAME, "width").get_attribute("placeholder") == "96"
    assert not browser.find_element(By.ID, "demo-model-notice").is_displayed()
    fill(browser, "prompt", "a jockey at full gallop")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()

    WebDriverWait(browser, 60).until(
        ec.text_to_be_present_in_element((By.ID, "job-status"), "Succeeded")
    )
    job = GenerationJob.objects.get(user=alice)
    assert job.model == turbo_model
    assert (job.steps, job.guidance_scale, job.width, job.height) == (2, 0.0, 96, 64)


def test_a_refused_cancel_shows_why_and_the_job_as_the_server_has_it(
    embedded_site, browser, alice, tiny_model
):
    """The job finished while the page still showed it running (here: its row is marked
    succeeded behind the page's back, with no event): Cancel must not claim "Cancelled"."""
    wait = start_a_long_job(
        browser, embedded_site, tiny_model, "a sitter who finished early", 600, until_step=2
    )
    job = GenerationJob.objects.get(user=alice)
    GenerationJob.objects.filter(pk=job.pk).update(status=GenerationJob.Status.SUCCEEDED)
    assert browser.find_element(By.ID, "job-status").text == "Running"

    browser.find_element(By.CSS_SELECTOR, "#job-cancel button").click()

    wait.until(ec.text_to_be_present_in_element((By.ID, "job-status"), "Succeeded"))
    assert "cannot be cancelled" in browser.find_element(By.ID, "job-notice").text
    assert not browser.find_element(By.ID, "job-cancel").is_displayed()
    job.refresh_from_db()
    assert job.status == GenerationJob.Status.SUCCEEDED


# Counts the WebSockets the page opens, from before its own scripts run.
COUNT_SOCKETS = """
window.__sockets = 0;
const Native = window.WebSocket;
window.WebSocket = function (...args) { window.__sockets += 1; return new Native(...args); };
Object.assign(window.WebSocket, Native);
window.WebSocket.prototype = Native.prototype;
"""


def test_a_page_whose_session_ended_stops_following_and_says_why(
    embedded_site, browser, alice, tiny_model
):
    """Signed out while the connection was down: the reconnect is refused with 4401, which
    the page must see (not an HTTP 403) and act on, instead of retrying for ever."""
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_SOCKETS})
    wait = start_a_long_job(
        browser, embedded_site, tiny_model, "a sitter, briefly", steps=400, until_step=2
    )
    embedded_site.kill()
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-connection"), "reconnecting"))
    browser.delete_all_cookies()  # the session is gone
    embedded_site.start()

    wait.until(ec.text_to_be_present_in_element((By.ID, "job-connection"), "signed out"))
    link = browser.find_element(By.CSS_SELECTOR, "#job-connection a")
    assert "/accounts/login/?next=/jobs/" in link.get_attribute("href")
    opened = browser.execute_script("return window.__sockets")
    time.sleep(4)  # longer than the page's back-off after one failed attempt (1 s, then 2 s)
    assert browser.execute_script("return window.__sockets") == opened
    assert "reconnecting" not in browser.find_element(By.ID, "job-connection").text
