"""The creative loop in a real browser: one idea over four styles, painted live side by side,
triaged with the keyboard, two compared with the slider and one picked, one published, and the
studio suggesting the picked style first, with why."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from generation.models import GenerationJob, Sweep, TasteSignal
from portraits.models import Portrait
from tests.browser.actions import fill, log_in, view_at_width
from tests.browser.test_job_pages import shots_dir
from tests.browser.test_pages import check_page

pytestmark = [pytest.mark.browser, pytest.mark.inference]

STYLES = ["watercolour", "film-noir", "neon-futurism", "ukiyo-e"]


def cell(driver, position: int):
    return driver.find_element(By.ID, f"cell-{position}")


def pressed(driver, position: int) -> str:
    """Which triage button of a cell is pressed ("" when none)."""
    buttons = cell(driver, position).find_elements(By.CSS_SELECTOR, "button[aria-pressed=true]")
    return buttons[0].get_attribute("data-choice") if buttons else ""


def test_a_member_sweeps_four_styles_keeps_two_by_keyboard_compares_and_publishes(
    embedded_site, browser, alice, tmp_path
):
    log_in(browser, embedded_site, "alice")
    view_at_width(browser, 1400)
    browser.get(f"{embedded_site.url}/create/")
    fill(browser, "prompt", "a lighthouse keeper")
    # The create form's "Try in several styles" opens the sweep page with its recipe.
    browser.find_element(By.XPATH, "//button[normalize-space()='Try in several styles']").click()
    WebDriverWait(browser, 20).until(lambda d: "/sweeps/new/" in d.current_url)
    assert browser.find_element(By.NAME, "prompt").get_attribute("value") == "a lighthouse keeper"
    for slug in STYLES:
        browser.find_element(By.CSS_SELECTOR, f"input[name=styles][value={slug}]").click()
    count = browser.find_element(By.ID, "sweep-count").text
    assert count == "4 cells will be painted."
    problems = check_page(browser, "i14-sweep-form", shots_dir(tmp_path))
    browser.execute_script("document.getElementById('advanced').open = true;")
    fill(browser, "steps", 3)
    browser.find_element(By.XPATH, "//button[normalize-space()='Paint the sweep']").click()

    # The board: four tiles, painting live over one socket, each ending with its picture.
    WebDriverWait(browser, 20).until(
        lambda d: "/sweeps/" in d.current_url and d.find_elements(By.ID, "board")
    )
    sweep = Sweep.objects.get()
    captions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".sweep-cell figcaption")]
    assert captions == ["Watercolour", "Film noir", "Neon futurism", "Ukiyo-e woodblock"]
    WebDriverWait(browser, 120).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".sweep-cell.status-succeeded")) == 4
    )
    assert all(
        img.get_attribute("src").endswith("/image/") or "/image" in img.get_attribute("src")
        for img in browser.find_elements(By.CSS_SELECTOR, ".sweep-cell img[data-role=picture]")
    )
    # One pipeline call painted them all (the worker's batching).
    assert len({job.batch_id for job in sweep.cells.all()}) == 1

    # Keyboard: focus the first tile, keep it, move right twice, keep that one too.
    cell(browser, 0).click()
    browser.switch_to.active_element.send_keys("k")
    WebDriverWait(browser, 20).until(lambda d: pressed(d, 0) == "keep")
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    assert browser.switch_to.active_element.get_attribute("id") == "cell-1"
    browser.switch_to.active_element.send_keys("d")
    WebDriverWait(browser, 20).until(lambda d: pressed(d, 1) == "discard")
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    browser.switch_to.active_element.send_keys("k")
    WebDriverWait(browser, 20).until(lambda d: pressed(d, 2) == "keep")
    # C on the focused tile compares it with the one decided before it.
    cell(browser, 0).click()
    browser.switch_to.active_element.send_keys("c")
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "compare").is_displayed())
    assert browser.find_element(By.ID, "compare-left-caption").text == "Neon futurism"
    assert browser.find_element(By.ID, "compare-right-caption").text == "Watercolour"
    slider = browser.find_element(By.ID, "compare-range")
    for _ in range(5):
        slider.send_keys(Keys.ARROW_LEFT)
    width = browser.execute_script("return document.getElementById('compare-over').style.width;")
    assert width == f"{int(slider.get_attribute('value'))}%" and width != "50%"
    # Pick one of the two: the strongest signal of the member's taste.
    browser.find_element(By.XPATH, "//button[normalize-space()='I prefer Neon futurism']").click()
    WebDriverWait(browser, 20).until(
        lambda d: (
            d.find_element(By.ID, "board-announce").get_attribute("textContent")
            == "You preferred Neon futurism to Watercolour."
        )
    )
    said = browser.find_element(By.ID, "pick-said").text
    assert said == "You preferred Neon futurism to Watercolour."

    # Publish the first kept one, from its tile.
    cell(browser, 0).find_element(By.XPATH, ".//button[normalize-space()='Publish']").click()
    WebDriverWait(browser, 20).until(
        lambda d: cell(d, 0).find_elements(By.CSS_SELECTOR, "[data-role=published]")
    )
    problems.update(check_page(browser, "i14-sweep-board", shots_dir(tmp_path)))

    # What the board did is the board's state, and the portraits', as a reload shows.
    choices = dict(sweep.cells.values_list("sweep_position", "sweep_choice"))
    assert choices == {0: "keep", 1: "discard", 2: "keep", 3: ""}
    sweep.refresh_from_db()
    assert (sweep.compare_left.sweep_position, sweep.compare_right.sweep_position) == (2, 0)
    first = sweep.cells.get(sweep_position=0)
    assert Portrait.objects.get(job=first).visibility == Portrait.Visibility.PUBLIC
    assert Portrait.objects.exclude(job=first).filter(visibility="public").count() == 0
    browser.refresh()
    assert pressed(browser, 0) == "keep" and pressed(browser, 2) == "keep"
    assert browser.find_element(By.ID, "compare").is_displayed()
    assert set(GenerationJob.objects.values_list("status", flat=True)) == {"succeeded"}

    # The studio learned: the kept and picked style is suggested first, and says why.
    pick = TasteSignal.objects.get(kind="prefer")
    assert "style:neon-futurism" in pick.features and "style:watercolour" in pick.against
    browser.get(f"{embedded_site.url}/taste/")
    suggested = browser.find_elements(By.CSS_SELECTOR, "#suggested-styles li")
    assert suggested[0].text.startswith("Neon futurism\nYou kept 1 of 1 Neon futurism portrait")
    problems.update(check_page(browser, "i14-taste", shots_dir(tmp_path)))
    browser.get(f"{embedded_site.url}/create/")
    assert "Neon futurism" in browser.find_element(By.ID, "taste-hint").text
    problems.update(check_page(browser, "i14-create-suggested", shots_dir(tmp_path)))
    assert not problems, problems
