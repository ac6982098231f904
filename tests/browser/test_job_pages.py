"""The job page's states and "My jobs", live, in a real browser.

Jobs a test makes in its own process (``services.job_submit`` here) reach only this
process's broker, which nothing consumes: on the embedded site they stay queued, as long
as a test needs. Jobs submitted through the site's form are painted by its worker.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from generation import services
from generation.models import GenerationJob, GenerationModel
from portraits.services import portrait_delete, portrait_update
from tests.browser.actions import fill, log_in, submit_form_of, view_at_width
from tests.browser.test_pages import check_page
from tests.support import finish_job, paint_job

pytestmark = [pytest.mark.browser, pytest.mark.inference]

# Records the URL of every WebSocket a page opens, from before its own scripts run.
RECORD_SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = function (url, ...rest) { window.__sockets.push(String(url)); return new Native(url, ...rest); };
Object.assign(window.WebSocket, Native);
window.WebSocket.prototype = Native.prototype;
"""
IMAGES_WITHOUT_SOURCE = (
    "return [...document.images].filter((img) => !img.getAttribute('src')).length;"
)


def shots_dir(tmp_path) -> Path:
    shots = Path(os.environ.get("LIKENESS_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def shown(driver, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


def test_a_queued_remix_waits_visibly_and_once_cancelled_offers_the_way_forward(
    embedded_site, browser, alice, bob, tiny_model, tmp_path
):
    """Queued: a box that says so, no picture without a source. Its parent deleted and the
    job cancelled with the page open: the header says what lineage says, the progress
    goes, and "Paint again" / "Edit and resubmit" appear."""
    (parent,) = paint_job(services.job_submit(user=bob, spec={"prompt": "a glassblower"}).pk)
    portrait_update(portrait=parent, by=bob, data={"visibility": "public", "title": "Furnace"})
    job = services.job_submit_remix(user=alice, portrait=parent, changes={"prompt": "a potter"})
    log_in(browser, embedded_site, "alice")
    browser.get(f"{embedded_site.url}/jobs/{job.pk}/")

    assert browser.find_element(By.ID, "job-waiting").text == "Waiting in the queue"
    assert browser.execute_script(IMAGES_WITHOUT_SOURCE) == 0
    assert not shown(browser, "job-results") and not shown(browser, "job-ended")
    assert browser.find_element(By.LINK_TEXT, "Furnace")
    problems = check_page(browser, "h2-job-queued", shots_dir(tmp_path))

    portrait_delete(portrait=parent, by=bob)  # behind the page's back
    view_at_width(browser, 1400)
    browser.find_element(By.CSS_SELECTOR, "#job-cancel button").click()
    wait = WebDriverWait(browser, 20)
    wait.until(ec.visibility_of_element_located((By.ID, "job-ended")))

    assert browser.find_element(By.ID, "job-status").text == "Cancelled"
    header = browser.find_element(By.ID, "job-parent").text
    assert "a portrait by bob, no longer available" in header
    assert not browser.find_elements(By.LINK_TEXT, "Furnace")
    assert not shown(browser, "job-running") and not shown(browser, "job-canvas")
    assert not shown(browser, "job-results")
    assert browser.find_element(By.XPATH, "//button[normalize-space()='Paint again']")
    problems.update(check_page(browser, "h2-job-cancelled", shots_dir(tmp_path)))
    assert not problems, problems

    view_at_width(browser, 1400)
    browser.find_element(By.LINK_TEXT, "Edit and resubmit").click()
    wait.until(ec.presence_of_element_located((By.NAME, "prompt")))
    assert browser.find_element(By.NAME, "prompt").get_attribute("value") == "a potter"
    assert "remix=" not in browser.current_url  # its parent is gone: a new portrait


def test_the_page_says_why_a_job_waits_and_which_batch_painted_it(
    embedded_site, browser, alice, bob, tiny_model, tmp_path
):
    """Drawn by job.js from the job the server sends (as it is on every ``state`` and
    ``done``): the note of a queue no worker serves, and the batch a job shared."""
    big = GenerationModel.objects.get(pk=tiny_model.pk)
    big.pk, big.slug, big.name, big.queue, big.is_default = None, "big", "Big", "gpu-big", False
    big.save()  # no worker of the site serves "gpu-big"
    waiting = services.job_submit(user=alice, spec={"prompt": "a sailor", "model": "big"})
    first = services.job_submit(user=alice, spec={"prompt": "a lighthouse keeper"})
    services.job_submit(user=bob, spec={"prompt": "a violinist", "num_images": 2})
    leader = services.job_start(job_id=first.pk, worker="gpu1@test")
    batch = services.job_claim_batch(leader=leader, max_images=8, window=0)
    assert len(batch) == 2
    for job in batch:
        finish_job(job)
    alone = services.job_submit(user=alice, spec={"prompt": "a cooper"})
    paint_job(alone.pk)
    log_in(browser, embedded_site, "alice")

    browser.get(f"{embedded_site.url}/jobs/{waiting.pk}/")
    note = browser.find_element(By.ID, "job-queue-note")
    assert note.is_displayed() and "No worker is serving this model" in note.text
    assert not shown(browser, "job-batch")
    problems = check_page(browser, "h13-job-waiting-for-a-worker", shots_dir(tmp_path))

    browser.get(f"{embedded_site.url}/jobs/{first.pk}/")
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "job-results")))
    line = browser.find_element(By.ID, "job-batch")
    assert line.is_displayed()
    assert line.text == "Painted together with 1 other job: 3 images in one pipeline call."
    assert not shown(browser, "job-queue-note")
    problems.update(check_page(browser, "h13-job-painted-in-a-batch", shots_dir(tmp_path)))

    browser.get(f"{embedded_site.url}/jobs/{alone.pk}/")
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "job-results")))
    assert not shown(browser, "job-batch") and not shown(browser, "job-queue-note")
    assert not problems, problems


