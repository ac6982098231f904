"""The site's chrome in a real browser: the member's menu on a phone, and on a desktop with
JavaScript off, the API tokens page's Copy button and revoke dialog, and the site's own 404
page on `make run`'s site.

Screenshots go to ``$LIKENESS_SCREENSHOTS`` when set, else to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import ApiToken
from tests.browser.actions import (
    fill,
    log_in,
    next_page_after,
    save_full_page_screenshot,
    view_at_width,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PHONE, DESKTOP = 390, 1400
# One row of the header: the brand's line plus the nav's padding, with room to spare; the
# links wrapped to three rows at 390 px measured ~150 px.
ONE_ROW_MAX_PX = 72


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("LIKENESS_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _header_height(browser) -> float:
    return browser.execute_script(
        "return document.querySelector('.site-header').getBoundingClientRect().height;"
    )


def _overflows(browser) -> bool:
    return browser.execute_script(
        "return document.documentElement.scrollWidth > window.innerWidth;"
    )


def _overflowing(browser) -> list[str]:
    """The innermost elements sticking out on the right: what to fix."""
    return browser.execute_script(
        """
        const width = window.innerWidth;
        return [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > width + 1
                         && ![...e.children].some((c) => c.getBoundingClientRect().right > width + 1))
          .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
        """
    )


# What a browser that does not know ::details-content makes of the site's stylesheets: an
# unknown selector drops its whole rule, and an @supports that asks for it is false. Chromium
# knows it, so the test takes those rules out, as such a browser never read them.
_FORGET_DETAILS_CONTENT = """
function prune(list) {
  for (let i = list.cssRules.length - 1; i >= 0; i--) {
    const rule = list.cssRules[i];
    const asks = rule instanceof CSSSupportsRule ? rule.conditionText
      : rule instanceof CSSStyleRule ? rule.selectorText : "";
    if (asks.includes("::details-content")) list.deleteRule(i);
    else if (rule.cssRules) prune(rule);
  }
}
for (const sheet of document.styleSheets) prune(sheet);
"""


def test_a_members_menu_is_one_row_on_a_phone_and_the_usual_row_on_a_desktop(
    embedded_site, browser, alice, shots
):
    site, wait = embedded_site, WebDriverWait(browser, 20)
    log_in(browser, site, "alice")

    view_at_width(browser, PHONE)
    browser.get(site.url + "/")
    summary = browser.find_element(By.CSS_SELECTOR, ".nav-menu > summary")
    # By its address: a link text is what shows, and a closed menu shows none.
    my_jobs = browser.find_element(By.CSS_SELECTOR, ".nav-links a[href='/jobs/']")
    assert summary.is_displayed() and "Menu" in summary.text
    assert not my_jobs.is_displayed()
    assert _header_height(browser) <= ONE_ROW_MAX_PX
    brand = browser.find_element(By.CSS_SELECTOR, ".brand")
    assert (
        abs(
            brand.rect["y"]
            + brand.rect["height"] / 2
            - summary.rect["y"]
            - summary.rect["height"] / 2
        )
        < 8
    )  # side by side, on one line
    save_full_page_screenshot(browser, shots / "h4-menu-closed-390.png")
    assert not _overflows(browser), _overflowing(browser)

    # The menu drops down over the page (the header keeps its height) and leads on.
    summary.click()
    wait.until(ec.visibility_of(my_jobs))
    assert _header_height(browser) <= ONE_ROW_MAX_PX
    assert browser.find_element(By.CSS_SELECTOR, ".nav-menu .link-button").text == "Log out"
    save_full_page_screenshot(browser, shots / "h4-menu-open-390.png")
    # Escape closes it again, back on its button.
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(ec.invisibility_of_element(my_jobs))
    summary.click()
    wait.until(ec.visibility_of(my_jobs))
    next_page_after(browser, my_jobs.click)
    assert browser.current_url == site.url + "/jobs/"

    # A desktop shows every link in the row, as before; no "Menu" button.
    view_at_width(browser, DESKTOP)
    browser.get(site.url + "/")
    assert not browser.find_element(By.CSS_SELECTOR, ".nav-menu > summary").is_displayed()
    for text in ("Create", "My jobs", "My portraits", "Settings"):
        assert browser.find_element(By.LINK_TEXT, text).is_displayed()
    assert _header_height(browser) <= ONE_ROW_MAX_PX
    save_full_page_screenshot(browser, shots / "h4-home-1400.png")
    # nav.js keeps the menu open there: the same row in a browser without ::details-content.
    browser.execute_script(_FORGET_DETAILS_CONTENT)
    assert not browser.find_element(By.CSS_SELECTOR, ".nav-menu > summary").is_displayed()
    assert browser.find_element(By.LINK_TEXT, "My jobs").is_displayed()


def test_without_javascript_a_members_links_stay_within_reach_on_a_desktop(
    embedded_site, browser_without_javascript, alice, shots
):
    site, browser = embedded_site, browser_without_javascript

    # Selenium's own is_displayed() and link-text lookups count anything in a closed
    # <details> as hidden, whatever CSS shows: ask the browser what it renders instead.
    def seen(element) -> bool:
        return browser.execute_script(
            "const e = arguments[0]; return e.checkVisibility({visibilityProperty: true})"
            " && e.getBoundingClientRect().width > 0;",
            element,
        )

    browser.get(site.url + "/accounts/login/")
    fill(browser, "login", "alice")
    fill(browser, "password", PASSWORD)
    next_page_after(browser, browser.find_element(By.CSS_SELECTOR, "main form button").click)
    view_at_width(browser, DESKTOP)
    browser.get(site.url + "/")
    menu = browser.find_element(By.CSS_SELECTOR, ".nav-menu")
    summary = menu.find_element(By.CSS_SELECTOR, "summary")
    my_jobs = menu.find_element(By.CSS_SELECTOR, ".nav-links a[href='/jobs/']")
    assert "nav-menu-scripted" not in menu.get_attribute("class")  # nav.js did not run
    assert menu.get_attribute("open") is None

    # A browser that shows a closed <details>' content: the usual row, no "Menu" button.
    assert seen(my_jobs) and not seen(summary)
    save_full_page_screenshot(browser, shots / "h8-nojs-menu-1400.png")

    # One that cannot: the "Menu" button stays, and opens the links (no script needed).
    browser.execute_script(_FORGET_DETAILS_CONTENT)
    assert seen(summary) and not seen(my_jobs)
    summary.click()
    WebDriverWait(browser, 20).until(lambda _: seen(my_jobs))
    save_full_page_screenshot(browser, shots / "h8-nojs-old-browser-menu-open-1400.png")
    next_page_after(browser, my_jobs.click)
    assert browser.current_url == site.url + "/jobs/"


def test_a_new_token_copies_and_revoking_one_asks_first(embedded_site, browser, alice, shots):
    site, wait = embedded_site, WebDriverWait(browser, 20)
    log_in(browser, site, "alice")
    # What a person's click would be allowed: write the clipboard, and read it back here.
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": site.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )

    for width in (DESKTOP, PHONE):
        view_at_width(browser, width)
        browser.get(site.url + "/settings/tokens/")
        # A name as long as allowed and one word: it must wrap, not widen the page.
        fill(browser, "name", f"render-farm-{width}-" + "x" * 60)
        next_page_after(browser, browser.find_element(By.XPATH, "//button[.='Create token']").click)
        key = browser.find_element(By.ID, "new-token-key").text
        copy = browser.find_element(By.CSS_SELECTOR, "button[data-copy]")
        assert copy.is_displayed() and copy.text == "Copy"
        copy.click()
        wait.until(
            ec.text_to_be_present_in_element(
                (By.CSS_SELECTOR, "[data-copy-status]"), "Copied to the clipboard."
            )
        )
        assert (
            browser.execute_async_script(
                "navigator.clipboard.readText().then(arguments[0], () => arguments[0](null));"
            )
            == key
        )
        save_full_page_screenshot(browser, shots / f"h4-tokens-new-{width}.png")
        assert not _overflows(browser), _overflowing(browser)
        # The list fits as it is, its "Revoke…" in sight: no sideways scrolling inside it.
        assert browser.execute_script(
            "const wrap = document.querySelector('.table-wrap');"
            "return wrap.scrollWidth <= wrap.clientWidth;"
        )

    # "Revoke…" asks in a dialog; keeping the token closes it, revoking reloads the list.
    token = ApiToken.objects.get(name__startswith=f"render-farm-{PHONE}-")
    # Without JavaScript the link's own page asks (as a person would see it on a phone).
    browser.get(site.url + f"/settings/tokens/{token.pk}/revoke/")
    assert "Revoke the token" in browser.find_element(By.TAG_NAME, "h2").text
    save_full_page_screenshot(browser, shots / f"h4-tokens-revoke-page-{PHONE}.png")
    assert not _overflows(browser), _overflowing(browser)

    browser.get(site.url + "/settings/tokens/")
    link = browser.find_element(By.CSS_SELECTOR, f"a[href='/settings/tokens/{token.pk}/revoke/']")
    link.click()
    dialog = browser.find_element(By.ID, "revoke-dialog")
    wait.until(lambda d: dialog.get_attribute("open") is not None)
    assert token.name in dialog.text and "stop working at once" in dialog.text
    save_full_page_screenshot(browser, shots / f"h4-tokens-revoke-dialog-{PHONE}.png")
    assert not _overflows(browser), _overflowing(browser)
    dialog.find_element(By.XPATH, ".//button[.='Keep it']").click()
    wait.until(lambda d: dialog.get_attribute("open") is None)
    assert ApiToken.objects.filter(pk=token.pk).exists()

    link.click()
    wait.until(lambda d: dialog.get_attribute("open") is not None)
    next_page_after(browser, dialog.find_element(By.XPATH, ".//button[.='Revoke token']").click)
    assert (
        "is revoked; it no longer works" in browser.find_element(By.CSS_SELECTOR, ".messages").text
    )
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert ApiToken.objects.filter(user=alice).count() == 1


def test_the_embedded_site_shows_its_own_404_page_to_a_visitor(embedded_site, browser, shots):
    browser.get(embedded_site.url + "/no-such-page/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "This page does not exist"
    assert "URLconf" not in browser.page_source
    icon = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    assert icon.endswith("/static/gallery/favicon.svg")
    for width in (DESKTOP, PHONE):
        view_at_width(browser, width)
        browser.get(embedded_site.url + "/no-such-page/")
        save_full_page_screenshot(browser, shots / f"h4-404-{width}.png")
        assert not _overflows(browser), _overflowing(browser)
        # A visitor's links (Explore, Log in, Sign up, API) sit beside the brand.
        assert _header_height(browser) <= ONE_ROW_MAX_PX
