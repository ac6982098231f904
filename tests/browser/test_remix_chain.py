"""Three people in a browser: an original, a remix of it, a remix of the remix.

Each of them then sees the whole chain with who changed what, and the file they download
carries its recipe and a Content Credentials manifest naming its parent.
"""

from __future__ import annotations

import urllib.request

import pytest
from django.conf import settings
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from portraits import credentials, imagefiles
from portraits.dev_ca import DEV_CA_CERT_NAME
from portraits.models import Portrait
from tests.browser.actions import fill, log_in

pytestmark = [pytest.mark.browser, pytest.mark.inference]


def paint_and_open_portrait(driver) -> str:
    """Submit the form on the page, wait for the job, open its portrait, make it public."""
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait = WebDriverWait(driver, 90)
    wait.until(ec.text_to_be_present_in_element((By.ID, "job-status"), "Succeeded"))
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#job-portraits figure a"))).click()
    wait.until(ec.presence_of_element_located((By.ID, "credits")))
    url = driver.current_url
    driver.find_element(By.PARTIAL_LINK_TEXT, "Edit title").click()
    driver.find_element(By.CSS_SELECTOR, "input[name=visibility][value=public]").click()
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait.until(ec.url_to_be(url))
    return url


def download_as(driver, url: str) -> bytes:
    """GET ``url`` with the browser's cookies (its session): what "Download PNG" saves."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    request = urllib.request.Request(url, headers={"Cookie": cookies})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "image/png"
        return response.read()


def test_three_people_make_a_chain_and_everyone_sees_who_changed_what(
    embedded_site, browser, make_user
):
    for name in ("alice", "bob", "carol"):
        make_user(name)

    log_in(browser, embedded_site, "alice")
    browser.get(embedded_site.url + "/create/")
    fill(browser, "prompt", "a lighthouse keeper with a grey beard")
    browser.find_element(By.CSS_SELECTOR, "#advanced > summary").click()  # "More settings"
    fill(browser, "steps", 6)
    original_url = paint_and_open_portrait(browser)

    log_in(browser, embedded_site, "bob")
    browser.get(original_url)
    browser.find_element(By.LINK_TEXT, "Remix").click()
    assert (
        browser.find_element(By.NAME, "prompt")
        .get_attribute("value")
        .startswith("a lighthouse keeper")
    )
    fill(browser, "prompt", "a lighthouse keeper with a red beard at night")
    browser.find_element(By.CSS_SELECTOR, "input[name=start_from][value=picture]").click()
    slider = browser.find_element(By.NAME, "init_strength")
    browser.execute_script(
        "arguments[0].value = '0.6';"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        slider,
    )
    assert browser.find_element(By.ID, "strength-value").text == "0.6"
    remix_url = paint_and_open_portrait(browser)

    log_in(browser, embedded_site, "carol")
    browser.get(remix_url)
    browser.find_element(By.LINK_TEXT, "Remix").click()
    Select(browser.find_element(By.NAME, "style")).select_by_visible_text("Watercolour")
    browser.find_element(By.CSS_SELECTOR, "#advanced > summary").click()  # "More settings"
    fill(browser, "guidance_scale", 9)
    final_url = paint_and_open_portrait(browser)

    final = Portrait.objects.get(author__username="carol")
    assert final.depth == 2
    ancestors = Portrait.objects.filter(pk__in=final.ancestor_ids).order_by("depth")
    assert [p.author.username for p in ancestors] == ["alice", "bob"]

    for viewer in ("alice", "bob", "carol"):
        log_in(browser, embedded_site, viewer)
        browser.get(final_url)
        credits = browser.find_element(By.CSS_SELECTOR, "ol.credits").text
        assert credits.index("alice") < credits.index("bob") < credits.index("carol"), credits
        steps = browser.find_elements(By.CSS_SELECTOR, "ol.lineage > li")
        assert len(steps) == 3
        assert "alice" in steps[0].text
        assert "bob" in steps[1].text
        # bob's step shows the word-level prompt change and the image-to-image start
        assert browser.find_elements(By.CSS_SELECTOR, "ol.lineage > li:nth-child(2) .diff-add")
        assert "red" in steps[1].text and "0.6" in steps[1].text
        assert "carol" in steps[2].text and "Watercolour" in steps[2].text

    # The last viewer (carol) downloads the final remix as the page's link does.
    link = browser.find_element(By.PARTIAL_LINK_TEXT, "Download PNG").get_attribute("href")
    data = download_as(browser, link)
    parsed = imagefiles.parse_a1111_parameters(imagefiles.read_png_metadata(data)["parameters"])
    assert "a lighthouse keeper with a red beard at night" in parsed["prompt"]
    assert (parsed["params"]["CFG scale"], parsed["params"]["Style"]) == ("9.0", "Watercolour")
    anchor = (settings.C2PA_SIGNING_CERTS.parent / DEV_CA_CERT_NAME).read_bytes()
    report = credentials.read_manifest(data, trust_anchors_pem=anchor)
    assert report["valid"] and report["trusted"], report["validation_errors"]
    assert report["url"].endswith(f"/p/{final.public_id}/")
    bobs = ancestors[1]
    with bobs.image.open("rb") as handle:
        bobs_label = credentials.read_manifest(handle.read())["active_manifest"]["label"]
    assert report["parent"] == {
        "title": f"Likeness portrait {bobs.public_id}",
        "relationship": "parentOf",
        "manifest_label": bobs_label,
        "description": None,
    }
