"""A report taken from the portrait page through the moderators' queue to a decision, in a
real browser on the embedded site.

bob reports alice's portrait on its page (the site's report form); a moderator signs in
to the admin, finds it in the queue, opens the case, reads the reports and the portrait's
family, and hides it citing a rule with a reason. Then bob's notifications tell him the
outcome (without the moderator's name), alice's portrait page tells her it is hidden by
moderators with the rule and reason, and the public gallery no longer lists it.

Set ``LIKENESS_SCREENSHOTS`` to a folder to keep screenshots of the queue at 1280 and
390 px wide.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from gallery.models import Notification
from moderation.models import Case, ModerationAction, Report, Rule
from portraits.models import Portrait
from portraits.services import portrait_update
from tests import support
from tests.browser.actions import fill, log_in, next_page_after
from tests.browser.conftest import EmbeddedSite
from tests.conftest import PASSWORD
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.browser


@pytest.fixture
def site(transactional_db, style_presets, tmp_path):
    """The embedded site without a model to paint with: nothing here paints."""
    site = EmbeddedSite(tmp_path)
    site.start()
    try:
        yield site
    finally:
        support.stop(site.process)


def _published(author, title, prompt, parent=None):
    portrait = PortraitFactory(
        author=author,
        title=title,
        parent=parent,
        recipe=recipe_for(prompt),
        visibility=Portrait.Visibility.PRIVATE,
    )
    return portrait_update(portrait=portrait, by=author, data={"visibility": "public"})


def _screenshot(driver, name: str, width: int) -> None:
    folder = os.environ.get("LIKENESS_SCREENSHOTS")
    if not folder:
        return
    driver.set_window_size(width, 1000)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, 600), 3000))
    Path(folder).mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(Path(folder) / f"{name}-{width}.png"))
    driver.set_window_size(1280, 1000)


def _admin_log_in(driver, site, username: str) -> None:
    driver.delete_all_cookies()
    driver.get(site.url + "/admin/login/?next=/admin/moderation/case/")
    fill(driver, "username", username)
    fill(driver, "password", PASSWORD)
    next_page_after(driver, driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click)


def test_a_report_goes_through_the_queue_to_a_decision_both_members_see(
    site, browser, make_user, mod
):
    wait = WebDriverWait(browser, 20)
    alice = make_user("alice", display_name="Alice Liddell")
    bob = make_user("bob")
    carol = make_user("carol")
    rule = Rule.objects.create(title="No harassment", text="Be kind to real people.", order=1)
    Rule.objects.create(title="No spam", order=2)
    original = _published(carol, "Lighthouse", "a lighthouse keeper")
    portrait = _published(alice, "Red beard", "a lighthouse keeper with a red beard", original)
    _published(carol, "Red beard at night", "a keeper with a red beard at night", portrait)

    # --- bob reports the portrait from its page. ----------------------------------------
    log_in(browser, site, "bob")
    browser.get(site.url + portrait.get_absolute_url())
    next_page_after(browser, browser.find_element(By.CSS_SELECTOR, "a.report-link").click)
    browser.find_element(By.CSS_SELECTOR, "input[name=category][value=harassment]").click()
    Select(browser.find_element(By.NAME, "rule")).select_by_visible_text("No harassment")
    fill(browser, "text", "It mocks my neighbour, a real person.")
    next_page_after(
        browser, browser.find_element(By.CSS_SELECTOR, "form.report-form button[type=submit]").click
    )
    assert "Report received" in browser.find_element(By.TAG_NAME, "main").text
    report = Report.objects.get(reporter=bob)
    case = report.case
    assert case.is_open and case.target_portrait_id == portrait.pk

    # --- The moderator takes it through the queue. --------------------------------------
    _admin_log_in(browser, site, "mod")
    assert browser.current_url.endswith("/admin/moderation/case/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    row = rows[0].text
    assert "Red beard" in row and "alice" in row and "bob" in row
    assert "Harassment" in row and "No harassment" in row
    assert "remix of Lighthouse" in row and "1 descendant" in row
    thumbnail = browser.find_element(By.CSS_SELECTOR, "#result_list img.mod-thumb")
    wait.until(
        lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", thumbnail
        )
    )
    _screenshot(browser, "queue", 1280)
    _screenshot(browser, "queue", 390)

    # Take it: assign it to oneself with the bulk action.
    browser.find_element(By.CSS_SELECTOR, "#result_list input.action-select").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("assign_to_me")
    next_page_after(browser, browser.find_element(By.CSS_SELECTOR, "button[name=index]").click)
    assert (
        "1 case(s) assigned to you." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    )
    case.refresh_from_db()
    assert case.assigned_to == mod

    next_page_after(
        browser, browser.find_element(By.CSS_SELECTOR, "#result_list .field-target a").click
    )
    main = browser.find_element(By.ID, "content").text
    assert "It mocks my neighbour, a real person." in main
    assert "Red beard at night" in main  # its descendant, listed before deciding
    # Hiding shows the descendants' choice; the suspension period is not asked for.
    browser.find_element(By.CSS_SELECTOR, "input[name=decide-decision][value=hide]").click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-field=descendants]").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "[data-field=period]").is_displayed()
    _screenshot(browser, "case", 1280)
    _screenshot(browser, "case", 390)
    # Without a rule, the decision is refused and nothing happens.
    fill(browser, "decide-reason", "It targets a real person without consent.")
    next_page_after(browser, browser.find_element(By.CSS_SELECTOR, "input[name=_decide]").click)
    assert "Cite the rule" in browser.find_element(By.CSS_SELECTOR, "form[data-decide]").text
    portrait.refresh_from_db()
    assert not portrait.is_hidden
    browser.find_element(By.CSS_SELECTOR, "input[name=decide-decision][value=hide]").click()
    Select(browser.find_element(By.NAME, "decide-rule")).select_by_visible_text("No harassment")
    browser.find_element(By.CSS_SELECTOR, "input[name=decide-descendants][value=none]").click()
    next_page_after(browser, browser.find_element(By.CSS_SELECTOR, "input[name=_decide]").click)
    assert "“Red beard” is hidden." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert browser.current_url.endswith("/admin/moderation/case/")

    portrait.refresh_from_db()
    assert portrait.hidden_cause == Portrait.HiddenCause.MODERATION
    action = ModerationAction.objects.get()
    assert (action.kind, action.moderator, action.rule, action.case_id) == (
        "hide",
        mod,
        rule,
        case.pk,
    )

    # --- The public no longer finds it. -------------------------------------------------
    with urllib.request.urlopen(site.url + "/api/v1/gallery/", timeout=20) as response:
        listed = response.read().decode()
    assert portrait.public_id not in listed and original.public_id in listed

    # --- bob learns the outcome, without the moderator's name. --------------------------
    log_in(browser, site, "bob")
    browser.get(site.url + "/notifications/")
    notice = browser.find_element(By.CSS_SELECTOR, ".notifications .notification").text
    assert "Moderators decided on your report" in notice
    assert "action taken" in notice.lower() and "No harassment" in notice
    assert "mod" not in notice.replace("Moderators", "")

    # --- alice sees her portrait hidden by moderators, with the rule and the reason. ----
    log_in(browser, site, "alice")
    browser.get(site.url + portrait.get_absolute_url())
    banner = browser.find_element(By.CSS_SELECTOR, ".moderation-notice").text
    assert "Hidden by moderators" in banner
    assert "No harassment" in banner and "It targets a real person without consent." in banner
    assert Notification.objects.filter(
        recipient=alice, kind=Notification.Kind.MODERATION, detail__event="hidden"
    ).exists()
    assert not Case.objects.filter(status=Case.Status.OPEN).exists()
