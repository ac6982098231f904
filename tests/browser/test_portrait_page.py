"""The portrait page in a real Chromium (issue 11): a small picture shown large and crisp
at desktop and phone widths, and a visitor's "Sign in to remix" that ends on the remix form."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from generation.services import job_submit
from portraits.services import portrait_update
from tests.browser.actions import fill, next_page_after
from tests.conftest import PASSWORD
from tests.support import paint_job

pytestmark = [pytest.mark.browser]


def _picture(driver) -> dict:
    return driver.execute_script(
        """
        const img = document.querySelector('.portrait-image img');
        const column = img.closest('.portrait-image');
        return {
          width: img.getBoundingClientRect().width,
          column: column.getBoundingClientRect().width,
          rendering: getComputedStyle(img).imageRendering,
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          caption: document.querySelector('.portrait-image figcaption').textContent,
        };
        """
    )


def test_a_small_portrait_is_shown_large_and_a_visitor_signs_in_to_remix_it(
    embedded_site, browser, make_user
):
    alice, _ = make_user("alice"), make_user("bob")
    (portrait,) = paint_job(
        job_submit(
            user=alice, spec={"prompt": "a lighthouse keeper", "width": 128, "height": 128}
        ).pk
    )
    portrait_update(portrait=portrait, by=alice, data={"visibility": "public"})
    page = f"{embedded_site.url}{portrait.get_absolute_url()}"

    browser.set_window_size(1400, 1000)
    browser.get(page)
    wide = _picture(browser)
    # Scaled up by a whole number, as large as its column allows, with hard pixel edges.
    assert wide["width"] % 128 == 0 and wide["width"] >= 4 * 128
    assert wide["column"] - wide["width"] < 128
    assert wide["rendering"] == "pixelated"
    assert "128 × 128 px original" in wide["caption"]

    browser.set_window_size(390, 900)
    browser.get(page)
    narrow = _picture(browser)
    assert narrow["overflow"] == 0
    assert narrow["width"] == narrow["column"] > 2 * 128  # fills the phone's column

    next_page_after(browser, lambda: browser.find_element(By.LINK_TEXT, "Sign in to remix").click())
    fill(browser, "login", "bob")
    fill(browser, "password", PASSWORD)
    next_page_after(
        browser,
        lambda: browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click(),
    )
    WebDriverWait(browser, 20).until(ec.url_contains(f"remix={portrait.public_id}"))
    assert browser.find_element(By.NAME, "prompt").get_attribute("value") == "a lighthouse keeper"