def test_my_jobs_follows_its_rows_live_over_one_socket(
    embedded_site, browser, alice, tiny_model, tmp_path
):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_SOCKETS})
    finished = services.job_submit(user=alice, spec={"prompt": "a cooper at work"})
    (portrait,) = paint_job(finished.pk)
    waiting = services.job_submit(user=alice, spec={"prompt": "a waiting sitter"})
    tiny_model.max_steps = 1000
    tiny_model.save()
    log_in(browser, embedded_site, "alice")
    browser.get(embedded_site.url + "/create/")
    fill(browser, "prompt", "a weaver at her loom, watched from the list")
    submit_form_of(browser, "prompt", steps=120, width=128, height=128, num_images=2)
    live = GenerationJob.objects.exclude(pk__in=[finished.pk, waiting.pk]).get(user=alice)
    wait = WebDriverWait(browser, 120)
    # On its page: the waiting box gives way to the live preview once there is one.
    preview = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#job-canvas img")))
    assert preview.get_attribute("src").startswith("data:image/")
    assert not shown(browser, "job-waiting")

    browser.get(embedded_site.url + "/jobs/")
    row = f'tr[data-job-id="{live.pk}"]'

    def steps_shown(driver) -> int:
        text = driver.find_element(By.CSS_SELECTOR, f'{row} [data-role="progress-text"]').text
        return int(text.split(" of ")[0]) if " of " in text else -1

    first = wait.until(lambda d: steps_shown(d) if steps_shown(d) > 0 else None)
    wait.until(lambda d: steps_shown(d) > first)  # the row moved on, with no reload
    thumbs = browser.find_elements(By.CSS_SELECTOR, f'tr[data-job-id="{finished.pk}"] img')
    assert thumbs[0].get_attribute("src").endswith(f"/p/{portrait.public_id}/thumbnail/")
    waiting_row = browser.find_element(By.CSS_SELECTOR, f'tr[data-job-id="{waiting.pk}"]')
    assert waiting_row.find_element(By.CSS_SELECTOR, ".job-thumb-placeholder").text == "Queued"
    assert browser.execute_script(IMAGES_WITHOUT_SOURCE) == 0
    problems = check_page(browser, "h2-my-jobs", shots_dir(tmp_path))
    assert not problems, problems

    view_at_width(browser, 1400)
    wait.until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, f'{row} [data-role="status"]'), "Succeeded"
        )
    )
    thumb = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"{row} .job-thumb img")))
    wait.until(lambda d: d.execute_script("return arguments[0].naturalWidth > 0", thumb))
    sockets = browser.execute_script("return window.__sockets;")
    # One for the whole page, however many rows it follows; it asks for what changed
    # since the page was drawn.
    job_sockets = [url for url in sockets if "/ws/jobs/" in url]
    assert len(job_sockets) == 1 and "/ws/jobs/?since=" in job_sockets[0], sockets

    # The finished job: each picture with its seed and next steps, and the comparison.
    browser.get(f"{embedded_site.url}/jobs/{live.pk}/")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#job-portraits figure")) == 2
    browser.find_element(By.CSS_SELECTOR, "#job-compare summary").click()
    full = browser.find_elements(By.CSS_SELECTOR, "#job-compare img")
    wait.until(
        lambda d: all(d.execute_script("return arguments[0].naturalWidth > 0", i) for i in full)
    )
    assert [img.size["width"] for img in full] == [384, 384]  # 3 × 128 px, side by side
    assert full[0].location["y"] == full[1].location["y"]
    problems = check_page(browser, "h2-job-finished", shots_dir(tmp_path))
    assert not problems, problems
